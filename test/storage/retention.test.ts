import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { segmentFileName } from '../../src/storage/segment.js';
import type { LogConfig } from '../../src/storage/log-config.js';
import { epochCheckpointText, LogModel, makeTempDir, readRange, recordSpec, skipFsyncs, testConfig } from './helpers.js';

// Nothing here is about durability against power loss, so fsyncs (thousands, with
// every roll and epoch change) are skipped to keep the suite fast; file contents are
// the same either way. Group commit and recovery points are tested with real fsyncs
// in partition-log-durability.test.ts.
skipFsyncs(t);

const BASE_TIME_MS = 1_700_000_000_000;
const RETENTION_MS = 60_000;

interface Built {
  directory: string;
  log: PartitionLog;
  model: LogModel;
}

/**
 * 120 batches of 2 records; record timestamps grow by 1 s per batch, so every segment
 * is newer than the one before it. The epoch steps up every 40 batches.
 */
function build(t: Test, overrides: Partial<LogConfig> = {}): Built {
  const directory = path.join(makeTempDir(t, 'retention'), 'topic-0');
  const log = PartitionLog.open(directory, testConfig({ segmentBytes: 1200, retentionMs: RETENTION_MS, ...overrides }));
  t.teardown(() => log.closeAbruptly());
  const model = new LogModel();
  for (let i = 0; i < 120; i++) {
    const timestampMs = BASE_TIME_MS + i * 1000;
    model.appendAsLeader(log, [recordSpec(2 * i, 60, timestampMs - 500), recordSpec(2 * i + 1, 60, timestampMs)], Math.floor(i / 40));
  }
  log.updateHighWatermark(log.logEndOffset);
  return { directory, log, model };
}

interface SegmentSummary {
  baseOffset: number;
  nextOffset: number;
  maxTimestampMs: number;
  sizeBytes: number;
}

/** The segments as the model sees them, from the log's segment boundaries. */
function summarize(log: PartitionLog, model: LogModel): SegmentSummary[] {
  const bases = log.segmentBaseOffsets;
  return bases.map((baseOffset, i) => {
    const nextOffset = bases[i + 1] ?? log.logEndOffset;
    const batches = model.batches.filter((batch) => batch.baseOffset >= baseOffset && batch.baseOffset < nextOffset);
    return {
      baseOffset,
      nextOffset,
      maxTimestampMs: Math.max(-1, ...batches.map((batch) => batch.maxTimestampMs)),
      sizeBytes: batches.reduce((sum, batch) => sum + batch.sizeBytes, 0),
    };
  });
}

/**
 * Kafka's retention, as a model: delete the oldest segments while the predicate holds and
 * they lie wholly below the high watermark; the active one goes too (after a roll) only
 * when every segment goes.
 */
function expectedAfterRetention(segments: SegmentSummary[], highWatermark: number, isExpired: (segment: SegmentSummary, sizeLeft: number) => boolean): number {
  let deleted = 0;
  let sizeLeft = segments.reduce((sum, segment) => sum + segment.sizeBytes, 0);
  while (deleted < segments.length) {
    const segment = segments[deleted];
    if (segment.nextOffset > highWatermark || !isExpired(segment, sizeLeft)) break;
    sizeLeft -= segment.sizeBytes;
    deleted += 1;
  }
  return deleted;
}

function segmentFiles(directory: string): string[] {
  return fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
}

function checkLogAfterRetention(t: Test, built: Built, expectedBases: number[], expectedLogStartOffset: number): void {
  const { log, model, directory } = built;
  t.same(log.segmentBaseOffsets, expectedBases, 'the segments left are the model\'s');
  t.same(segmentFiles(directory), expectedBases.map((base) => segmentFileName(base, '.log')), 'deleted segments are gone from disk');
  t.equal(log.logStartOffset, expectedLogStartOffset, 'logStartOffset moved to the first segment left');
  t.ok(log.logStartOffset <= log.highWatermark && log.highWatermark <= log.logEndOffset, 'logStartOffset <= highWatermark <= logEndOffset');
  t.equal(log.logEndOffset, model.logEndOffset, 'retention never touches the log end');
  if (log.logStartOffset > 0) t.throws(() => log.read(log.logStartOffset - 1, 100), { code: 'OFFSET_OUT_OF_RANGE' }, 'offsets below logStartOffset are gone');
  t.same(readRange(log, log.logStartOffset, log.highWatermark), model.recordsFrom(log.logStartOffset, log.highWatermark), 'what is left reads as the model');
  const epochText = fs.readFileSync(path.join(directory, 'leader-epoch-checkpoint'), 'utf8');
  t.equal(epochText, epochCheckpointText(model.epochStarts(log.logStartOffset)), 'the epoch checkpoint starts at logStartOffset');
}

