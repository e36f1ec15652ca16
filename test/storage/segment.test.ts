import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { InvariantError } from '../../src/util/assert.js';
import { LogSegment, segmentFileName, type EpochCheck } from '../../src/storage/segment.js';
import { readBatchHeader, setBaseOffset, setLeaderEpoch } from '../../src/record/header.js';
import {
  batchesIn,
  decodeAll,
  encodeRecords,
  makeTempDir,
  recordSpec,
  seededRandom,
  skipFsyncs,
  type RecordSpec,
} from './helpers.js';

// Nothing here is about durability against power loss, so fsyncs (thousands, with
// every roll and epoch change) are skipped to keep the suite fast; file contents are
// the same either way. Group commit and recovery points are tested with real fsyncs
// in partition-log-durability.test.ts.
skipFsyncs(t);

const INDEX_INTERVAL_BYTES = 256;

/** What the test wrote: each batch's bytes, where it sits and what it holds. */
interface ModelBatch {
  bytes: Buffer;
  baseOffset: number;
  lastOffset: number;
  position: number;
  maxTimestampMs: number;
  leaderEpoch: number;
  records: RecordSpec[];
}

interface Built {
  directory: string;
  segment: LogSegment;
  batches: ModelBatch[];
}

/** Random batch contents from a seed: 1-4 records of 0-300 bytes, timestamps that wander. */
function randomBatchSpecs(seed: number, batchCount: number): RecordSpec[][] {
  const random = seededRandom(seed);
  const specs: RecordSpec[][] = [];
  let index = 0;
  for (let b = 0; b < batchCount; b++) {
    const records: RecordSpec[] = [];
    const count = 1 + random(4);
    for (let r = 0; r < count; r++) {
      records.push(recordSpec(index, random(300), 1_000_000 + random(50_000)));
      index += 1;
    }
    specs.push(records);
  }
  return specs;
}

function appendBatches(segment: LogSegment, batches: ModelBatch[], specs: RecordSpec[][], leaderEpochOf: (i: number) => number = () => 0): void {
  for (let i = 0; i < specs.length; i++) {
    const records = specs[i];
    const baseOffset = segment.nextOffset;
    const leaderEpoch = leaderEpochOf(batches.length);
    const bytes = encodeRecords(records, baseOffset, leaderEpoch);
    const position = segment.sizeBytes;
    segment.append(bytes, readBatchHeader(bytes));
    batches.push({
      bytes,
      baseOffset,
      lastOffset: baseOffset + records.length - 1,
      position,
      maxTimestampMs: Math.max(...records.map((record) => record.timestampMs)),
      leaderEpoch,
      records,
    });
  }
}

function buildSegment(t: Test, baseOffset: number, specs: RecordSpec[][], leaderEpochOf?: (i: number) => number): Built {
  const directory = makeTempDir(t, 'segment');
  const segment = LogSegment.create(directory, baseOffset, { indexIntervalBytes: INDEX_INTERVAL_BYTES }, 0);
  const batches: ModelBatch[] = [];
  appendBatches(segment, batches, specs, leaderEpochOf);
  return { directory, segment, batches };
}

function batchHolding(batches: readonly ModelBatch[], offset: number): ModelBatch | undefined {
  return batches.find((batch) => batch.lastOffset >= offset);
}

function fileOf(built: Built, suffix: '.log' | '.index' | '.timeindex'): string {
  return path.join(built.directory, segmentFileName(built.segment.baseOffset, suffix));
}

/** Every index entry points at the start of the batch with that base offset. */
function checkIndexesAgainst(t: Test, segment: LogSegment, batches: readonly ModelBatch[]): void {
  t.ok(segment.offsetIndex.isConsistentWith(segment.sizeBytes), 'the offset index fits the log');
  t.ok(segment.timeIndex.isConsistentWith(segment.nextOffset), 'the time index fits the log');
  let misplaced = 0;
  for (let i = 0; i < segment.offsetIndex.count; i++) {
    const entry = segment.offsetIndex.entryAt(i);
    const batch = batches.find((candidate) => candidate.position === entry.position);
    if (batch === undefined || batch.baseOffset !== entry.offset) misplaced += 1;
  }
  t.equal(misplaced, 0, 'every offset index entry names a batch start and its base offset');
  let badTime = 0;
  for (let i = 0; i < segment.timeIndex.count; i++) {
    const entry = segment.timeIndex.entryAt(i);
    // Every record at or before the entry's offset is no later than its timestamp.
    const upTo = batches.filter((batch) => batch.baseOffset <= entry.offset);
    const maxSoFar = Math.max(...upTo.map((batch) => batch.maxTimestampMs));
    if (maxSoFar !== entry.timestampMs) badTime += 1;
  }
  t.equal(badTime, 0, 'every time index entry is the largest timestamp up to its offset');
}

