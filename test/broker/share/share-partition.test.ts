/**
 * One share-partition's rules, case by case (the simulation beside this file covers
 * their interleavings): redelivery order and counts, locks and renewals, refusals,
 * archiving at the delivery limit, the record-lock bound, gaps, retention, restarts.
 */
import t from 'tap';
import { SharePartition, type ShareSettings } from '../../../src/broker/share/share-partition.js';
import { decodeShareStateRecord, encodePartitionValue, sharePartitionKey } from '../../../src/broker/share/share-state-records.js';

const settings: ShareSettings = { lockDurationMs: 30_000, deliveryCountLimit: 3, maxRecordLocks: 10 };
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

void t.test('records go out once each, in order; released ones come back first, counted', async (t) => {
  const partition = new SharePartition(settings, 0);
  const first = partition.acquire('a', range(0, 5), 3, 0);
  t.same(first.map((each) => [each.offset, each.deliveryCount, each.lockExpiresAtMs]), [[0, 1, 30_000], [1, 1, 30_000], [2, 1, 30_000]]);
  t.same(partition.acquire('b', range(0, 5), 10, 0).map((each) => each.offset), [3, 4], 'another consumer gets the rest, none twice');
  t.equal(partition.endOffset, 5);

  t.same(partition.acknowledge('a', [0, 2], 'accept', 1).map((each) => each.refusal), [undefined, undefined]);
  t.same(partition.acknowledge('a', [1], 'release', 1).map((each) => each.state), ['available']);
  t.equal(partition.startOffset, 1, 'the start offset moved past the accepted head');
  t.equal(partition.firstAvailableOffset(1), 1, 'a read for the next acquire begins at the released record');
  const again = partition.acquire('b', range(1, 8), 10, 2);
  t.same(again.map((each) => [each.offset, each.deliveryCount]), [[1, 2], [5, 1], [6, 1], [7, 1]], 'the released record again (second delivery), then new ones');
  t.same(partition.counts(), { available: 0, acquired: 6, acknowledged: 1, archived: 0 });
  t.same(Object.fromEntries(partition.holders()), { b: 6 });
});

void t.test('only the holder of a live lock acknowledges; renew extends the lock; an expired lock frees the record', async (t) => {
  const partition = new SharePartition(settings, 10);
  const [held] = partition.acquire('a', [10], 1, 0);
  t.same(partition.acknowledge('b', [10], 'accept', 1).map((each) => [each.refusal, each.state]), [['INVALID_RECORD_STATE', 'acquired']], 'not the holder');
  t.same(partition.acknowledge('a', [10], 'accept', 1, held.acquisitionId + 1).map((each) => each.refusal), ['INVALID_RECORD_STATE'], 'another acquisition');
  t.same(partition.acknowledge('a', [11, 3], 'accept', 1).map((each) => each.refusal), ['RECORD_NOT_IN_FLIGHT', 'RECORD_NOT_IN_FLIGHT'], 'never handed out, or long done');
  const [renewed] = partition.acknowledge('a', [10], 'renew', 20_000);
  t.equal(renewed.lockExpiresAtMs, 50_000, 'renew: a full lock duration from now');
  t.same(partition.expireLocks(49_999), [], 'still locked just before the new expiry');
  t.same(partition.expireLocks(50_000), [10], 'expired at it');
  t.same(partition.acknowledge('a', [10], 'accept', 50_001).map((each) => [each.refusal, each.state]), [['INVALID_RECORD_STATE', 'available']], 'too late: the lock ran out');
  const [redelivered] = partition.acquire('b', [10], 1, 50_002);
  t.equal(redelivered.deliveryCount, 2);
  t.not(redelivered.acquisitionId, held.acquisitionId, 'a new acquisition');
});

void t.test('at the delivery limit a released or expired record is archived; reject archives at once', async (t) => {
  const partition = new SharePartition(settings, 0);
  let nowMs = 0;
  for (let delivery = 1; delivery <= 3; delivery++) {
    const [acquired] = partition.acquire('a', [0, 1], 1, nowMs);
    t.same([acquired.offset, acquired.deliveryCount], [0, delivery]);
    if (delivery < 3) partition.acknowledge('a', [0], 'release', nowMs);
    else nowMs += settings.lockDurationMs; // the third delivery's lock runs out
  }
  t.equal(partition.firstAvailableOffset(nowMs), 1, 'offset 0 is archived: the next read begins after it');
  t.equal(partition.startOffset, 1);
  const [next] = partition.acquire('a', [1, 2], 1, nowMs);
  t.same(partition.acknowledge('a', [next.offset], 'reject', nowMs).map((each) => each.state), ['archived']);
  t.equal(partition.startOffset, 2);
});

void t.test('at most maxRecordLocks records in flight; gaps in the log are never in flight', async (t) => {
  const partition = new SharePartition({ ...settings, maxRecordLocks: 4 }, 0);
  const logOffsets = [0, 1, 5, 6, 9, 12, 13];
  t.same(partition.acquire('a', logOffsets, 100, 0).map((each) => each.offset), [0, 1, 5, 6], 'four in flight, then the bound');
  t.notOk(partition.hasAvailable(0, 14), 'nothing more until some are done');
  partition.acknowledge('a', [0, 1], 'accept', 0);
  t.equal(partition.startOffset, 5, 'the gap 2..4 is skipped with the head');
  t.ok(partition.hasAvailable(0, 14));
  t.same(partition.acquire('b', logOffsets.filter((offset) => offset >= 7), 100, 0).map((each) => each.offset), [9, 12]);
});

