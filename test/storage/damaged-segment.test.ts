/**
 * Damaged storage at the log level (issue 13, items 4 and 5), on real files: a byte
 * flipped in an old segment or the active one after a clean stop is found by the read
 * that reaches it, which answers CORRUPT_LOG (never the damaged bytes, never an
 * InvariantError), reports it once, refuses appends and clears the clean flag; the next
 * open re-validates from the damaged segment, truncates there and says so. A tail torn
 * after a clean stop is cut with a warning and counted in truncatedBytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { RunnelError } from '../../src/errors.js';
import type { StorageWarning } from '../../src/storage/log-damage.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { InvariantError } from '../../src/util/assert.js';
import { decodeAll, encodeRecords, makeTempDir, testConfig } from './helpers.js';

const RECORDS_PER_BATCH = 4;
const BATCH_COUNT = 12;

interface Opened {
  log: PartitionLog;
  warnings: StorageWarning[];
}

function open(t: Test, directory: string): Opened {
  const warnings: StorageWarning[] = [];
  const log = PartitionLog.open(directory, testConfig(), { onWarning: (warning) => warnings.push(warning) });
  t.teardown(() => log.closeAbruptly());
  return { log, warnings };
}

/** A cleanly closed log of BATCH_COUNT batches over several 1 KiB segments; returns its directory. */
async function writeCleanLog(t: Test): Promise<string> {
  const directory = path.join(makeTempDir(t, 'damaged'), 'events-0');
  const { log } = open(t, directory);
  for (let batch = 0; batch < BATCH_COUNT; batch++) {
    const specs = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({ key: `k${batch}`, value: `value-${batch}-${i}-${'x'.repeat(40)}`, timestampMs: 1_000 + batch }));
    log.appendAsLeader(encodeRecords(specs), 0);
  }
  log.updateHighWatermark(log.logEndOffset);
  t.ok(log.segmentCount >= 3, `the log spans ${log.segmentCount} segments`);
  await log.close();
  return directory;
}

function segmentFiles(directory: string): string[] {
  return fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
}

/** Flips one byte `fromEnd` bytes before the end of `file` (inside the last batch's records). */
function flipByte(file: string, fromEnd: number): void {
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - fromEnd] ^= 0xff;
  fs.writeFileSync(file, bytes);
}

