/**
 * Leader changes over real HTTP between three in-process nodes: a deposed leader's
 * unreplicated suffix (an older epoch the new leader does not have) is truncated
 * (KIP-320 divergence in fetch) and its log ends identical to the new leader's; moving
 * leadership around while acks=all writes run loses no acknowledged record; fetches
 * with stale or future epochs are fenced; an acks=all write waiting on a deposed leader
 * is answered NOT_LEADER naming the new leader's advertised URL.
 */
import t from 'tap';
import { request } from 'undici';
import { decodeFetchResponse, REPLICA_FETCH_PATH } from '../../../src/cluster/replication/wire.js';
import { advertisedUrl, allBatchBytes, describeLogs, isInSync, isSettled, sleep, startCluster, until, valuesOf } from './cluster-support.js';

void t.test('a deposed leader truncates the batches the new leader does not have and ends identical to it', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000 });
  for (let i = 0; i < 5; i++) await cluster.produceAcked([`committed ${i}`], 3);
  const committedEnd = cluster.log(1).highWatermark;

  // Nodes 2 and 3 stop fetching; leader 1 appends batches of epoch 1 nobody else gets.
  await cluster.stopNode(2);
  await cluster.stopNode(3);
  for (let i = 0; i < 4; i++) cluster.produce([`lost ${i}`, `lost ${i}b`]);
  const deposedEnd = cluster.log(1).logEndOffset;
  t.equal(cluster.log(1).highWatermark, committedEnd, 'the extra batches were never committed');

  // The controller fences node 1 and elects node 2 from the ISR (a clean election).
  await cluster.stopNode(1);
  await cluster.startNode(2);
  await cluster.startNode(3);
  cluster.elect(2, [2, 3]);
  await cluster.settled();
  for (let i = 0; i < 3; i++) await cluster.produceAcked([`epoch 2 write ${i}`], 2);
  t.equal(cluster.log(2).epochCache.latestEpoch(), 2);

  // Node 1 comes back as a follower of epoch 2: its epoch-1 suffix diverges.
  await cluster.startNode(1);
  await until(() => isInSync(cluster), () => describeLogs(cluster));
  const newLeaderBytes = allBatchBytes(cluster.log(2));
  t.ok(allBatchBytes(cluster.log(1)).equals(newLeaderBytes), 'node 1 holds exactly the new leader\'s batches');
  t.ok(allBatchBytes(cluster.log(3)).equals(newLeaderBytes), 'node 3 too');
  t.same(cluster.log(1).epochCache.all, cluster.log(2).epochCache.all, 'and the same leader-epoch checkpoint');
  const values = valuesOf(cluster.log(1));
  t.notOk(values.some((value) => value.startsWith('lost')), 'no record of the divergent suffix survives');
  t.same(values.slice(0, 5), [0, 1, 2, 3, 4].map((i) => `committed ${i}`));
  t.same(values.slice(5), [0, 1, 2].map((i) => `epoch 2 write ${i}`), 'the new epoch\'s records follow the committed ones');
  t.ok(deposedEnd > cluster.log(1).logEndOffset - 3, 'the suffix was cut, not kept beside the new records');
  await until(() => cluster.metadata.isr.length === 3, () => describeLogs(cluster));
  t.pass('node 1 rejoined the ISR');
});

void t.test('moving leadership around while acks=all writes run keeps every acknowledged record', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 2_000, fetchMaxWaitMs: 100 });
  const acknowledged = new Map<number, string>();
  let refused = 0;
  const write = async (value: string): Promise<void> => {
    try {
      const leaderId = cluster.metadata.leader;
      if (cluster.node(leaderId).partition.leader !== leaderId) return;
      const lastOffset = await cluster.produceAcked([value], 2, 10_000, leaderId);
      acknowledged.set(lastOffset, value);
    } catch (error) {
      if ((error as { code?: string }).code !== 'NOT_LEADER') throw error;
      refused += 1;
    }
  };
  const leaders = [2, 3, 1, 3, 2, 1];
  let counter = 0;
  for (const nextLeader of leaders) {
    // Writes in flight while the leader changes: some are acked, some refused NOT_LEADER.
    const inFlight: Array<Promise<void>> = [];
    for (let i = 0; i < 15; i++) {
      inFlight.push(write(`w${counter++}`));
      if (i % 5 === 4) await sleep(5);
    }
    cluster.elect(nextLeader);
    await cluster.settled();
    await Promise.all(inFlight);
    await until(() => isSettled(cluster), () => describeLogs(cluster));
  }
  await write('last');
  await until(() => isInSync(cluster), () => describeLogs(cluster));
  t.ok(acknowledged.size > 30, `${acknowledged.size} writes acknowledged, ${refused} refused NOT_LEADER`);
  const leaderBytes = allBatchBytes(cluster.leaderNode.partition.log);
  for (const nodeId of [1, 2, 3]) {
    const values = valuesOf(cluster.log(nodeId));
    const lost = [...acknowledged].filter(([offset, value]) => values[offset] !== value);
    t.same(lost, [], `node ${nodeId} holds every acknowledged record at its offset`);
    t.ok(allBatchBytes(cluster.log(nodeId)).equals(leaderBytes), `node ${nodeId} is identical to the leader`);
  }
  t.same(cluster.log(1).epochCache.latestEpoch(), cluster.metadata.leaderEpoch);
});

