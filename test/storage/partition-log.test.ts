import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { InvariantError } from '../../src/util/assert.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { segmentFileName } from '../../src/storage/segment.js';
import { setBaseOffset, setLeaderEpoch } from '../../src/record/header.js';
import { CRC_OFFSET } from '../../src/record/layout.js';
import type { LogConfig } from '../../src/storage/log-config.js';
import {
  asModel,
  batchesIn,
  decodeAll,
  encodeRecords,
  epochCheckpointText,
  isSameRecord,
  LogModel,
  makeTempDir,
  randomSpecs,
  readRange,
  recordSpec,
  seededRandom,
  skipFsyncs,
  testConfig,
  type RecordSpec,
} from './helpers.js';

// Nothing here is about durability against power loss, so fsyncs (thousands, with
// every roll and epoch change) are skipped to keep the suite fast; file contents are
// the same either way. Group commit and recovery points are tested with real fsyncs
// in partition-log-durability.test.ts.
skipFsyncs(t);

function openLog(t: Test, config: LogConfig = testConfig(), nowMs = Date.now()): { log: PartitionLog; directory: string } {
  const directory = path.join(makeTempDir(t, 'partition'), 'topic-0');
  const log = PartitionLog.open(directory, config, { nowMs });
  t.teardown(() => log.closeAbruptly());
  return { log, directory };
}

/** Appends `batchCount` random batches; the epoch steps up now and then. */
function fill(log: PartitionLog, model: LogModel, seed: number, batchCount: number, firstEpoch = 0): number {
  const random = seededRandom(seed);
  let epoch = firstEpoch;
  for (let i = 0; i < batchCount; i++) {
    if (random(10) === 0) epoch += 1 + random(3);
    model.appendAsLeader(log, randomSpecs(random, model.records.length), epoch);
  }
  return epoch;
}

function epochFile(directory: string): string {
  return fs.readFileSync(path.join(directory, 'leader-epoch-checkpoint'), 'utf8');
}

void t.test('appendAsLeader assigns the next offsets and stamps the leader epoch; every offset reads back the model across segments', async (t) => {
  const { log } = openLog(t);
  const model = new LogModel();
  const random = seededRandom(3);
  let epoch = 0;
  for (let i = 0; i < 150; i++) {
    if (random(8) === 0) epoch += 1;
    const logEndOffset = log.logEndOffset;
    const specs = randomSpecs(random, model.records.length);
    const header = model.appendAsLeader(log, specs, epoch);
    if (header.baseOffset !== logEndOffset || header.lastOffset !== logEndOffset + specs.length - 1 || header.partitionLeaderEpoch !== epoch) {
      t.fail(`batch ${i}: got offsets ${header.baseOffset}..${header.lastOffset} epoch ${header.partitionLeaderEpoch}`);
    }
  }
  t.equal(log.logEndOffset, model.logEndOffset);
  t.ok(log.segmentCount >= 5, `the log spans several segments (${log.segmentCount})`);
  log.updateHighWatermark(log.logEndOffset);

  t.same(readRange(log, 0, log.logEndOffset), model.records, 'a consumer reading from 0 sees the model');
  t.same(readRange(log, 0, log.logEndOffset, 1), model.records, 'reading one batch at a time sees the model');
  let wrong = 0;
  for (const expected of model.records) {
    const data = log.read(expected.offset, 1);
    const first = data === null ? undefined : batchesIn(data)[0];
    const found = first === undefined ? undefined : decodeAll(data!).find((record) => record.offset === expected.offset);
    if (found === undefined || !isSameRecord(asModel(found, first!.header.partitionLeaderEpoch), expected)) wrong += 1;
  }
  t.equal(wrong, 0, 'a read at every offset starts with the batch holding it, as the model says');
});

