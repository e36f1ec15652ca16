/**
 * The open-file LRU: segment files are opened when used and the least recently used
 * closed past the capacity, so logs with far more files than the capacity append,
 * roll, read, truncate and restart exactly as with every file open, and never hold
 * more descriptors than the capacity. Real files throughout.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { CachedFile, FileCache } from '../../src/storage/file-cache.js';
import { LogManager } from '../../src/storage/log-manager.js';
import type { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecords, isSameRecord, makeTempDir, readRange, recordSpec, seededRandom, skipFsyncs, testConfig, type ModelRecord } from './helpers.js';

skipFsyncs(t);

function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

void t.test('past its capacity the cache closes the least recently used file; a closed one reopens on use; pinned ones stay', async (t) => {
  const directory = makeTempDir(t, 'file-cache');
  const cache = new FileCache(2);
  const [a, b, c] = ['a', 'b', 'c'].map((name) => CachedFile.open(path.join(directory, name), cache, { isCreated: true }));
  t.equal(cache.openCount, 2, 'opening a third closed one');
  t.notOk(a.isOpen, 'the least recently used (a)');
  t.ok(b.isOpen && c.isOpen);
  fs.writeSync(a.fd(), Buffer.from('alpha'), 0, 5, 0);
  t.ok(a.isOpen, 'a reopens on use');
  t.notOk(b.isOpen, 'and b, now the least recently used, is closed');
  t.equal(fs.readFileSync(path.join(directory, 'a'), 'utf8'), 'alpha', 'writes through a reopened descriptor land in the file');
  t.equal(cache.evictions, 2);

  const seen = a.withFd((fd) => {
    b.fd();
    c.fd();
    return fs.readFileSync(fd, 'utf8');
  });
  t.equal(seen, 'alpha', 'a pinned descriptor stays valid while other files open');
  t.ok(cache.openCount <= 3, 'all pinned but one: the cache grows by at most that moment');
  for (const file of [a, b, c]) file.close();
  t.equal(cache.openCount, 0);
  t.throws(() => a.fd(), { name: 'InvariantError' }, 'a closed file is not reopened');
  t.throws(() => CachedFile.open(path.join(directory, 'missing'), cache), { code: 'ENOENT' }, 'only a create makes a file');
});

void t.test('60 logs through a cache of 8 files: every record reads back as written, before and after a restart, within 8 descriptors', async (t) => {
  const directory = path.join(makeTempDir(t, 'file-cache-logs'), 'logs');
  const random = seededRandom(1234);
  const names = Array.from({ length: 60 }, (_, index) => `t-${index}`);
  const expected = new Map<string, ModelRecord[]>(names.map((name) => [name, []]));
  const capacity = 8;
  let manager = new LogManager(directory, { retentionCheckIntervalMs: 600_000, openFilesMax: capacity });
  const fdsBefore = openFdCount();
  const logs = new Map<string, PartitionLog>(names.map((name) => [name, manager.open(name, testConfig())]));
  let index = 0;
  let maxOpen = 0;
  for (let step = 0; step < 3_000; step++) {
    const name = names[random(names.length)];
    const log = logs.get(name) as PartitionLog;
    const specs = Array.from({ length: 1 + random(3) }, () => recordSpec(index++, 40 + random(200), 1_700_000_000_000 + step));
    const header = log.appendAsLeader(encodeRecords(specs), 0);
    log.updateHighWatermark(log.logEndOffset);
    specs.forEach((spec, offset) => (expected.get(name) as ModelRecord[]).push({ ...spec, offset: header.baseOffset + offset, leaderEpoch: 0 }));
    if (step % 500 === 499) {
      // A follower-style truncation of one log, then its record list follows.
      const victim = names[random(names.length)];
      const victimLog = logs.get(victim) as PartitionLog;
      const kept = Math.floor(victimLog.logEndOffset / 2);
      const batchStart = readRange(victimLog, 0, victimLog.logEndOffset).find((record) => record.offset >= kept)?.offset;
      if (batchStart !== undefined) {
        victimLog.truncateTo(batchStart);
        expected.set(victim, (expected.get(victim) as ModelRecord[]).filter((record) => record.offset < victimLog.logEndOffset));
      }
    }
    maxOpen = Math.max(maxOpen, manager.files.openCount);
    // As between requests: a rolled segment's fsync (its file pinned meanwhile) calls back.
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.ok(maxOpen <= capacity, `never more files open than the capacity (at most ${maxOpen})`);
  t.ok(openFdCount() - fdsBefore <= capacity + 2, `descriptors of the process grew by ${openFdCount() - fdsBefore} (capacity ${capacity})`);
  t.ok(manager.files.evictions > 1_000, `files were closed and reopened (${manager.files.evictions} evictions)`);
  const segmentCount = names.reduce((sum, name) => sum + fs.readdirSync(path.join(directory, name)).filter((file) => file.endsWith('.log')).length, 0);
  t.ok(segmentCount > 10 * capacity, `${segmentCount} segments on disk, far more than the cache holds`);

  const check = (what: string): void => {
    let mismatches = 0;
    for (const name of names) {
      const log = manager.get(name) as PartitionLog;
      const read = readRange(log, 0, log.logEndOffset, 4096);
      const wanted = expected.get(name) as ModelRecord[];
      if (read.length !== wanted.length || read.some((record, at) => !isSameRecord(record, wanted[at]))) mismatches += 1;
    }
    t.equal(mismatches, 0, `${what}: every log reads back exactly as written`);
    t.ok(manager.files.openCount <= capacity, `${what}: still within the capacity`);
  };
  check('before a restart');
  await manager.close();
  t.equal(manager.files.openCount, 0, 'a closed manager holds no file');
  manager = new LogManager(directory, { retentionCheckIntervalMs: 600_000, openFilesMax: capacity });
  t.teardown(() => manager.close());
  for (const name of names) {
    const log = manager.open(name, testConfig());
    log.updateHighWatermark(log.logEndOffset);
  }
  check('after a restart');
});
