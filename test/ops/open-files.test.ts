/**
 * Open files are bounded by design: segment files are opened when used and the least
 * recently used closed past --max-open-log-files (by default half of ulimit -n), so a
 * node holds far more partitions than its open-file limit; the partition count has its
 * own cap, --max-partitions, and a topic create or partition add past it is refused
 * whole (400 TOO_MANY_PARTITIONS) before any file is made. When the limit is reached
 * anyway (here: --max-open-log-files set above ulimit -n), the request gets 503
 * TOO_MANY_OPEN_FILES, the node stays up, /health/ready says why, and it serves again
 * once files are freed. Real child processes under a real `ulimit -n`.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startNode } from '../helpers/child-node.js';
import { fetchAll, requestJson } from '../helpers/http.js';
import { assertError, sleep, until } from '../helpers/http-support.js';

function freshDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function logDirectories(dataDir: string, topic: string): string[] {
  const logs = path.join(dataDir, 'logs');
  return fs.existsSync(logs) ? fs.readdirSync(logs).filter((name) => name.startsWith(`${topic}-`)) : [];
}

/** A fresh tmpfs (CI runs as root): creating 20,000 partitions' files is metadata-bound, and slow on a real disk here. */
function tmpfsDir(prefix: string): string {
  const dir = freshDir(prefix);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2g', 'tmpfs', dir]);
  t.teardown(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

void t.test('20,000 partitions under ulimit -n 4096: the node starts, serves every partition and restarts', async (t) => {
  t.setTimeout(300_000);
  const dataDir = tmpfsDir('runnel-many-partitions-');
  const node = await startNode({ dataDir, t, openFilesLimit: 4096, startTimeoutMs: 60_000 });
  t.match(await node.waitForLine(/open files: at most/), /at most 2048 segment files kept open \(half of the open-file limit 4096/, 'the open-file budget is logged');
  for (const topic of ['wide-a', 'wide-b']) {
    t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: topic, partitions: 10_000 }, timeoutMs: 120_000 })).status, 201, `${topic}: 10,000 partitions`);
    const records = Array.from({ length: 10_000 }, (_, partition) => ({ partition, value: `${topic}-${partition}` }));
    t.equal((await requestJson(`${node.url}/v1/topics/${topic}/records`, { method: 'POST', body: { records }, timeoutMs: 120_000 })).status, 200, `${topic}: one record to each partition`);
  }
  const check = async (url: string, what: string): Promise<void> => {
    for (const topic of ['wide-a', 'wide-b']) {
      const described = await requestJson<{ partitions: Array<{ logEndOffset: number }> }>(`${url}/v1/topics/${topic}`, { timeoutMs: 60_000 });
      t.ok(described.body.partitions.length === 10_000 && described.body.partitions.every((partition) => partition.logEndOffset === 1), `${what}: every partition of ${topic} holds its record`);
      for (const partition of [0, 1, 4_999, 7_777, 9_999]) {
        const fetched = await requestJson<{ records: Array<{ value: string }> }>(`${url}/v1/topics/${topic}/partitions/${partition}/records?offset=0`);
        t.same(fetched.body.records.map((record) => record.value), [`${topic}-${partition}`], `${what}: ${topic}-${partition} reads back`);
      }
    }
  };
  await check(node.url, 'before a restart');
  const metrics = await requestJson<string>(`${node.url}/metrics`, { headers: { accept: 'text/plain' } }).catch(() => undefined);
  t.ok(metrics === undefined || metrics.status === 200);
  t.same(await node.stop(), { code: 0, signal: null }, 'a clean stop');
  const again = await startNode({ dataDir, t, openFilesLimit: 4096, startTimeoutMs: 120_000 });
  await check(again.url, 'after a restart');
  t.same(await again.stop(), { code: 0, signal: null });
});