void t.test('reads stop at the high watermark and refuse offsets outside [logStartOffset, logEndOffset]', async (t) => {
  const { log } = openLog(t);
  const model = new LogModel();
  fill(log, model, 5, 60);
  const boundary = model.batches[30].baseOffset;
  log.updateHighWatermark(boundary);
  t.same(readRange(log, 0, log.highWatermark), model.recordsFrom(0, boundary), 'a high watermark on a batch boundary shows everything below it');
  t.equal(log.read(boundary, 1 << 20), null, 'nothing is readable at the high watermark');
  const middle = model.batches[40].baseOffset + (model.batches[40].lastOffset > model.batches[40].baseOffset ? 1 : 0);
  log.updateHighWatermark(middle);
  const visible = readRange(log, 0, log.highWatermark);
  t.ok(visible.every((record) => record.offset < middle), 'no record at or above a mid-batch high watermark is returned');
  t.same(visible, model.recordsFrom(0, model.batches[40].baseOffset), 'the batch straddling the high watermark waits');
  t.ok(log.read(log.logEndOffset - 1, 1 << 20, log.logEndOffset) !== null, 'a follower may read up to the log end');
  t.equal(log.read(log.logEndOffset, 1 << 20, log.logEndOffset), null);
  t.throws(() => log.read(log.logEndOffset + 1, 100), { code: 'OFFSET_OUT_OF_RANGE' });
  t.throws(() => log.read(-1, 100), { code: 'OFFSET_OUT_OF_RANGE' });
});

void t.test('the high watermark stays within [logStartOffset, logEndOffset]', async (t) => {
  const { log } = openLog(t);
  const model = new LogModel();
  fill(log, model, 7, 20);
  log.updateHighWatermark(-5);
  t.equal(log.highWatermark, 0);
  log.updateHighWatermark(log.logEndOffset + 100);
  t.equal(log.highWatermark, log.logEndOffset);
  const cut = model.batches[10].baseOffset;
  log.truncateTo(cut);
  t.equal(log.highWatermark, cut, 'truncation below the high watermark pulls it down');
  t.ok(log.logStartOffset <= log.highWatermark && log.highWatermark <= log.logEndOffset);
});

void t.test('a follower appending the leader fetches holds the same bytes, file for file', async (t) => {
  const leader = openLog(t);
  const follower = openLog(t);
  const model = new LogModel();
  fill(leader.log, model, 11, 120);
  const random = seededRandom(13);
  let fetches = 0;
  let batchesShort = 0;
  for (; fetches < 1000 && follower.log.logEndOffset < leader.log.logEndOffset; fetches++) {
    const data = leader.log.read(follower.log.logEndOffset, 1 + random(3000), leader.log.logEndOffset);
    if (data === null) break;
    const headers = follower.log.appendAsFollower(data);
    batchesShort += batchesIn(data).length - headers.length;
  }
  t.ok(fetches > 20, `replicated in ${fetches} fetches`);
  t.equal(batchesShort, 0, 'every fetched batch was appended');
  t.equal(follower.log.logEndOffset, leader.log.logEndOffset);
  t.same(follower.log.segmentBaseOffsets, leader.log.segmentBaseOffsets, 'segments roll at the same offsets');
  for (const baseOffset of leader.log.segmentBaseOffsets) {
    const name = segmentFileName(baseOffset, '.log');
    const isEqual = fs.readFileSync(path.join(leader.directory, name)).equals(fs.readFileSync(path.join(follower.directory, name)));
    t.ok(isEqual, `${name} is byte-for-byte the leader's`);
  }
  t.equal(epochFile(follower.directory), epochFile(leader.directory), 'the follower learns the leader epochs');
  follower.log.updateHighWatermark(follower.log.logEndOffset);
  t.same(readRange(follower.log, 0, follower.log.logEndOffset), model.records);
});