void t.test('the leader refuses fetches from stale and future epochs, from non-replicas and for unknown partitions', async (t) => {
  const cluster = await startCluster(t);
  cluster.produce(['a']);
  const fetch = async (body: object): Promise<ReturnType<typeof decodeFetchResponse>['partitions']> => {
    const response = await request(`${cluster.node(1).url}${REPLICA_FETCH_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-runnel-cluster-secret': 'test-secret' },
      body: JSON.stringify({ replicaId: 2, maxWaitMs: 0, maxBytes: 1024, ...body }),
    });
    t.equal(response.headers['content-type'], 'application/octet-stream');
    return decodeFetchResponse(Buffer.from(await response.body.arrayBuffer())).partitions;
  };
  const wanted = { topic: 'orders', partition: 0, currentLeaderEpoch: 1, fetchOffset: 0, lastFetchedEpoch: -1 };
  const [served] = await fetch({ partitions: [wanted] });
  t.match(served, { error: undefined, highWatermark: 0, logEndOffset: 1 });
  t.ok(served.records.length > 0, 'a follower reads past the high watermark');
  t.match(await fetch({ partitions: [{ ...wanted, currentLeaderEpoch: 0 }] }), [{ error: 'FENCED_LEADER_EPOCH', byteLength: 0 }]);
  t.match(await fetch({ partitions: [{ ...wanted, currentLeaderEpoch: 2 }] }), [{ error: 'UNKNOWN_LEADER_EPOCH' }]);
  t.match(await fetch({ replicaId: 9, partitions: [wanted] }), [{ error: 'NOT_REPLICA' }]);
  t.match(await fetch({ partitions: [{ ...wanted, partition: 5 }] }), [{ error: 'UNKNOWN_PARTITION', highWatermark: -1 }]);
  t.match(await fetch({ partitions: [{ ...wanted, fetchOffset: 7 }] }), [{ error: 'OFFSET_OUT_OF_RANGE', logEndOffset: 1 }]);
  t.match(await fetch({ partitions: [{ ...wanted, fetchOffset: 7, lastFetchedEpoch: 1 }] }), [{ divergingEpoch: { epoch: 1, endOffset: 1 }, byteLength: 0 }],
    'a follower past the end of its last epoch here diverges (KIP-320)');
  t.match(await fetch({ partitions: [{ ...wanted, fetchOffset: 0, lastFetchedEpoch: 0 }] }), [{ divergingEpoch: { epoch: -1, endOffset: -1 } }],
    'an epoch the leader never had diverges');
  const follower = await request(`${cluster.node(2).url}${REPLICA_FETCH_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-runnel-cluster-secret': 'test-secret' },
    body: JSON.stringify({ replicaId: 3, maxWaitMs: 0, maxBytes: 1024, partitions: [wanted] }),
  });
  t.match(decodeFetchResponse(Buffer.from(await follower.body.arrayBuffer())).partitions, [{ error: 'NOT_LEADER' }]);
  const invalid = await request(`${cluster.node(1).url}${REPLICA_FETCH_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-runnel-cluster-secret': 'test-secret' },
    body: JSON.stringify({ replicaId: 2, partitions: [] }),
  });
  t.equal(invalid.statusCode, 400, 'the body is validated');
  await invalid.body.dump();
});

void t.test('a parked fetch answers as soon as the leader appends, and when the follower goes away it is released', async (t) => {
  const cluster = await startCluster(t, { fetchMaxWaitMs: 5_000 });
  await cluster.produceAcked(['first'], 3);
  await until(() => isInSync(cluster), () => describeLogs(cluster));
  await sleep(50);
  const startedMs = Date.now();
  await cluster.produceAcked(['second'], 3, 4_000);
  t.ok(Date.now() - startedMs < 4_000, `followers parked for 5 s got the append at once (${Date.now() - startedMs} ms)`);
  const controller = new AbortController();
  const parked = request(`${cluster.node(1).url}${REPLICA_FETCH_PATH}`, {
    method: 'POST',
    signal: controller.signal,
    headers: { 'content-type': 'application/json', 'x-runnel-cluster-secret': 'test-secret' },
    body: JSON.stringify({ replicaId: 2, maxWaitMs: 60_000, maxBytes: 1024, partitions: [
      { topic: 'orders', partition: 0, currentLeaderEpoch: 1, fetchOffset: cluster.log(1).logEndOffset, lastFetchedEpoch: 1 },
    ] }),
  });
  await sleep(100);
  controller.abort();
  await t.rejects(parked);
  // Teardown closes the app; a request still parked for 60 s would hold it open past the test timeout.
});

void t.test('an acks=all write appended before its leader is deposed, and truncated, is answered NOT_LEADER naming the new leader by its advertised URL', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000, followerFetchSilenceMaxMs: 60_000, fetchMaxWaitMs: 100 });
  await cluster.produceAcked(['committed'], 2);
  // Nodes 2 and 3 stop fetching: the write stays on node 1 alone.
  await cluster.stopNode(2);
  await cluster.stopNode(3);
  const waiting = cluster.produceAcked(['appended, then deposed'], 2, 10_000, 1).then(() => undefined, (error: unknown) => error);
  // Node 2 is elected without it (as after node 1 was fenced): node 1 follows and truncates the record.
  cluster.elect(2, [2, 3]);
  await cluster.settled();
  await cluster.startNode(2);
  await cluster.startNode(3);
  await cluster.produceAcked(['the new leader\'s record'], 2, 10_000, 2);
  const error = await waiting;
  t.match(error, { code: 'NOT_LEADER', details: { leaderId: 2, leaderUrl: advertisedUrl(2) } }, 'the answer names node 2 by the URL it advertises');
  t.not(advertisedUrl(2), cluster.node(2).url, 'which is not the URL node 1 reaches it by');
});
