/**
 * The record-batch media type in a cluster of three real nodes: a produce sent to a
 * node that does not lead the partition reaches the leader with its body as it came
 * (the hand-over), acks=all waits for the in-sync replicas, an Idempotency-Key retry
 * through another node replays the first answer, and every replica serves the same
 * stored bytes to a binary fetch (replication ships them unchanged); a node with no
 * replica hands a binary fetch to one that has it, offset headers included.
 */
import t from 'tap';
import { request } from 'undici';
import { startCluster, type TopicView } from '../helpers/cluster.js';
import { requestJson, requestOk } from '../helpers/http.js';
import { decodeKafkaBatches, encodeKafkaBatch } from '../helpers/kafkajs-codec.js';

t.setTimeout(120_000);

const BATCH_TYPE = 'application/vnd.runnel.record-batch';

interface BatchAnswer { batches: Array<{ partition: number; baseOffset: number; lastOffset: number; timestamp: number }>; error?: { code: string } }

async function produceBatches(url: string, body: Buffer, headers: Record<string, string> = {}) {
  const response = await request(url, { method: 'POST', body, headers: { 'content-type': BATCH_TYPE, ...headers }, headersTimeout: 40_000 });
  return { status: response.statusCode, headers: response.headers, body: (await response.body.json()) as BatchAnswer };
}

/** Creates a one-partition topic through `url`; the answer names its leader. */
async function createTopic(url: string, name: string, replicationFactor: number): Promise<TopicView> {
  return (await requestOk<TopicView>(`${url}/v1/topics`, { body: { name, partitions: 1, replicationFactor }, timeoutMs: 20_000 })).body;
}

async function fetchBatches(url: string) {
  const response = await request(url, { headers: { accept: BATCH_TYPE } });
  return {
    status: response.statusCode,
    bytes: Buffer.from(await response.body.arrayBuffer()),
    nextOffset: Number(response.headers['runnel-next-offset']),
    servedBy: response.headers['runnel-served-by'],
  };
}

void t.test('binary produce and fetch through any node of a cluster', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline();
  const leader = (await createTopic(cluster.url(1), 'trades', 3)).partitions[0].leader!;
  const [follower, other] = [1, 2, 3].filter((nodeId) => nodeId !== leader);
  const path = '/v1/topics/trades/partitions/0/records';
  // The node that took the create answers at once; every node (the leader too) learns the topic from the metadata log.
  for (const nodeId of [leader, follower, other]) {
    await cluster.waitFor(async () => (await cluster.leaderOf('trades', 0, nodeId)) === leader, 20_000, `node ${nodeId} to know the leader`);
  }

  const first = await encodeKafkaBatch([{ key: 'k1', value: 'one', timestamp: 1_764_000_000_000 }, { key: 'k2', value: Buffer.from([0, 255]), timestamp: 1_764_000_000_001 }]);
  const viaFollower = await produceBatches(`${cluster.url(follower)}${path}?acks=all`, first);
  t.equal(viaFollower.status, 200, `a follower hands the produce to the leader: ${JSON.stringify(viaFollower.body)}`);
  t.same(viaFollower.body.batches.map((batch) => [batch.baseOffset, batch.lastOffset]), [[0, 1]]);
  t.equal(viaFollower.headers['runnel-served-by'], String(leader), 'the leader appended');

  const second = await encodeKafkaBatch([{ value: 'two', headers: { h: 'v' }, timestamp: 1_764_000_000_002 }]);
  const keyed = await produceBatches(`${cluster.url(leader)}${path}`, Buffer.from(second), { 'idempotency-key': 'trade-2' });
  t.same(keyed.body.batches.map((batch) => batch.baseOffset), [2]);
  const retried = await produceBatches(`${cluster.url(other)}${path}`, Buffer.from(second), { 'idempotency-key': 'trade-2' });
  t.same(retried.body, keyed.body, 'a retry through another node answers the first offsets');
  t.equal(retried.headers['idempotent-replayed'], 'true');

  // acks=all: every replica has both batches; each serves the same bytes (a follower up to its own high watermark).
  const served: Buffer[] = [];
  for (const nodeId of [leader, follower, other]) {
    const answer = await cluster.waitFor(async () => {
      const fetched = await fetchBatches(`${cluster.url(nodeId)}${path}?offset=0&waitMs=2000`);
      return fetched.nextOffset === 3 ? fetched : undefined;
    }, 20_000, `node ${nodeId} to serve offsets 0..2`);
    served.push(answer.bytes);
  }
  t.ok(served.every((bytes) => bytes.equals(served[0])), 'every replica serves the same stored bytes');
  const records = (await decodeKafkaBatches(served[0])).flatMap((batch) => batch.records);
  t.same(records.map((record) => [record.offset, record.key?.toString() ?? null, record.value?.toString('hex')]),
    [['0', 'k1', Buffer.from('one').toString('hex')], ['1', 'k2', '00ff'], ['2', null, Buffer.from('two').toString('hex')]]);
  t.same(records[2].headers, { h: Buffer.from('v') });

  // One replica: a node without it hands binary reads and produces to the one that has it.
  const replica = (await createTopic(cluster.url(1), 'solo', 1)).partitions[0].leader!;
  const outsider = [1, 2, 3].find((nodeId) => nodeId !== replica)!;
  const soloPath = `${cluster.url(outsider)}/v1/topics/solo/partitions/0/records`;
  for (const nodeId of [replica, outsider]) {
    await cluster.waitFor(async () => (await requestJson(`${cluster.url(nodeId)}/v1/topics/solo`)).status === 200, 20_000, `node ${nodeId} to know solo`);
  }
  const soloProduced = await produceBatches(soloPath, await encodeKafkaBatch([{ value: 'alone', timestamp: 1_764_000_000_003 }]));
  t.equal(soloProduced.status, 200);
  const handed = await fetchBatches(`${soloPath}?offset=0`);
  t.equal(handed.status, 200);
  t.equal(handed.servedBy, String(replica), 'the replica served the read');
  t.equal(handed.nextOffset, 1, 'the offset headers come back through the hand-over');
  t.equal((await decodeKafkaBatches(handed.bytes))[0].records[0].value?.toString(), 'alone');
});
