/**
 * CORS in a real browser (Chromium through playwright-core): a page served from
 * another origin (a second HTTP server on 127.0.0.1, another port) calls a node started
 * with --cors-origins <that origin>, as a web application would:
 *   - creates a topic and produces with JSON and an Idempotency-Key (both need a
 *     preflight), and reads idempotent-replayed and X-Request-Id on the retry;
 *   - fetches records, and reads Runnel-High-Watermark / Runnel-Next-Offset from a
 *     record-batch fetch (an Accept header that needs a preflight too);
 *   - follows an EventSource and receives a record produced after it opened;
 * and a page on an origin NOT in the list is refused by the browser (its fetch rejects).
 * With --auth api-key the page sends its key in X-API-Key or Authorization (preflighted)
 * and reads the SSE stream through fetch() (an EventSource cannot send headers).
 * The HTTP-level details (headers, Vary, the setting's syntax) are in cors.test.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { launchBrowser } from '../helpers/browser.js';
import { startInProcessNode } from '../helpers/server.js';

/** A tiny site: one empty page, on 127.0.0.1 and a port of its own (so another origin than the node). */
async function startPageServer(t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><html lang="en"><head><title>another origin</title></head><body><p>a page on another origin</p></body></html>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

void t.test('a page on an allowed origin produces, fetches, reads Runnel-* headers and follows an EventSource; another origin is refused', async (t) => {
  const allowedPage = await startPageServer(t);
  const strangerPage = await startPageServer(t);
  const node = await startInProcessNode(t, { app: { corsOrigins: [allowedPage] } });
  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await page.goto(allowedPage);

  const calls = await page.evaluate(async (base) => {
    const json = { 'content-type': 'application/json' };
    const created = await fetch(`${base}/v1/topics`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'web', partitions: 1 }) });
    const produce = (): Promise<Response> => fetch(`${base}/v1/topics/web/records`, {
      method: 'POST', headers: { ...json, 'idempotency-key': 'page-1' }, body: JSON.stringify({ records: [{ key: 'k', value: { from: 'page' }, headers: { h: 'v' } }] }),
    });
    const first = await produce();
    const retry = await produce();
    const fetched = await fetch(`${base}/v1/topics/web/partitions/0/records?offset=0`);
    const batches = await fetch(`${base}/v1/topics/web/partitions/0/records?offset=0`, { headers: { accept: 'application/vnd.runnel.record-batch' } });
    return {
      created: created.status,
      first: { status: first.status, body: await first.json(), replayed: first.headers.get('idempotent-replayed') },
      retry: { status: retry.status, replayed: retry.headers.get('idempotent-replayed'), requestId: retry.headers.get('x-request-id') },
      fetched: { status: fetched.status, body: await fetched.json() },
      batches: { status: batches.status, highWatermark: batches.headers.get('runnel-high-watermark'), nextOffset: batches.headers.get('runnel-next-offset'), bytes: (await batches.arrayBuffer()).byteLength },
    };
  }, node.url);
  t.equal(calls.created, 201, 'topic created from the page (JSON POST: preflighted)');
  t.equal(calls.first.status, 200, 'produce with an Idempotency-Key (preflighted)');
  t.match(calls.first.body, { offsets: [{ partition: 0, offset: 0 }] });
  t.equal(calls.retry.replayed, 'true', 'the retry: idempotent-replayed is readable by the page');
  t.match(calls.retry.requestId, /\S/, 'X-Request-Id is readable by the page');
  t.match(calls.fetched.body, { records: [{ offset: 0, key: 'k', value: { from: 'page' }, headers: { h: 'v' } }], highWatermark: 1 }, 'fetch answer readable');
  t.equal(calls.batches.status, 200, 'record-batch fetch (Accept needs a preflight)');
  t.equal(calls.batches.highWatermark, '1', 'Runnel-High-Watermark exposed to the page');
  t.equal(calls.batches.nextOffset, '1', 'Runnel-Next-Offset exposed to the page');
  t.ok(calls.batches.bytes > 0, 'and the batch bytes');

  // An EventSource opened before the record exists receives it once produced.
  await page.evaluate((base) => {
    const scope = globalThis as unknown as { received: string[]; opened: boolean; source: EventSource };
    scope.received = [];
    scope.opened = false;
    scope.source = new EventSource(`${base}/v1/topics/web/partitions/0/records?offset=1`);
    scope.source.onopen = () => { scope.opened = true; };
    scope.source.addEventListener('record', (event) => {
      const message = event as unknown as { lastEventId: string; data: string };
      scope.received.push(`${message.lastEventId}:${message.data}`);
    });
  }, node.url);
  await page.waitForFunction(() => (globalThis as unknown as { opened: boolean }).opened, undefined, { timeout: 20_000 });
  const produced = await page.evaluate(async (base) => {
    const response = await fetch(`${base}/v1/topics/web/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"records":[{"value":"after the stream opened"}]}' });
    return response.status;
  }, node.url);
  t.equal(produced, 200);
  await page.waitForFunction(() => (globalThis as unknown as { received: string[] }).received.length > 0, undefined, { timeout: 20_000 });
  const received = await page.evaluate(() => { const scope = globalThis as unknown as { received: string[]; source: EventSource }; scope.source.close(); return scope.received; });
  t.equal(received.length, 1, 'one record over the EventSource');
  t.match(received[0], /^1:.*"after the stream opened"/, 'the record produced after it opened, with its offset as the event id');

  // The same calls from an origin not in the list: the browser refuses the answers.
  const stranger = await browser.newPage();
  await stranger.goto(strangerPage);
  const refused = await stranger.evaluate(async (base) => {
    const outcome = async (call: () => Promise<Response>): Promise<string> => {
      try {
        return `answered ${(await call()).status}`;
      } catch (error) {
        return `rejected: ${(error as Error).name}`;
      }
    };
    return {
      get: await outcome(() => fetch(`${base}/v1/topics`)),
      post: await outcome(() => fetch(`${base}/v1/topics/web/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"records":[{"value":"x"}]}' })),
    };
  }, node.url);
  t.equal(refused.get, 'rejected: TypeError', 'a simple GET from another origin: the fetch rejects');
  t.equal(refused.post, 'rejected: TypeError', 'a JSON POST from another origin: refused at the preflight');
  const after = await fetch(`${node.url}/v1/topics/web/partitions/0/records?offset=0`);
  t.equal(((await after.json()) as { records: unknown[] }).records.length, 2, 'and the refused POST appended nothing (its preflight failed, so it was never sent)');
});

