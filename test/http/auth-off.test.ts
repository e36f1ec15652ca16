/**
 * Authentication is off by default (--auth none): every route answers without a key,
 * and a key sent anyway (even a garbage one, even with --admin-key set) changes
 * nothing. The routes come from openapi/openapi.json and the live /openapi.json, so a
 * new route without a request here fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { request, type Dispatcher } from 'undici';
import { startServer, type TestServer } from '../helpers/server.js';

interface Reply {
  status: number;
  json: any;
}

function client(server: TestServer, extraHeaders: Record<string, string>) {
  return async (method: Dispatcher.HttpMethod, urlPath: string, body?: unknown): Promise<Reply> => {
    const headers: Record<string, string> = { accept: 'application/json', ...extraHeaders };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await request(`${server.url}${urlPath}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000),
    });
    const text = await response.body.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = text;
    }
    return { status: response.statusCode, json };
  };
}

function routesOf(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(document.paths).flatMap(([openapiPath, operations]) => Object.keys(operations)
    .filter((method) => ['get', 'put', 'post', 'delete', 'patch'].includes(method))
    .map((method) => `${method.toUpperCase()} ${openapiPath.replace(/\{([^}]+)\}/g, ':$1')}`));
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const documentFromFile = JSON.parse(fs.readFileSync(path.join(repoRoot, 'openapi', 'openapi.json'), 'utf8'));

/** Runs one representative request per route, in an order where each finds what it needs. */
async function everyRoute(t: Test, server: TestServer, headers: Record<string, string>): Promise<void> {
  const call = client(server, headers);
  const seen = new Set<string>();
  const expect = async (route: string, reply: Promise<Reply>, status: number): Promise<Reply> => {
    const answer = await reply;
    seen.add(route);
    t.equal(answer.status, status, `${route} answers ${status} without a key`, { body: answer.json });
    return answer;
  };

  await expect('GET /health/live', call('GET', '/health/live'), 200);
  await expect('GET /health/ready', call('GET', '/health/ready'), 200);
  await expect('GET /metrics', call('GET', '/metrics'), 200);
  await expect('GET /v1/cluster', call('GET', '/v1/cluster'), 200);
  await expect('POST /v1/topics', call('POST', '/v1/topics', { name: 'orders', partitions: 1 }), 201);
  await expect('GET /v1/topics', call('GET', '/v1/topics'), 200);
  await expect('GET /v1/topics/:topic', call('GET', '/v1/topics/orders'), 200);
  await expect('PATCH /v1/topics/:topic', call('PATCH', '/v1/topics/orders', { configs: { 'retention.ms': '86400000' } }), 200);
  await expect('POST /v1/topics/:topic/records', call('POST', '/v1/topics/orders/records', { records: [{ value: 1 }] }), 200);
  await expect('POST /v1/producers', call('POST', '/v1/producers'), 200);
  await expect('POST /v1/topics/:topic/partitions/:partition/records', call('POST', '/v1/topics/orders/partitions/0/records', { records: [{ value: 2 }] }), 200);
  const fetched = await expect('GET /v1/topics/:topic/partitions/:partition/records', call('GET', '/v1/topics/orders/partitions/0/records?offset=0'), 200);
  t.same(fetched.json.records.map((record: { value: unknown }) => record.value), [1, 2]);
  await expect('GET /v1/topics/:topic/partitions/:partition/offsets', call('GET', '/v1/topics/orders/partitions/0/offsets'), 200);
  await call('POST', '/v1/topics', { name: 'prices', configs: { 'cleanup.policy': 'compact' } });
  await call('POST', '/v1/topics/prices/records', { records: [{ key: 'apple', value: 1 }] });
  await expect('GET /v1/topics/:topic/keys/:key', call('GET', '/v1/topics/prices/keys/apple'), 200);
  await call('DELETE', '/v1/topics/prices');

  await expect('POST /v1/groups/:group/offsets', call('POST', '/v1/groups/g/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] }), 200);
  await expect('POST /v1/groups/:group/offsets/reset', call('POST', '/v1/groups/g/offsets/reset', { topic: 'orders', to: 'earliest' }), 200);
  await expect('GET /v1/groups/:group/offsets', call('GET', '/v1/groups/g/offsets'), 200);
  const joined = await expect('POST /v1/groups/:group/members', call('POST', '/v1/groups/g/members', { topicPattern: '.*', sessionTimeoutMs: 60_000 }), 201);
  const member = joined.json.memberId as string;
  await expect('POST /v1/groups/:group/members/:member/heartbeat', call('POST', `/v1/groups/g/members/${member}/heartbeat`, {}), 200);
  await expect('GET /v1/groups/:group/members/:member/records', call('GET', `/v1/groups/g/members/${member}/records?waitMs=0`), 200);
  await expect('GET /v1/groups', call('GET', '/v1/groups'), 200);
  await expect('GET /v1/groups/:group', call('GET', '/v1/groups/g'), 200);
  await expect('DELETE /v1/groups/:group/members/:member', call('DELETE', `/v1/groups/g/members/${member}`), 204);
  await expect('DELETE /v1/groups/:group', call('DELETE', '/v1/groups/g'), 204);

  await expect('PATCH /v1/share-groups/:group', call('PATCH', '/v1/share-groups/s', { configs: { 'share.auto.offset.reset': 'earliest' } }), 200);
  const acquired = await expect('GET /v1/share-groups/:group/records', call('GET', '/v1/share-groups/s/records?topics=orders&waitMs=0'), 200);
  const offsets = (acquired.json.records as Array<{ offset: number }>).map((record) => record.offset);
  t.same(offsets, [0, 1], 'a share group acquires the records without a key');
  await expect('POST /v1/share-groups/:group/acknowledgements', call('POST', '/v1/share-groups/s/acknowledgements', { acknowledgements: [{ topic: 'orders', partition: 0, offsets, type: 'accept' }] }), 200);
  await expect('GET /v1/share-groups', call('GET', '/v1/share-groups'), 200);
  await expect('GET /v1/share-groups/:group', call('GET', '/v1/share-groups/s'), 200);
  await expect('POST /v1/share-groups/:group/reset', call('POST', '/v1/share-groups/s/reset', { topic: 'orders', to: 'earliest' }), 200);
  await expect('DELETE /v1/share-groups/:group', call('DELETE', '/v1/share-groups/s'), 204);

  const made = await expect('POST /v1/keys', call('POST', '/v1/keys', { name: 'k', grants: [] }), 201);
  await expect('GET /v1/keys', call('GET', '/v1/keys'), 200);
  const self = await expect('GET /v1/keys/self', call('GET', '/v1/keys/self'), 404);
  t.equal(self.json.error.code, 'KEY_NOT_FOUND', 'no key is in use: the answer says so');
  await expect('DELETE /v1/keys/:keyId', call('DELETE', `/v1/keys/${made.json.keyId}`), 204);
  await expect('DELETE /v1/topics/:topic', call('DELETE', '/v1/topics/orders'), 204);

  const live = (await call('GET', '/openapi.json')).json;
  for (const route of new Set([...routesOf(documentFromFile), ...routesOf(live)])) t.ok(seen.has(route), `${route} was exercised`);
}

void t.test('with auth off (the default) every route works without a key', async (t) => {
  const server = await startServer(t);
  await everyRoute(t, server, {});
});

void t.test('with auth off a key sent anyway, even garbage, is ignored', async (t) => {
  const server = await startServer(t);
  await everyRoute(t, server, { authorization: 'Bearer not-a-key', 'x-api-key': 'also-not-a-key' });
});

void t.test('with auth off, setting --admin-key alone does not turn authentication on', async (t) => {
  const server = await startServer(t, { adminKey: 'an-admin-key-that-is-long-enough', isAuthEnabled: false });
  await everyRoute(t, server, {});
});
