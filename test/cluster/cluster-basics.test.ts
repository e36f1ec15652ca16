/**
 * A three-node cluster from the outside (DESIGN.md, Cluster): three real child nodes
 * whose node-to-node traffic passes through fault proxies (helpers/cluster.ts), with
 * a cluster secret, so every exchange between them must carry it.
 *
 * - the nodes elect one controller and agree on one clusterId;
 * - a topic created on any node appears on every node; RF=3 partitions have three
 *   replicas, all in sync, and their leaders are spread over the nodes;
 * - acks=all answers once every in-sync replica has the records; the leader serves them;
 * - a follower serves fetches and offsets from its own replica and forwards a produce
 *   to the leader (Runnel-Served-By names who served each); an offset past the log is
 *   the leader's 416; a client given only the follower produces and reads;
 * - a replication factor above the live node count is refused;
 * - /internal routes refuse requests without the cluster secret.
 */
import t from 'tap';
import { Runnel } from '../../src/index.js';
import { startCluster, type Cluster, type ClusterDescription, type TopicView } from '../helpers/cluster.js';
import { fetchAll, produce, requestJson } from '../helpers/http.js';

const CLUSTER_SECRET = 'cluster-basics-secret-0123456789';
const TOPIC = 'orders';
const PARTITION_COUNT = 3;
const NODE_IDS = [1, 2, 3];

interface ErrorBody {
  error: { code: string; message: string; leaderId?: number | null; leaderUrl?: string | null };
}

/** The URLs under which a node may be named: its own, and each proxy in front of it. */
function urlsOf(cluster: Cluster, nodeId: number): string[] {
  const proxies = cluster.members.filter((member) => member.nodeId !== nodeId).map((member) => cluster.proxy(member.nodeId, nodeId).url);
  return [cluster.url(nodeId), ...proxies];
}

async function topicOn(cluster: Cluster, nodeId: number): Promise<TopicView | undefined> {
  const response = await requestJson<TopicView>(`${cluster.url(nodeId)}/v1/topics/${TOPIC}`, { timeoutMs: 3_000 });
  return response.status === 200 ? response.body : undefined;
}

/** Partition -> leader, once every node names the same leader for every partition and every ISR is full. */
async function settledLeaders(cluster: Cluster): Promise<Map<number, number> | undefined> {
  const leaders = new Map<number, number>();
  for (const nodeId of NODE_IDS) {
    const view = await topicOn(cluster, nodeId);
    if (view === undefined || view.partitions.length !== PARTITION_COUNT) return undefined;
    for (const partition of view.partitions) {
      if (partition.leader === null || partition.isr.length !== NODE_IDS.length) return undefined;
      const seen = leaders.get(partition.partition);
      if (seen !== undefined && seen !== partition.leader) return undefined;
      leaders.set(partition.partition, partition.leader);
    }
  }
  return leaders;
}