void t.test('appendAsFollower refuses a bad buffer and writes nothing from it', async (t) => {
  const leader = openLog(t);
  const model = new LogModel();
  fill(leader.log, model, 17, 30, 3);
  // The follower holds the leader's first batch; each case offers the next two (or not quite).
  const twoBatches = (from: number): Buffer => {
    const data = leader.log.read(from, 1 << 20, leader.log.logEndOffset)!;
    const second = batchesIn(data)[1];
    return Buffer.from(data.subarray(0, second.position + second.header.sizeBytes));
  };
  const next = model.batches[1].baseOffset;
  const cases: Array<[string, () => Buffer, RegExp]> = [
    // Skipping offsets is allowed (a cleaned leader log has gaps: follower-compacted.test.ts); going back is not.
    ['a second batch that starts inside the first', () => {
      const data = twoBatches(next);
      setBaseOffset(data, next, batchesIn(data)[1].position);
      return data;
    }, /baseOffset \d+ is not the expected \d+ or above/],
    ['batches the follower already has', () => twoBatches(0), /baseOffset 0 is not the expected/],
    ['a CRC failure in the second batch', () => {
      const data = twoBatches(next);
      const second = batchesIn(data)[1];
      data[second.position + second.header.sizeBytes - 1] ^= 0x01;
      return data;
    }, /CRC/],
    ['a CRC field damaged in the first batch', () => {
      const data = twoBatches(next);
      data[CRC_OFFSET] ^= 0x80;
      return data;
    }, /CRC/],
    ['a partial trailing batch', () => twoBatches(next).subarray(0, model.batches[1].sizeBytes + 30), /fewer than|runs past/],
    ['a second batch whose leader epoch goes back', () => {
      const data = twoBatches(next);
      setLeaderEpoch(data, 1, batchesIn(data)[1].position);
      return data;
    }, /epoch/],
    ['a first batch older than the follower\'s latest epoch', () => {
      const data = twoBatches(next);
      setLeaderEpoch(data, 2, 0);
      return data;
    }, /epoch/],
  ];
  for (const [name, makeBuffer, message] of cases) {
    await t.test(name, async (t) => {
      const follower = openLog(t);
      follower.log.appendAsFollower(leader.log.read(0, 1, leader.log.logEndOffset)!);
      t.equal(follower.log.logEndOffset, next);
      const before = {
        logEndOffset: follower.log.logEndOffset,
        sizeBytes: follower.log.sizeBytes,
        file: fs.readFileSync(path.join(follower.directory, segmentFileName(0, '.log'))),
        epochs: follower.log.epochCache.all.slice(),
      };
      t.throws(() => follower.log.appendAsFollower(makeBuffer()), { message });
      t.equal(follower.log.logEndOffset, before.logEndOffset, 'the log end did not move');
      t.equal(follower.log.sizeBytes, before.sizeBytes);
      t.same(fs.readFileSync(path.join(follower.directory, segmentFileName(0, '.log'))), before.file, 'no byte was written');
      t.same(follower.log.epochCache.all, before.epochs, 'the epoch cache did not change');
    });
  }
});

void t.test('segments roll before they would pass segment.bytes, at the offset the log had reached', async (t) => {
  const config = testConfig({ segmentBytes: 2000 });
  const { log, directory } = openLog(t, config);
  const model = new LogModel();
  const random = seededRandom(19);
  for (let i = 0; i < 100; i++) {
    // Now and then a batch larger than a whole segment: it gets a segment of its own.
    const specs: RecordSpec[] = i % 37 === 36 ? [recordSpec(i, 2500, 5)] : randomSpecs(random, model.records.length, 3, 200);
    model.appendAsLeader(log, specs, 0);
  }
  // Rebuild the roll points from the model: a new segment starts when the next batch would not fit.
  const expectedBases = [0];
  let size = 0;
  for (const batch of model.batches) {
    if (size > 0 && size + batch.sizeBytes > config.segmentBytes) {
      expectedBases.push(batch.baseOffset);
      size = 0;
    }
    size += batch.sizeBytes;
  }
  t.same(log.segmentBaseOffsets, expectedBases, 'segments start where the model says');
  const files = fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
  t.same(files, expectedBases.map((base) => segmentFileName(base, '.log')), 'one .log file per segment, named by base offset');
  for (const name of files) {
    const fileBytes = fs.statSync(path.join(directory, name)).size;
    const batchCount = batchesIn(fs.readFileSync(path.join(directory, name))).length;
    if (fileBytes > config.segmentBytes && batchCount > 1) t.fail(`${name} holds ${fileBytes} bytes in ${batchCount} batches`);
  }
  log.updateHighWatermark(log.logEndOffset);
  t.same(readRange(log, 0, log.logEndOffset), model.records, 'reads cross every segment boundary');
});

