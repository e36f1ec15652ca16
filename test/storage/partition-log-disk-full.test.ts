/**
 * Issue 13, item 2, in storage: a partition log on a real full disk (a tmpfs) never
 * throws ENOSPC out of the process and never keeps half a write. A batch that does not
 * fit is taken back whole (leader and follower appends alike), a rolled segment's
 * checkpoint that meets ENOSPC in the background is reported instead of becoming an
 * unhandled rejection, and appends no reader has seen can be taken back without
 * needing space.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { PartitionLog } from '../../src/storage/partition-log.js';
import type { LogConfig } from '../../src/storage/log-config.js';
import { fillTo, smallDisk } from '../helpers/tmpfs.js';
import { encodeRecords, readRange, recordSpec, testConfig, waitFor } from './helpers.js';

function open(t: Test, directory: string, config: LogConfig, onError?: (error: unknown, context: string) => void): PartitionLog {
  const log = PartitionLog.open(directory, config, { onError });
  t.teardown(() => log.closeAbruptly());
  return log;
}

/** One batch of `count` records of `valueBytes` each, for offset `baseOffset`. */
function batch(baseOffset: number, count: number, valueBytes: number): Buffer {
  return encodeRecords(Array.from({ length: count }, (_, i) => recordSpec(baseOffset + i, valueBytes, 1_000 + baseOffset + i)), baseOffset);
}

function watchUnhandledRejections(t: Test): unknown[] {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', listener);
  t.teardown(() => {
    process.off('unhandledRejection', listener);
  });
  return seen;
}

void t.test('a batch that meets a full disk is taken back whole, leader and follower; appends resume once space is freed', async (t) => {
  const disk = smallDisk(t, 1);
  const directory = path.join(disk, 'topic-0');
  const log = open(t, directory, testConfig({ segmentBytes: 64 * 1024, indexIntervalBytes: 1024 }));
  for (let i = 0; i < 4; i++) log.appendAsLeader(batch(log.logEndOffset, 4, 200), 0);
  log.updateHighWatermark(log.logEndOffset);
  const before = log.logEndOffset;
  const filler = fillTo(disk, 0);

  t.throws(() => log.appendAsLeader(batch(before, 8, 1_000), 0), { code: 'ENOSPC' }, 'a leader append on a full disk throws ENOSPC to its caller');
  t.equal(log.logEndOffset, before, 'the log end did not move');
  t.equal(fs.statSync(log.activeSegment.logPath).size, log.activeSegment.sizeBytes, 'no torn bytes are left in the segment file');
  t.throws(() => log.appendAsFollower(batch(before, 8, 1_000)), { code: 'ENOSPC' }, 'a follower append on a full disk throws ENOSPC to its caller (the fetcher retries)');
  t.equal(log.logEndOffset, before, 'the log end did not move');

  fs.rmSync(filler);
  log.appendAsFollower(batch(before, 8, 1_000));
  log.updateHighWatermark(log.logEndOffset);
  t.equal(log.logEndOffset, before + 8, 'the same batch appends once space is freed');
  t.same(readRange(log, 0, log.logEndOffset).map((record) => record.offset), Array.from({ length: before + 8 }, (_, i) => i), 'every offset reads back once, in order');
  await log.close();
  const reopened = open(t, directory, testConfig({ segmentBytes: 64 * 1024, indexIntervalBytes: 1024 }));
  t.equal(reopened.logEndOffset, before + 8, 'reopened, the log holds the same records');
  t.equal(reopened.recovery.truncatedBytes, 0, 'and nothing had to be cut off');
});

void t.test("a rolled segment's checkpoint that meets ENOSPC in the background is reported, not an unhandled rejection", async (t) => {
  const disk = smallDisk(t, 1);
  const directory = path.join(disk, 'topic-0');
  const errors: Array<{ code: unknown; context: string }> = [];
  const log = open(t, directory, testConfig({ segmentBytes: 8 * 1024, indexIntervalBytes: 1024 }), (error, context) => {
    errors.push({ code: (error as NodeJS.ErrnoException).code, context });
  });
  // Seven batches of about 1.1 KiB: the next one rolls the segment.
  for (let i = 0; i < 7; i++) log.appendAsLeader(batch(log.logEndOffset, 1, 1_000), 0);
  t.equal(log.segmentCount, 1, 'one segment so far');
  const unhandled = watchUnhandledRejections(t);
  // One page left: the new segment's first batch takes it, the checkpoint finds none.
  fillTo(disk, 4096);
  log.appendAsLeader(batch(log.logEndOffset, 1, 1_000), 0);
  t.equal(log.segmentCount, 2, 'the append rolled to a new segment');
  t.ok(await waitFor(() => errors.length > 0, 5_000), "the rolled segment's checkpoint failure was reported");
  t.equal(errors[0]?.code, 'ENOSPC', `it was ENOSPC (${errors[0]?.context})`);
  t.same(unhandled, [], 'no unhandled rejection');
  t.equal(log.logEndOffset, 8, 'every append is in the log');
});

void t.test('appends no reader has seen are taken back without needing space; visible ones never are', async (t) => {
  const disk = smallDisk(t, 1);
  const directory = path.join(disk, 'topic-0');
  const log = open(t, directory, testConfig({ segmentBytes: 2 * 1024, indexIntervalBytes: 512 }));
  log.appendAsLeader(batch(0, 2, 100), 0);
  log.updateHighWatermark(log.logEndOffset);
  const visible = log.logEndOffset;
  // Enough to roll a segment or two, then a new leader epoch.
  for (let i = 0; i < 6; i++) log.appendAsLeader(batch(log.logEndOffset, 2, 300), 0);
  log.appendAsLeader(batch(log.logEndOffset, 2, 100), 3);
  t.ok(log.segmentCount > 1, 'the appends rolled segments');
  fillTo(disk, 0);

  log.undoAppendsFrom(visible);
  t.equal(log.logEndOffset, visible, 'the log ends where the visible records end');
  t.equal(log.highWatermark, visible, 'the high watermark did not move');
  t.equal(log.segmentCount, 1, 'the segments made by the taken-back appends are gone');
  t.equal(log.epochCache.latestEpoch(), 0, 'the epoch that only the taken-back appends had is gone');
  t.throws(() => log.undoAppendsFrom(visible - 1), /below the high watermark/, 'records readers may have seen are never taken back');
});
