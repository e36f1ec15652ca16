/**
 * The key index of a compacted partition against a model: any sequence of keyed writes
 * and tombstones (committed at once or left above the high watermark for a while),
 * rolls, cleaner rounds, truncations of the uncommitted tail or below the high
 * watermark, retention and restarts (clean or abrupt) answers every key with the
 * model's latest committed value, or absent. And its memory bound: with a budget too
 * small for every key, the keys it holds answer, the others are "unknown" (never a
 * wrong "absent"), the budget is never exceeded, and a rebuild with more memory makes
 * the index complete again.
 */
import t from 'tap';
import fc from 'fast-check';
import { encodeBatch } from '../../src/record/encode.js';
import { decodeRecords } from '../../src/record/decode.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { LogCleaner } from '../../src/storage/cleaner/log-cleaner.js';
import { OFFSET_MAP_SLOT_BYTES } from '../../src/storage/cleaner/offset-map.js';
import { readLatestRecord, type KeyRead } from '../../src/storage/key-lookup.js';
import { KeyIndexBudget, KEY_TABLE_SLOT_BYTES } from '../../src/storage/key-table.js';
import { makeTempDir, skipFsyncs, testConfig } from './helpers.js';

const NUM_RUNS = 40;
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'a-much-longer-key-of-forty-characters!!'];

skipFsyncs(t);

type Step =
  | { kind: 'write'; records: Array<{ key: number; value: string | null }>; isCommitted: boolean }
  | { kind: 'commit' }
  | { kind: 'truncate'; back: number }
  | { kind: 'roll' }
  | { kind: 'clean' }
  | { kind: 'retention' }
  | { kind: 'restart'; isClean: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('write' as const), records: fc.array(fc.record({ key: fc.nat({ max: KEYS.length - 1 }), value: fc.option(fc.string({ maxLength: 30 }), { nil: null, freq: 4 }) }), { minLength: 1, maxLength: 4 }), isCommitted: fc.boolean() }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'commit' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), back: fc.nat({ max: 6 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'roll' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'clean' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'retention' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), isClean: fc.boolean() }) },
);

function batchOf(records: ReadonlyArray<{ key: string; value: string | null }>): Buffer {
  return encodeBatch(records.map((record) => ({
    key: Buffer.from(record.key), value: record.value === null ? null : Buffer.from(record.value), headers: null, timestampMs: Date.now(),
  })), { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string' });
}

/** What a read by key found, as the model states it: the value, or null for absent, or 'unknown'. */
function valueOf(read: KeyRead, offsetWanted?: number): string | null {
  if (read.kind === 'absent') return null;
  if (read.kind === 'unknown') return 'unknown';
  const record = decodeRecords(read.batch).find((candidate) => candidate.offset === read.offset);
  if (offsetWanted !== undefined && read.offset !== offsetWanted) return `offset ${read.offset}, not ${offsetWanted}`;
  return record?.value?.toString() ?? 'no record there';
}

interface Written { offset: number; key: string; value: string | null }

void t.test('the key index answers every key with the latest committed value of the model', async (t) => {
  let runs = 0;
  let lookups = 0;
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 70, size: 'max' }), fc.boolean(), async (steps, isDeleted) => {
    runs += 1;
    const directory = makeTempDir(t, 'key-index');
    const config = testConfig({ segmentBytes: 300, indexIntervalBytes: 64, isCompacted: true, isDeleted, retentionBytes: isDeleted ? 900 : -1, minCleanableDirtyRatio: 0, deleteRetentionMs: 0 });
    let log = PartitionLog.open(directory, config);
    log.updateHighWatermark(log.logEndOffset);
    const cleaner = new LogCleaner(() => [['p', log]], { dedupeBufferBytes: 4 * OFFSET_MAP_SLOT_BYTES, ioBytesPerSecond: 0, backoffMs: 60_000 });
    // Every record written and still in the log (by offset); the committed prefix is below log.highWatermark.
    let written: Written[] = [];
    const check = async (what: string): Promise<void> => {
      for (const key of KEYS) {
        let expected: Written | undefined;
        for (const record of written) if (record.key === key && record.offset < log.highWatermark) expected = record;
        const isGone = expected === undefined || expected.value === null || expected.offset < log.logStartOffset;
        const found = valueOf(await readLatestRecord(log, Buffer.from(key)), isGone ? undefined : expected!.offset);
        lookups += 1;
        if (found !== (isGone ? null : expected!.value)) {
          throw new Error(`${what}: key ${key}: found ${JSON.stringify(found)}, the model has ${JSON.stringify(isGone ? null : expected)}`);
        }
      }
    };
    try {
      for (const [index, action] of steps.entries()) {
        const what = `step ${index} (${action.kind})`;
        if (action.kind === 'write') {
          const records = action.records.map((record) => ({ key: KEYS[record.key], value: record.value }));
          const header = log.appendAsLeader(batchOf(records), 0);
          records.forEach((record, i) => written.push({ offset: header.baseOffset + i, ...record }));
          if (action.isCommitted) log.updateHighWatermark(log.logEndOffset);
        } else if (action.kind === 'commit') {
          log.updateHighWatermark(log.logEndOffset);
        } else if (action.kind === 'truncate') {
          // A follower's truncation: within the active segment (never into cleaned ones), maybe below the high watermark.
          const offset = Math.max(log.activeSegment.baseOffset, log.logEndOffset - action.back);
          if (offset < log.highWatermark) log.truncateTo(offset);
          else log.undoAppendsFrom(offset);
          written = written.filter((record) => record.offset < log.logEndOffset);
        } else if (action.kind === 'roll') {
          if (!log.activeSegment.isEmpty) log.roll();
        } else if (action.kind === 'clean') {
          await log.flushUpTo();
          for (let round = 0; round < 10 && (await cleaner.cleanOnce(Date.now() + 1000)) !== undefined; round++);
        } else if (action.kind === 'retention') {
          log.deleteRetainedSegments();
        } else {
          if (action.isClean) await log.close();
          else log.closeAbruptly();
          log = PartitionLog.open(directory, config);
          // A clean stop kept the high watermark; a crash keeps the checkpointed one. Commit what the log holds.
          written = written.filter((record) => record.offset < log.logEndOffset);
          log.updateHighWatermark(log.logEndOffset);
        }
        await check(what);
      }
    } finally {
      await log.close();
    }
  }), { numRuns: NUM_RUNS, seed: 1616 });
  t.equal(runs, NUM_RUNS);
  t.ok(lookups > NUM_RUNS * 100, `every key was read after every step (${lookups} reads)`);
});

