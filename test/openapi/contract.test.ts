/**
 * What openapi/openapi.json promises, checked against the error catalogue and against
 * a real node: every error response shows examples whose codes are in the catalogue
 * with that status, and real refusals come with a status and code the operation
 * documents; every media type a route takes or answers is in the document, and the
 * answers carry them; the key schemes apply per operation (health open, metrics
 * optional), as served at /docs/json for the docs page's Authorize button.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { errorCatalogue, type ErrorCode } from '../../src/api/error-codes.js';
import { createTopic, requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface Media { schema?: { $ref?: string; properties?: Record<string, unknown> }; examples?: Record<string, { value: { error: { code: string } } }> }
interface Operation {
  operationId: string;
  security?: object[];
  requestBody?: { content: Record<string, Media> };
  responses: Record<string, { content?: Record<string, Media> }>;
}
interface Document {
  security: object[];
  components: { securitySchemes: Record<string, unknown> };
  paths: Record<string, Record<string, Operation>>;
}

const document = JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '..', '..', 'openapi', 'openapi.json'), 'utf8')) as Document;
const operations = Object.entries(document.paths).flatMap(([route, methods]) => Object.entries(methods).map(([method, operation]) => ({ route, method, operation })));
const byId = new Map(operations.map((entry) => [entry.operation.operationId, entry.operation]));

function operation(id: string): Operation {
  const found = byId.get(id);
  if (found === undefined) throw new Error(`no operation ${id}`);
  return found;
}

/** The codes the document shows as examples for an operation's status. */
function documentedCodes(id: string, status: number): string[] {
  return Object.values(operation(id).responses[status]?.content?.['application/json']?.examples ?? {}).map((example) => example.value.error.code);
}

void t.test('every error response shows an example per code, each a catalogue code of that status', async (t) => {
  let examples = 0;
  for (const { route, method, operation: op } of operations) {
    for (const [status, response] of Object.entries(op.responses)) {
      if (Number(status) < 400) continue;
      const media = response.content?.['application/json'];
      if (media?.schema?.$ref !== '#/components/schemas/Error') continue;
      const where = `${method.toUpperCase()} ${route} ${status}`;
      const entries = Object.entries(media.examples ?? {});
      t.ok(entries.length > 0, `${where} has examples`);
      for (const [name, example] of entries) {
        examples += 1;
        const code = example.value.error.code;
        t.ok(code in errorCatalogue, `${where}: ${code} is in src/api/error-codes.ts`);
        t.equal(errorCatalogue[code as ErrorCode]?.status, Number(status), `${where}: ${code} has status ${status} in the catalogue`);
        t.equal(name, code, `${where}: the example is named by its code`);
      }
    }
  }
  t.ok(examples > 100, 'examples throughout the document');
  t.same(documentedCodes('produce', 409).sort(), ['IDEMPOTENCY_KEY_REUSED', 'OUT_OF_ORDER_SEQUENCE'], 'produce: 409 shows its own codes (no TOPIC_NOT_FOUND)');
  t.same(documentedCodes('produce', 415), ['UNSUPPORTED_MEDIA_TYPE'], 'produce: 415 shows UNSUPPORTED_MEDIA_TYPE');
});

void t.test('real refusals come with a status and code their operation documents', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const produceUrl = `${server.url}/v1/topics/orders/records`;
  const cases: Array<{ id: string; what: string; call: () => Promise<{ status: number; body: unknown }> }> = [
    { id: 'produce', what: 'an unknown topic', call: () => requestJson(`${server.url}/v1/topics/nowhere/records`, { body: { records: [{ value: 1 }] } }) },
    { id: 'produce', what: 'a text/csv body', call: () => requestJson(produceUrl, { body: 'a,b', headers: { 'content-type': 'text/csv' } }) },
    { id: 'produce', what: 'bad base64', call: () => requestJson(produceUrl, { body: { records: [{ value: '@@' }], valueFormat: 'binary' } }) },
    { id: 'produce', what: 'a broken NDJSON line', call: () => requestJson(produceUrl, { body: '{"value":1}\n{oops', headers: { 'content-type': 'application/x-ndjson' } }) },
    {
      id: 'produce', what: 'an Idempotency-Key reused for another body', call: async () => {
        await requestJson(produceUrl, { body: { records: [{ value: 1 }] }, headers: { 'idempotency-key': 'k-1' } });
        return requestJson(produceUrl, { body: { records: [{ value: 2 }] }, headers: { 'idempotency-key': 'k-1' } });
      },
    },
    { id: 'fetchRecords', what: 'an offset past the end', call: () => requestJson(`${server.url}/v1/topics/orders/partitions/0/records?offset=99`) },
    { id: 'fetchRecords', what: 'a partition that does not exist', call: () => requestJson(`${server.url}/v1/topics/orders/partitions/9/records`) },
    { id: 'fetchRecords', what: 'a bad offset', call: () => requestJson(`${server.url}/v1/topics/orders/partitions/0/records?offset=first`) },
    { id: 'createTopic', what: 'a topic that exists', call: () => requestJson(`${server.url}/v1/topics`, { body: { name: 'orders' } }) },
    { id: 'describeGroup', what: 'an unknown group', call: () => requestJson(`${server.url}/v1/groups/nobody`) },
    { id: 'deleteKey', what: 'an unknown key', call: () => requestJson(`${server.url}/v1/keys/k-none`, { method: 'DELETE' }) },
  ];
  for (const { id, what, call } of cases) {
    const answer = await call();
    const code = (answer.body as { error?: { code?: string } }).error?.code ?? '';
    t.ok(documentedCodes(id, answer.status).includes(code), `${id}, ${what}: ${answer.status} ${code} is documented`, { documented: documentedCodes(id, answer.status) });
  }
});

