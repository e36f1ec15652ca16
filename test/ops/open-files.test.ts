/**
 * Open files are bounded by design: a node takes at most --max-partitions partitions,
 * lowered at start to what its open-file limit (ulimit -n) allows, and a topic create
 * or partition add past that is refused whole (400 TOO_MANY_PARTITIONS) before any
 * file is made. When the limit is reached anyway (here: a partition rolling segment
 * after segment, each keeping its files open), the request gets 503
 * TOO_MANY_OPEN_FILES, the node stays up, /health/ready says why, and it serves again
 * once files are freed. Real child processes under a real `ulimit -n`.
 */
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

void t.test('under ulimit -n 512 the node takes 128 partitions; more is refused whole, before any file is made', async (t) => {
  const dataDir = freshDir('runnel-open-files-');
  const node = await startNode({ dataDir, t, openFilesLimit: 512 });
  const line = await node.waitForLine(/partitions per node/);
  t.match(line, /at most 128, lowered from --max-partitions 10000 because the open-file limit 512/, 'the cap in force is logged, with why');

  const tooBig = await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'big', partitions: 1000 } });
  assertError(t, tooBig, 'TOO_MANY_PARTITIONS', 'a topic of 1,000 partitions');
  t.same(logDirectories(dataDir, 'big'), [], 'no partition directory was made');
  t.equal((await requestJson(`${node.url}/v1/topics/big`)).status, 404, 'and no topic: no ghost');

  const made = await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'big', partitions: 100 } });
  t.equal(made.status, 201, 'the same name, within the cap, is created');
  const second = await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'second', partitions: 50 } });
  assertError(t, second, 'TOO_MANY_PARTITIONS', '100 + 50 > 128');
  t.same(logDirectories(dataDir, 'second'), []);
  const grown = await requestJson(`${node.url}/v1/topics/big`, { method: 'PATCH', body: { partitions: 140 } });
  assertError(t, grown, 'TOO_MANY_PARTITIONS', 'growing past the cap');
  t.equal((await requestJson<{ partitions: unknown[] }>(`${node.url}/v1/topics/big`)).body.partitions.length, 100, 'the topic keeps 100 partitions');
  t.equal(logDirectories(dataDir, 'big').length, 100, 'and 100 directories');
  t.equal((await requestJson(`${node.url}/v1/topics/big`, { method: 'PATCH', body: { partitions: 128 } })).status, 200, 'growing up to the cap works');

  t.same(await node.stop(), { code: 0, signal: null }, 'a clean stop');
  const again = await startNode({ dataDir, t, openFilesLimit: 512 });
  t.equal((await requestJson<{ partitions: unknown[] }>(`${again.url}/v1/topics/big`)).body.partitions.length, 128, 'restarts with every partition');
  await again.stop();
});

void t.test('--max-partitions caps the node below what the open-file limit allows', async (t) => {
  const node = await startNode({ dataDir: freshDir('runnel-max-partitions-'), t, args: ['--max-partitions', '20'] });
  t.match(await node.waitForLine(/partitions per node/), /at most 20/);
  t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'a', partitions: 15 } })).status, 201);
  assertError(t, await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'b', partitions: 6 } }), 'TOO_MANY_PARTITIONS');
  t.equal((await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'b', partitions: 5 } })).status, 201, 'exactly up to the cap');
  await node.stop();
});

void t.test('out of file descriptors: 503 TOO_MANY_OPEN_FILES, the node stays up and says why, and serves again once files are freed', async (t) => {
  const node = await startNode({ dataDir: freshDir('runnel-emfile-'), t, openFilesLimit: 200 });
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
