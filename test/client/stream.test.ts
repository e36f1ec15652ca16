/**
 * runnel.stream(): a partition followed live over NDJSON or SSE, through a TCP proxy
 * that cuts the connection mid-record and at random moments: the iterator reconnects
 * and continues after the last record it yielded, with no gap and no duplicate. An
 * error event with a 503 code (leadership moved) is resumed the same way; any other
 * ends the iteration with its code.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Runnel, RunnelApiError, type StreamFormat } from '../../src/index.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startServer } from '../helpers/server.js';

const DEADLINE_MS = 20_000;

for (const format of ['ndjson', 'sse'] as StreamFormat[]) {
  void t.test(`${format}: a cut connection resumes after the last record yielded, no gap, no duplicate`, async (t) => {
    const server = await startServer(t);
    const proxy = await startFaultProxy(t, server.url);
    const admin = new Runnel({ url: server.url });
    t.teardown(() => admin.close());
    const runnel = new Runnel({ url: proxy.url });
    t.teardown(() => runnel.close());
    await admin.topics.create({ name: 'feed', partitions: 1 });
    await admin.send({ topic: 'feed', records: Array.from({ length: 200 }, (_, i) => ({ value: { i, pad: 'p'.repeat(40) } })) });

    // The first answer is cut after 1500 bytes: in the middle of a record.
    const streamPath = /^GET \/v1\/topics\/feed\/partitions\/0\/records/;
    proxy.cutResponse(streamPath, 1_500);
    const signal = AbortSignal.timeout(DEADLINE_MS);
    const offsets: number[] = [];
    const values: number[] = [];
    for await (const record of runnel.stream('feed', 0, { offset: 'earliest', format, signal, maxRecords: 50 })) {
      offsets.push(record.offset);
      values.push((record.value as { i: number }).i);
      if (offsets.length === 120) {
        // Cut whatever is open now, and produce more while the stream is down.
        proxy.cutAll();
        await admin.send({ topic: 'feed', records: Array.from({ length: 100 }, (_, i) => ({ value: { i: 200 + i, pad: '' } })) });
      }
      if (offsets.length === 300) break;
    }
    t.notOk(signal.aborted, 'finished before the deadline');
    t.same(offsets, [...Array(300).keys()], 'offsets 0..299, each once, in order');
    t.same(values, [...Array(300).keys()]);
    t.ok(proxy.cutCount >= 2, `the stream was cut ${proxy.cutCount} times`);
    t.ok(proxy.requests.filter((line) => streamPath.test(line)).length >= 3, 'and reconnected each time');
    t.ok(proxy.requests.some((line) => /offset=\d+/.test(line) && !line.includes('offset=0&') && !line.includes('offset=earliest')), 'resumed from a numeric offset');
  });
}

void t.test("offset 'latest' yields only records produced after the stream began, even across a cut", async (t) => {
  const server = await startServer(t);
  const proxy = await startFaultProxy(t, server.url);
  const runnel = new Runnel({ url: proxy.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'live', partitions: 2 });
  await runnel.send({ topic: 'live', partition: 1, records: [{ value: 'old-1' }, { value: 'old-2' }] });

  const signal = AbortSignal.timeout(DEADLINE_MS);
  const iterator = runnel.stream('live', 1, { offset: 'latest', signal })[Symbol.asyncIterator]();
  const first = iterator.next();
  // The stream is connecting or connected: cut it, then produce while it is down.
  await new Promise((resolve) => setTimeout(resolve, 100));
  proxy.cutAll();
  await runnel.send({ topic: 'live', partition: 1, records: [{ value: 'new-1' }, { value: 'new-2' }] });
  t.equal((await first).value?.value, 'new-1');
  t.equal((await iterator.next()).value?.value, 'new-2');
  await iterator.return?.();
  t.notOk(signal.aborted);
});

void t.test('a stream ends when its signal aborts, and reports a deleted topic with its code', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'doomed', partitions: 1 });
  await runnel.send({ topic: 'doomed', records: [{ value: 1 }] });

  const controller = new AbortController();
  const seen: unknown[] = [];
  const deadline = setTimeout(() => controller.abort(), DEADLINE_MS);
  t.teardown(() => clearTimeout(deadline));
  for await (const record of runnel.stream('doomed', 0, { signal: controller.signal })) {
    seen.push(record.value);
    controller.abort();
  }
  t.same(seen, [1], 'the iteration ended after the abort');

  const iterator = runnel.stream('doomed', 0, { offset: 'latest', format: 'sse', signal: AbortSignal.timeout(DEADLINE_MS) })[Symbol.asyncIterator]();
  // Caught at once: the error event may arrive before the DELETE's own answer.
  const pending = iterator.next().catch((failure: unknown) => failure);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await runnel.topics.delete('doomed');
  const error = await pending;
  t.ok(error instanceof RunnelApiError, 'the node ended the stream with an error event');
  t.match(error, { code: 'TOPIC_NOT_FOUND', status: 404 });
});

void t.test('Runnel.close() ends streams still open, so closing never hangs on one', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  await runnel.topics.create({ name: 'open', partitions: 1 });
  await runnel.send({ topic: 'open', records: [{ value: 'only' }] });
  const iterator = runnel.stream('open', 0)[Symbol.asyncIterator]();
  t.equal((await iterator.next()).value?.value, 'only');
  const waiting = iterator.next(); // nothing more will come
  const closed = runnel.close();
  const outcome = await Promise.race([closed.then(() => 'closed'), new Promise((resolve) => setTimeout(() => resolve('hung'), 5_000))]);
  t.equal(outcome, 'closed', 'close() returned');
  t.same(await waiting, { value: undefined, done: true }, 'the stream finished');
});

void t.test('a stream ended by an error event with a 503 code resumes after the last record; the resumption goes on from there', async (t) => {
  const opened: string[] = [];
  const server = http.createServer((request, response) => {
    request.resume();
    const offset = new URL(request.url ?? '', 'http://stub').searchParams.get('offset');
    opened.push(String(offset));
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    if (opened.length === 1) {
      // Two records, then the node loses the partition's leadership.
      response.write('id: 0\nevent: record\ndata: {"offset":0,"timestamp":1,"key":null,"value":"a","headers":{}}\n\n');
      response.write('id: 1\nevent: record\ndata: {"offset":1,"timestamp":1,"key":null,"value":"b","headers":{}}\n\n');
      response.end('event: error\ndata: {"error":{"code":"NOT_LEADER","message":"leadership moved","leaderId":null,"leaderUrl":null,"leaderEpoch":null}}\n\n');
      return;
    }
    response.end('id: 2\nevent: record\ndata: {"offset":2,"timestamp":1,"key":null,"value":"c","headers":{}}\n\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  const runnel = new Runnel({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, backoff: { baseMs: 10, maxMs: 50 } });
  t.teardown(() => runnel.close());
  const values: unknown[] = [];
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), DEADLINE_MS);
  t.teardown(() => clearTimeout(deadline));
  for await (const record of runnel.stream('moved', 0, { offset: 0, format: 'sse', signal: controller.signal })) {
    values.push(record.value);
    if (values.length === 3) controller.abort();
  }
  t.same(values, ['a', 'b', 'c'], 'every record once, in order');
  t.same(opened.slice(0, 2), ['0', '2'], 'opened again at offset 2, after the last record yielded');
});
