/**
 * ControllerLogic: the active controller's decisions as records. Silent nodes are
 * fenced and their partitions move to a live ISR member with a new epoch; the last
 * in-sync copy is kept (the partition goes offline) and comes back with its node;
 * unclean election happens only where a topic asks for it; a new controller gives
 * every node a full session; AlterPartition refuses stale leaders and epochs; new
 * partitions spread their leaders evenly.
 */
import t, { type Test } from 'tap';
import { ControllerLogic } from '../../../src/cluster/controller/controller-logic.js';
import { MetadataImage } from '../../../src/cluster/metadata/metadata-image.js';
import type { MetadataRecord, PartitionAssignment } from '../../../src/cluster/metadata/records.js';
import { RunnelError, type ErrorCode } from '../../../src/errors.js';
import { ClusterModel, invariantViolations, seededRandom, SESSION_TIMEOUT_MS } from './cluster-model.js';

function throwsCode(t: Test, fn: () => unknown, code: ErrorCode, message: RegExp | undefined, what: string): void {
  t.throws(fn, message === undefined ? { name: 'RunnelError', code } : { name: 'RunnelError', code, message }, what);
}

const partitionOf = (model: ClusterModel, topic: string, partition: number): PartitionAssignment => {
  const assignment = model.image.partition(topic, partition);
  if (assignment === undefined) throw new Error(`no ${topic}-${partition}`);
  return assignment;
};

/** A three-node cluster with topic 't': one partition, replicas [1, 2, 3], led by 1. */
function threeNodesOneTopic(configs: Record<string, string> = {}): ClusterModel {
  // random() = 0: placement starts at the lowest node id.
  const model = ClusterModel.started([1, 2, 3], () => 0);
  model.createTopic('t', 1, 3, configs);
  return model;
}

void t.test('activate: the first controller writes a random 16-byte cluster id; later ones write nothing', async (t) => {
  const model = new ClusterModel([1, 2, 3], seededRandom(7));
  const records = model.commit(model.logic.activate(model.image, model.nowMs));
  t.equal(records.length, 1);
  t.equal(records[0].type, 'cluster-id');
  const clusterId = model.image.clusterId as string;
  t.match(clusterId, /^[A-Za-z0-9_-]{22}$/, 'base64url of 16 bytes');
  t.equal(Buffer.from(clusterId, 'base64url').length, 16);
  const again = new ClusterModel([1], seededRandom(7));
  t.same(again.logic.activate(again.image, 0), records, 'the id comes from the injected random only');
  t.same(model.newController().activate(model.image, model.nowMs), [], 'a cluster keeps its id');
});

void t.test('methods that need liveness refuse to run before activate', async (t) => {
  const logic = new ControllerLogic({ voterIds: [1], sessionTimeoutMs: 1000, random: () => 0 });
  t.throws(() => logic.tick(new MetadataImage(), 0), { name: 'InvariantError' });
  t.throws(() => logic.heartbeat(new MetadataImage(), { nodeId: 1, url: 'http://h', incarnationId: 'i' }, 0), { name: 'InvariantError' });
  t.throws(() => new ControllerLogic({ voterIds: [1], sessionTimeoutMs: 0, random: () => 0 }), { name: 'InvariantError' });
});

