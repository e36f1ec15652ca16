/**
 * MetadataImage (KIP-631): every record type applies and says what it changed; a
 * record that cannot apply is a broken invariant that leaves the image untouched; the
 * snapshot is stable text that rebuilds the same image.
 */
import t, { type Test } from 'tap';
import { MetadataImage } from '../../../src/cluster/metadata/metadata-image.js';
import type { MetadataRecord, PartitionAssignment, TopicSpec } from '../../../src/cluster/metadata/records.js';
import { InvariantError } from '../../../src/util/assert.js';

const register = (nodeId: number, incarnationId = `inc-${nodeId}`): MetadataRecord => ({
  type: 'register-node', node: { nodeId, url: `http://h${nodeId}:8080`, incarnationId },
});

const spec = (name: string, replicationFactor = 3, configs: Record<string, string> = {}): TopicSpec => ({
  name, topicId: `id-${name}`, replicationFactor, configs, createdAtMs: 1_700_000_000_000,
});

const assignment = (partition: number, replicas: number[], overrides: Partial<PartitionAssignment> = {}): PartitionAssignment => ({
  partition, replicas, isr: [...replicas], leader: replicas[0], leaderEpoch: 0, partitionEpoch: 0, ...overrides,
});

const createTopic = (name: string, partitions: PartitionAssignment[], configs: Record<string, string> = {}): MetadataRecord => ({
  type: 'create-topic', topic: spec(name, partitions[0].replicas.length, configs), partitions,
});

/** Three registered nodes and topic 'orders' with 2 partitions led by 1 and 2. */
function threeNodesAndOrders(): MetadataImage {
  const image = new MetadataImage();
  image.apply([
    { type: 'cluster-id', clusterId: 'c1' },
    register(1), register(2), register(3),
    createTopic('orders', [assignment(0, [1, 2, 3]), assignment(1, [2, 3, 1])]),
  ]);
  return image;
}

function throwsInvariant(t: Test, image: MetadataImage, records: MetadataRecord[], pattern: RegExp, what: string): void {
  const before = image.toSnapshot();
  t.throws(() => image.apply(records), { name: 'InvariantError', message: pattern }, what);
  t.equal(image.toSnapshot(), before, `${what}: the image is unchanged`);
}

void t.test('a new image is empty', async (t) => {
  const image = new MetadataImage();
  t.equal(image.clusterId, null);
  t.equal(image.nodes.size, 0);
  t.equal(image.topics.size, 0);
  t.same(image.liveNodeIds(), []);
});

void t.test('cluster-id sets the cluster id once', async (t) => {
  const image = new MetadataImage();
  const delta = image.apply([{ type: 'cluster-id', clusterId: 'abc' }]);
  t.equal(image.clusterId, 'abc');
  t.equal(delta.clusterId, 'abc');
  t.equal(image.apply([register(1)]).clusterId, null, 'a delta without cluster-id says null');
  throwsInvariant(t, image, [{ type: 'cluster-id', clusterId: 'other' }], /already abc/, 'a second cluster id');
});

void t.test('register-node adds a live node; a re-registration replaces its URL and incarnation and keeps it fenced', async (t) => {
  const image = new MetadataImage();
  const delta = image.apply([register(2), register(1)]);
  t.same(delta.changedNodes, [2, 1]);
  t.same(image.liveNodeIds(), [1, 2]);
  t.equal(image.nodeUrl(1), 'http://h1:8080');
  t.equal(image.nodeUrl(9), undefined);
  image.apply([{ type: 'fence-node', nodeId: 1 }]);
  image.apply([{ type: 'register-node', node: { nodeId: 1, url: 'http://new:1', incarnationId: 'inc-b' } }]);
  t.equal(image.nodeUrl(1), 'http://new:1');
  t.equal(image.nodes.get(1)?.registration.incarnationId, 'inc-b');
  t.equal(image.nodes.get(1)?.isFenced, true, 'registering again does not unfence');
  throwsInvariant(t, image, [{ type: 'register-node', node: { nodeId: -1, url: 'http://x', incarnationId: 'i' } }], /node id -1/, 'a negative node id');
  throwsInvariant(t, image, [{ type: 'register-node', node: { nodeId: 5, url: '', incarnationId: 'i' } }], /no URL/, 'an empty URL');
});