void t.test('every read starts with the batch holding the offset and returns as many whole batches as fit in maxBytes', async (t) => {
  const built = buildSegment(t, 1000, randomBatchSpecs(7, 60));
  const { segment, batches } = built;
  t.teardown(() => segment.close());
  const lastBatch = batches[batches.length - 1];
  t.equal(segment.nextOffset, lastBatch.lastOffset + 1);
  t.equal(segment.sizeBytes, lastBatch.position + lastBatch.bytes.length);
  t.equal(fs.statSync(fileOf(built, '.log')).size, segment.sizeBytes, 'the file holds exactly the appended bytes');

  const problems: string[] = [];
  for (let offset = segment.baseOffset; offset < segment.nextOffset; offset++) {
    const holding = batchHolding(batches, offset)!;
    const holdingIndex = batches.indexOf(holding);
    for (const maxBytes of [0, 1, 61, 200, 700, 3000, 1 << 20]) {
      const data = segment.read(offset, maxBytes, segment.sizeBytes);
      if (data === null) {
        problems.push(`read(${offset}, ${maxBytes}) returned null`);
        continue;
      }
      const returned = batchesIn(data);
      const expected = [holding];
      let total = holding.bytes.length;
      for (let next = holdingIndex + 1; next < batches.length && total + batches[next].bytes.length <= maxBytes; next++) {
        expected.push(batches[next]);
        total += batches[next].bytes.length;
      }
      if (!data.equals(Buffer.concat(expected.map((batch) => batch.bytes)))) {
        problems.push(`read(${offset}, ${maxBytes}) returned ${returned.length} batches, expected ${expected.length}`);
      }
      if (returned.length > 1 && data.length > maxBytes) problems.push(`read(${offset}, ${maxBytes}) exceeded maxBytes`);
    }
  }
  t.same(problems, [], 'reads match the model for every offset and maxBytes');
  t.same(decodeAll(segment.read(segment.baseOffset, 1 << 20, segment.sizeBytes)!).map((record) => record.value?.toString()),
    batches.flatMap((batch) => batch.records.map((record) => record.value)), 'the records read back are the ones appended');
  t.equal(segment.read(segment.nextOffset, 1 << 20, segment.sizeBytes), null, 'reading at the end gives nothing');
});

void t.test('a read never passes maxPosition, and a batch larger than maxBytes comes back whole', async (t) => {
  const specs = randomBatchSpecs(11, 20);
  specs[5] = [recordSpec(999, 5000, 5)];
  const { segment, batches } = buildSegment(t, 0, specs);
  t.teardown(() => segment.close());
  for (const stopAt of [3, 6, 12, 19]) {
    const maxPosition = batches[stopAt].position;
    const data = segment.read(0, 1 << 20, maxPosition)!;
    t.equal(data.length, maxPosition, `a read up to batch ${stopAt} stops right before it`);
    t.equal(batchesIn(data).length, stopAt);
  }
  t.equal(segment.read(batches[4].baseOffset, 1 << 20, batches[4].position), null, 'nothing is returned at maxPosition');
  const big = segment.read(batches[5].baseOffset, 100, segment.sizeBytes)!;
  t.ok(big.equals(batches[5].bytes), 'the oversized first batch is returned whole');
});

void t.test('positionOf names the batch holding an offset, and the end for offsets past it', async (t) => {
  const { segment, batches } = buildSegment(t, 500, randomBatchSpecs(13, 50));
  t.teardown(() => segment.close());
  let wrong = 0;
  for (let offset = 500; offset < segment.nextOffset; offset++) {
    const holding = batchHolding(batches, offset)!;
    const found = segment.positionOf(offset);
    if (found.position !== holding.position || found.baseOffset !== holding.baseOffset) wrong += 1;
  }
  t.equal(wrong, 0, 'every offset maps to its batch');
  t.same(segment.positionOf(segment.nextOffset), { position: segment.sizeBytes, baseOffset: segment.nextOffset });
  t.same(segment.positionOf(segment.nextOffset + 100), { position: segment.sizeBytes, baseOffset: segment.nextOffset });
});

