/**
 * Crash recovery as a property: whatever a crash (or the disk) does to the tail of the
 * log past the recovery point, reopening gives back a clean prefix of what was written.
 * Each run writes random batches across several small segments, sometimes makes part of
 * them durable, closes abruptly, damages the files and reopens.
 */
import t from 'tap';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { OffsetIndex } from '../../src/storage/offset-index.js';
import { TimeIndex } from '../../src/storage/time-index.js';
import { segmentFileName } from '../../src/storage/segment.js';
import {
  LogModel,
  asModel,
  batchesIn,
  decodeAll,
  encodeRecords,
  isSameRecord,
  makeTempDir,
  readRange,
  recordSpec,
  skipFsyncs,
  testConfig,
  type RecordSpec,
} from './helpers.js';

// Bounded runs with fixed seeds: a failure prints its seed and path, so it replays.
const NUM_RUNS = 50;
const CONFIG = testConfig({ segmentBytes: 900, indexIntervalBytes: 100 });

// A crash here is a killed process: the page cache survives, so fsyncs change nothing
// these properties can see. Skipping them keeps each run a few milliseconds.
skipFsyncs(t);

interface BatchPlan {
  records: Array<{ hasKey: boolean; valueBytes: number; timestampDeltaMs: number }>;
  epochStep: number;
}

const batchPlan: fc.Arbitrary<BatchPlan> = fc.record({
  records: fc.array(
    fc.record({ hasKey: fc.boolean(), valueBytes: fc.nat({ max: 120 }), timestampDeltaMs: fc.integer({ min: -5000, max: 5000 }) }),
    { minLength: 1, maxLength: 4 },
  ),
  epochStep: fc.oneof({ arbitrary: fc.constant(0), weight: 5 }, { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 1 }),
});

interface Scenario {
  batches: BatchPlan[];
  /** After how many batches an fsync (and a checkpoint) makes the log durable, if ever. */
  durableAfter: number | null;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  batches: fc.array(batchPlan, { minLength: 1, maxLength: 24 }),
  durableAfter: fc.option(fc.nat({ max: 24 }), { nil: null }),
});

/** Where each batch landed: its segment and byte position, for aiming the damage. */
interface Placed {
  segmentBaseOffset: number;
  position: number;
  sizeBytes: number;
  baseOffset: number;
}

interface Written {
  directory: string;
  model: LogModel;
  placed: Placed[];
  segmentBaseOffsets: number[];
  recoveryPoint: number;
}

async function writeAndCrash(root: string, run: number, plan: Scenario): Promise<Written> {
  const directory = path.join(root, `run-${run}`);
  const log = PartitionLog.open(directory, CONFIG);
  const model = new LogModel();
  const placed: Placed[] = [];
  let epoch = 0;
  for (let i = 0; i < plan.batches.length; i++) {
    const batch = plan.batches[i];
    epoch += batch.epochStep;
    const specs: RecordSpec[] = batch.records.map((record, r) => ({
      key: record.hasKey ? `key-${i}-${r}` : null,
      value: `v${i}.${r}:` + 'x'.repeat(record.valueBytes),
      timestampMs: 1_000_000 + i * 100 + record.timestampDeltaMs,
    }));
    const header = model.appendAsLeader(log, specs, epoch);
    const active = log.activeSegment;
    placed.push({ segmentBaseOffset: active.baseOffset, position: active.sizeBytes - header.sizeBytes, sizeBytes: header.sizeBytes, baseOffset: header.baseOffset });
    if (plan.durableAfter === i) {
      await log.flushUpTo();
      log.writeCheckpoint(false);
    }
  }
  const segmentBaseOffsets = log.segmentBaseOffsets;
  log.closeAbruptly();
  const checkpoint = JSON.parse(fs.readFileSync(path.join(directory, 'partition.checkpoint'), 'utf8')) as { recoveryPoint: number };
  return { directory, model, placed, segmentBaseOffsets, recoveryPoint: checkpoint.recoveryPoint };
}

/** Segments that hold offsets at or past the recovery point: the ones a reopen rescans. */
function recoveredSegments(written: Written): number[] {
  const bases = written.segmentBaseOffsets;
  return bases.filter((_, i) => (bases[i + 1] ?? Number.MAX_SAFE_INTEGER) > written.recoveryPoint);
}

function segmentPath(written: Written, baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return path.join(written.directory, segmentFileName(baseOffset, suffix));
}

/**
 * Reopens and checks everything a clean prefix ending at `expectedLogEndOffset` must
 * satisfy. Returns a list of problems (empty when sound) so fast-check can shrink.
 */
