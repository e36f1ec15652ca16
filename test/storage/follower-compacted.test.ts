/**
 * A follower replicating a compacted leader log, on real files: the leader's cleaner
 * left offset gaps between batches and inside them; a follower that was behind the
 * cleaned section fetches across them, appends every batch byte for byte, ends at
 * the leader's log end, keeps it through an abrupt restart (recovery knows the log
 * has gaps), cleans on its own, and truncates and refetches inside a gap.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { decodeRecords } from '../../src/record/decode.js';
import { encodeBatch } from '../../src/record/encode.js';
import { LogCleaner } from '../../src/storage/cleaner/log-cleaner.js';
import { readCleanerCheckpoint } from '../../src/storage/cleaner/cleaner-checkpoint.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { batchesIn, makeTempDir, seededRandom, skipFsyncs, testConfig } from './helpers.js';

skipFsyncs(t);

const KEYS = ['a', 'b', 'c', 'd', 'e'];
const config = testConfig({ segmentBytes: 400, indexIntervalBytes: 64, isCompacted: true, isDeleted: false, minCleanableDirtyRatio: 0, deleteRetentionMs: 0 });

interface Stored { offset: number; key: string; value: string | null }

/** Every batch from `from` to the high watermark: the raw bytes of each, and its records. */
function readAll(log: PartitionLog, from = log.logStartOffset): { batches: Buffer[]; records: Stored[] } {
  const batches: Buffer[] = [];
  const records: Stored[] = [];
  let next = from;
  for (let reads = 0; reads < 10_000 && next < log.highWatermark; reads++) {
    const data = log.read(next, 1 << 20, log.highWatermark);
    if (data === null) break;
    for (const { position, header } of batchesIn(data)) {
      batches.push(Buffer.from(data.subarray(position, position + header.sizeBytes)));
      for (const record of decodeRecords(data, position)) {
        records.push({ offset: record.offset, key: record.key!.toString(), value: record.value === null ? null : record.value.toString() });
      }
      next = header.lastOffset + 1;
    }
  }
  return { batches, records };
}

function latestByKey(records: readonly Stored[]): Map<string, string> {
  const latest = new Map<string, string | null>();
  for (const record of records) latest.set(record.key, record.value);
  return new Map([...latest].filter((entry): entry is [string, string] => entry[1] !== null).sort());
}

/** Fetches from the leader into the follower, in pieces of random size, until it has the leader's log end. */
function replicate(leader: PartitionLog, follower: PartitionLog, random: (max: number) => number): number {
  let fetches = 0;
  for (; fetches < 2000 && follower.logEndOffset < leader.logEndOffset; fetches++) {
    const data = leader.read(follower.logEndOffset, 1 + random(600), leader.logEndOffset);
    if (data === null) break;
    follower.appendAsFollower(data);
  }
  follower.updateHighWatermark(Math.min(leader.highWatermark, follower.logEndOffset));
  return fetches;
}