void t.test('fence-node and unfence-node flip a registered node, and only in that direction', async (t) => {
  const image = new MetadataImage();
  image.apply([register(1), register(2)]);
  t.same(image.apply([{ type: 'fence-node', nodeId: 2 }]).changedNodes, [2]);
  t.same(image.liveNodeIds(), [1]);
  t.notOk(image.isNodeLive(2));
  t.ok(image.isNodeRegistered(2));
  throwsInvariant(t, image, [{ type: 'fence-node', nodeId: 2 }], /already fenced/, 'fencing a fenced node');
  throwsInvariant(t, image, [{ type: 'fence-node', nodeId: 7 }], /not registered/, 'fencing an unknown node');
  image.apply([{ type: 'unfence-node', nodeId: 2 }]);
  t.same(image.liveNodeIds(), [1, 2]);
  throwsInvariant(t, image, [{ type: 'unfence-node', nodeId: 1 }], /already unfenced/, 'unfencing a live node');
});

void t.test('create-topic adds the topic and reports every partition as changed', async (t) => {
  const image = new MetadataImage();
  image.apply([register(1), register(2), register(3)]);
  const delta = image.apply([createTopic('orders', [assignment(0, [1, 2, 3]), assignment(1, [2, 3, 1])], { 'retention.ms': '1000' })]);
  t.same(delta.createdTopics, ['orders']);
  t.same(delta.changedPartitions, [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);
  t.same(delta.changedConfigs, [], 'a new topic’s configs are part of its creation');
  t.equal(image.topic('orders')?.spec.configs['retention.ms'], '1000');
  t.equal(image.partition('orders', 1)?.leader, 2);
  t.equal(image.partition('orders', 2), undefined);
  t.equal(image.partition('nope', 0), undefined);
  t.same(image.partitionsLedBy(1), [{ topic: 'orders', partition: 0 }]);
  t.same(image.partitionsWithReplica(3), [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);
});

void t.test('create-topic refuses assignments that break the partition invariants', async (t) => {
  const image = new MetadataImage();
  image.apply([register(1), register(2), register(3), { type: 'fence-node', nodeId: 3 }]);
  const cases: [string, MetadataRecord, RegExp][] = [
    ['an existing topic', createTopic('a', [assignment(0, [1, 2])]), /already exists/],
    ['no partitions', { type: 'create-topic', topic: spec('b', 1), partitions: [] }, /no partitions/],
    ['partitions out of order', createTopic('b', [assignment(1, [1])]), /numbers it 1/],
    ['fewer replicas than the factor', { type: 'create-topic', topic: spec('b', 3), partitions: [assignment(0, [1, 2])] }, /2 replicas/],
    ['a replica twice', createTopic('b', [assignment(0, [1, 1])]), /repeat a node/],
    ['an unregistered replica', createTopic('b', [assignment(0, [1, 9])]), /replica 9 is not a registered node/],
    ['an empty ISR', createTopic('b', [assignment(0, [1, 2], { isr: [], leader: -1 })]), /ISR is empty/],
    ['an ISR member that is no replica', createTopic('b', [assignment(0, [1, 2], { isr: [1, 3] })]), /not a replica/],
    ['a leader outside the ISR', createTopic('b', [assignment(0, [1, 2], { isr: [2] })]), /leader 1 is not in ISR/],
    ['a fenced leader', createTopic('b', [assignment(0, [3, 1], { isr: [3] })]), /leader 3 is fenced/],
    ['a fenced node in an ISR of two', createTopic('b', [assignment(0, [1, 3])]), /fenced node 3 is in ISR/],
    ['a negative epoch', createTopic('b', [assignment(0, [1], { leaderEpoch: -1 })]), /epochs/],
    ['a replication factor of 0', { type: 'create-topic', topic: spec('b', 0), partitions: [assignment(0, [])] }, /replication factor 0/],
  ];
  image.apply([createTopic('a', [assignment(0, [1, 2])])]);
  for (const [what, record, pattern] of cases) throwsInvariant(t, image, [record], pattern, what);
  image.apply([createTopic('offline', [assignment(0, [3, 1], { isr: [3], leader: -1 })])]);
  t.equal(image.partition('offline', 0)?.leader, -1, 'a fenced node may be the only ISR member of an offline partition');
});

void t.test('delete-topic removes the topic by name and id', async (t) => {
  const image = threeNodesAndOrders();
  throwsInvariant(t, image, [{ type: 'delete-topic', name: 'orders', topicId: 'other' }], /has id id-orders/, 'another topic id');
  throwsInvariant(t, image, [{ type: 'delete-topic', name: 'nope', topicId: 'x' }], /does not exist/, 'an unknown topic');
  const delta = image.apply([{ type: 'delete-topic', name: 'orders', topicId: 'id-orders' }]);
  t.same(delta.deletedTopics, [{ name: 'orders', topicId: 'id-orders' }]);
  t.equal(image.topic('orders'), undefined);
  t.same(image.partitionsWithReplica(1), []);
});

void t.test('a topic created and deleted in one batch is reported deleted only', async (t) => {
  const image = new MetadataImage();
  image.apply([register(1)]);
  const delta = image.apply([
    createTopic('t', [assignment(0, [1])]),
    { type: 'set-topic-configs', name: 't', configs: { a: 'b' } },
    { type: 'delete-topic', name: 't', topicId: 'id-t' },
  ]);
  t.same(delta.createdTopics, []);
  t.same(delta.changedPartitions, []);
  t.same(delta.changedConfigs, []);
  t.same(delta.deletedTopics, [{ name: 't', topicId: 'id-t' }]);
});

void t.test('add-partitions appends numbered partitions', async (t) => {
  const image = threeNodesAndOrders();
  const delta = image.apply([{ type: 'add-partitions', name: 'orders', partitions: [assignment(2, [3, 1, 2]), assignment(3, [1, 2, 3])] }]);
  t.same(delta.changedPartitions, [{ topic: 'orders', partition: 2 }, { topic: 'orders', partition: 3 }]);
  t.equal(image.topic('orders')?.partitions.length, 4);
  throwsInvariant(t, image, [{ type: 'add-partitions', name: 'orders', partitions: [assignment(5, [1, 2, 3])] }], /numbers it 5/, 'a gap in numbering');
  throwsInvariant(t, image, [{ type: 'add-partitions', name: 'orders', partitions: [assignment(4, [1, 2])] }], /replication factor 3/, 'the wrong replica count');
  throwsInvariant(t, image, [{ type: 'add-partitions', name: 'nope', partitions: [assignment(0, [1])] }], /does not exist/, 'an unknown topic');
});

void t.test('set-topic-configs replaces the whole config map', async (t) => {
  const image = new MetadataImage();
  image.apply([register(1), createTopic('t', [assignment(0, [1])], { a: '1', b: '2' })]);
  const delta = image.apply([{ type: 'set-topic-configs', name: 't', configs: { c: '3' } }]);
  t.same(delta.changedConfigs, ['t']);
  t.same(image.topic('t')?.spec.configs, { c: '3' });
  throwsInvariant(t, image, [{ type: 'set-topic-configs', name: 'nope', configs: {} }], /does not exist/, 'an unknown topic');
});

void t.test('partition-change moves the leader and the ISR forward only', async (t) => {
  const image = threeNodesAndOrders();
  const change = (overrides: Partial<Extract<MetadataRecord, { type: 'partition-change' }>>): MetadataRecord => ({
    type: 'partition-change', topic: 'orders', partition: 0, leader: 2, leaderEpoch: 1, isr: [2, 3], partitionEpoch: 1, ...overrides,
  });
  const before = image.partition('orders', 0);
  const delta = image.apply([change({})]);
  t.same(delta.changedPartitions, [{ topic: 'orders', partition: 0 }]);
  t.same(image.partition('orders', 0), { partition: 0, replicas: [1, 2, 3], isr: [2, 3], leader: 2, leaderEpoch: 1, partitionEpoch: 1 });
  t.equal(before?.leader, 1, 'an assignment handed out earlier is not mutated');
  t.same(image.partitionsLedBy(2), [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]);

  throwsInvariant(t, image, [change({ leader: 3, leaderEpoch: 1, partitionEpoch: 2 })], /leader epoch 1 \(leader 3\) does not follow 1/, 'a new leader with the same epoch');
  throwsInvariant(t, image, [change({ leaderEpoch: 0, partitionEpoch: 2 })], /leader epoch 0/, 'a leader epoch going back');
  throwsInvariant(t, image, [change({ partitionEpoch: 1, isr: [2] })], /partition epoch 1 does not follow 1/, 'a partition epoch that does not move');
  throwsInvariant(t, image, [change({ partition: 9, partitionEpoch: 2 })], /has 2 partitions/, 'an unknown partition');
  throwsInvariant(t, image, [change({ topic: 'nope' })], /does not exist/, 'an unknown topic');
  throwsInvariant(t, image, [change({ isr: [3], partitionEpoch: 2 })], /leader 2 is not in ISR/, 'a leader outside the ISR');

  image.apply([change({ isr: [2], partitionEpoch: 2 })]);
  t.same(image.partition('orders', 0)?.isr, [2], 'an ISR shrink keeps the leader and its epoch');
  image.apply([{ type: 'fence-node', nodeId: 2 }, change({ leader: -1, leaderEpoch: 2, isr: [2], partitionEpoch: 3 }), { type: 'partition-change', topic: 'orders', partition: 1, leader: 3, leaderEpoch: 1, isr: [3, 1], partitionEpoch: 1 }]);
  t.equal(image.partition('orders', 0)?.leader, -1, 'offline: the fenced last ISR member stays');
  t.same(image.partitionsLedBy(2), [], 'a fenced node leads nothing');
});

void t.test('a batch that fails half way applies nothing', async (t) => {
  const image = threeNodesAndOrders();
  throwsInvariant(t, image, [register(4), { type: 'delete-topic', name: 'nope', topicId: 'x' }], /does not exist/, 'the second record fails');
  t.equal(image.nodes.has(4), false, 'the first record is not applied either');
});

void t.test('the same records give the same image and snapshot', async (t) => {
  const records: MetadataRecord[] = [
    { type: 'cluster-id', clusterId: 'c' }, register(3), register(1), register(2),
    createTopic('b', [assignment(0, [3, 1])], { z: '1', a: '2' }), createTopic('a', [assignment(0, [1, 2])]),
    { type: 'fence-node', nodeId: 3 },
    { type: 'partition-change', topic: 'b', partition: 0, leader: 1, leaderEpoch: 1, isr: [1], partitionEpoch: 1 },
  ];
  const one = new MetadataImage();
  const two = new MetadataImage();
  one.apply(records);
  for (const record of records) two.apply([record]);
  t.equal(one.toSnapshot(), two.toSnapshot(), 'one batch or one record at a time');
});

void t.test('the snapshot is stable, ordered JSON that rebuilds the same image', async (t) => {
  const image = threeNodesAndOrders();
  image.apply([register(0), { type: 'fence-node', nodeId: 0 }, createTopic('alpha', [assignment(0, [2])], { 'z.z': '1', 'a.a': '2' })]);
  const text = image.toSnapshot();
  const body = JSON.parse(text);
  t.equal(body.version, 1);
  t.same(body.nodes.map((node: any) => node.nodeId), [0, 1, 2, 3], 'nodes by id');
  t.same(body.topics.map((topic: any) => topic.name), ['alpha', 'orders'], 'topics by name');
  t.same(Object.keys(body.topics[0].configs), ['a.a', 'z.z'], 'config keys sorted');
  const copy = MetadataImage.fromSnapshot(text);
  t.equal(copy.toSnapshot(), text, 'round trip');
  t.equal(copy.clusterId, 'c1');
  t.equal(copy.nodes.get(0)?.isFenced, true);
  t.same(copy.partition('orders', 1), image.partition('orders', 1));
  t.equal(MetadataImage.fromSnapshot(new MetadataImage().toSnapshot()).toSnapshot(), new MetadataImage().toSnapshot(), 'an empty image round-trips');
});

void t.test('a snapshot that is not one is refused', async (t) => {
  t.throws(() => MetadataImage.fromSnapshot('{'), InvariantError, 'not JSON');
  t.throws(() => MetadataImage.fromSnapshot('null'), InvariantError, 'not an object');
  t.throws(() => MetadataImage.fromSnapshot('{"version":2,"clusterId":null,"nodes":[],"topics":[]}'), /version 2/, 'an unknown version');
  t.throws(() => MetadataImage.fromSnapshot('{"version":1,"clusterId":null,"nodes":[],"topics":[{"name":"t","topicId":"i","replicationFactor":1,"createdAtMs":0,"configs":{},"partitions":[{"partition":0,"replicas":[1],"isr":[1],"leader":1,"leaderEpoch":0,"partitionEpoch":0}]}]}'), /not a registered node/, 'a replica on no node');
});