void t.test('retention drops records before the log start; a reset starts over at an offset', async (t) => {
  const partition = new SharePartition(settings, 0);
  partition.acquire('a', range(0, 6), 6, 0);
  partition.advanceLogStart(4);
  t.equal(partition.startOffset, 4);
  t.same(partition.acknowledge('a', [2, 4], 'accept', 1).map((each) => each.refusal), ['RECORD_NOT_IN_FLIGHT', undefined], 'a record retention removed is no longer in flight');
  partition.advanceLogStart(20);
  t.same([partition.startOffset, partition.endOffset], [20, 20], 'past everything handed out');
  partition.reset(7);
  t.same([partition.startOffset, partition.endOffset], [7, 7]);
  t.same(partition.acquire('a', [7, 8], 5, 2).map((each) => [each.offset, each.deliveryCount]), [[7, 1], [8, 1]]);
});

void t.test('a restart keeps states and delivery counts; locks end with the node', async (t) => {
  const partition = new SharePartition(settings, 0);
  partition.acquire('a', range(0, 5), 5, 0);
  partition.acknowledge('a', [1], 'accept', 0);
  partition.acknowledge('a', [2], 'reject', 0);
  partition.acknowledge('a', [3], 'release', 0);
  partition.acquire('a', [3], 1, 0);
  partition.acknowledge('a', [3], 'release', 0);
  partition.acquire('a', [3], 1, 0); // third delivery, still held
  const snapshot = JSON.parse(JSON.stringify(partition.snapshot())) as ReturnType<SharePartition['snapshot']>;
  t.same(snapshot, {
    startOffset: 0,
    records: [
      { offset: 0, state: 'available', deliveryCount: 1 },
      { offset: 1, state: 'acknowledged', deliveryCount: 1 },
      { offset: 2, state: 'archived', deliveryCount: 1 },
      { offset: 3, state: 'archived', deliveryCount: 3 },
      { offset: 4, state: 'available', deliveryCount: 1 },
    ],
    endOffset: 5,
  }, 'held records saved as if their locks ran out: available, or archived at the limit');
  const restored = SharePartition.restore(settings, snapshot);
  t.same(restored.acquire('b', range(0, 7), 10, 1).map((each) => [each.offset, each.deliveryCount]), [[0, 2], [4, 2], [5, 1], [6, 1]], 'nothing done is delivered again; nothing held is lost');
  t.throws(() => SharePartition.restore(settings, { startOffset: 0, records: [{ offset: 3, state: 'available', deliveryCount: 1 }, { offset: 2, state: 'available', deliveryCount: 1 }], endOffset: 5 }), /must rise/);
  t.throws(() => new SharePartition({ ...settings, deliveryCountLimit: 0 }, 0), /deliveryCountLimit/);
});

void t.test('with a dead-letter topic an archived record stays pending until dead-lettered, across a restart too', async (t) => {
  const dead = { ...settings, deliveryCountLimit: 1, deadLetterTopic: 'dead' };
  const partition = new SharePartition(dead, 0);
  partition.acquire('a', range(0, 4), 4, 0);
  partition.acknowledge('a', [0], 'reject', 1);
  partition.acknowledge('a', [1], 'release', 1);
  partition.acknowledge('a', [3], 'accept', 1);
  t.same(partition.deadLetters(), [{ offset: 0, reason: 'rejected', deliveryCount: 1 }, { offset: 1, reason: 'delivery-limit', deliveryCount: 1 }]);
  t.equal(partition.startOffset, 0, 'the start offset waits for the pending records');
  const snapshot = partition.snapshot();
  t.same(snapshot.records, [
    { offset: 0, state: 'archived', deliveryCount: 1, deadLetter: 'rejected' },
    { offset: 1, state: 'archived', deliveryCount: 1, deadLetter: 'delivery-limit' },
    { offset: 2, state: 'archived', deliveryCount: 1, deadLetter: 'delivery-limit' },
    { offset: 3, state: 'acknowledged', deliveryCount: 1 },
  ], 'a record held at the limit is saved as archived and pending, as its lock would have run out');
  const decoded = decodeShareStateRecord(Buffer.from(sharePartitionKey('g', 'jobs', 0)), Buffer.from(JSON.stringify(encodePartitionValue({ topicId: 'id', snapshot }))));
  t.same(decoded?.kind === 'partition' ? decoded.value?.snapshot : undefined, snapshot, 'the state record keeps the reasons');
  const restored = SharePartition.restore(dead, snapshot);
  t.same(restored.deadLetters().map((each) => each.offset), [0, 1, 2]);
  restored.deadLettered([0, 1]);
  t.equal(restored.startOffset, 2, 'dead-lettered records are done');
  t.same(new SharePartition(settings, 0).deadLetters(), [], 'without the topic nothing waits');
});