void t.test('a three-node cluster', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, clusterSecret: CLUSTER_SECRET });

  await t.test('the nodes elect one controller and agree on one clusterId', async (t) => {
    const status = await cluster.waitForOnline(15_000);
    t.ok(NODE_IDS.includes(status.controller!), `node ${status.controller} is the controller, on every node`);
    t.match(status.clusterId, /^\S{8,}$/, `every node names clusterId ${status.clusterId}`);
    for (const [nodeId, answer] of status.byNode) {
      const description = answer as ClusterDescription;
      t.same(description.nodes.map((node) => node.nodeId).sort(), NODE_IDS, `node ${nodeId} lists nodes 1, 2 and 3`);
      t.ok(description.nodes.every((node) => node.state === 'online'), `node ${nodeId} sees every node online`);
      t.equal(description.metadata.leaderId, status.controller, `node ${nodeId}: the metadata quorum's leader is the controller`);
      t.ok(description.metadata.appliedOffset <= description.metadata.highWatermark, `node ${nodeId}: applied ${description.metadata.appliedOffset} <= highWatermark ${description.metadata.highWatermark}`);
    }
  });

  let leaders = new Map<number, number>();

  await t.test('a topic created on node 3 appears on every node, on three replicas, its leaders spread', async (t) => {
    const created = await requestJson(`${cluster.url(3)}/v1/topics`, {
      body: { name: TOPIC, partitions: PARTITION_COUNT, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
      timeoutMs: 20_000,
    });
    t.equal(created.status, 201, `created through node 3: ${JSON.stringify(created.body).slice(0, 300)}`);
    t.ok(await topicOn(cluster, 3), 'node 3 knows the topic as soon as it answers');
    leaders = await cluster.waitFor(() => settledLeaders(cluster), 15_000, 'every node to know the topic with one leader per partition and full ISRs');
    for (const nodeId of NODE_IDS) {
      const view = (await topicOn(cluster, nodeId))!;
      for (const partition of view.partitions) {
        t.same([...partition.replicas].sort(), NODE_IDS, `node ${nodeId}: partition ${partition.partition} has replicas 1, 2, 3`);
        t.ok(Number.isInteger(partition.leaderEpoch) && partition.leaderEpoch >= 0, `node ${nodeId}: partition ${partition.partition} leaderEpoch ${partition.leaderEpoch}`);
        t.ok(urlsOf(cluster, partition.leader!).includes(partition.leaderUrl!), `node ${nodeId}: partition ${partition.partition} leaderUrl ${partition.leaderUrl} is node ${partition.leader}'s`);
      }
    }
    t.same(new Set(leaders.values()), new Set(NODE_IDS), `each node leads one of the three partitions: ${JSON.stringify([...leaders])}`);
  });

  await t.test('acks=all answers once every in-sync replica has the records; the leader serves them', async (t) => {
    for (const [partition, leader] of leaders) {
      const values = Array.from({ length: 5 }, (_, index) => ({ partition, index }));
      const offsets = await produce(cluster.url(leader), TOPIC, values.map((value) => ({ value })), { partition, acks: 'all' });
      t.same(offsets.map((entry) => entry.offset), [0, 1, 2, 3, 4], `partition ${partition}: acknowledged at offsets 0..4 by node ${leader}`);
      // Right after the answer: every follower's own replica already holds the records.
      for (const follower of NODE_IDS.filter((nodeId) => nodeId !== leader)) {
        const view = (await topicOn(cluster, follower))!;
        const replica = view.partitions.find((each) => each.partition === partition)!;
        t.ok(replica.logEndOffset >= 5, `partition ${partition}: follower ${follower} has logEndOffset ${replica.logEndOffset} >= 5 when acks=all answers`);
      }
      const read = await fetchAll(cluster.url(leader), TOPIC, partition);
      t.equal(read.highWatermark, 5, `partition ${partition}: highWatermark 5 on the leader`);
      t.same(read.records.map((record) => record.value), values, `partition ${partition}: the leader serves the records`);
      // The default is acks=all; acks=leader answers after the leader's append.
      const more = await produce(cluster.url(leader), TOPIC, [{ value: 'leader-only' }], { partition, acks: 'leader' });
      t.equal(more[0].offset, 5, `partition ${partition}: acks=leader appended at 5`);
    }
  });

  await t.test('a follower serves reads from its own replica and forwards writes to the leader; each answer names who served it', async (t) => {
    const [partition, leader] = [...leaders][0];
    const follower = NODE_IDS.find((nodeId) => nodeId !== leader)!;
    const base = `${cluster.url(follower)}/v1/topics/${TOPIC}/partitions/${partition}`;
    const written = await requestJson<{ offsets: Array<{ offset: number }> }>(`${base}/records`, { body: { records: [{ value: 'via-follower' }] } });
    t.equal(written.status, 200, 'a produce to the partition path on a follower is forwarded and acknowledged');
    t.equal(written.headers['runnel-served-by'], String(leader), `Runnel-Served-By names the leader, node ${leader}`);
    const offset = written.body.offsets[0].offset;
    const fetched = await requestJson<{ records: Array<{ offset: number; value: unknown }>; highWatermark: number }>(`${base}/records?offset=${offset}&waitMs=5000`);
    t.equal(fetched.status, 200, 'the follower answers a fetch');
    t.equal(fetched.headers['runnel-served-by'], String(follower), 'from its own replica');
    t.same(fetched.body.records.map((record) => record.value), ['via-follower'], 'with the acknowledged record, once the follower learnt it is committed (a few ms after the leader)');
    const offsets = await requestJson<{ highWatermark: number }>(`${base}/offsets`);
    t.equal(offsets.status, 200, 'and the offsets, its own high watermark');
    t.equal(offsets.body.highWatermark, offset + 1);
    // Past what the follower knows the leader holds: only the leader can say, and it says 416.
    const outOfRange = await requestJson<ErrorBody>(`${base}/records?offset=1000000`);
    t.equal(outOfRange.status, 416, 'an offset past the log is 416, as the leader answers it');
    t.equal(outOfRange.body.error.code, 'OFFSET_OUT_OF_RANGE');

    // Keyless records without a partition go to a partition this node leads.
    const keyless = await produce(cluster.url(follower), TOPIC, [{ value: 'a' }, { value: 'b' }]);
    for (const entry of keyless) t.equal(leaders.get(entry.partition), follower, `a keyless record sent to node ${follower} landed in partition ${entry.partition}, which it leads`);

    const runnel = new Runnel({ urls: [cluster.url(follower)], timeoutMs: 10_000 });
    t.teardown(() => runnel.close());
    const answer = await runnel.send({ topic: TOPIC, partition, records: [{ value: 'through-the-follower' }] });
    t.equal(answer.offsets[0].partition, partition, 'the client given only the follower produced to the partition');
    const reader = new Runnel({ urls: [cluster.url(follower)], timeoutMs: 10_000 });
    t.teardown(() => reader.close());
    // The follower learns that the record is committed a fetch after the leader: the read long-polls for it.
    const read = await reader.fetch(TOPIC, partition, { offset: answer.offsets[0].offset, waitMs: 5_000 });
    t.equal(read.records[0]?.value, 'through-the-follower', 'and a client given only the follower reads it');
  });

  await t.test('keyed records sent to any node reach their partitions: the node forwards those it does not lead', async (t) => {
    const keys = Array.from({ length: 12 }, (_, index) => `customer-${index}`);
    const offsets = await produce(cluster.url(1), TOPIC, keys.map((key) => ({ key, value: key })));
    t.equal(new Set(offsets.map((entry) => entry.partition)).size, PARTITION_COUNT, 'the keys span every partition (so two of them are led elsewhere)');
    for (const [index, entry] of offsets.entries()) {
      const leader = leaders.get(entry.partition)!;
      const read = await fetchAll(cluster.url(leader), TOPIC, entry.partition);
      const found = read.records.find((record) => record.offset === entry.offset);
      t.equal(found?.value, keys[index], `${keys[index]} is at ${entry.partition}@${entry.offset} on its leader, node ${leader}`);
    }
  });

  await t.test('a follower stopped and started again catches up and rejoins the ISR (regression: its fetchers never started)', async (t) => {
    const [partition, leader] = [...leaders][0];
    const follower = NODE_IDS.find((nodeId) => nodeId !== leader)!;
    t.same(await cluster.stop(follower), { code: 0, signal: null }, `follower ${follower} stopped cleanly`);
    const written = await produce(cluster.url(leader), TOPIC, [{ value: 'while-away' }], { partition, acks: 'all' });
    await cluster.start(follower);
    const view = await cluster.waitFor(async () => {
      const seen = await topicOn(cluster, follower);
      const replica = seen?.partitions.find((each) => each.partition === partition);
      return replica !== undefined && replica.isr.includes(follower) && replica.logEndOffset > written[0].offset ? replica : undefined;
    }, 20_000, `follower ${follower} to hold offset ${written[0].offset} of partition ${partition} and be in its ISR again`);
    t.ok(view.isr.includes(follower), `follower ${follower} is in the ISR ${JSON.stringify(view.isr)} again, its log ends at ${view.logEndOffset}`);
    // The controller refuses ISR changes naming the fenced follower while it is away: expected, so not a warning.
    for (const nodeId of NODE_IDS.filter((each) => each !== follower)) {
      const warnings = cluster.output(nodeId, 100_000).split('\n').filter((line) => line.includes('AlterPartition') && /"level":(40|50)/.test(line));
      t.same(warnings, [], `node ${nodeId} logged no AlterPartition refusal as a warning or error`);
    }
  });

  await t.test('a replication factor above the live node count is refused', async (t) => {
    const response = await requestJson<ErrorBody>(`${cluster.url(1)}/v1/topics`, { body: { name: 'too-many-replicas', partitions: 1, replicationFactor: 4 } });
    t.equal(response.status, 400, 'RF=4 on three nodes: 400');
    t.equal(response.body?.error?.code, 'INVALID_REPLICATION_FACTOR', 'INVALID_REPLICATION_FACTOR');
    t.equal((await requestJson(`${cluster.url(2)}/v1/topics/too-many-replicas`)).status, 404, 'and no topic was made');
  });

  await t.test('compaction is taken on replicated topics, at create and by PATCH (compaction-replicated.test.ts cleans one)', async (t) => {
    const compact = { 'cleanup.policy': 'compact' };
    const replicated = await requestJson(`${cluster.url(1)}/v1/topics`, { body: { name: 'compacted-rf3', partitions: 1, replicationFactor: 3, configs: compact } });
    t.equal(replicated.status, 201, 'RF 3 with cleanup.policy compact: created');
    const byDefault = await requestJson(`${cluster.url(1)}/v1/topics`, { body: { name: 'compacted-default-rf', partitions: 1, configs: compact } });
    t.equal(byDefault.status, 201, 'the default replication factor (3 here) too');
    t.equal((await requestJson(`${cluster.url(1)}/v1/topics`, { body: { name: 'made-compacted', partitions: 1, replicationFactor: 3 } })).status, 201);
    const altered = await requestJson(`${cluster.url(1)}/v1/topics/made-compacted`, { method: 'PATCH', body: { configs: { 'cleanup.policy': 'compact,delete' } } });
    t.equal(altered.status, 200, 'a replicated topic can be made compacted');
  });

  await t.test('internal routes refuse requests without the cluster secret', async (t) => {
    for (const route of ['/internal/v1/replication/fetch', '/internal/v1/raft']) {
      const body = { replicaId: 2, maxWaitMs: 0, maxBytes: 1024, partitions: [] };
      const missing = await requestJson<ErrorBody>(`${cluster.url(1)}${route}`, { body });
      t.equal(missing.status, 401, `${route} without the secret: 401`);
      t.equal(missing.body?.error?.code, 'UNAUTHENTICATED', `${route} without the secret: UNAUTHENTICATED`);
      const wrong = await requestJson<ErrorBody>(`${cluster.url(1)}${route}`, { body, headers: { 'x-runnel-cluster-secret': 'not-the-secret-0123456789' } });
      t.equal(wrong.status, 401, `${route} with a wrong secret: 401`);
    }
  });

  await t.test('a malformed request to the controller is refused with 400 and writes nothing', async (t) => {
    const headers = { 'x-runnel-cluster-secret': CLUSTER_SECRET };
    const bodies: Array<[string, unknown]> = [
      ['create-topic', {}],
      ['create-topic', { name: 'bad name', partitions: 1, replicationFactor: 1, configs: {} }],
      ['create-topic', { name: 'x', partitions: 0, replicationFactor: 1, configs: {} }],
      ['alter-partition', { nodeId: 1, topic: TOPIC, partition: 0, leaderEpoch: 0, partitionEpoch: 0, isr: [] }],
      ['heartbeat', { nodeId: 'one' }],
      ['delete-topic', { name: TOPIC, extra: true }],
    ];
    for (const [operation, body] of bodies) {
      for (const nodeId of NODE_IDS) {
        const response = await requestJson<ErrorBody>(`${cluster.url(nodeId)}/internal/v1/controller/${operation}`, { body, headers });
        t.equal(response.status, 400, `${operation} ${JSON.stringify(body)} on node ${nodeId}: 400`);
        t.equal(response.body?.error?.code, 'INVALID_REQUEST', `${operation} on node ${nodeId}: INVALID_REQUEST`);
      }
    }
    // (Other metadata moves on meanwhile — ISR changes, preferred leaders — so the check is on what these asked for.)
    t.equal((await requestJson(`${cluster.url(2)}/v1/topics/x`)).status, 404, 'no topic x was made');
    t.equal((await requestJson(`${cluster.url(2)}/v1/topics/${TOPIC}`)).status, 200, `${TOPIC} was not deleted`);
    t.same((await requestJson<{ nodes: Array<{ state: string }> }>(`${cluster.url(2)}/v1/cluster`)).body.nodes.map((node) => node.state), ['online', 'online', 'online'], 'no node was registered or fenced');
  });

  await t.test('a topic created through one node is served at once by a node whose metadata lags (read your writes)', async (t) => {
    const { controller } = await cluster.waitForOnline();
    const lagging = NODE_IDS.find((id) => id !== controller)!;
    const creator = NODE_IDS.find((id) => id !== lagging)!;
    // The controller's answers reach the lagging node late: it learns of the create about
    // two round trips (entry, then high watermark) after the creator's answer.
    const link = cluster.proxy(lagging, controller!);
    link.delayAnswers(400);
    t.teardown(() => link.delayAnswers(0));
    const created = await requestJson(`${cluster.url(creator)}/v1/topics`, { body: { name: 'fresh', partitions: 1, replicationFactor: 2 }, timeoutMs: 20_000 });
    t.equal(created.status, 201, `created through node ${creator}`);
    const produced = await requestJson<{ offsets: Array<{ offset: number }> }>(`${cluster.url(lagging)}/v1/topics/fresh/records`, {
      body: { records: [{ value: 'first' }] }, timeoutMs: 20_000,
    });
    t.equal(produced.status, 200, `produced through node ${lagging} right after: ${JSON.stringify(produced.body).slice(0, 300)}`);
    t.same(produced.body.offsets?.map((offset) => offset.offset), [0], 'at offset 0');
    const missing = await requestJson<{ error: { code: string } }>(`${cluster.url(lagging)}/v1/topics/never-made/partitions/0/records?offset=0`);
    t.equal(missing.status, 404, 'a topic that does not exist is still 404 through that node');
    t.equal(missing.body.error?.code, 'TOPIC_NOT_FOUND', 'TOPIC_NOT_FOUND');
    link.delayAnswers(0);
  });

  await t.test('every node stops cleanly', async (t) => {
    const statuses = await cluster.stopAll();
    for (const [nodeId, status] of statuses) t.same(status, { code: 0, signal: null }, `node ${nodeId} exited 0 after SIGTERM`);
  });
});
