/**
 * acks=all waiters: each ends exactly once — resolved when the high watermark passes
 * its last offset with enough in-sync replicas, NOT_ENOUGH_REPLICAS when the ISR is
 * (or becomes) smaller than min.insync.replicas, REQUEST_TIMED_OUT at its deadline —
 * and their number is bounded.
 */
import t from 'tap';
import { HighWatermarkWaiters } from '../../../src/cluster/replication/high-watermark-waiters.js';
import { RunnelError } from '../../../src/errors.js';

const settledState = async (promise: Promise<void>): Promise<string> => {
  const marker = Symbol('pending');
  const result = await Promise.race([promise.then(() => 'resolved', (error: RunnelError) => error.code), new Promise((resolve) => setImmediate(resolve, marker))]);
  return result === marker ? 'pending' : result as string;
};

void t.test('a waiter resolves once the high watermark passes its last offset, not when it reaches it', async (t) => {
  const waiters = new HighWatermarkWaiters('orders-0', 10);
  const waiting = waiters.wait(9, 2, 10_000, { highWatermark: 5, insyncReplicaCount: 3 });
  waiters.check({ highWatermark: 9, insyncReplicaCount: 3 });
  t.equal(await settledState(waiting), 'pending');
  waiters.check({ highWatermark: 10, insyncReplicaCount: 3 });
  t.equal(await settledState(waiting), 'resolved');
  t.equal(waiters.size, 0);
  t.equal(await settledState(waiters.wait(3, 2, 10_000, { highWatermark: 4, insyncReplicaCount: 2 })), 'resolved', 'already committed: at once');
});

void t.test('NOT_ENOUGH_REPLICAS: at once, when the ISR shrinks below the minimum, or when it is short as the records commit', async (t) => {
  const waiters = new HighWatermarkWaiters('orders-0', 10);
  await t.rejects(waiters.wait(3, 3, 10_000, { highWatermark: 0, insyncReplicaCount: 2 }), { code: 'NOT_ENOUGH_REPLICAS', details: { insyncReplicas: 2, minInsyncReplicas: 3 } });
  const shrunk = waiters.wait(3, 2, 10_000, { highWatermark: 0, insyncReplicaCount: 3 });
  const fine = waiters.wait(3, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 3 });
  waiters.check({ highWatermark: 0, insyncReplicaCount: 1 });
  await t.rejects(shrunk, { code: 'NOT_ENOUGH_REPLICAS', message: 'orders-0 has 1 in-sync replicas, fewer than min.insync.replicas=2' });
  t.equal(await settledState(fine), 'pending', 'min.insync.replicas=1 keeps waiting');
  waiters.check({ highWatermark: 4, insyncReplicaCount: 1 });
  t.equal(await settledState(fine), 'resolved');
  await t.rejects(waiters.wait(3, 2, 10_000, { highWatermark: 4, insyncReplicaCount: 1 }), { message: /when the records were committed/ });
});

void t.test('a waiter times out with REQUEST_TIMED_OUT; the count is bounded; rejectAll and moveTo hand every waiter on once', async (t) => {
  const waiters = new HighWatermarkWaiters('orders-0', 2);
  await t.rejects(waiters.wait(5, 1, 20, { highWatermark: 0, insyncReplicaCount: 1 }), { code: 'REQUEST_TIMED_OUT', message: /did not reach offset 5 within 20 ms/ });
  t.equal(waiters.size, 0, 'a timed-out waiter is gone');
  const first = waiters.wait(5, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 1 });
  const second = waiters.wait(6, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 1 });
  await t.rejects(waiters.wait(7, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 1 }), { code: 'TOO_MANY_WAITERS' });
  const successor = new HighWatermarkWaiters('orders-0', 2);
  waiters.moveTo(successor);
  waiters.rejectAll(new RunnelError('NOT_LEADER', 'gone'));
  t.equal(await settledState(first), 'pending', 'moved waiters are not rejected by the old owner');
  successor.check({ highWatermark: 6, insyncReplicaCount: 1 });
  t.equal(await settledState(first), 'resolved');
  successor.rejectAll(new RunnelError('NOT_LEADER', 'gone'));
  await t.rejects(second, { code: 'NOT_LEADER' });
  t.equal(successor.size, 0);
});

void t.test('rejectFrom rejects the waiters whose records a truncation removed; a moved waiter times out from its new set', async (t) => {
  const waiters = new HighWatermarkWaiters('orders-0', 10);
  const below = waiters.wait(4, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 1 });
  const at = waiters.wait(5, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 1 });
  const above = waiters.wait(7, 1, 10_000, { highWatermark: 0, insyncReplicaCount: 1 });
  waiters.rejectFrom(5, new RunnelError('NOT_LEADER', 'truncated'));
  await t.rejects(at, { code: 'NOT_LEADER' }, 'its last offset was cut');
  await t.rejects(above, { code: 'NOT_LEADER' });
  t.equal(await settledState(below), 'pending', 'records below the cut are still there');
  const moved = waiters.wait(9, 1, 20, { highWatermark: 0, insyncReplicaCount: 1 });
  const successor = new HighWatermarkWaiters('orders-0', 10);
  waiters.moveTo(successor);
  await t.rejects(moved, { code: 'REQUEST_TIMED_OUT' });
  t.equal(successor.size, 1, 'the timed-out waiter left the set it was in');
  successor.check({ highWatermark: 5, insyncReplicaCount: 1 });
  t.equal(await settledState(below), 'resolved');
});