void t.test('a follower behind a cleaned leader log catches up across its gaps, byte for byte, and keeps it through recovery and its own cleaning', async (t) => {
  const leaderDir = makeTempDir(t, 'leader');
  const followerDir = makeTempDir(t, 'follower');
  const leader = PartitionLog.open(leaderDir, config);
  let follower = PartitionLog.open(followerDir, config);
  t.teardown(async () => {
    await leader.close();
    await follower.close();
  });
  const random = seededRandom(41);
  // Two leader epochs; keys overwritten again and again, some deleted by tombstones.
  for (let i = 0; i < 120; i++) {
    const records = Array.from({ length: 1 + random(3) }, (_, j) => {
      const key = KEYS[random(KEYS.length)];
      return { key: Buffer.from(key), value: random(7) === 0 ? null : Buffer.from(`${key}-${i}-${j}`), headers: null, timestampMs: 1_000 + i };
    });
    leader.appendAsLeader(encodeBatch(records, { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string', producerId: 9, producerEpoch: 0, baseSequence: i * 3 }), i < 60 ? 1 : 2);
    leader.updateHighWatermark(leader.logEndOffset);
  }
  // The follower has the first part before the leader cleans.
  for (let fetches = 0; fetches < 100 && follower.logEndOffset < 40; fetches++) follower.appendAsFollower(leader.read(follower.logEndOffset, 300, leader.logEndOffset)!);
  const behindAt = follower.logEndOffset;
  const before = readAll(leader);

  await leader.flushUpTo();
  const leaderCleaner = new LogCleaner(() => [['leader', leader]], { dedupeBufferBytes: 1 << 20, ioBytesPerSecond: 0, backoffMs: 60_000 });
  // Twice, later than now: tombstones cleaned once go in the second pass (delete.retention.ms 0).
  for (let round = 0; round < 10 && (await leaderCleaner.cleanOnce(Date.now() + 1000)) !== undefined; round++);
  await leaderCleaner.cleanOnce(Date.now() + 2000);
  const cleaned = readAll(leader);
  t.ok(leaderCleaner.stats.recordsRemoved > 100, `the leader's cleaner removed records (${leaderCleaner.stats.recordsRemoved} of ${before.records.length})`);
  t.same(latestByKey(cleaned.records), latestByKey(before.records), 'cleaning kept the latest value of every live key');
  t.ok(cleaned.records.some((record, i) => i > 0 && record.offset > cleaned.records[i - 1].offset + 1 && record.offset > behindAt), 'the leader log has gaps past where the follower stands');

  const fetches = replicate(leader, follower, random);
  t.equal(follower.logEndOffset, leader.logEndOffset, `the follower reached the leader's log end (${fetches} fetches)`);
  const fromBehind = readAll(follower, behindAt);
  t.same(fromBehind.batches, readAll(leader, behindAt).batches, 'every batch past where it stood is the leader\'s, byte for byte');
  t.same(latestByKey(readAll(follower).records), latestByKey(cleaned.records), 'leader and follower agree on the latest value per key and the live keys');
  t.same(follower.epochCache.all.map((entry) => entry.epoch), [1, 2], 'the follower learnt both leader epochs');

  // An abrupt stop: recovery scans every segment and must accept the gaps.
  const highWatermark = follower.highWatermark;
  follower.closeAbruptly();
  follower = PartitionLog.open(followerDir, config);
  t.equal(follower.recovery.truncatedBytes, 0, 'recovery cut nothing');
  t.equal(follower.logEndOffset, leader.logEndOffset, 'the log end survives the restart');
  follower.updateHighWatermark(highWatermark);
  t.same(readAll(follower, behindAt).batches, readAll(leader, behindAt).batches, 'and so does every batch');

  // Each replica cleans on its own: the follower's uncleaned head goes too.
  await follower.flushUpTo();
  const followerCleaner = new LogCleaner(() => [['follower', follower]], { dedupeBufferBytes: 1 << 20, ioBytesPerSecond: 0, backoffMs: 60_000 });
  for (let round = 0; round < 10 && (await followerCleaner.cleanOnce(Date.now() + 1000)) !== undefined; round++);
  t.ok(followerCleaner.stats.recordsRemoved > 0, `the follower's own cleaner removed records (${followerCleaner.stats.recordsRemoved})`);
  const followerRecords = readAll(follower).records;
  t.same(latestByKey(followerRecords), latestByKey(cleaned.records), 'after its own cleaning it still agrees with the leader');
  t.ok(followerRecords.every((record, i) => i === 0 || record.offset > followerRecords[i - 1].offset), 'offsets rise');

  // Truncation at an offset inside a gap (a divergence): the log ends at or below it, and fetching again restores it.
  const records = readAll(follower).records;
  const gap = records.findIndex((record, i) => i > 0 && record.offset > records[i - 1].offset + 1 && record.offset < follower.activeSegment.baseOffset);
  t.ok(gap > 0, 'the follower log has a gap to truncate in');
  const cut = records[gap].offset - 1;
  follower.truncateTo(cut);
  t.ok(follower.logEndOffset <= cut, `truncated to ${follower.logEndOffset}, at or below ${cut}`);
  t.ok(readCleanerCheckpoint(followerDir) <= follower.logEndOffset, 'the cleaner checkpoint does not stay past the log end');
  replicate(leader, follower, random);
  t.equal(follower.logEndOffset, leader.logEndOffset, 'fetching again reaches the leader\'s log end');
  t.same(latestByKey(readAll(follower).records), latestByKey(cleaned.records), 'and the same latest values');
});

void t.test('a follower with no gaps yet marks its log before the first gapped batch is on disk', async (t) => {
  const directory = makeTempDir(t, 'follower');
  const log = PartitionLog.open(directory, testConfig());
  t.teardown(() => log.close());
  const batch = (baseOffset: number, values: string[]): Buffer =>
    encodeBatch(values.map((value) => ({ key: Buffer.from('k'), value: Buffer.from(value), headers: null, timestampMs: 1 })), { baseOffset, leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string' });
  log.appendAsFollower(batch(0, ['a', 'b']));
  t.notOk(fs.existsSync(path.join(directory, 'cleaner-offset-checkpoint')), 'contiguous batches: the log is not marked');
  log.appendAsFollower(Buffer.concat([batch(5, ['c']), batch(9, ['d', 'e'])]));
  t.ok(fs.existsSync(path.join(directory, 'cleaner-offset-checkpoint')), 'batches after a gap: the log is marked as having gaps');
  t.equal(log.logEndOffset, 11);
  log.updateHighWatermark(11);
  t.same(readAll(log).records.map((record) => [record.offset, record.value]), [[0, 'a'], [1, 'b'], [5, 'c'], [9, 'd'], [10, 'e']]);
  t.throws(() => log.appendAsFollower(batch(10, ['f'])), { message: /baseOffset 10 is not the expected 11 or above/ }, 'a batch going back is still refused');
});