void t.test('segments roll once they are older than segment.ms', async (t) => {
  const segmentMs = 60_000;
  const { log } = openLog(t, testConfig({ segmentBytes: 1 << 20, segmentMs }), 1_000_000);
  const model = new LogModel();
  model.appendAsLeader(log, [recordSpec(0, 10, 1)], 0, 1_000_000);
  model.appendAsLeader(log, [recordSpec(1, 10, 1)], 0, 1_000_000 + segmentMs);
  t.equal(log.segmentCount, 1, 'a segment exactly segment.ms old takes more appends');
  model.appendAsLeader(log, [recordSpec(2, 10, 1)], 0, 1_000_000 + segmentMs + 1);
  t.same(log.segmentBaseOffsets, [0, 2], 'an older segment is rolled at the next append');
  model.appendAsLeader(log, [recordSpec(3, 10, 1)], 0, 1_000_000 + 2 * segmentMs + 1);
  t.equal(log.segmentCount, 2, 'the new segment is aged from its own creation');
  model.appendAsLeader(log, [recordSpec(4, 10, 1)], 0, 1_000_000 + 2 * segmentMs + 2);
  t.same(log.segmentBaseOffsets, [0, 2, 4]);
});

void t.test('offsetForTimestamp finds the first offset at or after a time below the high watermark, as the model does', async (t) => {
  const { log } = openLog(t, testConfig({ segmentBytes: 1500, indexIntervalBytes: 100 }));
  const model = new LogModel();
  fill(log, model, 23, 120);
  const expectedFor = (timestampMs: number): { offset: number; timestampMs: number } | null => {
    const found = model.records.find((record) => record.offset >= log.logStartOffset && record.offset < log.highWatermark &&
      record.timestampMs >= timestampMs);
    return found === undefined ? null : { offset: found.offset, timestampMs: found.timestampMs };
  };
  const targets = new Set<number>([0, 2 ** 50]);
  for (const record of model.records) for (const delta of [-1, 0, 1]) targets.add(record.timestampMs + delta);
  for (const highWatermark of [log.logEndOffset, model.batches[70].baseOffset, model.batches[3].lastOffset, 0]) {
    log.updateHighWatermark(highWatermark);
    let wrong = 0;
    for (const target of targets) {
      const found = log.offsetForTimestamp(target);
      const expected = expectedFor(target);
      if (JSON.stringify(found) !== JSON.stringify(expected)) {
        wrong += 1;
        if (wrong <= 3) t.same(found, expected, `offsetForTimestamp(${target}) with high watermark ${highWatermark}`);
      }
    }
    t.equal(wrong, 0, `all ${targets.size} searches match the model below high watermark ${highWatermark}`);
  }
});

void t.test('truncateFullyAndStartAt empties the log and restarts it at an offset past its end, and a reopen keeps that', async (t) => {
  const { log, directory } = openLog(t);
  const model = new LogModel();
  fill(log, model, 41, 60);
  const start = log.logEndOffset + 500;
  log.truncateFullyAndStartAt(start);
  t.same([log.logStartOffset, log.highWatermark, log.logEndOffset], [start, start, start], 'start, high watermark and end all at the new offset');
  t.same(log.segmentBaseOffsets, [start], 'one empty segment at the new offset');
  t.same(fs.readdirSync(directory).filter((name) => name.endsWith('.log')), [segmentFileName(start, '.log')], 'the old segment files are gone');
  t.equal(log.epochCache.latestEpoch(), -1, 'no epoch is left');
  // A follower appends the leader's batches from there: the batch must start at `start`.
  const follower = new LogModel();
  const leader = PartitionLog.open(path.join(makeTempDir(t, 'leader'), 'topic-0'), testConfig());
  t.teardown(() => leader.closeAbruptly());
  leader.truncateFullyAndStartAt(start);
  follower.appendAsLeader(leader, randomSpecs(seededRandom(43), 0), 7);
  leader.updateHighWatermark(leader.logEndOffset);
  const bytes = leader.read(start, 1 << 20, leader.logEndOffset);
  t.ok(bytes !== null);
  log.appendAsFollower(bytes!);
  t.equal(log.logEndOffset, leader.logEndOffset, 'a batch starting at the new offset appends');
  log.updateHighWatermark(log.logEndOffset);
  log.closeAbruptly();
  const reopened = PartitionLog.open(directory, testConfig());
  t.teardown(() => reopened.closeAbruptly());
  t.same([reopened.logStartOffset, reopened.logEndOffset], [start, leader.logEndOffset], 'a reopen (even with an older persisted start) keeps the new range');
});

