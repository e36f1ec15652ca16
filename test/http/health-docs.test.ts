/**
 * The node's own endpoints over real HTTP: health probes (also while it stops), the
 * cluster view, the OpenAPI document, the offline docs UI, and what an unknown route
 * or a wrong method gets.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { createTopic, requestJson, requestOk } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';
import { assertError, RawConnection, until } from '../helpers/http-support.js';

const committedOpenApi = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'openapi', 'openapi.json'), 'utf8')) as unknown;

async function getText(url: string): Promise<{ status: number; contentType: string; text: string }> {
  const response = await request(url, { signal: AbortSignal.timeout(10_000) });
  const text = await response.body.text();
  return { status: response.statusCode, contentType: String(response.headers['content-type'] ?? ''), text };
}

void t.test('/health/live and /health/ready answer 200 on a running node; ready reports recovery', async (t) => {
  const server = await startServer(t);
  t.same((await requestOk(`${server.url}/health/live`)).body, { status: 'ok' });
  const ready = await requestJson<{ status: string; recovery: Record<string, number> }>(`${server.url}/health/ready`);
  t.equal(ready.status, 200);
  t.equal(ready.body.status, 'ok');
  t.same(Object.keys(ready.body.recovery).sort(), ['cleanPartitions', 'durationMs', 'partitions', 'recoveredSegments', 'truncatedBytes']);
});

void t.test('after a clean restart, readiness reports every partition recovered clean', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 3 });
  await server.close();
  const restarted = await startServer(t, { dataDir: server.dataDir });
  const ready = await requestOk<{ recovery: { partitions: number; cleanPartitions: number; truncatedBytes: number } }>(`${restarted.url}/health/ready`);
  t.match(ready.body.recovery, { partitions: 3, cleanPartitions: 3, truncatedBytes: 0 });
  await restarted.close();
});

void t.test('readiness turns 503 once the broker is closed, while liveness stays 200', async (t) => {
  const server = await startServer(t);
  await server.broker.close();
  const ready = await requestJson<{ status: string; reason: string }>(`${server.url}/health/ready`);
  t.equal(ready.status, 503);
  t.equal(ready.body.status, 'unavailable');
  t.type(ready.body.reason, 'string');
  t.equal((await requestJson(`${server.url}/health/live`)).status, 200, 'the process is still alive');
});

void t.test('while the node stops, a request arriving on an open connection gets 503 and the connection is closed', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const connection = await RawConnection.open(server.url);
  t.teardown(() => connection.close());
  // A produce whose body is still arriving keeps the connection busy when the close
  // begins; the rest of its body and a second request arrive once the node is stopping.
  let hasArrived = false;
  server.runnel.app.server.once('request', () => {
    hasArrived = true;
  });
  const produceText = RawConnection.requestText('POST', '/v1/topics/orders/records', { 'content-type': 'application/json' }, '{"records":[{"value":"in flight"}]}');
  const splitAt = produceText.length - 10;
  connection.write(produceText.slice(0, splitAt));
  await until(() => hasArrived, 'the produce request has arrived');
  const closing = server.close();
  await until(() => server.runnel.isStopping(), 'the node is stopping');
  // An API request (readiness has its own body, tested above) arrives while stopping.
  connection.write(produceText.slice(splitAt) + RawConnection.requestText('GET', '/v1/topics'));

  const produced = await connection.readResponse();
  t.equal(produced.status, 200, 'the request in flight is still answered');
  t.match(JSON.parse(produced.body), { offsets: [{ partition: 0, offset: 0 }] });
  const ready = await connection.readResponse();
  t.equal(ready.status, 503, 'a request that arrives while stopping gets 503');
  t.equal(ready.headers.connection, 'close', 'and the connection is closed after it');
  const body = JSON.parse(ready.body) as { error?: { code?: unknown } };
  t.equal(typeof body.error === 'object' ? body.error.code : body.error, 'NOT_READY', 'the body is the catalogue error NOT_READY');
  await closing;
});

void t.test('/v1/cluster names this node as the only node and the controller', async (t) => {
  const server = await startServer(t, { nodeId: 7 });
  const cluster = await requestOk<{ clusterId: string; controller: number; nodes: unknown[] }>(`${server.url}/v1/cluster`);
  t.match(cluster.body.clusterId, /^[A-Za-z0-9_-]{22}$/);
  t.equal(cluster.body.controller, 7);
  t.same(cluster.body.nodes, [{ nodeId: 7, url: server.url, rack: null, state: 'online' }], 'the advertised URL is where the node listens; no rack without --rack');
});

void t.test('/openapi.json serves the committed openapi/openapi.json', async (t) => {
  const server = await startServer(t);
  const served = await requestJson(`${server.url}/openapi.json`);
  t.equal(served.status, 200);
  t.match(served.headers['content-type'], /^application\/json/);
  t.same(served.body, committedOpenApi, 'the served document is the committed one');
  t.same((await requestJson(`${server.url}/docs/json`)).body, committedOpenApi, 'the docs UI loads the same document');
});

void t.test('/docs serves the docs UI, and every asset it loads comes from this node (it works offline)', async (t) => {
  const server = await startServer(t);
  for (const docsPath of ['/docs', '/docs/']) {
    const page = await getText(`${server.url}${docsPath}`);
    t.equal(page.status, 200, `${docsPath}: 200`);
    t.match(page.contentType, /^text\/html/, `${docsPath}: HTML`);
    t.match(page.text, /<div id="swagger-ui">/, `${docsPath}: the UI's mount point`);
    t.match(page.text, /<title>Runnel API<\/title>/, `${docsPath}: titled Runnel API`);
    const references = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]);
    t.ok(references.length >= 4, `${docsPath}: the page loads its scripts and styles (${references.length} references)`);
    for (const reference of references) {
      const url = new URL(reference, `${server.url}${docsPath}`);
      t.equal(url.origin, server.url, `${docsPath}: ${reference} is served by this node`);
      const asset = await getText(url.href);
      t.equal(asset.status, 200, `${docsPath}: ${reference} loads`);
      t.ok(asset.text.length > 0, `${docsPath}: ${reference} is not empty`);
    }
  }
  const initializer = await getText(`${server.url}/docs/static/swagger-initializer.js`);
  const logo = /data:image\/svg\+xml;base64,([A-Za-z0-9+/=]+)/.exec(initializer.text)?.[1];
  t.match(Buffer.from(logo ?? '', 'base64').toString('utf8'), />Runnel</, 'the top bar shows the product\'s own mark, not a third-party logo');
  t.equal(initializer.status, 200);
  const code = initializer.text.split('\n').filter((line) => !line.trim().startsWith('//')).join('\n');
  t.notMatch(code, /https?:\/\//, 'the initializer calls no outside URL (comments aside)');
  t.match(initializer.text, /validatorUrl: null/, 'the online spec validator is off');
});

void t.test('an unknown route gets 404 NOT_FOUND in the error shape', async (t) => {
  const server = await startServer(t);
  for (const route of ['/nope', '/v1', '/v2/topics', '/v1/topics/orders/partitions', '/v1/topics/orders/partitions/0', '/v1/topics/orders/records/extra', '/health']) {
    const response = await requestJson(`${server.url}${route}`);
    assertError(t, response, 'NOT_FOUND', route);
    t.match((response.body as any).error.message, route, `${route}: the message names the path`);
  }
  assertError(t, await requestJson(`${server.url}/v1/topics/`), 'INVALID_TOPIC_NAME', 'a trailing slash names the empty topic');
  const withQuery = await requestJson(`${server.url}/nope?secret=1`);
  t.notMatch((withQuery.body as any).error.message, 'secret', 'the query string is not echoed');
});

void t.test('a known route asked with the wrong method gets 405 METHOD_NOT_ALLOWED with an Allow header', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const cases: Array<[string, string, string]> = [
    ['PUT', '/v1/topics', 'GET, HEAD, POST'],
    ['DELETE', '/v1/topics', 'GET, HEAD, POST'],
    ['POST', '/v1/topics/orders', 'DELETE, GET, HEAD, PATCH'],
    ['PUT', '/v1/topics/orders/records', 'POST'],
    ['DELETE', '/v1/topics/orders/partitions/0/records', 'GET, HEAD, POST'],
    ['POST', '/v1/topics/orders/partitions/0/offsets', 'GET, HEAD'],
    ['POST', '/health/live', 'GET, HEAD'],
    ['DELETE', '/openapi.json', 'GET, HEAD'],
  ];
  for (const [method, route, allow] of cases) {
    const response = await requestJson(`${server.url}${route}`, { method: method as 'PUT' });
    assertError(t, response, 'METHOD_NOT_ALLOWED', `${method} ${route}`);
    t.equal(response.headers.allow, allow, `${method} ${route}: Allow lists the methods the route takes`);
  }
  const head = await request(`${server.url}/v1/topics`, { method: 'HEAD' });
  await head.body.dump();
  t.equal(head.statusCode, 200, 'HEAD works where GET does');
  t.same((await requestOk(`${server.url}/v1/topics`)).body, { topics: [{ name: 'orders', partitions: 1, replicationFactor: 1 }] }, 'nothing was changed by the refused methods');
});
