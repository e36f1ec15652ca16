/**
 * Replication when things fail, over real HTTP between three in-process nodes: a
 * leader that cannot be reached (followers back off 100 ms .. 1 s and resume), a
 * controller that refuses ISR changes (the ISR, and so acks=all, stays as it was until
 * one is accepted), a partition removed from a node, and a follower that fell below the
 * leader's logStartOffset (it empties its log and starts over at the leader's start).
 */
import t from 'tap';
import { describeLogs, isInSync, sleep, startCluster, until } from './cluster-support.js';

void t.test('followers back off while the leader is unreachable and resume when it returns', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000 });
  await cluster.produceAcked(['before'], 3);
  await cluster.stopNode(1);
  cluster.node(2).errors = [];
  await sleep(1_600);
  const failures = cluster.node(2).errors.length;
  // 100 + 200 + 400 + 800 ms: about four attempts in 1.6 s, never a tight loop.
  t.ok(failures >= 2 && failures <= 7, `node 2 retried ${failures} times in 1.6 s`);
  t.match(cluster.node(2).errors[0], /replica fetch from node 1 \(retrying in 100 ms\)/);
  t.match(cluster.manager(2).status(), [{ role: 'follower', leaderId: 1, fetchState: 'fetching', lastError: /.+/ }]);
  await cluster.startNode(1);
  const lastOffset = await cluster.produceAcked(['after'], 3, 5_000);
  t.ok(cluster.log(2).logEndOffset > lastOffset && cluster.log(3).logEndOffset > lastOffset, 'both followers fetch again');
});

void t.test('while the controller refuses AlterPartition the ISR stays, acks=all waits, and the shrink goes through once it answers', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 500, fetchMaxWaitMs: 100 });
  cluster.isControllerDown = true;
  await cluster.stopNode(3);
  const lastOffset = cluster.produce(['needs a shrink']);
  let isAcked = false;
  const acked = cluster.manager(1).waitForHighWatermark(cluster.leaderNode.partition, lastOffset, 2, 10_000).then(() => {
    isAcked = true;
  });
  await sleep(1_200);
  const refused = cluster.alterIsrRequests.length;
  t.ok(refused >= 1 && refused <= 8, `the leader asked ${refused} times in 1.2 s (one at a time, with a pause after each refusal)`);
  t.match(cluster.node(1).errors[0], /AlterPartition orders-0 shrink to ISR \[1,2\].*the controller did not answer/);
  const reports = cluster.node(1).errors.filter((error) => error.includes('AlterPartition'));
  t.equal(reports.length, 1, `the same refusal is reported once, not at each of the ${refused} tries`);
  t.notOk(isAcked, 'no acknowledgement while node 3 is still in the ISR');
  t.same(cluster.metadata.isr, [1, 2, 3]);
  cluster.isControllerDown = false;
  await acked;
  t.same(cluster.metadata.isr, [1, 2]);
});

void t.test('removing a partition from a node rejects its waiters and stops its fetching', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000 });
  await cluster.stopNode(3);
  const waiting = cluster.manager(1).waitForHighWatermark(cluster.leaderNode.partition, cluster.produce(['x']), 2, 10_000);
  await until(() => cluster.log(2).logEndOffset === cluster.log(1).logEndOffset, () => describeLogs(cluster));
  cluster.manager(1).onPartitionRemoved(cluster.node(1).partition);
  await t.rejects(waiting, { code: 'NOT_LEADER', message: /orders-0 was removed from node 1/ });
  t.same(cluster.manager(1).status(), []);
  cluster.manager(2).onPartitionRemoved(cluster.node(2).partition);
  t.same(cluster.manager(2).status(), [], 'the follower no longer fetches it');
  await t.rejects(cluster.manager(1).waitForHighWatermark(cluster.leaderNode.partition, 0, 1, 100), { code: 'NOT_LEADER' });
});

void t.test('a follower below the leader\'s logStartOffset empties its log and starts over at the leader\'s start (truncateFullyAndStartAt)', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 600, fetchMaxWaitMs: 100 });
  await cluster.stopNode(3);
  for (let i = 0; i < 30; i++) await cluster.produceAcked([`r${i}:${'x'.repeat(200)}`], 2, 5_000);
  const leaderLog = cluster.log(1);
  leaderLog.updateConfig({ ...leaderLog.logConfig, retentionBytes: 1_024 });
  t.ok(leaderLog.deleteRetainedSegments() > 0, 'retention deleted segments on the leader');
  await until(() => cluster.log(2).highWatermark === leaderLog.highWatermark, () => describeLogs(cluster));
  cluster.log(2).updateConfig({ ...leaderLog.logConfig, retentionBytes: 1_024 });
  cluster.log(2).deleteRetainedSegments();
  t.ok(leaderLog.logStartOffset > cluster.log(3).logEndOffset, `the leader starts at ${leaderLog.logStartOffset}, past node 3's end`);
  cluster.node(3).errors = [];
  await cluster.startNode(3);
  await until(() => cluster.log(3).logEndOffset === leaderLog.logEndOffset, () => describeLogs(cluster));
  t.equal(cluster.log(3).logStartOffset, leaderLog.logStartOffset, "node 3's log now starts where the leader's does");
  t.same(cluster.log(3).read(leaderLog.logStartOffset, 1 << 20, cluster.log(3).logEndOffset), leaderLog.read(leaderLog.logStartOffset, 1 << 20, leaderLog.logEndOffset),
    'and holds the same bytes from there');
  t.same(cluster.node(3).errors, [], 'nothing to report: it caught up');
  await cluster.produceAcked(['after'], 2, 5_000);
  await until(() => isInSync(cluster, [1, 2, 3]), () => describeLogs(cluster));
  t.pass('all three replicas hold the new record, up to the same high watermark');
});
