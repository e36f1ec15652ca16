/**
 * The acks=all hand-over: when a node stops leading a partition it still follows (a
 * preferred-leader move, an election), the produce requests waiting there for the high
 * watermark keep waiting on its follower side. One whose records the new leader
 * commits succeeds with its original offsets (no NOT_LEADER, so no retry and no
 * duplicate); one whose records the new leader did not have, and that its log
 * therefore truncates, fails with NOT_LEADER; one the node leads again goes back to the
 * leader's waiters. Three in-process nodes over real HTTP, driven by the test's
 * controller (cluster-support.ts).
 */
import t from 'tap';
import type { RunnelError } from '../../../src/errors.js';
import { allBatchBytes, describeLogs, isInSync, startCluster, until, valuesOf } from './cluster-support.js';

const settle = (promise: Promise<number>): Promise<{ offset?: number; code?: string }> =>
  promise.then((offset) => ({ offset }), (error: RunnelError) => ({ code: error.code }));

void t.test('an acks=all write in flight across a leadership move succeeds with its original offsets', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000, followerFetchSilenceMaxMs: 60_000, fetchMaxWaitMs: 100 });
  await cluster.produceAcked(['before'], 2);
  // Node 3 stops fetching: with it in the ISR, nothing commits on leader 1.
  await cluster.stopNode(3);
  const waiting = settle(cluster.produceAcked(['in flight a', 'in flight b'], 2, 10_000, 1));
  const lastOffset = cluster.log(1).logEndOffset - 1;
  await until(() => cluster.log(2).logEndOffset > lastOffset, () => describeLogs(cluster));
  t.ok(cluster.log(1).highWatermark <= lastOffset, 'not committed yet when leadership moves');

  // The controller moves leadership to node 2 (node 3 left the ISR): node 1 follows it.
  cluster.elect(2, [1, 2]);
  await cluster.settled();
  t.same(await waiting, { offset: lastOffset }, 'node 1 answers with the offsets it appended, once node 2 committed them');
  t.same(valuesOf(cluster.log(2)).slice(lastOffset - 1, lastOffset + 1), ['in flight a', 'in flight b'], 'the new leader holds them at those offsets');
  t.ok(cluster.log(1).highWatermark > lastOffset, 'node 1 learned the commit from node 2');
  t.same(cluster.node(1).errors, []);
});

void t.test('an acks=all write whose records the new leader did not have fails with NOT_LEADER when the follower truncates them', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000, followerFetchSilenceMaxMs: 60_000, fetchMaxWaitMs: 100 });
  await cluster.produceAcked(['committed'], 2);
  const committedEnd = cluster.log(1).logEndOffset;
  await cluster.stopNode(2);
  await cluster.stopNode(3);
  const waiting = settle(cluster.produceAcked(['only on node 1'], 2, 10_000, 1));
  t.equal(cluster.log(1).logEndOffset, committedEnd + 1);

  // Node 2 is elected without it (as after node 1 was fenced) and writes its own record there.
  cluster.elect(2, [2, 3]);
  await cluster.settled();
  await cluster.startNode(2);
  await cluster.startNode(3);
  const replacement = await cluster.produceAcked(['new leader\'s record'], 2, 10_000, 2);
  t.equal(replacement, committedEnd, 'the new leader wrote at the same offset');

  t.same(await waiting, { code: 'NOT_LEADER' }, 'node 1 truncated the record and refuses the wait');
  await until(() => isInSync(cluster), () => describeLogs(cluster));
  t.ok(allBatchBytes(cluster.log(1)).equals(allBatchBytes(cluster.log(2))), 'node 1 ends identical to the new leader');
  t.same(valuesOf(cluster.log(1)), ['committed', 'new leader\'s record']);
});

void t.test('a handed-over write goes back to the leader\'s waiters when the node leads again, and times out on its own deadline', async (t) => {
  const cluster = await startCluster(t, { replicaLagTimeMaxMs: 60_000, followerFetchSilenceMaxMs: 60_000, fetchMaxWaitMs: 100 });
  await cluster.stopNode(3);
  const waiting = settle(cluster.produceAcked(['a'], 2, 10_000, 1));
  const lastOffset = cluster.log(1).logEndOffset - 1;
  const timingOut = settle(cluster.produceAcked(['b'], 2, 300, 1));
  // Leadership moves to node 2 and straight back, before node 2 commits anything (its ISR still names node 3).
  cluster.elect(2, [1, 2, 3]);
  await cluster.settled();
  t.same(await timingOut, { code: 'REQUEST_TIMED_OUT' }, 'the deadline went with the waiter');
  cluster.elect(1, [1, 2]);
  await cluster.settled();
  t.same(await waiting, { offset: lastOffset }, 'committed by node 1 in its new epoch');
  t.equal(cluster.manager(1).status().find((status) => status.role === 'leader')?.acksAllWaiters, 0);
});
