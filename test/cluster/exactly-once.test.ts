/**
 * A retried produce is appended once, whichever node the retry reaches and whatever
 * failed in between (KIP-98 over HTTP: an Idempotency-Key's batches carry a producer id
 * every replica remembers). One deterministic test per path that used to duplicate:
 * - the answer was lost and the leader SIGKILLed: the retry goes to another node, its
 *   keyless records land on the same partition, and nothing is written twice;
 * - a forwarded share's answer is lost between nodes: the forwarding node sends it again
 *   under the key, and the client gets one answer with every record once;
 * - the ISR shrank below min.insync.replicas while an acks=all request waited (the
 *   records were appended): the retry, once the ISR is back, answers the same offsets;
 * - an idempotent producer's batch (POST /v1/producers ids, which no two nodes share)
 *   whose answer was lost is retried on the new leader after a SIGKILL.
 * Three real nodes, node-to-node traffic through fault proxies (helpers/cluster.ts).
 */
import t from 'tap';
import { startCluster, type Cluster, type TopicView } from '../helpers/cluster.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { requestJson, requestOk, type RecordOffset } from '../helpers/http.js';

t.setTimeout(180_000);

const PARTITIONS = [0, 1, 2];

interface Fetched {
  records: Array<{ partition: number; offset: number; value: unknown }>;
}