void t.test('heartbeat registers a new or restarted node, refuses unknown ids, and is otherwise silent', async (t) => {
  const model = new ClusterModel([1, 2]);
  model.commit(model.logic.activate(model.image, model.nowMs));
  throwsCode(t, () => model.heartbeat(9), 'INVALID_REQUEST', /node 9 is not one of this cluster's nodes \[1,2\]/, 'a node outside --peers');
  t.same(model.heartbeat(1), [{ type: 'register-node', node: { nodeId: 1, url: 'http://h1:8080', incarnationId: 'inc-1' } }]);
  t.same(model.heartbeat(1), [], 'the same registration writes nothing');
  t.same(model.heartbeat(1, 'inc-1b'), [{ type: 'fence-node', nodeId: 1 }], 'a restart (new incarnation) first fences the old incarnation');
  t.same(model.heartbeat(1, 'inc-1b').map((record) => record.type), ['register-node', 'unfence-node'], 'then registers and unfences the new one');
  t.equal(model.image.nodes.get(1)?.registration.incarnationId, 'inc-1b');
  const moved = model.logic.heartbeat(model.image, { nodeId: 1, url: 'http://elsewhere:1', incarnationId: 'inc-1b' }, model.nowMs);
  t.same(moved, [{ type: 'register-node', node: { nodeId: 1, url: 'http://elsewhere:1', incarnationId: 'inc-1b' } }], 'a new URL registers again');
});

void t.test('a node silent past the session timeout is fenced, and leadership moves to the first live ISR replica with a bumped epoch', async (t) => {
  const model = threeNodesOneTopic();
  t.same(partitionOf(model, 't', 0), { partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 0 });
  model.advance(SESSION_TIMEOUT_MS, [1, 2, 3]);
  t.same(model.image.liveNodeIds(), [1, 2, 3], 'heartbeating nodes stay');
  model.advance(SESSION_TIMEOUT_MS, [2, 3]);
  t.same(model.image.liveNodeIds(), [1, 2, 3], 'silent for exactly the session timeout: not yet');
  model.advance(1_000, [2, 3]);
  t.same(model.image.liveNodeIds(), [2, 3], 'node 1 is fenced');
  t.same(partitionOf(model, 't', 0), { partition: 0, replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  t.same(invariantViolations(model.image), []);
});

void t.test('a controlled shutdown fences the node at once: its leaderships move before it stops answering', async (t) => {
  const model = threeNodesOneTopic();
  const records = model.commit(model.logic.controlledShutdown(model.image, 1));
  t.same(records.map((record) => record.type), ['fence-node', 'partition-change'], 'fenced, then the partition moves');
  t.same(partitionOf(model, 't', 0), { partition: 0, replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  t.same(model.logic.controlledShutdown(model.image, 1), [], 'asking again (a retried request) writes nothing');
  t.same(invariantViolations(model.image), []);
});

void t.test('the fence decision: one fence-node, then one partition-change per partition it was a replica of', async (t) => {
  const model = ClusterModel.started([1, 2, 3], () => 0);
  model.createTopic('a', 3, 2);
  model.nowMs += SESSION_TIMEOUT_MS;
  model.heartbeat(1);
  model.heartbeat(3);
  model.nowMs += 1;
  const records = model.tick();
  // Placement from node 1: a-0 [1,2], a-1 [2,3], a-2 [3,1].
  t.same(records, [
    { type: 'fence-node', nodeId: 2 },
    { type: 'partition-change', topic: 'a', partition: 0, leader: 1, leaderEpoch: 0, isr: [1], partitionEpoch: 1 },
    { type: 'partition-change', topic: 'a', partition: 1, leader: 3, leaderEpoch: 1, isr: [3], partitionEpoch: 1 },
  ], 'a follower leaving keeps the leader and its epoch; a leader leaving bumps it');
  t.same(model.tick(), [], 'nothing more to fence');
});

void t.test('a leader that restarts within its session does not go on leading: leadership moves, and it comes back as a follower', async (t) => {
  const model = threeNodesOneTopic();
  t.same(model.heartbeat(1, 'inc-1-restarted'), [
    { type: 'fence-node', nodeId: 1 },
    { type: 'partition-change', topic: 't', partition: 0, leader: 2, leaderEpoch: 1, isr: [2, 3], partitionEpoch: 1 },
  ]);
  t.same(model.heartbeat(1, 'inc-1-restarted').map((record) => record.type), ['register-node', 'unfence-node']);
  t.same(model.image.liveNodeIds(), [1, 2, 3]);
  t.same(partitionOf(model, 't', 0), { partition: 0, replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 }, 'it rejoins the ISR through its new leader (AlterPartition)');
});

void t.test('the last ISR member is kept: the partition goes offline, and comes back when that node heartbeats again', async (t) => {
  const model = ClusterModel.started([1, 2], () => 0);
  model.createTopic('solo', 1, 1);
  model.createTopic('pair', 1, 2);
  model.advance(SESSION_TIMEOUT_MS + 1_000, [2]);
  t.same(partitionOf(model, 'solo', 0), { partition: 0, replicas: [1], isr: [1], leader: -1, leaderEpoch: 1, partitionEpoch: 1 }, 'offline, ISR keeps node 1');
  t.same(partitionOf(model, 'pair', 0), { partition: 0, replicas: [1, 2], isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  model.advance(SESSION_TIMEOUT_MS + 1_000);
  t.same(model.image.liveNodeIds(), [], 'every node is fenced');
  t.same(partitionOf(model, 'pair', 0), { partition: 0, replicas: [1, 2], isr: [2], leader: -1, leaderEpoch: 2, partitionEpoch: 2 }, 'node 2, the last member, stays');
  t.same(invariantViolations(model.image), []);

  const back = model.heartbeat(2);
  t.same(back, [
    { type: 'unfence-node', nodeId: 2 },
    { type: 'partition-change', topic: 'pair', partition: 0, leader: 2, leaderEpoch: 3, isr: [2], partitionEpoch: 3 },
  ], 'the returning node is unfenced and leads what only it holds');
  t.equal(partitionOf(model, 'solo', 0).leader, -1, 'node 1 holds solo-0: it stays offline without it');
  model.heartbeat(1);
  t.same(partitionOf(model, 'solo', 0), { partition: 0, replicas: [1], isr: [1], leader: 1, leaderEpoch: 2, partitionEpoch: 2 });
  t.same(invariantViolations(model.image), []);
});

void t.test('nodes fenced in the same tick: leadership never moves to one of them', async (t) => {
  const model = threeNodesOneTopic();
  model.advance(SESSION_TIMEOUT_MS + 1_000, [3]);
  t.same(model.image.liveNodeIds(), [3]);
  t.same(partitionOf(model, 't', 0), { partition: 0, replicas: [1, 2, 3], isr: [3], leader: 3, leaderEpoch: 1, partitionEpoch: 1 }, 'one change, straight to node 3');
});

void t.test('unclean election happens only when the topic sets unclean.leader.election.enable=true', async (t) => {
  for (const isEnabled of [false, true]) {
    const model = ClusterModel.started([1, 2], () => 0);
    model.createTopic('t', 1, 2, isEnabled ? { 'unclean.leader.election.enable': 'true' } : {});
    // Node 2 falls out of the ISR (its leader says so), then the leader, node 1, goes silent.
    model.commit(model.logic.alterPartition(model.image, { nodeId: 1, topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1] }, model.nowMs));
    model.advance(SESSION_TIMEOUT_MS + 1_000, [2]);
    const assignment = partitionOf(model, 't', 0);
    if (isEnabled) {
      t.same(assignment, { partition: 0, replicas: [1, 2], isr: [2], leader: 2, leaderEpoch: 1, partitionEpoch: 2 }, 'enabled: node 2 leads from outside the ISR, which becomes just it');
    } else {
      t.same(assignment, { partition: 0, replicas: [1, 2], isr: [1], leader: -1, leaderEpoch: 1, partitionEpoch: 2 }, 'disabled: offline, waiting for node 1');
    }
    t.same(invariantViolations(model.image), []);
  }
});

void t.test('an offline partition of a topic that allows unclean election is taken by the next live replica that heartbeats', async (t) => {
  const model = ClusterModel.started([1, 2], () => 0);
  model.createTopic('t', 1, 2);
  model.commit(model.logic.alterPartition(model.image, { nodeId: 1, topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1] }, model.nowMs));
  model.advance(SESSION_TIMEOUT_MS + 1_000, [2]);
  t.equal(partitionOf(model, 't', 0).leader, -1);
  model.commit(model.logic.alterTopic(model.image, 't', { configs: { 'unclean.leader.election.enable': 'true' } }));
  t.same(model.heartbeat(2), [{ type: 'partition-change', topic: 't', partition: 0, leader: 2, leaderEpoch: 2, isr: [2], partitionEpoch: 3 }]);
});

void t.test('a new active controller gives every registered node a full session before fencing', async (t) => {
  const model = threeNodesOneTopic();
  // The old controller is gone for longer than a session: nobody heard any heartbeat.
  model.nowMs += 5 * SESSION_TIMEOUT_MS;
  model.newController();
  t.same(model.commit(model.logic.activate(model.image, model.nowMs)), [], 'the cluster id is already there');
  t.same(model.tick(), [], 'no node is fenced at once');
  model.advance(SESSION_TIMEOUT_MS, [2]);
  t.same(model.image.liveNodeIds(), [1, 2, 3], 'a full session, not a moment more nor less');
  model.advance(1_000, [2]);
  t.same(model.image.liveNodeIds(), [2], 'then the silent ones are fenced');
});

void t.test('a new active controller counts the previous quorum leader\'s session from when it last heard from it', async (t) => {
  const model = threeNodesOneTopic();
  // Node 1 led the quorum (and partition t-0); node 2 last heard from it 1.5 sessions ago, then won the election.
  const lastHeardMs = model.nowMs;
  model.nowMs += Math.floor(SESSION_TIMEOUT_MS / 2);
  model.newController();
  model.commit(model.logic.activate(model.image, model.nowMs, { nodeId: 1, atMs: lastHeardMs }));
  t.same(model.tick(), [], 'node 1 still has half a session');
  model.advance(Math.floor(SESSION_TIMEOUT_MS / 2) + 200, [2, 3]);
  t.same(model.image.liveNodeIds(), [2, 3], 'node 1 is fenced a session after it was last heard from, not an election plus a session');
  t.equal(partitionOf(model, 't', 0).leader, 2, 'its partition moved');
  const later = threeNodesOneTopic();
  later.newController();
  later.commit(later.logic.activate(later.image, later.nowMs, { nodeId: 1, atMs: later.nowMs + 10_000 }));
  later.advance(SESSION_TIMEOUT_MS, [2, 3]);
  t.same(later.image.liveNodeIds(), [1, 2, 3], 'never more than a full session from activation');
});

void t.test('a node heard from over the metadata quorum keeps its session without heartbeats; a silent one is fenced', async (t) => {
  const model = threeNodesOneTopic();
  for (let step = 0; step < 10; step++) {
    model.nowMs += SESSION_TIMEOUT_MS / 4;
    model.logic.recordContact(3, model.nowMs);
    model.logic.recordContact(99, model.nowMs);
    model.heartbeat(2);
    model.tick();
  }
  t.same(model.image.liveNodeIds(), [2, 3], 'node 3 only sent Raft messages and stays; node 1 sent nothing and is fenced');
});

void t.test('the controller\'s own pause does not count against node sessions', async (t) => {
  const model = threeNodesOneTopic();
  const pauseMs = 3 * SESSION_TIMEOUT_MS;
  model.nowMs += pauseMs;
  model.logic.forgivePause(pauseMs, model.nowMs);
  t.same(model.tick(), [], 'the heartbeats sent meanwhile are still unread: nobody is fenced');
  model.advance(SESSION_TIMEOUT_MS + 1_000, [2, 3]);
  t.same(model.image.liveNodeIds(), [2, 3], 'silence after the pause counts');
});

void t.test('createTopic refuses an existing name and an impossible replication factor', async (t) => {
  const model = threeNodesOneTopic();
  throwsCode(t, () => model.createTopic('t', 1, 1), 'TOPIC_EXISTS', /'t' already exists/, 'an existing topic');
  throwsCode(t, () => model.createTopic('x', 1, 4), 'INVALID_REPLICATION_FACTOR', /replication factor 4 is not possible: 3 nodes are alive/, 'more replicas than nodes');
  throwsCode(t, () => model.createTopic('x', 1, 0), 'INVALID_REPLICATION_FACTOR', undefined, 'no replicas');
  throwsCode(t, () => model.createTopic('x', 0, 1), 'INVALID_PARTITIONS', undefined, 'no partitions');
  model.advance(SESSION_TIMEOUT_MS + 1_000, [1, 2]);
  throwsCode(t, () => model.createTopic('x', 1, 3), 'INVALID_REPLICATION_FACTOR', /2 nodes are alive/, 'a fenced node does not count');
  const error = (() => {
    try {
      model.createTopic('x', 1, 3);
    } catch (caught) {
      return caught;
    }
  })();
  t.ok(error instanceof RunnelError && error.status === 400);
});

void t.test('createTopic retried with the id its node chose succeeds without a second topic; any other request for the name is TOPIC_EXISTS', async (t) => {
  const model = threeNodesOneTopic();
  const request = { name: 'retried', partitions: 2, replicationFactor: 3, configs: {}, topicId: 'AAAAAAAAAAAAAAAAAAAAAA' };
  const [record] = model.commit(model.logic.createTopic(model.image, request, model.nowMs));
  if (record.type !== 'create-topic') throw new Error(record.type);
  t.equal(record.topic.topicId, request.topicId, 'the topic carries the id the asking node chose');
  t.same(model.logic.createTopic(model.image, request, model.nowMs), [], 'the same request again (its answer was lost): nothing more to write');
  throwsCode(t, () => model.logic.createTopic(model.image, { ...request, topicId: 'BBBBBBBBBBBBBBBBBBBBBB' }, model.nowMs), 'TOPIC_EXISTS', /'retried' already exists/, 'another request for the name');
  throwsCode(t, () => model.logic.createTopic(model.image, { ...request, topicId: undefined }, model.nowMs), 'TOPIC_EXISTS', undefined, 'a request without an id');
});

void t.test('createTopic: replicas on live nodes only, leader replicas[0], full ISR, epochs 0, a random topic id', async (t) => {
  const model = ClusterModel.started([1, 2, 3, 4], seededRandom(3));
  model.advance(SESSION_TIMEOUT_MS + 1_000, [1, 2, 4]);
  model.nowMs = 1_234_567;
  const [record] = model.createTopic('orders', 5, 2, { 'retention.ms': '60000' });
  if (record.type !== 'create-topic') throw new Error(record.type);
  t.match(record.topic, { name: 'orders', replicationFactor: 2, configs: { 'retention.ms': '60000' }, createdAtMs: 1_234_567 });
  t.match(record.topic.topicId, /^[A-Za-z0-9_-]{22}$/);
  t.equal(record.partitions.length, 5);
  for (const assignment of record.partitions) {
    t.notOk(assignment.replicas.includes(3), `partition ${assignment.partition} avoids fenced node 3`);
    t.same(assignment.isr, assignment.replicas);
    t.equal(assignment.leader, assignment.replicas[0]);
    t.equal(assignment.leaderEpoch + assignment.partitionEpoch, 0);
  }
});

void t.test('replica placement spreads leaders evenly and never puts two replicas of a partition on one node', async (t) => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const model = ClusterModel.started([1, 2, 3], seededRandom(seed));
    model.createTopic('t', 6, 3);
    const topic = model.image.topic('t');
    const leaders = topic?.partitions.map((assignment) => assignment.leader) ?? [];
    for (const nodeId of [1, 2, 3]) t.equal(leaders.filter((leader) => leader === nodeId).length, 2, `seed ${seed}: node ${nodeId} leads 2 of 6`);
    for (const assignment of topic?.partitions ?? []) t.equal(new Set(assignment.replicas).size, 3, `seed ${seed}: partition ${assignment.partition} on 3 distinct nodes`);
  }
  const model = ClusterModel.started([1, 2, 3, 4, 5], seededRandom(9));
  model.createTopic('wide', 10, 3);
  const leaders = model.image.topic('wide')?.partitions.map((assignment) => assignment.leader) ?? [];
  t.same([1, 2, 3, 4, 5].map((nodeId) => leaders.filter((leader) => leader === nodeId).length), [2, 2, 2, 2, 2], '5 nodes, 10 partitions: 2 each');
});

void t.test('deleteTopic names the topic id; an unknown topic is TOPIC_NOT_FOUND', async (t) => {
  const model = threeNodesOneTopic();
  throwsCode(t, () => model.logic.deleteTopic(model.image, 'nope'), 'TOPIC_NOT_FOUND', /'nope' does not exist/, 'an unknown topic');
  t.same(model.logic.deleteTopic(model.image, 't'), [{ type: 'delete-topic', name: 't', topicId: model.image.topic('t')?.spec.topicId }]);
});

void t.test('alterTopic grows partitions with the topic’s replication factor and replaces configs', async (t) => {
  const model = ClusterModel.started([1, 2, 3], () => 0);
  model.createTopic('t', 2, 2, { a: '1' });
  throwsCode(t, () => model.logic.alterTopic(model.image, 't', { partitions: 1 }), 'INVALID_PARTITIONS', /has 2 partitions; the count can only grow/, 'shrinking');
  throwsCode(t, () => model.logic.alterTopic(model.image, 'nope', {}), 'TOPIC_NOT_FOUND', undefined, 'an unknown topic');
  t.same(model.logic.alterTopic(model.image, 't', { partitions: 2, configs: { a: '1' } }), [], 'nothing changes, nothing is written');
  const records = model.commit(model.logic.alterTopic(model.image, 't', { partitions: 4, configs: { b: '2' } }));
  t.same(records.map((record) => record.type), ['add-partitions', 'set-topic-configs']);
  t.same(model.image.topic('t')?.partitions.map((assignment) => assignment.replicas), [[1, 2], [2, 3], [3, 1], [1, 2]], 'partitions 2 and 3 continue the rotation');
  t.same(model.image.topic('t')?.spec.configs, { b: '2' });
  model.advance(SESSION_TIMEOUT_MS + 1_000, [1]);
  throwsCode(t, () => model.logic.alterTopic(model.image, 't', { partitions: 5 }), 'INVALID_REPLICATION_FACTOR', /1 node is alive/, 'too few live nodes for new partitions');
});

void t.test('alterPartition (KIP-497): refuses a stale leader, a stale partition epoch and an ISR it cannot accept', async (t) => {
  const model = ClusterModel.started([1, 2, 3, 4], () => 0);
  model.createTopic('t', 1, 3);
  model.advance(SESSION_TIMEOUT_MS + 1_000, [1, 2, 3]);
  const request = { nodeId: 1, topic: 't', partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [1, 2] };
  const alter = (overrides: Partial<typeof request>) => () => model.logic.alterPartition(model.image, { ...request, ...overrides }, model.nowMs);

  throwsCode(t, alter({ nodeId: 2 }), 'FENCED_LEADER_EPOCH', /node 2 in leader epoch 0 does not lead t-0: node 1 does/, 'a node that does not lead');
  throwsCode(t, alter({ leaderEpoch: 1 }), 'FENCED_LEADER_EPOCH', undefined, 'another leader epoch');
  throwsCode(t, alter({ partitionEpoch: 3 }), 'INVALID_UPDATE_VERSION', /at partition epoch 0, the request names 3/, 'another partition epoch');
  throwsCode(t, alter({ isr: [2, 3] }), 'INVALID_REQUEST', /must keep its leader 1/, 'an ISR without its leader');
  throwsCode(t, alter({ isr: [1, 4] }), 'INVALID_REQUEST', /node 4 is not a replica/, 'a node that is not a replica');
  throwsCode(t, alter({ isr: [] }), 'INVALID_REQUEST', undefined, 'an empty ISR');
  throwsCode(t, alter({ isr: [1, 1] }), 'INVALID_REQUEST', undefined, 'a repeated member');
  throwsCode(t, alter({ topic: 'nope' }), 'TOPIC_NOT_FOUND', undefined, 'an unknown topic');
  throwsCode(t, alter({ partition: 1 }), 'PARTITION_NOT_FOUND', undefined, 'an unknown partition');

  t.same(model.logic.alterPartition(model.image, { ...request, isr: [3, 2, 1] }, model.nowMs), [], 'the same ISR in another order changes nothing');
  t.same(model.commit(alter({ isr: [3, 1] })()), [{ type: 'partition-change', topic: 't', partition: 0, leader: 1, leaderEpoch: 0, isr: [1, 3], partitionEpoch: 1 }], 'a shrink: same leader and leader epoch, next partition epoch, replica order');
  throwsCode(t, alter({ isr: [1, 2, 3] }), 'INVALID_UPDATE_VERSION', undefined, 'the old partition epoch is stale now');

  // Node 2 goes silent: before it is fenced it may stay, but may not be added back.
  model.nowMs += SESSION_TIMEOUT_MS + 1;
  model.heartbeat(1);
  model.heartbeat(3);
  throwsCode(t, alter({ partitionEpoch: 1, isr: [1, 2, 3] }), 'INVALID_REQUEST', /node 2 is fenced or not heartbeating/, 'adding a node without a session');
  model.tick();
  t.notOk(model.image.isNodeLive(2));
  throwsCode(t, alter({ partitionEpoch: 1, isr: [1, 2, 3] }), 'INVALID_REQUEST', /node 2 is fenced/, 'adding a fenced node');
  model.heartbeat(2);
  t.same(model.commit(alter({ partitionEpoch: 1, isr: [1, 2, 3] })()).map((record) => record.type), ['partition-change'], 'back in once it heartbeats');
  t.same(partitionOf(model, 't', 0), { partition: 0, replicas: [1, 2, 3], isr: [1, 2, 3], leader: 1, leaderEpoch: 0, partitionEpoch: 2 });
});

void t.test('preferred leader election moves leadership back to replicas[0] once it is live and in sync', async (t) => {
  const model = threeNodesOneTopic();
  model.createTopic('u', 3, 3);
  model.advance(SESSION_TIMEOUT_MS + 1_000, [2, 3]);
  t.equal(partitionOf(model, 't', 0).leader, 2);
  t.same(model.logic.preferredLeaderElections(model.image).filter((record) => record.type === 'partition-change' && record.topic === 't'), [], 'node 1 is fenced');
  model.heartbeat(1);
  t.same(model.logic.preferredLeaderElections(model.image), [], 'node 1 is live but not in sync yet');
  const leaderOfT = partitionOf(model, 't', 0);
  model.commit(model.logic.alterPartition(model.image, { nodeId: 2, topic: 't', partition: 0, leaderEpoch: leaderOfT.leaderEpoch, partitionEpoch: leaderOfT.partitionEpoch, isr: [1, 2, 3] }, model.nowMs));
  const records = model.commit(model.logic.preferredLeaderElections(model.image));
  t.same(records, [{ type: 'partition-change', topic: 't', partition: 0, leader: 1, leaderEpoch: 2, isr: [1, 2, 3], partitionEpoch: 3 }]);
  t.same(model.logic.preferredLeaderElections(model.image), [], 'nothing left to move');
});

/**
 * A seeded simulation (TigerBeetle's VOPR in miniature): random nodes stop and come
 * back, topics come and go, leaders shrink and grow ISRs, controllers fail over. After
 * every committed decision the invariants hold and the snapshot round-trips; a failing
 * seed replays exactly.
 */
void t.test('random controller decisions keep every invariant and the snapshot round-trips', async (t) => {
  const seeds = [1, 2, 3, 4, 5, 6, 7, 8];
  const stepCount = 400;
  const seen = new Set<string>();
  for (const seed of seeds) {
    const random = seededRandom(seed);
    const voterIds = [1, 2, 3, 4, 5];
    const model = ClusterModel.started(voterIds, random);
    const isUp = new Map(voterIds.map((nodeId) => [nodeId, true]));
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
    const counts: Record<string, number> = {};
    let failure: string | null = null;
    for (let step = 0; step < stepCount && failure === null; step++) {
      const before = MetadataImage.fromSnapshot(model.image.toSnapshot());
      const action = pick(['time', 'time', 'crash', 'restart', 'create', 'delete', 'grow', 'configs', 'shrink', 'expand', 'preferred', 'failover'] as const);
      let records: MetadataRecord[] = [];
      try {
        records = decide(action);
      } catch (error) {
        if (!(error instanceof RunnelError)) throw error;
      }
      counts[action] = (counts[action] ?? 0) + 1;
      model.commit(records);
      for (const record of records) seen.add(record.type);
      for (const { assignment } of model.image.allPartitions()) {
        if (assignment.leader === -1) seen.add('an offline partition');
        if (assignment.leaderEpoch > 0) seen.add('a leader change');
      }
      const text = model.image.toSnapshot();
      const violations = invariantViolations(model.image, before);
      if (violations.length > 0) failure = `seed ${seed} step ${step} (${action}): ${violations.join('; ')}`;
      else if (MetadataImage.fromSnapshot(text).toSnapshot() !== text) failure = `seed ${seed} step ${step} (${action}): snapshot does not round-trip`;
    }
    t.equal(failure, null, `seed ${seed}: ${stepCount} steps without a broken invariant (${JSON.stringify(counts)})`);
    if (failure !== null) break;

    function decide(action: string): MetadataRecord[] {
      const { image, logic } = model;
      const topics = [...image.topics.keys()];
      switch (action) {
        case 'time': {
          model.nowMs += Math.floor(random() * SESSION_TIMEOUT_MS);
          const records: MetadataRecord[] = [];
          for (const nodeId of voterIds) if (isUp.get(nodeId) === true) model.heartbeat(nodeId);
          records.push(...logic.tick(image, model.nowMs));
          return records;
        }
        case 'crash': isUp.set(pick(voterIds), false); return [];
        case 'restart': {
          const nodeId = pick(voterIds);
          isUp.set(nodeId, true);
          return logic.heartbeat(image, { nodeId, url: `http://h${nodeId}:8080`, incarnationId: `inc-${nodeId}-${model.nowMs}` }, model.nowMs);
        }
        case 'create': {
          const configs: Record<string, string> = random() < 0.3 ? { 'unclean.leader.election.enable': 'true' } : {};
          return logic.createTopic(image, { name: `t${Math.floor(random() * 8)}`, partitions: 1 + Math.floor(random() * 4), replicationFactor: 1 + Math.floor(random() * 3), configs }, model.nowMs);
        }
        case 'delete': return topics.length === 0 ? [] : logic.deleteTopic(image, pick(topics));
        case 'grow': {
          if (topics.length === 0) return [];
          const name = pick(topics);
          return logic.alterTopic(image, name, { partitions: (image.topic(name)?.partitions.length ?? 0) + Math.floor(random() * 3) });
        }
        case 'configs': return topics.length === 0 ? [] : logic.alterTopic(image, pick(topics), { configs: random() < 0.5 ? { 'unclean.leader.election.enable': 'true' } : {} });
        case 'shrink':
        case 'expand': {
          const partitions = [...image.allPartitions()].filter(({ assignment }) => assignment.leader !== -1);
          if (partitions.length === 0) return [];
          const { spec, assignment } = pick(partitions);
          const isr = action === 'shrink'
            ? assignment.isr.filter((member) => member === assignment.leader || random() < 0.5)
            : assignment.replicas.filter((member) => assignment.isr.includes(member) || random() < 0.5);
          // Sometimes a stale request, as from a deposed leader or a lost response.
          const leaderEpoch = assignment.leaderEpoch - (random() < 0.1 ? 1 : 0);
          return logic.alterPartition(image, { nodeId: assignment.leader, topic: spec.name, partition: assignment.partition, leaderEpoch, partitionEpoch: assignment.partitionEpoch, isr }, model.nowMs);
        }
        case 'preferred': return logic.preferredLeaderElections(image);
        case 'failover': return model.newController().activate(image, model.nowMs);
        default: throw new Error(action);
      }
    }
  }
  const wanted = ['register-node', 'fence-node', 'unfence-node', 'create-topic', 'delete-topic', 'add-partitions', 'set-topic-configs', 'partition-change', 'an offline partition', 'a leader change'];
  t.same(wanted.filter((what) => !seen.has(what)), [], 'the simulation reached every record type, offline partitions and leader changes');
});