void t.test('retention.ms deletes the oldest expired segments, whole, and moves logStartOffset to the first one left', async (t) => {
  const built = build(t);
  const { log, model } = built;
  const initial = summarize(log, model);
  t.ok(initial.length >= 8, `${initial.length} segments`);
  // Step the clock so that more and more segments expire; the last step expires all.
  for (const expiredCount of [0, 2, 5, initial.length - 1]) {
    const nowMs = initial[expiredCount].maxTimestampMs + RETENTION_MS;
    const before = summarize(log, model);
    const sizesBefore = new Map(before.map((segment) => [segment.baseOffset, fs.statSync(path.join(built.directory, segmentFileName(segment.baseOffset, '.log'))).size]));
    const expectedDeleted = expectedAfterRetention(before, log.highWatermark, (segment) => segment.maxTimestampMs < nowMs - RETENTION_MS);
    const deleted = log.deleteRetainedSegments(nowMs);
    t.equal(deleted, expectedDeleted, `at now = last timestamp of segment ${expiredCount} + retention.ms`);
    const left = before.slice(expectedDeleted).map((segment) => segment.baseOffset);
    checkLogAfterRetention(t, built, left, left[0] ?? 0);
    for (const base of left) {
      t.equal(fs.statSync(path.join(built.directory, segmentFileName(base, '.log'))).size, sizesBefore.get(base), `segment ${base} is untouched`);
    }
  }
});

void t.test('once every segment has expired, one retention pass rolls the active segment and deletes them all', async (t) => {
  const built = build(t);
  const { log, model } = built;
  const lastTimestampMs = Math.max(...model.records.map((record) => record.timestampMs));
  const segmentCount = log.segmentCount;
  const deleted = log.deleteRetainedSegments(lastTimestampMs + RETENTION_MS + 1);
  t.equal(deleted, segmentCount, 'every segment holding records is deleted in the same pass');
  checkLogAfterRetention(t, built, [model.logEndOffset], model.logEndOffset);
  t.equal(log.sizeBytes, 0, 'an empty active segment remains');
  const header = model.appendAsLeader(log, [recordSpec(999, 5, lastTimestampMs)], 2);
  t.equal(header.baseOffset, log.logStartOffset, 'appends continue at the old log end');
});

void t.test('retention keeps expired segments that are not wholly below the high watermark, and never deletes the active one', async (t) => {
  const built = build(t);
  const { log, model } = built;
  const initial = summarize(log, model);
  // On a batch boundary (2 records per batch) inside segment 4.
  const highWatermark = initial[4].baseOffset + 2;
  log.updateHighWatermark(highWatermark);
  const farFuture = BASE_TIME_MS + 10 * RETENTION_MS * 1000;
  t.equal(log.deleteRetainedSegments(farFuture), 4, 'only the four segments below the high watermark go');
  checkLogAfterRetention(t, built, initial.slice(4).map((segment) => segment.baseOffset), initial[4].baseOffset);
  log.updateHighWatermark(initial[initial.length - 1].baseOffset);
  t.equal(log.deleteRetainedSegments(farFuture), initial.length - 5, 'all but the active segment go once the high watermark reaches it');
  checkLogAfterRetention(t, built, [initial[initial.length - 1].baseOffset], initial[initial.length - 1].baseOffset);
  t.equal(log.segmentCount, 1, 'the active segment is still there');
});