function reopenAndCheck(written: Written, expectedLogEndOffset: number, expectedTruncatedBytes: number | null, isCleanShutdown = false): string[] {
  const problems: string[] = [];
  const { directory, model } = written;
  const log = PartitionLog.open(directory, CONFIG);
  try {
    const expected = model.recordsFrom(0, expectedLogEndOffset);
    if (log.logEndOffset !== expectedLogEndOffset) problems.push(`logEndOffset ${log.logEndOffset}, expected ${expectedLogEndOffset}`);
    if (log.recovery.isCleanShutdown !== isCleanShutdown) problems.push(`isCleanShutdown is ${log.recovery.isCleanShutdown}`);
    if (expectedTruncatedBytes !== null && log.recovery.truncatedBytes !== expectedTruncatedBytes) {
      problems.push(`truncatedBytes ${log.recovery.truncatedBytes}, expected ${expectedTruncatedBytes}`);
    }
    log.updateHighWatermark(log.logEndOffset);
    const all = readRange(log, 0, log.logEndOffset);
    if (all.length !== expected.length || all.some((record, i) => !isSameRecord(record, expected[i]))) {
      problems.push(`a read from 0 gave ${all.length} records, expected the model's ${expected.length}`);
    }
    // A read at every offset starts with the batch holding it: the indexes lead there.
    for (const record of expected) {
      const data = log.read(record.offset, 1);
      const first = data === null ? undefined : batchesIn(data)[0];
      const found = first === undefined ? undefined : decodeAll(data!).find((candidate) => candidate.offset === record.offset);
      if (found === undefined || !isSameRecord(asModel(found, first!.header.partitionLeaderEpoch), record)) {
        problems.push(`a read at offset ${record.offset} does not give the model's record`);
        break;
      }
    }
    const epochs = JSON.stringify(log.epochCache.all);
    const truncatedModel = new LogModel();
    truncatedModel.batches = model.batches.filter((batch) => batch.lastOffset < expectedLogEndOffset);
    if (epochs !== JSON.stringify(truncatedModel.epochStarts())) problems.push(`epoch cache ${epochs}`);
    // The first record at or after each timestamp, as a search by time must find it.
    for (const record of expected) {
      const target = record.timestampMs;
      const first = expected.find((candidate) => candidate.timestampMs >= target)!;
      const found = log.offsetForTimestamp(target);
      if (found?.offset !== first.offset) {
        problems.push(`offsetForTimestamp(${target}) gave ${found?.offset}, expected ${first.offset}`);
        break;
      }
    }
    // Appends continue right after the prefix.
    const header = log.appendAsLeader(encodeRecords([recordSpec(0, 10, 1)]), Math.max(0, log.epochCache.latestEpoch()));
    if (header.baseOffset !== expectedLogEndOffset) problems.push(`the next append got offset ${header.baseOffset}`);
  } finally {
    log.closeAbruptly();
  }
  problems.push(...checkIndexFiles(written));
  return problems;
}

/** Every index entry on disk fits its log and names a batch start with that base offset. */
function checkIndexFiles(written: Written): string[] {
  const problems: string[] = [];
  for (const name of fs.readdirSync(written.directory).filter((file) => file.endsWith('.log'))) {
    const baseOffset = Number(name.slice(0, 20));
    const log = fs.readFileSync(segmentPath(written, baseOffset, '.log'));
    const starts = new Map(batchesIn(log).map(({ position, header }) => [position, header.baseOffset]));
    const lastOffset = batchesIn(log).reduce((last, { header }) => header.lastOffset, baseOffset - 1);
    const offsetIndex = OffsetIndex.open(segmentPath(written, baseOffset, '.index'), baseOffset);
    const timeIndex = TimeIndex.open(segmentPath(written, baseOffset, '.timeindex'), baseOffset);
    try {
      if (!offsetIndex.isConsistentWith(log.length)) problems.push(`${name}: offset index does not fit`);
      for (let i = 0; i < offsetIndex.count; i++) {
        const entry = offsetIndex.entryAt(i);
        if (starts.get(entry.position) !== entry.offset) problems.push(`${name}: index entry ${i} is not a batch start`);
      }
      if (!timeIndex.isConsistentWith(lastOffset + 1)) problems.push(`${name}: time index does not fit`);
    } finally {
      offsetIndex.close();
      timeIndex.close();
    }
  }
  return problems;
}