void t.test('the document lists every media type the records routes take and answer, and the answers carry them', async (t) => {
  const produceTypes = Object.keys(operation('produce').requestBody?.content ?? {});
  t.same(produceTypes, ['application/json', 'application/x-ndjson'], 'produce takes JSON and NDJSON');
  t.same(Object.keys(operation('produceToPartition').requestBody?.content ?? {}), ['application/json', 'application/x-ndjson', 'application/vnd.runnel.record-batch'],
    'the one-partition produce also takes record batches');
  for (const id of ['produce', 'produceToPartition']) {
    const line = operation(id).requestBody?.content['application/x-ndjson']?.schema?.properties ?? {};
    t.ok('value' in line && !('records' in line), `${id}: an NDJSON body is shown as its lines, one record object each`);
  }
  const fetchTypes = Object.keys(operation('fetchRecords').responses[200].content ?? {});
  t.same(fetchTypes, ['application/json', 'application/vnd.runnel.record-batch', 'text/event-stream', 'application/x-ndjson'], 'fetch answers four media types');

  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const ndjson = await request(`${server.url}/v1/topics/orders/records`, { method: 'POST', body: '{"value":"a"}\n{"value":"b"}\n', headers: { 'content-type': 'application/x-ndjson' } });
  t.equal(ndjson.statusCode, 200, 'an NDJSON body is taken');
  await ndjson.body.dump();
  for (const accept of ['application/json', 'application/vnd.runnel.record-batch', 'text/event-stream', 'application/x-ndjson']) {
    const controller = new AbortController();
    const answer = await request(`${server.url}/v1/topics/orders/partitions/0/records?offset=0`, { headers: { accept }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)]) });
    const contentType = String(answer.headers['content-type']).split(';')[0];
    t.equal(contentType, accept, `Accept: ${accept} is answered with that documented type`);
    controller.abort();
    await answer.body.dump().catch(() => undefined);
  }
});

void t.test('keys apply per operation: health needs none, metrics one only with --metrics-require-key, the rest one', async (t) => {
  t.same(document.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }], 'by default an operation takes a key in either form');
  for (const { route, method, operation: op } of operations) {
    const where = `${method.toUpperCase()} ${route}`;
    if (route.startsWith('/health/')) t.same(op.security, [], `${where} is public`);
    else if (route === '/metrics') t.same(op.security, [{}, { bearerAuth: [] }, { apiKeyHeader: [] }], `${where}: a key is optional`);
    else {
      t.equal(op.security, undefined, `${where} needs a key (the document's default)`);
      t.ok(op.responses[401] !== undefined, `${where} documents 401`);
    }
  }
  const server = await startServer(t, { isAuthEnabled: true, adminKey: 'contract-test-admin-key-0123456789' });
  const served = (await requestJson<Document>(`${server.url}/docs/json`)).body;
  t.same(served.components.securitySchemes, document.components.securitySchemes, '/docs/json carries the security schemes (the Authorize button)');
  t.same(served.paths['/health/live'].get.security, [], '/docs/json says health needs no key');
  t.equal((await requestJson(`${server.url}/health/live`)).status, 200, 'health answers without a key');
  for (const { route, method, operation: op } of operations) {
    const url = server.url + route.replace(/\{[^}]+\}/g, (name) => (name === '{partition}' ? '0' : 'x'));
    const answer = await request(url, { method: method.toUpperCase() as 'GET', signal: AbortSignal.timeout(10_000) });
    await answer.body.dump();
    const isOpen = op.security !== undefined && (op.security.length === 0 || op.security.some((requirement) => Object.keys(requirement).length === 0));
    t.equal(answer.statusCode === 401, !isOpen, `${method.toUpperCase()} ${route} without a key: ${isOpen ? 'not refused' : '401'}, as its security says`);
  }
  const refused = await requestJson(`${server.url}/v1/topics`);
  t.equal(refused.status, 401, 'an operation that needs a key refuses a request without one');
  t.ok(documentedCodes('listTopics', 401).includes('UNAUTHENTICATED'), 'as documented');
  t.equal((await requestJson(`${server.url}/v1/topics`, { headers: { authorization: 'Bearer contract-test-admin-key-0123456789' } })).status, 200, 'a Bearer key is taken');
  t.equal((await requestJson(`${server.url}/v1/topics`, { headers: { 'x-api-key': 'contract-test-admin-key-0123456789' } })).status, 200, 'an X-API-Key is taken');
});