void t.test('the offset index is sparse but a lookup is never more than index.interval.bytes before the batch', async (t) => {
  const { segment, batches } = buildSegment(t, 0, randomBatchSpecs(17, 120));
  t.teardown(() => segment.close());
  t.ok(segment.offsetIndex.count >= 10, `the index has entries (${segment.offsetIndex.count})`);
  t.ok(segment.offsetIndex.count < batches.length, 'the index is sparse');
  for (let i = 1; i < segment.offsetIndex.count; i++) {
    const gap = segment.offsetIndex.entryAt(i).position - segment.offsetIndex.entryAt(i - 1).position;
    if (gap <= INDEX_INTERVAL_BYTES) t.fail(`entries ${i - 1} and ${i} are only ${gap} bytes apart`);
  }
  let farthest = 0;
  for (const batch of batches) {
    farthest = Math.max(farthest, batch.position - segment.offsetIndex.lookup(batch.baseOffset).position);
  }
  t.ok(farthest <= INDEX_INTERVAL_BYTES, `the longest scan from an index entry is ${farthest} bytes`);
  checkIndexesAgainst(t, segment, batches);
});

void t.test('a rolled segment keeps its largest timestamp as the last time index entry', async (t) => {
  const specs = randomBatchSpecs(19, 40);
  specs[3] = [{ key: null, value: 'newest', timestampMs: 9_000_000 }];
  const { segment, batches } = buildSegment(t, 0, specs);
  t.teardown(() => segment.close());
  t.equal(segment.maxTimestampMs, 9_000_000);
  segment.onBecomeInactive();
  t.same(segment.timeIndex.lastEntry(), { timestampMs: 9_000_000, offset: batches[3].lastOffset });
  checkIndexesAgainst(t, segment, batches);
});

void t.test('truncateTo removes the batch holding the offset and everything after it; appends continue from there', async (t) => {
  const built = buildSegment(t, 100, randomBatchSpecs(23, 60));
  const { segment } = built;
  let batches = built.batches;
  t.teardown(() => segment.close());
  const random = seededRandom(29);
  for (let round = 0; round < 6; round++) {
    const offset = segment.baseOffset + random(segment.nextOffset - segment.baseOffset);
    const holding = batchHolding(batches, offset)!;
    const sizeBefore = segment.sizeBytes;
    const removed = segment.truncateTo(offset);
    batches = batches.slice(0, batches.indexOf(holding));
    t.equal(removed, sizeBefore - holding.position, `truncateTo(${offset}) reports the bytes removed`);
    t.equal(segment.sizeBytes, holding.position);
    t.equal(fs.statSync(fileOf(built, '.log')).size, holding.position, 'the file is cut at the batch start');
    t.equal(segment.nextOffset, holding.baseOffset, 'the next offset is the removed batch base');
    const expectedMax = batches.length === 0 ? -1 : Math.max(...batches.map((batch) => batch.maxTimestampMs));
    t.equal(segment.maxTimestampMs, expectedMax, 'the largest timestamp is that of the batches left');
    checkIndexesAgainst(t, segment, batches);
    appendBatches(segment, batches, randomBatchSpecs(100 + round, 5 + random(20)));
    const data = segment.read(segment.baseOffset, 1 << 24, segment.sizeBytes);
    t.ok(data !== null && data.equals(Buffer.concat(batches.map((batch) => batch.bytes))), 'the log holds the kept and the new batches');
    checkIndexesAgainst(t, segment, batches);
  }
  t.equal(segment.truncateTo(segment.nextOffset), 0, 'truncating at the end removes nothing');
});

void t.test('a clean reopen trusts the indexes and finds the same end, size and largest timestamp', async (t) => {
  const built = buildSegment(t, 40, randomBatchSpecs(31, 70));
  const { segment, batches } = built;
  const indexBytes = fs.readFileSync(fileOf(built, '.index'));
  const timeIndexBytes = fs.readFileSync(fileOf(built, '.timeindex'));
  const summary = { nextOffset: segment.nextOffset, sizeBytes: segment.sizeBytes, maxTimestampMs: segment.maxTimestampMs };
  segment.flushSync();
  segment.close();
  const reopened = LogSegment.open(built.directory, 40, { indexIntervalBytes: INDEX_INTERVAL_BYTES });
  t.teardown(() => reopened.close());
  t.same({ nextOffset: reopened.nextOffset, sizeBytes: reopened.sizeBytes, maxTimestampMs: reopened.maxTimestampMs }, summary);
  t.same(fs.readFileSync(fileOf(built, '.index')), indexBytes, 'the offset index is untouched');
  t.same(fs.readFileSync(fileOf(built, '.timeindex')), timeIndexBytes, 'the time index is untouched');
  checkIndexesAgainst(t, reopened, batches);
  t.throws(() => segment.append(batches[0].bytes, readBatchHeader(batches[0].bytes)), InvariantError, 'a closed segment refuses appends');
});

