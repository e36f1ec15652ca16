/**
 * Partition replication over real HTTP between three in-process nodes: followers end
 * byte-identical to the leader; acks=all waits for every ISR member; a stopped
 * follower leaves the ISR after replica.lag.time.max.ms, min.insync.replicas is
 * honoured, and the follower rejoins when it is back.
 */
import t from 'tap';
import {
  allBatchBytes, describeLogs, isInSync, segmentFiles, sleep, startCluster, until, valuesOf,
} from './cluster-support.js';

const LAG_MS = 1_000;

void t.test('followers\' logs become byte-identical to the leader\'s, segment files included', async (t) => {
  const cluster = await startCluster(t);
  const expected: string[] = [];
  // Batches of 1-7 records of growing size, so the 1 KiB test segments roll many times.
  for (let i = 0; i < 40; i++) {
    const values = Array.from({ length: 1 + (i % 7) }, (_, j) => `r${i}.${j}:${'x'.repeat(i * 3)}`);
    cluster.produce(values);
    expected.push(...values);
    if (i % 10 === 0) await sleep(20);
  }
  await until(() => isInSync(cluster), () => describeLogs(cluster));
  const leaderLog = cluster.log(1);
  t.equal(leaderLog.highWatermark, leaderLog.logEndOffset, 'everything committed');
  t.same(valuesOf(leaderLog), expected);
  t.ok(leaderLog.segmentCount > 5, `the leader rolled segments (${leaderLog.segmentCount})`);
  const leaderBytes = allBatchBytes(leaderLog);
  const leaderFiles = segmentFiles(cluster.node(1).directory);
  for (const nodeId of [2, 3]) {
    t.ok(allBatchBytes(cluster.log(nodeId)).equals(leaderBytes), `node ${nodeId} holds the same batch bytes`);
    const files = segmentFiles(cluster.node(nodeId).directory);
    t.same([...files.keys()], [...leaderFiles.keys()], `node ${nodeId} rolled at the same offsets`);
    t.ok([...files].every(([name, bytes]) => bytes.equals(leaderFiles.get(name)!)), `node ${nodeId}'s .log files equal the leader's`);
    t.same(cluster.log(nodeId).epochCache.all, leaderLog.epochCache.all, `node ${nodeId}'s leader-epoch checkpoint matches`);
    t.ok(cluster.node(nodeId).partition.readersNotified > 0, 'a follower wakes its readers when its high watermark moves');
  }
  const status = cluster.manager(1).status();
  t.match(status, [{ role: 'leader', topic: 'orders', partition: 0, isr: [1, 2, 3], highWatermark: leaderLog.logEndOffset, pendingIsrChange: null }]);
  t.same(status[0].role === 'leader' && status[0].followers.map((f) => [f.replicaId, f.logEndOffset, f.isInIsr]),
    [[2, leaderLog.logEndOffset, true], [3, leaderLog.logEndOffset, true]]);
  t.match(cluster.manager(2).status(), [{ role: 'follower', leaderId: 1, fetchState: 'fetching', lastError: null }]);
  for (const node of cluster.nodes.values()) t.same(node.errors, [], `node ${node.nodeId} reported no errors`);
});

void t.test('acks=all resolves only once both followers hold the records', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000 });
  for (let i = 0; i < 10; i++) {
    const lastOffset = await cluster.produceAcked([`a${i}`, `b${i}`], 2);
    for (const nodeId of [2, 3]) {
      if (cluster.log(nodeId).logEndOffset <= lastOffset) t.fail(`acked ${lastOffset} before node ${nodeId} had it`);
    }
  }
  t.pass('ten acks=all writes, each held by both followers when acknowledged');

  // With node 3 stopped (still in the ISR: the lag time is a minute), acks=all waits.
  await cluster.stopNode(3);
  const lastOffset = cluster.produce(['held back']);
  let isAcked = false;
  const acked = cluster.manager(1).waitForHighWatermark(cluster.leaderNode.partition, lastOffset, 2, 10_000).then(() => {
    isAcked = true;
  });
  await until(() => cluster.log(2).logEndOffset > lastOffset, 'node 2 has the record');
  await sleep(300);
  t.notOk(isAcked, 'not acknowledged while an ISR member lacks the record');
  t.equal(cluster.log(1).highWatermark, lastOffset, 'the high watermark waits for node 3');
  await cluster.startNode(3);
  await acked;
  t.ok(cluster.log(3).logEndOffset > lastOffset, 'acknowledged once node 3 fetched it');

  await t.rejects(cluster.manager(1).waitForHighWatermark(cluster.leaderNode.partition, cluster.produce(['x']), 4, 1_000),
    { code: 'NOT_ENOUGH_REPLICAS' }, 'min.insync.replicas above the ISR size is refused at once');
  await cluster.stopNode(2);
  await t.rejects(cluster.produceAcked(['timed out'], 2, 200), { code: 'REQUEST_TIMED_OUT' }, 'a waiter ends at its deadline');
  await t.rejects(cluster.manager(3).waitForHighWatermark(cluster.node(3).partition, 0, 1, 100),
    { code: 'NOT_LEADER' }, 'a follower refuses acks=all waits');
});

void t.test('a stopped follower leaves the ISR; min.insync.replicas decides; the follower comes back and rejoins', async (t) => {
  // The lag time is short, but long enough that a follower that runs is never shrunk on
  // a loaded machine (every node shares this process's event loop).
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: LAG_MS, fetchMaxWaitMs: 100 });
  await cluster.produceAcked(['before'], 3);

  await cluster.stopNode(3);
  const startedMs = Date.now();
  await cluster.produceAcked(['with node 3 stopped'], 2);
  t.ok(Date.now() - startedMs >= LAG_MS * 0.8, 'acks=all waited for the lagging follower to be shrunk out');
  await cluster.settled();
  t.same(cluster.metadata.isr, [1, 2], 'node 3 left the ISR through AlterPartition');
  t.match(cluster.alterIsrRequests, [{ from: 1, isr: [1, 2], isAccepted: true }]);

  await cluster.stopNode(2);
  await t.rejects(cluster.produceAcked(['only the leader'], 2), { code: 'NOT_ENOUGH_REPLICAS' },
    'min.insync.replicas=2 with the leader alone left is refused');
  await cluster.settled();
  t.same(cluster.metadata.isr, [1]);
  const aloneOffset = await cluster.produceAcked(['min.insync.replicas=1'], 1, 1_000);
  t.equal(cluster.log(1).highWatermark, aloneOffset + 1, 'with the leader alone in the ISR an append commits at once');
  await t.rejects(cluster.produceAcked(['still alone'], 2), { code: 'NOT_ENOUGH_REPLICAS' }, 'refused at once with ISR [1]');

  await cluster.startNode(2);
  await cluster.startNode(3);
  await until(() => [...cluster.metadata.isr].sort().join(',') === '1,2,3', () => describeLogs(cluster));
  await cluster.settled();
  t.pass('both followers rejoined the ISR');
  const lastOffset = await cluster.produceAcked(['after the return'], 3);
  await until(() => isInSync(cluster), () => describeLogs(cluster));
  for (const nodeId of [2, 3]) t.ok(allBatchBytes(cluster.log(nodeId)).equals(allBatchBytes(cluster.log(1))), `node ${nodeId} is identical again`);
  t.equal(valuesOf(cluster.log(3))[lastOffset], 'after the return');
  t.ok(cluster.alterIsrRequests.every((request) => request.isAccepted), 'one change at a time: no request was refused');
});
