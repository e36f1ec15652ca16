/**
 * A client sending ever new Idempotency-Keys cannot fill the node's disk: the answers
 * kept are bounded (--idempotency-keys-max, --idempotency-bytes-max), the oldest go
 * first, /metrics shows the size and the evictions, and a retry of a recent request
 * still replays its answer.
 */
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