void t.test('truncateTo removes the batch holding the offset and all after it, across segments', async (t) => {
  const { log, directory } = openLog(t);
  const model = new LogModel();
  let epoch = fill(log, model, 29, 150);
  const random = seededRandom(31);
  for (let round = 0; round < 8; round++) {
    const segmentsBefore = log.segmentBaseOffsets;
    // Every other round cuts exactly at a segment boundary.
    const offset = round % 2 === 0 && segmentsBefore.length > 1
      ? segmentsBefore[1 + random(segmentsBefore.length - 1)]
      : random(log.logEndOffset);
    log.updateHighWatermark(log.logEndOffset);
    log.truncateTo(offset);
    model.truncateTo(offset);
    t.equal(log.logEndOffset, model.logEndOffset, `truncateTo(${offset}) ends the log at the removed batch base`);
    const bases = log.segmentBaseOffsets;
    t.ok(bases.slice(0, -1).every((base) => base < log.logEndOffset) && bases[bases.length - 1] <= log.logEndOffset,
      'no segment starts past the new end; only an empty active one starts at it');
    const logFiles = fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
    t.same(logFiles, log.segmentBaseOffsets.map((base) => segmentFileName(base, '.log')), 'removed segments are gone from disk');
    t.equal(log.highWatermark, log.logEndOffset, 'the high watermark follows the log end down');
    t.equal(epochFile(directory), epochCheckpointText(model.epochStarts()), 'the epoch checkpoint forgets truncated epochs');
    t.same(readRange(log, 0, log.logEndOffset), model.records);
    epoch = Math.max(epoch, log.epochCache.latestEpoch()) + 1;
    fill(log, model, 100 + round, 10 + random(30), epoch);
    log.updateHighWatermark(log.logEndOffset);
    t.same(readRange(log, 0, log.logEndOffset), model.records, 'appends continue after the truncation point');
  }
  t.throws(() => log.appendAsLeader(encodeRecords([recordSpec(0, 1, 1)]), 0), InvariantError, 'an epoch older than the latest is an invariant breach');
});

void t.test('the leader-epoch-checkpoint holds each epoch and its first offset, in Kafka\'s text format', async (t) => {
  const { log, directory } = openLog(t);
  const model = new LogModel();
  const epochs = [0, 0, 2, 2, 2, 5, 7, 7, 7];
  for (const [i, epoch] of epochs.entries()) model.appendAsLeader(log, [recordSpec(i, 20, i), recordSpec(i + 100, 20, i)], epoch);
  const expected = [
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 4 },
    { epoch: 5, startOffset: 10 },
    { epoch: 7, startOffset: 12 },
  ];
  t.equal(epochFile(directory), epochCheckpointText(expected));
  t.equal(epochFile(directory), '0\n4\n0 0\n2 4\n5 10\n7 12\n');
  t.same(log.epochCache.endOffsetFor(2, log.logEndOffset), { epoch: 2, endOffset: 10 }, 'KIP-101: epoch 2 ends where epoch 5 starts');
  t.same(log.epochCache.endOffsetFor(3, log.logEndOffset), { epoch: 2, endOffset: 10 }, 'an unknown epoch answers with the one below it');
  log.truncateTo(12);
  t.equal(epochFile(directory), epochCheckpointText(expected.slice(0, 3)), 'truncating at an epoch start drops that epoch');
  log.truncateTo(7);
  t.equal(epochFile(directory), epochCheckpointText(expected.slice(0, 2)), 'truncating inside epoch 2 keeps it and drops later ones');
  t.equal(log.logEndOffset, 6, 'the batch holding offset 7 (6..7) was removed');
  await log.close();
  fs.rmSync(path.join(directory, 'leader-epoch-checkpoint'));
  const reopened = PartitionLog.open(directory, testConfig());
  t.teardown(() => reopened.closeAbruptly());
  t.equal(epochFile(directory), epochCheckpointText(expected.slice(0, 2)), 'a lost checkpoint is rebuilt from the batches');
});
