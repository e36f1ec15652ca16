/**
 * The batching producer against a real node: many send() calls become few requests
 * (batch size, linger, one request per topic), bodies stay under batchBytes, every
 * record's promise settles with where it landed (or with the batch's typed error),
 * and close() flushes.
 */
import t from 'tap';
import { request } from 'undici';
import { Runnel, RunnelApiError, RunnelClientError, type RecordMetadata } from '../../src/index.js';
import { countingAgent } from '../helpers/counting-agent.js';
import { startServer } from '../helpers/server.js';

/** runnel_http_requests_total for a route, summed over statuses, from the node's /metrics. */
async function serverRequestCount(url: string, method: string, route: string): Promise<number> {
  const text = await (await request(`${url}/metrics`)).body.text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('runnel_http_requests_total{')) continue;
    if (line.includes(`method="${method}"`) && line.includes(`route="${route}"`)) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Produce requests to a topic: its topic path (JSON) or any of its partition paths (record batches). */
function producePath(topic: string): RegExp {
  return new RegExp(`^/v1/topics/${topic}/(partitions/\\d+/)?records$`);
}

for (const wireFormat of ['record-batch', 'json'] as const) {
  void t.test(`${wireFormat}: many send() calls become few requests: batchRecordsMax records per batch, one request per topic (JSON) or per partition (record batches)`, async (t) => {
    const server = await startServer(t);
    const agent = countingAgent(t);
    const runnel = new Runnel({ url: server.url, dispatcher: agent, wireFormat });
    t.teardown(() => runnel.close());
    await runnel.topics.create({ name: 'clicks', partitions: 3 });
    await runnel.topics.create({ name: 'views', partitions: 1 });

    const producer = runnel.producer({ batchRecordsMax: 500, lingerMs: 1_000 });
    const sends: Array<Promise<RecordMetadata>> = [];
    for (let i = 0; i < 2_000; i++) sends.push(producer.send('clicks', { key: `user-${i % 37}`, value: { i } }));
    for (let i = 0; i < 10; i++) sends.push(producer.send('views', { value: i }));
    await producer.flush();
    const landed = await Promise.all(sends);

    // 37 keys over 3 partitions: every batch of 500 holds records of each partition.
    const perBatch = wireFormat === 'json' ? 1 : 3;
    t.equal(agent.count('POST', producePath('clicks')), 4 * perBatch, `2000 records in 4 batches of 500, ${perBatch} request(s) each`);
    t.equal(agent.count('POST', producePath('views')), 1, 'the other topic in its own single request');
    const route = wireFormat === 'json' ? '/v1/topics/:topic/records' : '/v1/topics/:topic/partitions/:partition/records';
    t.equal(await serverRequestCount(server.url, 'POST', route), 4 * perBatch + 1, 'the node counted the same produce requests');
    t.equal(producer.requestCount, 4 * perBatch + 1, 'and so did the producer');
    const clicks = landed.slice(0, 2_000);
    const perPartition = new Map<number, number[]>();
    for (const { partition, offset } of clicks) perPartition.set(partition, [...(perPartition.get(partition) ?? []), offset]);
    let total = 0;
    for (const offsets of perPartition.values()) {
      const sorted = [...offsets].sort((a, b) => a - b);
      t.same(sorted, sorted.map((_, index) => index), 'each partition got offsets 0..n-1, each once');
      total += offsets.length;
    }
    t.equal(total, 2_000);
    t.same(landed.slice(2_000).map((metadata) => metadata.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'views kept send() order');
    const keys = agent.requests.filter((request) => request.method === 'POST' && request.path.endsWith('/records')).map((request) => request.headers['idempotency-key']);
    t.equal(new Set(keys).size, 4 * perBatch + 1, 'every request carries its own Idempotency-Key');
    await producer.close();
  });

  void t.test(`${wireFormat}: linger: sends spread over a few milliseconds share a request`, async (t) => {
    const server = await startServer(t);
    const agent = countingAgent(t);
    const runnel = new Runnel({ url: server.url, dispatcher: agent, wireFormat });
    t.teardown(() => runnel.close());
    await runnel.topics.create({ name: 'ticks', partitions: 1 });

    const producer = runnel.producer({ lingerMs: 200 });
    const sends: Array<Promise<RecordMetadata>> = [];
    for (let i = 0; i < 50; i++) {
      sends.push(producer.send('ticks', { value: i }));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const landed = await Promise.all(sends);
    t.same(landed.map((metadata) => metadata.offset), [...Array(50).keys()], 'acknowledged in order');
    t.ok(agent.count('POST', producePath('ticks')) <= 3, `50 sends, ${agent.count('POST', producePath('ticks'))} requests`);

    // With no linger the producer still batches what is sent in one go.
    const eager = runnel.producer({ lingerMs: 0 });
    const before = agent.count('POST', producePath('ticks'));
    await Promise.all(Array.from({ length: 100 }, (_, i) => eager.send('ticks', { value: i })));
    t.equal(agent.count('POST', producePath('ticks')) - before, 1, '100 sends in one tick, one request');
    await eager.close();
    await producer.close();
  });

  void t.test(`${wireFormat}: batchBytes: large records are cut into requests under the limit, in order`, async (t) => {
    const server = await startServer(t);
    const agent = countingAgent(t);
    const runnel = new Runnel({ url: server.url, dispatcher: agent, wireFormat });
    t.teardown(() => runnel.close());
    await runnel.topics.create({ name: 'blobs', partitions: 1 });

    const producer = runnel.producer({ batchBytes: 64 * 1024, batchRecordsMax: 1_000, maxInFlight: 1, lingerMs: 1_000 });
    const value = 'x'.repeat(10_000);
    const sends = Array.from({ length: 60 }, (_, i) => producer.send('blobs', { key: String(i), value }));
    await producer.flush();
    const landed = await Promise.all(sends);
    t.same(landed.map((metadata) => metadata.offset), [...Array(60).keys()], 'appended in send() order');
    const requests = agent.count('POST', producePath('blobs'));
    t.ok(requests >= 10, `600 KB of records in ${requests} requests of at most 64 KiB (plus one record)`);
    const fetched = await runnel.fetch('blobs', 0, { maxRecords: 100, maxBytes: 10 * 1024 * 1024 });
    t.same(fetched.records.map((record) => record.key), Array.from({ length: 60 }, (_, i) => String(i)));
    await producer.close();
  });
}

void t.test('a failed batch rejects each of its records with the typed error; other topics are unaffected; close() flushes', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'real', partitions: 1 });

  const producer = runnel.producer({ lingerMs: 50 });
  const missing = [producer.send('ghost', { value: 1 }), producer.send('ghost', { value: 2 })];
  const real = producer.send('real', { value: 'ok' });
  const outcomes = await Promise.allSettled(missing);
  for (const outcome of outcomes) {
    t.equal(outcome.status, 'rejected');
    const reason = (outcome as PromiseRejectedResult).reason as RunnelApiError;
    t.ok(reason instanceof RunnelApiError);
    t.equal(reason.code, 'TOPIC_NOT_FOUND');
  }
  t.equal((await real).offset, 0);

  const lingering = producer.send('real', { value: 'flushed by close' });
  await producer.close();
  t.equal((await lingering).offset, 1, 'close() sent the lingering record');
  await t.rejects(producer.send('real', { value: 'too late' }), RunnelClientError, 'a closed producer refuses sends');
  t.equal((await runnel.offsets('real', 0)).highWatermark, 2);
});

void t.test('Runnel.close() flushes its producers', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  await runnel.topics.create({ name: 'last', partitions: 1 });
  const producer = runnel.producer({ lingerMs: 10_000 });
  const pending = producer.send('last', { value: 'before close' });
  await runnel.close();
  t.equal((await pending).offset, 0);
  const check = new Runnel({ url: server.url });
  t.teardown(() => check.close());
  t.equal((await check.offsets('last', 0)).highWatermark, 1);
});