void t.test('with --auth api-key a page sends its key in a header (preflighted) and streams through fetch()', async (t) => {
  const page0 = await startPageServer(t);
  const adminKey = 'cors-browser-admin-key-0123456789';
  const node = await startInProcessNode(t, { broker: { adminKey }, app: { corsOrigins: [page0], isAuthEnabled: true } });
  const browser = await launchBrowser(t);
  const page = await browser.newPage();
  await page.goto(page0);
  const calls = await page.evaluate(async ({ base, key }) => {
    const withKey = { 'x-api-key': key, 'content-type': 'application/json' };
    const unauthenticated = await fetch(`${base}/v1/topics`);
    const created = await fetch(`${base}/v1/topics`, { method: 'POST', headers: withKey, body: '{"name":"keyed"}' });
    // An EventSource cannot send a key: a page reads the SSE stream with fetch() instead.
    const controller = new AbortController();
    const stream = await fetch(`${base}/v1/topics/keyed/partitions/0/records?offset=0`, { headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: controller.signal });
    await fetch(`${base}/v1/topics/keyed/records`, { method: 'POST', headers: withKey, body: '{"records":[{"value":"streamed with a key"}]}' });
    const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    for (let reads = 0; reads < 50 && !text.includes('streamed with a key'); reads++) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
    }
    controller.abort();
    return { unauthenticated: unauthenticated.status, created: created.status, stream: stream.status, contentType: stream.headers.get('content-type'), text };
  }, { base: node.url, key: adminKey });
  t.equal(calls.unauthenticated, 401, 'without a key: 401, and the page can read why (CORS headers on errors)');
  t.equal(calls.created, 201, 'X-API-Key from the page (preflighted)');
  t.equal(calls.stream, 200, 'an SSE stream opened with an Authorization header');
  t.match(calls.contentType, /text\/event-stream/);
  t.match(calls.text, /id: 0\nevent: record\ndata: .*streamed with a key/, 'and the record produced after it opened arrives');
});
