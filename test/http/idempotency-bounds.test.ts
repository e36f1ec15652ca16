/**
 * A client sending ever new Idempotency-Keys cannot fill the node's disk: the answers
 * kept are bounded (--idempotency-keys-max, --idempotency-bytes-max), the oldest go
 * first, /metrics shows the size and the evictions, and a retry of a recent request
 * still replays its answer. A retry whose answer was evicted is still found in the
 * partitions' producer state (the batches carry the key): same answer, nothing appended.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createTopic, requestJson, type RecordOffset } from '../helpers/http.js';
import { logEndOffsets } from '../helpers/http-support.js';
import { startServer } from '../helpers/server.js';

function metric(text: string, name: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(name + ' '));
  if (line === undefined) throw new Error(`no ${name} in /metrics`);
  return Number(line.slice(name.length + 1));
}

void t.test('distinct Idempotency-Keys past the bound evict the oldest answers; recent retries still replay', async (t) => {
  const server = await startServer(t, { idempotency: { countMax: 50, bytesMax: 64 * 1024 * 1024 } });
  await createTopic(server.url, 'orders');
  const answers = new Map<string, RecordOffset[]>();
  for (let i = 0; i < 200; i++) {
    const response = await requestJson<{ offsets: RecordOffset[] }>(`${server.url}/v1/topics/orders/records`, {
      body: { records: [{ value: { i } }] },
      headers: { 'idempotency-key': `request-${i}` },
    });
    t.equal(response.status, 200, `request ${i}`, { diagnostic: response.status !== 200 });
    answers.set(`request-${i}`, response.body.offsets);
  }
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  const kept = metric(metrics, 'runnel_idempotency_keys');
  t.ok(kept <= 50 && kept > 0, `at most 50 answers kept (${kept})`);
  t.equal(metric(metrics, 'runnel_idempotency_evictions_total'), 200 - kept, 'every evicted answer counted');
  t.ok(metric(metrics, 'runnel_idempotency_bytes') > 0, 'the bytes kept are shown');

  const before = await logEndOffsets(server.url, 'orders');
  const retry = await requestJson<{ offsets: RecordOffset[] }>(`${server.url}/v1/topics/orders/records`, {
    body: { records: [{ value: { i: 199 } }] },
    headers: { 'idempotency-key': 'request-199' },
  });
  t.equal(retry.headers['idempotent-replayed'], 'true', 'the newest request is still remembered');
  t.same(retry.body.offsets, answers.get('request-199'), 'and replays its offsets');
  t.same(await logEndOffsets(server.url, 'orders'), before, 'nothing appended by the retry');
});

void t.test('a retry whose stored answer was evicted is still found in the partitions\' logs, also after a restart', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-idempotency-log-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const options = { dataDir, defaultPartitionCount: 3, idempotency: { countMax: 1, bytesMax: 64 * 1024 * 1024 } };
  let server = await startServer(t, options);
  await createTopic(server.url, 'orders', { partitions: 3 });
  const body = { records: [{ key: 'a', value: 1 }, { key: 'b', value: 2 }, { value: 'keyless 1' }, { key: 'c', value: 3 }, { value: 'keyless 2' }] };
  const send = (url: string, key: string, sent: unknown = body) =>
    requestJson<{ offsets: RecordOffset[] }>(`${url}/v1/topics/orders/records`, { body: sent, headers: { 'idempotency-key': key } });
  const first = await send(server.url, 'order-1');
  t.equal(first.status, 200, 'the first attempt is acknowledged');
  t.equal(first.body.offsets[2].partition, first.body.offsets[4].partition, 'keyless records of one request share a partition');
  for (let i = 0; i < 3; i++) t.equal((await send(server.url, `other-${i}`, { records: [{ value: i }] })).status, 200);
  const before = await logEndOffsets(server.url, 'orders');

  const retry = await send(server.url, 'order-1');
  t.equal(retry.status, 200, 'the retry is answered');
  t.not(retry.headers['idempotent-replayed'], 'true', 'not from the evicted stored answer');
  t.same(retry.body.offsets, first.body.offsets, 'the first attempt\'s partitions, offsets and timestamps');
  t.same(await logEndOffsets(server.url, 'orders'), before, 'nothing appended');
  const reused = await send(server.url, 'order-1', { records: [{ key: 'a', value: 'something else' }] });
  t.equal(reused.status, 409, 'another body under the key is refused');
  t.equal((reused.body as unknown as { error: { code: string } }).error.code, 'IDEMPOTENCY_KEY_REUSED');

  await server.close();
  server = await startServer(t, options);
  const afterRestart = await send(server.url, 'order-1');
  t.same(afterRestart.body.offsets, first.body.offsets, 'after a restart, the same answer');
  t.same(await logEndOffsets(server.url, 'orders'), before, 'nothing appended');
});