void t.test('an append that does not continue the segment offsets is refused', async (t) => {
  const { segment, batches } = buildSegment(t, 0, randomBatchSpecs(37, 3));
  t.teardown(() => segment.close());
  const sizeBefore = segment.sizeBytes;
  const gap = encodeRecords([recordSpec(1, 10, 1)], segment.nextOffset + 1);
  t.throws(() => segment.append(gap, readBatchHeader(gap)), { message: /does not follow/ });
  const overlap = encodeRecords([recordSpec(1, 10, 1)], batches[2].baseOffset);
  t.throws(() => segment.append(overlap, readBatchHeader(overlap)), { message: /does not follow/ });
  t.equal(segment.sizeBytes, sizeBefore, 'nothing was written');
});

void t.test('recover truncates at the first corrupt, discontinuous or implausible batch and rebuilds both indexes', async (t) => {
  const patchLog = (built: Built, bytes: Buffer, position: number): void => {
    const fd = fs.openSync(fileOf(built, '.log'), 'r+');
    fs.writeSync(fd, bytes, 0, bytes.length, position);
    fs.closeSync(fd);
  };
  const cases: Array<{ name: string; damage: (built: Built, victim: ModelBatch) => void; isPlausible?: (victim: ModelBatch) => EpochCheck }> = [
    {
      name: 'a byte flipped inside the CRC-covered part',
      damage: (built, victim) => patchLog(built, Buffer.from([victim.bytes[victim.bytes.length - 1] ^ 0x5a]), victim.position + victim.bytes.length - 1),
    },
    {
      name: 'a base offset that breaks continuity',
      damage: (built, victim) => {
        const patched = Buffer.from(victim.bytes);
        setBaseOffset(patched, victim.baseOffset + 3);
        patchLog(built, patched.subarray(0, 8), victim.position);
      },
    },
    {
      name: 'a leader epoch lower than the batch before it',
      damage: (built, victim) => {
        const patched = Buffer.from(victim.bytes);
        setLeaderEpoch(patched, 0);
        patchLog(built, patched.subarray(12, 16), victim.position + 12);
      },
    },
    {
      name: 'an epoch the caller finds implausible',
      damage: () => undefined,
      isPlausible: (victim) => (_epoch, baseOffset) => baseOffset < victim.baseOffset,
    },
  ];
  for (const { name, damage, isPlausible } of cases) {
    await t.test(name, async (t) => {
      // Epoch 1 for the first 20 batches, 2 after, so recovery reports two epoch starts
      // and an epoch of 0 is a real step back.
      const built = buildSegment(t, 10, randomBatchSpecs(41, 40), (i) => (i < 20 ? 1 : 2));
      const { batches } = built;
      const victim = batches[25];
      const last = batches[batches.length - 1];
      built.segment.close();
      damage(built, victim);
      const segment = LogSegment.open(built.directory, 10, { indexIntervalBytes: INDEX_INTERVAL_BYTES });
      t.teardown(() => segment.close());
      const result = segment.recover(isPlausible === undefined ? () => true : isPlausible(victim));
      const kept = batches.slice(0, 25);
      t.equal(result.validBatchCount, 25, 'the batches before the damaged one are valid');
      t.equal(result.truncatedBytes, last.position + last.bytes.length - victim.position, 'the damaged batch and all after it are cut');
      t.equal(segment.sizeBytes, victim.position);
      t.equal(fs.statSync(fileOf(built, '.log')).size, victim.position, 'the file ends where the damaged batch began');
      t.equal(segment.nextOffset, victim.baseOffset);
      t.same(result.epochStarts, [{ epoch: 1, startOffset: 10 }, { epoch: 2, startOffset: batches[20].baseOffset }]);
      t.equal(segment.maxTimestampMs, Math.max(...kept.map((batch) => batch.maxTimestampMs)));
      checkIndexesAgainst(t, segment, kept);
      t.ok(segment.read(10, 1 << 24, segment.sizeBytes)!.equals(Buffer.concat(kept.map((batch) => batch.bytes))), 'the kept batches are intact');
    });
  }
});