/** Reads every offset from `from` one batch at a time; returns the offsets served and the first error. */
function readAll(log: PartitionLog, from = log.logStartOffset): { offsets: number[]; error: unknown } {
  const offsets: number[] = [];
  let next = from;
  for (let round = 0; round < BATCH_COUNT * 2 && next < log.highWatermark; round++) {
    let batches: Buffer | null;
    try {
      batches = log.read(next, 1);
    } catch (error) {
      return { offsets, error };
    }
    if (batches === null) break;
    for (const record of decodeAll(batches)) if (record.offset >= next) offsets.push(record.offset);
    next = offsets[offsets.length - 1] + 1;
  }
  return { offsets, error: undefined };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

void t.test('a byte flipped in an old segment: the read answers CORRUPT_LOG, the next open truncates there', async (t) => {
  const directory = await writeCleanLog(t);
  const files = segmentFiles(directory);
  const damaged = files[1];
  const damagedBase = Number(damaged.slice(0, 20));
  flipByte(path.join(directory, damaged), 5);

  const first = open(t, directory);
  t.equal(first.log.recovery.isCleanShutdown, true, 'the clean flag made the open trust the files');
  const endBefore = first.log.logEndOffset;
  const { offsets, error } = readAll(first.log);
  t.notOk(error instanceof InvariantError, 'damage on disk is not a broken invariant');
  t.ok(error instanceof RunnelError && error.code === 'CORRUPT_LOG', 'the read that reaches the damage answers CORRUPT_LOG');
  const corrupt = error as RunnelError;
  const damagedOffset = corrupt.details?.offset as number;
  t.equal(corrupt.details?.segment, damaged, 'the error names the segment file');
  t.match(corrupt.message, new RegExp(`offset ${damagedOffset}\\b`), 'the message names the offset');
  t.same(offsets, range(0, offsets.length), 'everything before the damage was served, in order');
  t.ok(damagedOffset >= damagedBase && damagedOffset === offsets.length, 'the damaged offset is the first one not served, in the damaged segment');
  t.equal(first.log.damagedBatchesFound, 1, 'the damage is counted');
  t.equal(first.warnings.length, 1, 'one warning');
  t.match(first.warnings[0], { details: { segment: damaged, offset: damagedOffset } }, 'the warning names segment and offset');

  // Asking again answers the same error without counting or warning again.
  t.throws(() => first.log.read(damagedOffset, 1_000_000), { code: 'CORRUPT_LOG' });
  t.equal(first.log.damagedBatchesFound, 1, 'the same damaged batch is counted once');
  t.equal(first.warnings.length, 1, 'and warned about once');
  t.ok(first.log.read(0, 1_000_000) !== null, 'offsets before the damage still read');
  t.throws(() => first.log.appendAsLeader(encodeRecords([{ key: null, value: 'late', timestampMs: 5 }]), 0), { code: 'CORRUPT_LOG' },
    'appends are refused: the next start cuts the log at the damage');
  t.equal(first.log.logEndOffset, endBefore, 'nothing was appended');

  await first.log.close();
  const checkpoint = JSON.parse(fs.readFileSync(path.join(directory, 'partition.checkpoint'), 'utf8')) as { isCleanShutdown: boolean; recoveryPoint: number };
  t.equal(checkpoint.isCleanShutdown, false, 'even a clean close leaves the damaged log marked for recovery');
  t.equal(checkpoint.recoveryPoint, damagedBase, 'recovery starts at the damaged segment');

  const second = open(t, directory);
  t.equal(second.log.recovery.isCleanShutdown, false, 'the next open recovers');
  t.ok(second.log.recovery.recoveredSegments >= 1, 'and rescans from the damaged segment');
  t.equal(second.log.logEndOffset, damagedOffset, 'the log now ends just before the damaged batch');
  t.equal(second.warnings.length, 1, 'the truncation is one warning');
  t.match(second.warnings[0], { details: { segment: damaged, fromOffset: damagedOffset } });
  t.match(second.warnings[0].message, /CRC/, 'it says why');
  t.equal(second.log.recovery.truncatedBytes, second.warnings[0].details.truncatedBytes, 'the summary counts the bytes the warning names');
  t.ok(second.log.recovery.truncatedBytes > 0);
  t.same(segmentFiles(directory), files.slice(0, 2), 'later segments were deleted (Kafka: truncate at the first invalid batch)');
  const after = readAll(second.log);
  t.equal(after.error, undefined, 'nothing damaged is left to read');
  t.same(after.offsets, range(0, damagedOffset), 'every offset before the damage is served');
  second.log.appendAsLeader(encodeRecords([{ key: null, value: 'after', timestampMs: 9 }]), 0);
  t.equal(second.log.logEndOffset, damagedOffset + 1, 'appends continue after the recovered end');
});

void t.test('the last 20 bytes of the active segment overwritten: CORRUPT_LOG, then that batch is cut', async (t) => {
  const directory = await writeCleanLog(t);
  const files = segmentFiles(directory);
  const active = path.join(directory, files[files.length - 1]);
  const bytes = fs.readFileSync(active);
  bytes.fill(0x5a, bytes.length - 20);
  fs.writeFileSync(active, bytes);

  const first = open(t, directory);
  const total = first.log.logEndOffset;
  const { offsets, error } = readAll(first.log);
  t.ok(error instanceof RunnelError && error.code === 'CORRUPT_LOG', 'CORRUPT_LOG, not a broken invariant');
  t.same(offsets, range(0, total - RECORDS_PER_BATCH), 'every batch before the last was served');
  await first.log.close();

  const second = open(t, directory);
  t.equal(second.log.logEndOffset, total - RECORDS_PER_BATCH, 'only the damaged last batch was cut');
  t.match(second.warnings[0]?.details, { fromOffset: total - RECORDS_PER_BATCH, removedBatch: { baseOffset: total - RECORDS_PER_BATCH, lastOffset: total - 1 } });
  t.same(readAll(second.log).offsets, range(0, total - RECORDS_PER_BATCH));
});

void t.test('a tail torn by 7 bytes after a clean stop is cut with a warning and counted', async (t) => {
  const directory = await writeCleanLog(t);
  const files = segmentFiles(directory);
  const active = path.join(directory, files[files.length - 1]);
  const { log: reader } = open(t, directory);
  const total = reader.logEndOffset;
  const lastBatchBytes = reader.read(total - 1, 1)!.length;
  reader.closeAbruptly();
  const sizeBefore = fs.statSync(active).size;
  fs.truncateSync(active, sizeBefore - 7);

  const { log, warnings } = open(t, directory);
  t.equal(log.logEndOffset, total - RECORDS_PER_BATCH, 'the torn batch is gone');
  // What recovery removes from disk is what was left of the torn batch: its size minus the 7 bytes already gone.
  t.equal(log.recovery.truncatedBytes, lastBatchBytes - 7, 'truncatedBytes counts the bytes removed: the batch size minus 7');
  t.equal(warnings.length, 1, 'one warning');
  t.match(warnings[0].details, { fromOffset: total - RECORDS_PER_BATCH, truncatedBytes: lastBatchBytes - 7, removedBatch: { baseOffset: total - RECORDS_PER_BATCH, lastOffset: total - 1 } });
  t.match(warnings[0].message, new RegExp(`removed ${lastBatchBytes - 7} bytes, every offset from ${total - RECORDS_PER_BATCH} on`));
  t.equal(fs.statSync(active).size, sizeBefore - lastBatchBytes, 'the file ends at the last whole batch');
});

void t.test('a damaged batch length is damage too: no huge allocation, no invariant', async (t) => {
  const directory = await writeCleanLog(t);
  const files = segmentFiles(directory);
  const file = path.join(directory, files[1]);
  const bytes = fs.readFileSync(file);
  bytes.writeInt32BE(0x7fff0000, 8); // batchLength of the segment's first batch
  fs.writeFileSync(file, bytes);
  const { log } = open(t, directory);
  const base = Number(files[1].slice(0, 20));
  t.throws(() => log.read(base, 1_000_000), { code: 'CORRUPT_LOG' });
  t.ok(log.read(0, 1_000_000) !== null, 'the first segment still reads');
  t.equal(segmentFileName(base, '.log'), files[1]);
});