void t.test('retention.bytes deletes whole oldest segments while the rest would still reach the limit', async (t) => {
  for (const retentionBytes of [0, 1, 3000, 5000, 1_000_000]) {
    await t.test(`retention.bytes = ${retentionBytes}`, async (t) => {
      const built = build(t, { retentionMs: -1, retentionBytes });
      const { log, model } = built;
      const before = summarize(log, model);
      const totalBytes = log.sizeBytes;
      t.equal(totalBytes, before.reduce((sum, segment) => sum + segment.sizeBytes, 0), 'the model agrees on the log size');
      // The active segment never goes for size alone: it is not rolled for retention.bytes.
      const expectedDeleted = Math.min(
        expectedAfterRetention(before, log.highWatermark, (segment, sizeLeft) => sizeLeft - segment.sizeBytes >= retentionBytes),
        before.length - 1,
      );
      t.equal(log.deleteRetainedSegments(BASE_TIME_MS), expectedDeleted);
      const left = before.slice(expectedDeleted);
      checkLogAfterRetention(t, built, left.map((segment) => segment.baseOffset), left[0].baseOffset);
      t.ok(log.segmentCount === 1 || log.sizeBytes - left[0].sizeBytes < retentionBytes, 'deleting one more segment would go below retention.bytes');
      t.equal(log.deleteRetainedSegments(BASE_TIME_MS), 0, 'a second pass has nothing more to delete');
    });
  }
});

void t.test('with retention.ms and retention.bytes at -1 nothing is ever deleted', async (t) => {
  const built = build(t, { retentionMs: -1, retentionBytes: -1 });
  const bases = built.log.segmentBaseOffsets;
  t.equal(built.log.deleteRetainedSegments(Number.MAX_SAFE_INTEGER), 0);
  t.same(built.log.segmentBaseOffsets, bases);
  t.equal(built.log.logStartOffset, 0);
});

void t.test('logStartOffset stays where retention moved it across a reopen when passed back in', async (t) => {
  const built = build(t);
  const { log, model, directory } = built;
  const initial = summarize(log, model);
  log.deleteRetainedSegments(initial[3].maxTimestampMs + RETENTION_MS + 1);
  const logStartOffset = log.logStartOffset;
  t.equal(logStartOffset, initial[4].baseOffset);
  const config = log.logConfig;
  await log.close();

  const reopened = PartitionLog.open(directory, config, { logStartOffset });
  t.equal(reopened.logStartOffset, logStartOffset, 'the passed logStartOffset is kept');
  t.equal(reopened.logEndOffset, model.logEndOffset);
  t.throws(() => reopened.read(logStartOffset - 1, 100), { code: 'OFFSET_OUT_OF_RANGE' });
  reopened.closeAbruptly();

  // A logStartOffset inside the first segment (records deleted by offset) is kept too,
  // across an unclean reopen, and reads and time searches honour it.
  const inside = logStartOffset + 3;
  const again = PartitionLog.open(directory, config, { logStartOffset: inside });
  t.teardown(() => again.closeAbruptly());
  t.equal(again.logStartOffset, inside);
  again.updateHighWatermark(again.logEndOffset);
  t.throws(() => again.read(inside - 1, 100), { code: 'OFFSET_OUT_OF_RANGE' });
  t.same(readRange(again, inside, again.logEndOffset), model.recordsFrom(inside));
  t.equal(again.offsetForTimestamp(0)?.offset, inside, 'a search by time starts at logStartOffset');
  const stale = PartitionLog.open(path.join(directory, '..', 'other'), config, { logStartOffset: 0 });
  t.teardown(() => stale.closeAbruptly());
  t.equal(stale.logStartOffset, 0, 'an empty log starts where it is told');
});

void t.test('a stale persisted logStartOffset below the first segment is raised to it', async (t) => {
  const built = build(t);
  const { log, model, directory } = built;
  const initial = summarize(log, model);
  log.deleteRetainedSegments(initial[1].maxTimestampMs + RETENTION_MS + 1);
  const config = log.logConfig;
  await log.close();
  const reopened = PartitionLog.open(directory, config, { logStartOffset: 0 });
  t.teardown(() => reopened.closeAbruptly());
  t.equal(reopened.logStartOffset, initial[2].baseOffset);
});