void t.test('a budget too small for every key: held keys answer, the rest are unknown, the budget holds; a rebuild with more memory completes it', async (t) => {
  const directory = makeTempDir(t, 'key-index-budget');
  const config = testConfig({ segmentBytes: 64 * 1024, isCompacted: true, isDeleted: false });
  // Room for a 128-slot table (one doubling of the first 64), not for 256 slots: 96 keys at most.
  const budget = new KeyIndexBudget(200 * KEY_TABLE_SLOT_BYTES);
  let log = PartitionLog.open(directory, config, { keyIndexes: budget });
  const keyCount = 150;
  for (let start = 0; start < keyCount; start += 50) {
    log.appendAsLeader(batchOf(Array.from({ length: 50 }, (_, i) => ({ key: `k${start + i}`, value: `v${start + i}` }))), 0);
    log.updateHighWatermark(log.logEndOffset);
  }
  t.equal(budget.bytesUsed, 128 * KEY_TABLE_SLOT_BYTES, 'the index took what its table needs, within the budget');
  t.equal(log.keyIndex?.keyCount, 96, 'it holds the keys that fit');
  t.equal(log.keyIndex?.isComplete, false, 'and says it is incomplete');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('k0'))), 'v0', 'a held key answers');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from(`k${keyCount - 1}`))), 'unknown', 'a key left out is unknown, not absent');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('never'))), 'unknown', 'so is a key never written');
  log.appendAsLeader(batchOf([{ key: 'k0', value: 'v0-new' }, { key: 'k1', value: null }]), 0);
  log.updateHighWatermark(log.logEndOffset);
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('k0'))), 'v0-new', 'a held key follows its updates');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('k1'))), 'unknown', 'a held key tombstoned leaves the index (absent or not, the index cannot say now)');

  const smaller = new KeyIndexBudget(KEY_TABLE_SLOT_BYTES);
  await log.close();
  t.equal(budget.bytesUsed, 0, 'closing the log gives its memory back');
  log = PartitionLog.open(directory, config, { keyIndexes: smaller });
  log.updateHighWatermark(log.logEndOffset);
  t.equal(smaller.bytesUsed, 0, 'a budget below one table: nothing is taken');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('k0'))), 'unknown', 'and every key is unknown');
  await log.close();

  const enough = new KeyIndexBudget(1024 * KEY_TABLE_SLOT_BYTES);
  log = PartitionLog.open(directory, config, { keyIndexes: enough });
  log.updateHighWatermark(log.logEndOffset);
  t.equal(log.keyIndex?.isComplete, true, 'rebuilt with more memory, the index is complete');
  t.equal(log.keyIndex?.keyCount, keyCount - 1, 'every live key is held');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from(`k${keyCount - 1}`))), `v${keyCount - 1}`, 'a key left out before answers');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('k1'))), null, 'a tombstoned key is absent');
  t.equal(valueOf(await readLatestRecord(log, Buffer.from('k0'))), 'v0-new', 'the latest value');
  t.equal(enough.bytesUsed, 256 * KEY_TABLE_SLOT_BYTES, '149 keys in 256 slots: 16 bytes each');
  log.updateConfig({ ...config, isCompacted: false });
  t.equal(log.keyIndex, undefined, 'a log no longer compacted drops its index');
  t.equal(enough.bytesUsed, 0, 'and gives its memory back');
  await log.close();
});

void t.test("a follower's index follows the leader's batches appended byte for byte, up to the high watermark it learns", async (t) => {
  const config = testConfig({ isCompacted: true, isDeleted: false });
  const leader = PartitionLog.open(makeTempDir(t, 'key-index-leader'), config);
  const follower = PartitionLog.open(makeTempDir(t, 'key-index-follower'), config);
  t.teardown(async () => {
    await leader.close();
    await follower.close();
  });
  leader.appendAsLeader(batchOf([{ key: 'a', value: '1' }, { key: 'b', value: '1' }]), 3);
  leader.appendAsLeader(batchOf([{ key: 'a', value: '2' }, { key: 'b', value: null }]), 3);
  follower.appendAsFollower(leader.read(0, 1 << 20, leader.logEndOffset)!);
  follower.updateHighWatermark(2);
  t.equal(valueOf(await readLatestRecord(follower, Buffer.from('a'))), '1', 'below the high watermark it learnt: the first value');
  t.equal(valueOf(await readLatestRecord(follower, Buffer.from('b'))), '1', 'the tombstone above it is not applied yet');
  follower.updateHighWatermark(follower.logEndOffset);
  t.equal(valueOf(await readLatestRecord(follower, Buffer.from('a'))), '2', 'once committed: the latest value');
  t.equal(valueOf(await readLatestRecord(follower, Buffer.from('b'))), null, 'and the tombstone');
});