void t.test('a log whose last segment is cut at any byte reopens as the whole batches before the cut', async (t) => {
  const root = makeTempDir(t, 'recovery');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, fc.nat(), async (plan, cutChoice) => {
      const written = await writeAndCrash(root, run++, plan);
      try {
        const lastBase = written.segmentBaseOffsets[written.segmentBaseOffsets.length - 1];
        const logPath = segmentPath(written, lastBase, '.log');
        const size = fs.statSync(logPath).size;
        const cut = cutChoice % (size + 1);
        fs.truncateSync(logPath, cut);
        const inLast = written.placed.filter((batch) => batch.segmentBaseOffset === lastBase);
        const firstLost = inLast.find((batch) => batch.position + batch.sizeBytes > cut);
        const expectedEnd = firstLost === undefined ? written.model.logEndOffset : firstLost.baseOffset;
        const tornBytes = firstLost === undefined ? 0 : cut - firstLost.position;
        const problems = reopenAndCheck(written, expectedEnd, tornBytes);
        if (problems.length > 0) throw new Error(`cut ${lastBase}.log at ${cut} of ${size}: ${problems.join('; ')}`);
      } finally {
        fs.rmSync(written.directory, { recursive: true, force: true });
      }
    }),
    { numRuns: NUM_RUNS, seed: 7001 },
  );
  t.pass(`${NUM_RUNS} logs cut at random bytes recovered to clean prefixes`);
});

void t.test('a byte flipped anywhere past the recovery point removes its batch and everything after it', async (t) => {
  const root = makeTempDir(t, 'recovery');
  let run = 0;
  let flipsInRescannedSegments = 0;
  await fc.assert(
    fc.asyncProperty(scenario, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (plan, segmentChoice, byteChoice, mask) => {
      const written = await writeAndCrash(root, run++, plan);
      try {
        const candidates = recoveredSegments(written);
        const victimBase = candidates[segmentChoice % candidates.length];
        const logPath = segmentPath(written, victimBase, '.log');
        const size = fs.statSync(logPath).size;
        if (size === 0) return;
        const at = byteChoice % size;
        const bytes = fs.readFileSync(logPath);
        bytes[at] ^= mask;
        fs.writeFileSync(logPath, bytes);
        const victim = written.placed.find((batch) => batch.segmentBaseOffset === victimBase && batch.position <= at && at < batch.position + batch.sizeBytes)!;
        const lostBytes = written.placed.filter((batch) => batch.baseOffset >= victim.baseOffset).reduce((sum, batch) => sum + batch.sizeBytes, 0);
        flipsInRescannedSegments += 1;
        const problems = reopenAndCheck(written, victim.baseOffset, lostBytes);
        if (problems.length > 0) {
          throw new Error(`byte ${at} of ${victimBase}.log (batch at offset ${victim.baseOffset}, recovery point ${written.recoveryPoint}): ${problems.join('; ')}`);
        }
      } finally {
        fs.rmSync(written.directory, { recursive: true, force: true });
      }
    }),
    { numRuns: NUM_RUNS, seed: 7002 },
  );
  t.ok(flipsInRescannedSegments > NUM_RUNS / 2, `${flipsInRescannedSegments} runs flipped a byte`);
});

void t.test('deleted .index and .timeindex files are rebuilt on open and every read and time search still works', async (t) => {
  const root = makeTempDir(t, 'recovery');
  let run = 0;
  await fc.assert(
    fc.asyncProperty(scenario, fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), fc.boolean(), async (plan, deletions, isClean) => {
      const written = await writeAndCrash(root, run++, plan);
      const directory = written.directory;
      try {
        if (isClean) {
          // Make this a clean shutdown: reopen (recovering) and close cleanly.
          const log = PartitionLog.open(directory, CONFIG);
          await log.close();
        }
        const indexBytes = new Map<string, Buffer>();
        let deleted = 0;
        written.segmentBaseOffsets.forEach((base, i) => {
          for (const [k, suffix] of (['.index', '.timeindex'] as const).entries()) {
            const file = segmentPath(written, base, suffix);
            if (suffix === '.index' && fs.existsSync(file)) indexBytes.set(file, fs.readFileSync(file));
            if (deletions[(2 * i + k) % deletions.length] && fs.existsSync(file)) {
              fs.rmSync(file);
              deleted += 1;
            }
          }
        });
        const problems = reopenAndCheck(written, written.model.logEndOffset, 0, isClean);
        for (const base of written.segmentBaseOffsets) {
          const file = segmentPath(written, base, '.index');
          if (!fs.existsSync(file) || !fs.existsSync(segmentPath(written, base, '.timeindex'))) problems.push(`${base}: index files missing`);
          // The check appended one batch, which may have added an entry at the end.
          else if (indexBytes.has(file) && !fs.readFileSync(file).subarray(0, indexBytes.get(file)!.length).equals(indexBytes.get(file)!)) {
            problems.push(`${base}.index lost or changed entries`);
          }
        }
        if (problems.length > 0) throw new Error(`${deleted} index files deleted, clean=${isClean}: ${problems.join('; ')}`);
      } finally {
        fs.rmSync(directory, { recursive: true, force: true });
      }
    }),
    { numRuns: NUM_RUNS, seed: 7003 },
  );
  t.pass(`${NUM_RUNS} logs with deleted index files were repaired`);
});
