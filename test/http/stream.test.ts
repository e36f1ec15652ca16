/**
 * Live streams over real HTTP: `Accept: text/event-stream` (SSE, id = offset, resume
 * with Last-Event-ID) and `Accept: application/x-ndjson` follow a partition as records
 * are produced; a reader that stops reading holds a bounded amount of server memory;
 * streams end cleanly when the node closes or the topic goes.
 *
 * Each test uses its own undici Agent, destroyed at teardown, so no stream or
 * kept-alive connection outlives its test.
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import { Agent, request } from 'undici';
import { createTopic, produce, requestJson, requestOk } from '../helpers/http.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertError, until } from '../helpers/http-support.js';
import { BodyReader, type SseEvent } from '../helpers/body-reader.js';

interface OpenStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  reader: BodyReader;
  abort: () => void;
}

async function openStream(t: Test, server: TestServer, path: string, headers: Record<string, string>): Promise<OpenStream> {
  const agent = new Agent();
  const controller = new AbortController();
  t.teardown(async () => {
    controller.abort();
    await agent.destroy();
  });
  // Headers must come at once, before any record: a follower of `latest` has nothing to read yet.
  const headersDeadline = AbortSignal.timeout(5_000);
  const response = await request(`${server.url}${path}`, { headers, dispatcher: agent, signal: AbortSignal.any([controller.signal, headersDeadline]) });
  const reader = new BodyReader(response.body);
  return { status: response.statusCode, headers: response.headers, reader, abort: () => controller.abort() };
}

function recordEvents(reader: BodyReader): SseEvent[] {
  return reader.sseEvents().filter((event) => event.event === 'record');
}

void t.test('SSE: one event per record, id = offset; the stream follows live appends', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  await produce(server.url, 'orders', [{ key: 'a', value: { n: 0 } }, { value: 'one', headers: { h: 'v' } }, { value: null }], { partition: 1 });

  const stream = await openStream(t, server, '/v1/topics/orders/partitions/1/records?offset=earliest', { accept: 'text/event-stream' });
  t.equal(stream.status, 200);
  t.match(stream.headers['content-type'], /^text\/event-stream/);
  t.equal(stream.headers['cache-control'], 'no-cache');
  await stream.reader.waitFor(() => recordEvents(stream.reader).length >= 3, 'the three stored records');
  const stored = recordEvents(stream.reader);
  t.same(stored.map((event) => event.id), ['0', '1', '2'], 'event ids are the offsets');
  t.same(stored.map((event) => JSON.parse(event.data ?? 'null')), [
    { partition: 1, offset: 0, timestamp: JSON.parse(stored[0].data ?? '{}').timestamp, key: 'a', value: { n: 0 }, headers: {} },
    { partition: 1, offset: 1, timestamp: JSON.parse(stored[1].data ?? '{}').timestamp, key: null, value: 'one', headers: { h: 'v' } },
    { partition: 1, offset: 2, timestamp: JSON.parse(stored[2].data ?? '{}').timestamp, key: null, value: null, headers: {} },
  ], 'each data line is the record as a fetch returns it');

  await produce(server.url, 'orders', [{ value: 'other partition' }], { partition: 0 });
  await produce(server.url, 'orders', [{ value: 'live 3' }, { value: 'live 4' }], { partition: 1 });
  await stream.reader.waitFor(() => recordEvents(stream.reader).length >= 5, 'the two live records');
  await produce(server.url, 'orders', [{ value: 'live 5' }], { partition: 1 });
  await stream.reader.waitFor(() => recordEvents(stream.reader).length >= 6, 'one more');
  const events = recordEvents(stream.reader);
  t.same(events.map((event) => event.id), ['0', '1', '2', '3', '4', '5'], 'in order, nothing twice, nothing from another partition');
  t.same(events.slice(3).map((event) => JSON.parse(event.data ?? 'null').value), ['live 3', 'live 4', 'live 5']);
  t.equal(server.runnel.streams.size, 1, 'one stream is open');
  stream.abort();
  await until(() => server.runnel.streams.size === 0, 'the server let go of the stream after the client left');
  t.equal(server.runnel.streams.size, 0);
});

void t.test('SSE: reconnecting with Last-Event-ID resumes right after that offset', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  await produce(server.url, 'orders', [0, 1, 2, 3, 4].map((n) => ({ value: n })));
  // An EventSource reconnects to the same URL (offset=earliest here) with Last-Event-ID set.
  const resumed = await openStream(t, server, '/v1/topics/orders/partitions/0/records?offset=earliest', { accept: 'text/event-stream', 'last-event-id': '2' });
  await resumed.reader.waitFor(() => recordEvents(resumed.reader).length >= 2, 'the records after offset 2');
  await produce(server.url, 'orders', [{ value: 5 }]);
  await resumed.reader.waitFor(() => recordEvents(resumed.reader).length >= 3, 'the live record');
  t.same(recordEvents(resumed.reader).map((event) => event.id), ['3', '4', '5'], 'resumed after 2: no gap, no repeat');

  const atEnd = await openStream(t, server, '/v1/topics/orders/partitions/0/records', { accept: 'text/event-stream', 'last-event-id': '5' });
  await produce(server.url, 'orders', [{ value: 6 }]);
  await atEnd.reader.waitFor(() => recordEvents(atEnd.reader).length >= 1, 'the next record');
  t.same(recordEvents(atEnd.reader).map((event) => event.id), ['6'], 'resuming at the end waits for the next record');

  const bad = await requestJson(`${server.url}/v1/topics/orders/partitions/0/records`, { headers: { accept: 'text/event-stream', 'last-event-id': 'yesterday' } });
  assertError(t, bad, 'INVALID_OFFSET', 'a Last-Event-ID that is not an offset');
  const beyond = await requestJson(`${server.url}/v1/topics/orders/partitions/0/records`, { headers: { accept: 'text/event-stream', 'last-event-id': '99' } });
  assertError(t, beyond, 'OFFSET_OUT_OF_RANGE', 'a Last-Event-ID beyond the log');
});

void t.test('NDJSON: a stream from latest answers its headers at once, then follows live appends, one record per line', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  await produce(server.url, 'orders', [{ value: 'old' }]);
  const stream = await openStream(t, server, '/v1/topics/orders/partitions/0/records?offset=latest', { accept: 'application/x-ndjson' });
  t.equal(stream.status, 200, 'headers arrived before any record');
  t.match(stream.headers['content-type'], /^application\/x-ndjson/);
  await produce(server.url, 'orders', [{ key: 'k', value: { a: 1 } }, { value: 'b' }]);
  await stream.reader.waitFor(() => stream.reader.ndjsonLines().length >= 2, 'two lines');
  await produce(server.url, 'orders', [{ value: 'c' }]);
  await stream.reader.waitFor(() => stream.reader.ndjsonLines().length >= 3, 'three lines');
  const lines = stream.reader.ndjsonLines();
  t.same(lines.map((line) => [line.offset, line.key, line.value]), [[1, 'k', { a: 1 }], [2, null, 'b'], [3, null, 'c']], 'only records after latest, in order');
  t.ok(lines.every((line) => line.partition === 0 && typeof line.timestamp === 'number'), 'each line is a whole record');
});

void t.test('SSE from latest: headers at once, so an EventSource opens before the first record', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const stream = await openStream(t, server, '/v1/topics/orders/partitions/0/records?offset=latest', { accept: 'text/event-stream' });
  t.equal(stream.status, 200);
  t.equal(stream.reader.text, '', 'no event yet');
});

void t.test('a stream from an offset out of range is refused with 416 before it starts', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const response = await requestJson(`${server.url}/v1/topics/orders/partitions/0/records?offset=3`, { headers: { accept: 'application/x-ndjson' } });
  assertError(t, response, 'OFFSET_OUT_OF_RANGE');
  t.equal(server.runnel.streams.size, 0, 'no stream was opened');
});

void t.test('a stream on a topic that is deleted reports TOPIC_NOT_FOUND and ends', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  await produce(server.url, 'orders', [{ value: 1 }]);
  const sse = await openStream(t, server, '/v1/topics/orders/partitions/0/records', { accept: 'text/event-stream' });
  const ndjson = await openStream(t, server, '/v1/topics/orders/partitions/0/records', { accept: 'application/x-ndjson' });
  await sse.reader.waitFor(() => recordEvents(sse.reader).length === 1, 'the stored record (SSE)');
  await ndjson.reader.waitFor(() => ndjson.reader.ndjsonLines().length === 1, 'the stored record (NDJSON)');
  await requestOk(`${server.url}/v1/topics/orders`, { method: 'DELETE' });
  await sse.reader.waitFor(() => sse.reader.isEnded, 'the SSE stream ends');
  await ndjson.reader.waitFor(() => ndjson.reader.isEnded, 'the NDJSON stream ends');
  const errorEvent = sse.reader.sseEvents().find((event) => event.event === 'error');
  t.match(JSON.parse(errorEvent?.data ?? '{}'), { error: { code: 'TOPIC_NOT_FOUND' } }, 'SSE: an error event names the code');
  t.match(ndjson.reader.ndjsonLines().at(-1), { error: { code: 'TOPIC_NOT_FOUND' } }, 'NDJSON: a last line names the code');
  t.equal(sse.reader.failure, undefined, 'the SSE body ended cleanly');
  t.equal(ndjson.reader.failure, undefined, 'the NDJSON body ended cleanly');
  await until(() => server.runnel.streams.size === 0, 'both streams released');
});

void t.test('open streams end cleanly when the node closes', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  await produce(server.url, 'orders', [{ value: 1 }]);
  const sse = await openStream(t, server, '/v1/topics/orders/partitions/0/records', { accept: 'text/event-stream' });
  const ndjson = await openStream(t, server, '/v1/topics/orders/partitions/0/records?offset=latest', { accept: 'application/x-ndjson' });
  await sse.reader.waitFor(() => recordEvents(sse.reader).length === 1, 'the stored record');
  t.equal(server.runnel.streams.size, 2);
  const startedMs = Date.now();
  await server.close();
  t.ok(Date.now() - startedMs < 10_000, 'the close did not wait for the streams to time out');
  await sse.reader.waitFor(() => sse.reader.isEnded, 'the SSE stream ends');
  await ndjson.reader.waitFor(() => ndjson.reader.isEnded, 'the NDJSON stream ends');
  t.equal(sse.reader.failure, undefined, 'SSE: a clean end of the body, not a reset');
  t.equal(ndjson.reader.failure, undefined, 'NDJSON: a clean end of the body, not a reset');
  t.equal(server.runnel.streams.size, 0, 'no stream left');
});

/** Decodes an HTTP/1.1 chunked body incrementally (for the raw-socket reader below). */
class ChunkedDecoder {
  private pending: Buffer = Buffer.alloc(0);
  text = '';