void t.test('garbage after the last batch (a torn append) is cut off by recover', async (t) => {
  const built = buildSegment(t, 0, randomBatchSpecs(43, 30));
  const { batches } = built;
  const goodSize = built.segment.sizeBytes;
  built.segment.close();
  const torn = batches[3].bytes.subarray(0, 40);
  fs.appendFileSync(fileOf(built, '.log'), torn);
  const segment = LogSegment.open(built.directory, 0, { indexIntervalBytes: INDEX_INTERVAL_BYTES });
  t.teardown(() => segment.close());
  t.equal(segment.sizeBytes, goodSize, 'opening a segment with a torn tail repairs it');
  const result = segment.recover(() => true);
  t.equal(result.validBatchCount, 30);
  t.equal(result.truncatedBytes, 0, 'nothing left to cut after open repaired it');
  t.equal(fs.statSync(fileOf(built, '.log')).size, goodSize);
  checkIndexesAgainst(t, segment, batches);
});

void t.test('an index that points past a shortened log is rebuilt on open', async (t) => {
  const built = buildSegment(t, 0, randomBatchSpecs(47, 60));
  const { batches } = built;
  built.segment.close();
  const keep = batches.slice(0, 15);
  fs.truncateSync(fileOf(built, '.log'), batches[15].position);
  const segment = LogSegment.open(built.directory, 0, { indexIntervalBytes: INDEX_INTERVAL_BYTES });
  t.teardown(() => segment.close());
  t.equal(segment.nextOffset, batches[15].baseOffset);
  t.equal(segment.maxTimestampMs, Math.max(...keep.map((batch) => batch.maxTimestampMs)));
  checkIndexesAgainst(t, segment, keep);
});

void t.test('deleted .index and .timeindex files are rebuilt on open (regression: they came back empty and the largest timestamp was lost)', async (t) => {
  for (const missing of ['.index', '.timeindex'] as const) {
    await t.test(`without ${missing}`, async (t) => {
      const specs = randomBatchSpecs(53, 60);
      // The newest record sits early in the segment, long before the last index entry.
      specs[2] = [{ key: null, value: 'newest', timestampMs: 99_000_000 }];
      const built = buildSegment(t, 0, specs);
      const { batches } = built;
      const indexBytes = fs.readFileSync(fileOf(built, '.index'));
      t.ok(indexBytes.length >= 8 * 5, 'the segment had a populated index');
      built.segment.close();
      fs.rmSync(fileOf(built, missing));
      const segment = LogSegment.open(built.directory, 0, { indexIntervalBytes: INDEX_INTERVAL_BYTES });
      t.teardown(() => segment.close());
      t.equal(segment.maxTimestampMs, 99_000_000, 'the largest timestamp is found again');
      t.equal(segment.nextOffset, batches[batches.length - 1].lastOffset + 1);
      t.same(fs.readFileSync(fileOf(built, '.index')), indexBytes, 'the offset index is rebuilt with the same entries');
      t.ok(segment.timeIndex.count > 0, 'the time index is rebuilt');
      checkIndexesAgainst(t, segment, batches);
    });
  }
});

void t.test('create replaces leftover files of the same base offset', async (t) => {
  const built = buildSegment(t, 0, randomBatchSpecs(59, 10));
  built.segment.close();
  const fresh = LogSegment.create(built.directory, 0, { indexIntervalBytes: INDEX_INTERVAL_BYTES }, 0);
  t.teardown(() => fresh.close());
  t.ok(fresh.isEmpty);
  t.equal(fresh.nextOffset, 0);
  t.equal(fs.statSync(fileOf(built, '.log')).size, 0);
  t.equal(fs.statSync(fileOf(built, '.index')).size, 0);
});

void t.test('delete removes the three files', async (t) => {
  const built = buildSegment(t, 77, randomBatchSpecs(61, 10));
  built.segment.delete();
  t.same(fs.readdirSync(built.directory), []);
  t.equal(segmentFileName(77, '.log'), '00000000000000000077.log', 'files are named by the 20-digit base offset');
});
