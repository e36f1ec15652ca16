/**
 * Compaction as a property, against a model: any sequence of keyed writes, tombstones,
 * rolls, cleaner rounds and restarts (clean or abrupt) leaves a log whose latest value
 * per key, and whose set of live keys, equal the model's; every record read back is one
 * that was written at that offset, offsets strictly increase, and nothing in the active
 * segment or above the cleaner's reach is ever removed. The cleaner's map holds 3 keys
 * of the 8 used, so partitions are cleaned in rounds.
 */
import assert from 'node:assert/strict';
import t from 'tap';
import fc from 'fast-check';
import { encodeBatch } from '../../src/record/encode.js';
import { decodeRecords } from '../../src/record/decode.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { LogCleaner } from '../../src/storage/cleaner/log-cleaner.js';
import { OFFSET_MAP_SLOT_BYTES } from '../../src/storage/cleaner/offset-map.js';
import { batchesIn, makeTempDir, skipFsyncs, testConfig } from './helpers.js';

const NUM_RUNS = 60;
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

skipFsyncs(t);

type Step =
  | { kind: 'write'; records: Array<{ key: number; value: string | null }> }
  | { kind: 'roll' }
  | { kind: 'clean' }
  | { kind: 'restart'; isClean: boolean };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), records: fc.array(fc.record({ key: fc.nat({ max: KEYS.length - 1 }), value: fc.option(fc.string({ maxLength: 40 }), { nil: null, freq: 4 }) }), { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'roll' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'clean' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('restart' as const), isClean: fc.boolean() }) },
);

function batchOf(records: Array<{ key: number; value: string | null }>, nowMs: number): Buffer {
  return encodeBatch(records.map((record) => ({
    key: Buffer.from(KEYS[record.key]), value: record.value === null ? null : Buffer.from(record.value), headers: [['h', Buffer.from('x')]], timestampMs: nowMs,
  })), { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string', producerId: 7, producerEpoch: 1, baseSequence: 0 });
}

interface Stored { offset: number; key: string; value: string | null }

function readAll(log: PartitionLog): Stored[] {
  const records: Stored[] = [];
  let next = log.logStartOffset;
  for (let reads = 0; reads < 10_000 && next < log.highWatermark; reads++) {
    const data = log.read(next, 1 << 20, log.highWatermark);
    if (data === null) break;
    for (const { position, header } of batchesIn(data)) {
      assert.equal(header.producerId, 7, 'batches keep their producer fields');
      for (const record of decodeRecords(data, position)) {
        if (record.offset >= next) records.push({ offset: record.offset, key: record.key!.toString(), value: record.value === null ? null : record.value.toString() });
      }
      next = header.lastOffset + 1;
    }
  }
  return records;
}

void t.test('latest value per key and live keys match the model through cleaning, rolls and restarts', async (t) => {
  let runs = 0;
  let removed = 0;
  let rounds = 0;
  await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 20, maxLength: 80, size: "max" }), fc.boolean(), async (steps, expireTombstones) => {
    runs += 1;
    const directory = makeTempDir(t, 'cleaner');
    const config = testConfig({ segmentBytes: 300, indexIntervalBytes: 64, isCompacted: true, isDeleted: false, minCleanableDirtyRatio: 0, deleteRetentionMs: expireTombstones ? 0 : 3_600_000 });
    let log = PartitionLog.open(directory, config);
    const cleaner = new LogCleaner(() => [['p', log]], { dedupeBufferBytes: 4 * OFFSET_MAP_SLOT_BYTES, ioBytesPerSecond: 0, backoffMs: 60_000 });
    const written = new Map<number, Stored>();
    const latest = new Map<string, string | null>();
    try {
      for (const action of steps) {
        if (action.kind === 'write') {
          const header = log.appendAsLeader(batchOf(action.records, Date.now()), 0);
          action.records.forEach((record, i) => {
            written.set(header.baseOffset + i, { offset: header.baseOffset + i, key: KEYS[record.key], value: record.value });
            latest.set(KEYS[record.key], record.value);
          });
          log.updateHighWatermark(log.logEndOffset);
        } else if (action.kind === 'roll') {
          if (!log.activeSegment.isEmpty) log.roll();
        } else if (action.kind === 'clean') {
          await log.flushUpTo();
          // Later than now, so that tombstones of segments written just now may expire.
          for (let round = 0; round < 10 && (await cleaner.cleanOnce(Date.now() + 1000)) !== undefined; round++);
        } else {
          if (action.isClean) await log.close();
          else log.closeAbruptly();
          log = PartitionLog.open(directory, config);
          log.updateHighWatermark(log.logEndOffset);
        }
      }
      const activeBase = log.activeSegment.baseOffset;
      const stored = readAll(log);
      for (let i = 1; i < stored.length; i++) assert.ok(stored[i].offset > stored[i - 1].offset, `offsets do not increase at ${stored[i].offset}`);
      for (const record of stored) assert.deepEqual(record, written.get(record.offset), `offset ${record.offset} holds what was written there`);
      // Nothing at or after the active segment's base is ever removed.
      for (const [offset, record] of written) {
        assert.ok(offset < activeBase || stored.some((s) => s.offset === offset), `offset ${offset} (${record.key}) in the active segment is gone`);
      }
      const lastInLog = new Map<string, string | null>();
      for (const record of stored) lastInLog.set(record.key, record.value);
      const live = (map: Map<string, string | null>): Array<[string, string]> =>
        [...map].filter((entry): entry is [string, string] => entry[1] !== null).sort();
      assert.deepEqual(live(lastInLog), live(latest), 'the live keys and their latest values');
      removed += written.size - stored.length;
      rounds += cleaner.stats.rounds;
    } finally {
      await log.close();
    }
  }), { numRuns: NUM_RUNS, seed: 1605 });
  t.equal(runs, NUM_RUNS);
  t.ok(rounds > NUM_RUNS && removed > 100, `the cleaner ran (${rounds} rounds) and removed records (${removed})`);
});