  push(data: Buffer): void {
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    while (true) {
      const lineEnd = this.pending.indexOf('\r\n');
      if (lineEnd < 0) return;
      const size = parseInt(this.pending.subarray(0, lineEnd).toString('latin1'), 16);
      if (this.pending.length < lineEnd + 2 + size + 2) return;
      this.text += this.pending.subarray(lineEnd + 2, lineEnd + 2 + size).toString('utf8');
      this.pending = this.pending.subarray(lineEnd + 2 + size + 2);
    }
  }
}

void t.test('a reader that stops reading holds a bounded amount of server memory, and gets everything once it reads again', async (t) => {
  const server = await startServer(t);
  const recordCount = 2_000;
  const valueBytes = 8_000;
  const bufferedBytesBound = 4 * 1024 * 1024;
  await createTopic(server.url, 'firehose');

  const serverSockets: net.Socket[] = [];
  const onConnection = (socket: net.Socket): void => {
    serverSockets.push(socket);
  };
  server.runnel.app.server.on('connection', onConnection);
  t.teardown(() => server.runnel.app.server.off('connection', onConnection));
  const { port } = new URL(server.url);
  const client = net.connect(Number(port), '127.0.0.1');
  t.teardown(() => client.destroy());
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  // No 'data' listener: the socket stays paused and stops reading once its small buffer is full.
  client.write('GET /v1/topics/firehose/partitions/0/records?offset=earliest HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: application/x-ndjson\r\n\r\n');
  await until(() => server.runnel.streams.size === 1, 'the stream is open');
  const serverSocket = serverSockets.find((socket) => socket.remotePort === client.localPort);
  t.ok(serverSocket, 'found the server side of the connection');
  if (serverSocket === undefined) return;

  const value = 'v'.repeat(valueBytes);
  for (let request = 0; request < 8; request++) {
    await produce(server.url, 'firehose', Array.from({ length: recordCount / 8 }, () => ({ value })), { valueFormat: 'string' });
  }
  const producedBytes = recordCount * valueBytes;
  await until(() => serverSocket.writableNeedDrain, 'the stream is held back by the reader', 10_000);
  let bufferedBytesMax = 0;
  for (let sample = 0; sample < 10; sample++) {
    bufferedBytesMax = Math.max(bufferedBytesMax, serverSocket.writableLength);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  t.ok(bufferedBytesMax <= bufferedBytesBound,
    `the server buffers at most ${bufferedBytesMax} bytes for the stalled reader (bound ${bufferedBytesBound}, produced ${producedBytes})`);

  // The reader resumes: every record arrives, in order, exactly once.
  const decoder = new ChunkedDecoder();
  let headerDone = false;
  let head: Buffer = Buffer.alloc(0);
  client.on('data', (data: Buffer) => {
    if (headerDone) return decoder.push(data);
    head = Buffer.concat([head, data]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headerDone = true;
    decoder.push(head.subarray(end + 4));
  });
  const lastOffsetText = `"offset":${recordCount - 1},`;
  await until(() => decoder.text.endsWith('\n') && decoder.text.slice(-valueBytes - 200).includes(lastOffsetText), 'every record reached the reader', 20_000, 20);
  const offsets = decoder.text.split('\n').filter((line) => line !== '').map((line) => (JSON.parse(line) as { offset: number }).offset);
  t.equal(offsets.length, recordCount, 'every record');
  t.ok(offsets.every((offset, index) => offset === index), 'in order, none twice');
});