void t.test('--max-partitions: a create or add past it is refused whole, before any file is made', async (t) => {
  const dataDir = freshDir('runnel-max-partitions-');
  const node = await startNode({ dataDir, t, args: ['--max-partitions', '20'] });
  t.match(await node.waitForLine(/partitions per node/), /partitions per node: at most 20/, 'the cap is logged at start');
  assertError(t, await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'big', partitions: 1000 } }), 'TOO_MANY_PARTITIONS', 'a topic of 1,000 partitions');
  t.same(logDirectories(dataDir, 'big'), [], 'no partition directory was made');
  t.equal((await requestJson(`${node.url}/v1/topics/big`)).status, 404, 'and no topic: no ghost');
  t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'big', partitions: 15 } })).status, 201, 'the same name within the cap is created');
  const refused = await requestJson<{ error: object }>(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'b', partitions: 6 } });
  assertError(t, refused, 'TOO_MANY_PARTITIONS', '15 + 6 > 20');
  t.match(refused.body.error, { partitions: 15, partitionsMax: 20 }, 'the answer says how many it holds and the cap');
  t.same(logDirectories(dataDir, 'b'), []);
  assertError(t, await requestJson(`${node.url}/v1/topics/big`, { method: 'PATCH', body: { partitions: 21 } }), 'TOO_MANY_PARTITIONS', 'growing past the cap');
  t.equal(logDirectories(dataDir, 'big').length, 15, 'the topic keeps its 15 partitions');
  t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'b', partitions: 5 } })).status, 201, 'exactly up to the cap');
  t.same(await node.stop(), { code: 0, signal: null });
});

void t.test('out of file descriptors: 503 TOO_MANY_OPEN_FILES, the node stays up and says why, and serves again once files are freed', async (t) => {
  // --max-open-log-files above what ulimit -n allows: the operator's choice, warned about at start.
  const node = await startNode({ dataDir: freshDir('runnel-emfile-'), t, openFilesLimit: 200, args: ['--max-open-log-files', '100000'] });
  t.match(await node.waitForLine(/open files: at most/), /not below ulimit -n 200/, 'the node warns that the setting is not below the limit');
  // segment.bytes 1024 and ~900-byte batches: every produce rolls a segment, and each keeps 3 files open.
  t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'rolls', partitions: 1, configs: { 'segment.bytes': '1024' } } })).status, 201);
  const records = [{ value: 'x'.repeat(800) }];
  let refusal: Awaited<ReturnType<typeof requestJson>> | undefined;
  let accepted = 0;
  for (let attempt = 0; attempt < 200 && refusal === undefined; attempt++) {
    const answer = await requestJson(`${node.url}/v1/topics/rolls/partitions/0/records`, { method: 'POST', body: { records } });
    if (answer.status === 200) accepted += 1;
    else refusal = answer;
  }
  t.ok(accepted > 10, `${accepted} produces were accepted before the limit`);
  t.ok(refusal !== undefined, 'the open-file limit was reached within 200 produces');
  if (refusal === undefined) return;
  assertError(t, refusal, 'TOO_MANY_OPEN_FILES', 'the produce that needed a new segment');
  t.equal(refusal.headers['retry-after'], '1');
  t.ok(node.isRunning(), 'the node is still running');
  t.equal((await requestJson(`${node.url}/health/live`)).status, 200, '/health/live answers');
  const ready = await requestJson<{ status: string; reason: string }>(`${node.url}/health/ready`);
  t.equal(ready.status, 503, '/health/ready is 503');
  t.match(ready.body.reason, /file descriptors/, 'and says why');

  const fetched = await fetchAll(node.url, 'rolls', 0);
  t.same(fetched.records.map((record) => record.offset), Array.from({ length: accepted }, (_, offset) => offset), 'reads still work: every accepted record is there, and no refused one');

  t.equal((await requestJson(`${node.url}/v1/topics/rolls`, { method: 'DELETE' })).status, 204, 'deleting the topic frees its files');
  t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'after', partitions: 1 } })).status, 201);
  t.equal((await requestJson(`${node.url}/v1/topics/after/records`, { method: 'POST', body: { records } })).status, 200, 'produce works again');
  await until(async () => (await requestJson(`${node.url}/health/ready`)).status === 200, 'ready again', 20_000, 500);
  t.pass('/health/ready is 200 again');
  await sleep(0);
  t.same(await node.stop(), { code: 0, signal: null }, 'and it stops cleanly');
});