async function createTopic(cluster: Cluster, name: string): Promise<void> {
  // Every node online (one may have just restarted): replicationFactor 3 needs all three.
  await cluster.waitForOnline();
  await requestOk(`${cluster.url(cluster.runningIds()[0])}/v1/topics`, {
    body: { name, partitions: PARTITIONS.length, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
  });
  // Every node has applied the create and names the same leaders: a node whose metadata
  // still lags (one just restarted) would answer TOPIC_NOT_FOUND, and a forwarding test
  // needs the leader it cuts the link to to be the one every node forwards to.
  await cluster.waitFor(async () => {
    const views = await Promise.all(cluster.runningIds().map(async (nodeId) => cluster.describeTopic(name, nodeId).catch(() => undefined)));
    const leadersOf = (view: TopicView | undefined): string | undefined =>
      view !== undefined && view.partitions.every((p) => p.leader !== null && p.isr.length === 3) ? view.partitions.map((p) => p.leader).join(',') : undefined;
    const leaders = views.map(leadersOf);
    return leaders[0] !== undefined && leaders.every((each) => each === leaders[0]) ? true : undefined;
  }, 15_000, `${name}: leaders and full ISRs, the same in every node's view`);
}

/** Every record of the topic, read from each partition's current leader. */
async function allRecords(cluster: Cluster, topic: string): Promise<Fetched['records']> {
  const records: Fetched['records'] = [];
  for (const partition of PARTITIONS) {
    // Leadership may move meanwhile (back to a restarted preferred replica): ask again until a leader answers.
    const fetched = await cluster.waitFor(async () => {
      const leader = await cluster.leaderOf(topic, partition);
      if (leader === null) return undefined;
      const answer = await requestJson<Fetched>(`${cluster.url(leader)}/v1/topics/${topic}/partitions/${partition}/records?offset=0&maxRecords=1000`);
      return answer.status === 200 ? answer.body : undefined;
    }, 15_000, `the records of ${topic}-${partition} from its leader`);
    records.push(...fetched.records);
  }
  return records;
}

function produce(url: string, topic: string, key: string, body: unknown, timeoutMs = 20_000) {
  return requestJson<{ offsets: RecordOffset[] }>(`${url}/v1/topics/${topic}/records`, { body, headers: { 'idempotency-key': key }, timeoutMs });
}

/** A produce retried (same key, same body) through other nodes until one answers 200, within a deadline. */
async function retryUntilAnswered(cluster: Cluster, nodeIds: number[], topic: string, key: string, body: unknown): Promise<RecordOffset[]> {
  const deadline = Date.now() + 30_000;
  let last = '';
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const nodeId = nodeIds[attempt % nodeIds.length];
    try {
      const answer = await produce(cluster.url(nodeId), topic, key, body, 10_000);
      if (answer.status === 200) return answer.body.offsets;
      last = `node ${nodeId}: ${answer.status} ${JSON.stringify(answer.body)}`;
    } catch (error) {
      // A node restarting or cut off: the next one.
      last = `node ${nodeId}: ${(error as Error).message}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no node answered the retry of ${key} within 30 s; last: ${last}`);
}

function valuesOf(records: Fetched['records']): string[] {
  return records.map((record) => JSON.stringify(record.value)).sort();
}

void t.test('exactly-once retries across leader changes, lost answers and a shrunk ISR', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline();
  t.teardown(() => {
    if (!t.passing()) for (const id of [1, 2, 3]) t.comment(`node ${id}:\n${cluster.output(id, 40)}`);
  });

  await t.test('answer lost, leader SIGKILLed: the retry through another node appends nothing twice', async (t) => {
    await createTopic(cluster, 'killed');
    const leader = (await cluster.leaderOf('killed', 0))!;
    const proxy = await startFaultProxy(t, cluster.url(leader));
    const body = { records: [
      { key: 'k1', value: 'keyed 1' }, { value: 'keyless 1' }, { key: 'k2', value: 'keyed 2' },
      { key: 'k3', value: 'keyed 3' }, { value: 'keyless 2' }, { key: 'k4', value: 'keyed 4' },
    ] };
    proxy.dropReply(/^POST \/v1\/topics\/killed\/records/);
    await t.rejects(produce(proxy.url, 'killed', 'order-1', body), 'the client never sees the first answer');
    await cluster.kill(leader);
    t.teardown(async () => {
      if (!cluster.isRunning(leader)) await cluster.start(leader);
    });
    const others = [1, 2, 3].filter((id) => id !== leader);
    const offsets = await retryUntilAnswered(cluster, others, 'killed', 'order-1', body);
    const records = await allRecords(cluster, 'killed');
    t.same(valuesOf(records), valuesOf(body.records.map((record) => ({ partition: 0, offset: 0, value: record.value }))), 'every record exactly once');
    for (let i = 0; i < body.records.length; i++) {
      const stored = records.find((record) => record.partition === offsets[i].partition && record.offset === offsets[i].offset);
      t.same(stored?.value, body.records[i].value, `record ${i}: the answer points at it`);
    }
    await cluster.start(leader);
  });

  await t.test('producer ids are unique across nodes; a sequenced batch retried on the new leader is appended once', async (t) => {
    await createTopic(cluster, 'sequenced');
    const ids: number[] = [];
    for (const nodeId of cluster.runningIds()) {
      for (let i = 0; i < 3; i++) ids.push((await requestOk<{ producerId: number }>(`${cluster.url(nodeId)}/v1/producers`, { method: 'POST' })).body.producerId);
    }
    t.equal(new Set(ids).size, ids.length, `every node hands out other ids (${ids.join(', ')})`);
    const leader = (await cluster.leaderOf('sequenced', 0))!;
    const proxy = await startFaultProxy(t, cluster.url(leader));
    const body = { producerId: ids[0], producerEpoch: 0, baseSequence: 0, records: [{ value: 'seq 0' }, { value: 'seq 1' }, { value: 'seq 2' }] };
    proxy.dropReply(/^POST \/v1\/topics\/sequenced\/partitions\/0\/records/);
    await t.rejects(requestJson(`${proxy.url}/v1/topics/sequenced/partitions/0/records`, { body }), 'the first answer is lost');
    await cluster.kill(leader);
    t.teardown(async () => {
      if (!cluster.isRunning(leader)) await cluster.start(leader);
    });
    const answer = await cluster.waitFor(async () => {
      const next = await cluster.leaderOf('sequenced', 0);
      if (next === null || next === leader) return undefined;
      const retry = await requestJson<{ offsets: RecordOffset[] }>(`${cluster.url(next)}/v1/topics/sequenced/partitions/0/records`, { body });
      return retry.status === 200 ? retry.body : undefined;
    }, 30_000, 'the retry answered by the new leader');
    t.same(answer.offsets.map((offset) => offset.offset), [0, 1, 2], 'the original offsets');
    t.same((await allRecords(cluster, 'sequenced')).map((record) => record.value), ['seq 0', 'seq 1', 'seq 2'], 'each record once');
    await cluster.start(leader);
  });

  await t.test('a forwarded share whose answer is lost is sent again under the key: one answer, every record once', async (t) => {
    await createTopic(cluster, 'forwarded');
    const leader = (await cluster.leaderOf('forwarded', 1))!;
    const via = [1, 2, 3].find((id) => id !== leader)!;
    const keysForPartition1 = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const body = { records: keysForPartition1.map((key, i) => ({ key, value: `forwarded ${i}` })) };
    const link = cluster.proxy(via, leader);
    const cutBefore = link.cutCount;
    link.dropReply(/^POST \/internal\/v1\/produce/);
    const answer = await produce(cluster.url(via), 'forwarded', 'share-1', body);
    t.equal(link.cutCount, cutBefore + 1, 'the leader\'s first answer to the forwarding node was lost');
    t.equal(answer.status, 200, 'the request is acknowledged');
    const records = await allRecords(cluster, 'forwarded');
    t.same(valuesOf(records), valuesOf(body.records.map((record) => ({ partition: 0, offset: 0, value: record.value }))), 'every record exactly once');
    t.ok(answer.body.offsets.some((offset) => offset.partition === 1), 'some records went to the forwarded partition');
  });

  await t.test('the ISR shrank under an acks=all wait after the append: the retry answers the same offsets', async (t) => {
    await cluster.waitForOnline();
    await requestOk(`${cluster.url(cluster.runningIds()[0])}/v1/topics`, {
      body: { name: 'shrunk', partitions: PARTITIONS.length, replicationFactor: 3, configs: { 'min.insync.replicas': '3' } },
    });
    const view = await cluster.waitFor(async () => {
      const described = await cluster.describeTopic('shrunk');
      return described.partitions.every((p) => p.leader !== null && p.isr.length === 3) ? described : undefined;
    }, 15_000, 'shrunk: leaders and full ISRs');
    const { controller } = await cluster.clusterStatus();
    // A follower that is not the controller is cut off: the ISR shrinks to two, below min.insync.replicas.
    const partition = view.partitions.find((p) => p.replicas.some((id) => id !== p.leader && id !== controller))!;
    const leader = partition.leader!;
    const cut = partition.replicas.find((id) => id !== leader && id !== controller)!;
    cluster.isolate(cut);
    const url = `${cluster.url(leader)}/v1/topics/shrunk/partitions/${partition.partition}/records`;
    const body = { records: [{ value: 'waited' }] };
    const first = await requestJson<{ error?: { code: string } }>(url, { body, headers: { 'idempotency-key': 'wait-1' }, timeoutMs: 40_000 });
    t.equal(first.body.error?.code, 'NOT_ENOUGH_REPLICAS', `the wait fails when the ISR shrinks (${first.status})`);
    t.equal((await cluster.describeTopic('shrunk', leader)).partitions[partition.partition].logEndOffset, 1, 'the record was appended');
    cluster.heal(cut);
    await cluster.waitFor(async () => ((await cluster.describeTopic('shrunk', leader)).partitions[partition.partition].isr.length === 3 ? true : undefined),
      20_000, 'the ISR back');
    const retry = await requestJson<{ offsets: RecordOffset[] }>(url, { body, headers: { 'idempotency-key': 'wait-1' }, timeoutMs: 20_000 });
    t.equal(retry.status, 200, 'the retry is acknowledged');
    t.same(retry.body.offsets.map((offset) => offset.offset), [0], 'at the offset the first attempt appended');
    const records = await allRecords(cluster, 'shrunk');
    t.same(records.map((record) => record.value), ['waited'], 'once');
  });
});
