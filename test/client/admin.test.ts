/**
 * The client against a real node: admin calls round-trip, send() and fetch() agree,
 * and failures come back typed, with the server's code, status and details.
 */
import t from 'tap';
import { Runnel, RunnelApiError, RunnelConnectionError, type ConsumedRecord } from '../../src/index.js';
import { startServer } from '../helpers/server.js';

const ADMIN_KEY = 'client-admin-test-bootstrap-key-0123456789';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

void t.test('topics: create, list, describe, alter, delete round-trip', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());

  const created = await runnel.topics.create({ name: 'orders', partitions: 2, configs: { 'retention.ms': '86400000' } });
  t.equal(created.name, 'orders');
  t.equal(created.partitions.length, 2);
  t.equal(created.configs['retention.ms'], '86400000');
  t.same(await runnel.topics.list(), [{ name: 'orders', partitions: 2, replicationFactor: 1 }]);
  const altered = await runnel.topics.alter('orders', { partitions: 3, configs: { 'retention.ms': null, 'segment.bytes': 1048576 } });
  t.equal(altered.partitions.length, 3);
  t.notOk('retention.ms' in altered.configs, 'null removes a config');
  t.equal((await runnel.topics.describe('orders')).configs['segment.bytes'], '1048576');
  await runnel.topics.delete('orders');
  t.same(await runnel.topics.list(), []);
});

void t.test('send and fetch: offsets in request order, values in their format, partition and offsets lookups', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'events', partitions: 2 });

  const answer = await runnel.send({ topic: 'events', partition: 1, records: [{ key: 'a', value: { n: 1 } }, { value: 'plain', headers: { source: 'test' } }] });
  t.same(answer.offsets.map(({ partition, offset }) => ({ partition, offset })), [{ partition: 1, offset: 0 }, { partition: 1, offset: 1 }]);
  const binary = await runnel.send({ topic: 'events', records: [{ partition: 0, value: Buffer.from([0, 1, 2, 255]).toString('base64') }], valueFormat: 'binary', acks: 'none' });
  t.equal(binary.offsets[0].partition, 0);

  const fetched = await runnel.fetch('events', 1, { offset: 'earliest' });
  t.same(fetched.records.map(({ offset, key, value, headers }) => ({ offset, key, value, headers })), [
    { offset: 0, key: 'a', value: { n: 1 }, headers: {} },
    { offset: 1, key: null, value: 'plain', headers: { source: 'test' } },
  ]);
  t.equal(fetched.nextOffset, 2);
  t.equal(fetched.highWatermark, 2);
  t.equal((await runnel.fetch('events', 0)).records[0].value, Buffer.from([0, 1, 2, 255]).toString('base64'), 'binary comes back as base64');

  const offsets = await runnel.offsets('events', 1);
  t.match(offsets, { partition: 1, logStartOffset: 0, highWatermark: 2, logEndOffset: 2 });
  const byTime = await runnel.offsets('events', 1, { timestamp: 0 });
  t.equal(byTime.offset, 0, 'the first offset at or after a timestamp');

  const longPoll = runnel.fetch('events', 0, { offset: 'latest', waitMs: 5_000 });
  await runnel.send({ topic: 'events', partition: 0, records: [{ value: 'late' }] });
  t.same((await longPoll).records.map((record) => record.value), ['late'], 'a long-poll answers when a record arrives');

  const cluster = await runnel.cluster();
  t.equal(cluster.nodes.length, 1);
  t.equal(cluster.controller, 1);
});

void t.test('failures are typed: the server code, status and details; network failures apart', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'known', partitions: 1 });

  const missing = await rejection(runnel.topics.describe('unknown'));
  t.ok(missing instanceof RunnelApiError);
  t.match(missing, { code: 'TOPIC_NOT_FOUND', status: 404 });
  t.match(await rejection(runnel.topics.create({ name: 'known' })), { code: 'TOPIC_EXISTS', status: 409 });
  t.match(await rejection(runnel.topics.create({ name: 'bad name!' })), { code: 'INVALID_TOPIC_NAME', status: 400 });
  t.match(await rejection(runnel.topics.create({ name: 'fine', replicationFactor: 0 })), { code: 'INVALID_REQUEST', status: 400 }, 'schema validation');
  t.match(await rejection(runnel.send({ topic: 'known', partition: 7, records: [{ value: 1 }] })), { code: 'PARTITION_NOT_FOUND', status: 404 });
  const outOfRange = await rejection(runnel.fetch('known', 0, { offset: 99 })) as RunnelApiError;
  t.match(outOfRange, { code: 'OFFSET_OUT_OF_RANGE', status: 416, details: { logStartOffset: 0, highWatermark: 0 } });
  t.match(await rejection(runnel.send({ topic: 'known', records: [{ value: 1 }], idempotencyKey: 'k1' }).then(() =>
    runnel.send({ topic: 'known', records: [{ value: 2 }], idempotencyKey: 'k1' }))), { code: 'IDEMPOTENCY_KEY_REUSED', status: 409 });

  // A typed code narrows: the compiler knows 'TOPIC_NOT_FOUND' is one of the codes.
  const code: RunnelApiError['code'] = (missing as RunnelApiError).code;
  t.equal(code === 'TOPIC_NOT_FOUND', true);

  const closedPort = await startServer(t);
  const deadUrl = closedPort.url;
  await closedPort.close();
  const nowhere = new Runnel({ url: deadUrl, retries: 2, timeoutMs: 5_000 });
  t.teardown(() => nowhere.close());
  const refused = await rejection(nowhere.topics.list());
  t.ok(refused instanceof RunnelConnectionError, 'no answer is a RunnelConnectionError');
  t.match(refused, { code: 'ECONNREFUSED', url: deadUrl });
});

void t.test('groups: list, describe, offsets, commit, reset, delete', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'ledger', partitions: 2 });
  await runnel.send({ topic: 'ledger', partition: 0, records: [{ value: 1 }, { value: 2 }, { value: 3 }] });

  const committed = await runnel.groups.commit('auditors', { offsets: [{ topic: 'ledger', partition: 0, offset: 2, metadata: 'by hand' }] });
  t.match(committed.offsets, [{ topic: 'ledger', partition: 0, offset: 2, metadata: 'by hand' }]);
  t.match(await runnel.groups.list(), [{ groupId: 'auditors', state: 'Empty', members: 0, lag: 1 }]);
  const view = await runnel.groups.offsets('auditors', { topic: 'ledger' });
  t.match(view.offsets.find((entry) => entry.partition === 0), { offset: 2, lag: 1, logEndOffset: 3 });
  t.match(await runnel.groups.describe('auditors'), { groupId: 'auditors', state: 'Empty', lag: 1 });
  const reset = await runnel.groups.reset('auditors', { topic: 'ledger', to: 'earliest' });
  t.same(reset.offsets.map(({ partition, offset }) => ({ partition, offset })), [{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }]);
  await runnel.groups.delete('auditors');
  t.match(await rejection(runnel.groups.describe('auditors')), { code: 'GROUP_NOT_FOUND', status: 404 });
});

void t.test('API keys: the client sends its key; make, list and delete keys', async (t) => {
  const server = await startServer(t, { isAuthEnabled: true, adminKey: ADMIN_KEY });
  const anonymous = new Runnel({ url: server.url });
  t.teardown(() => anonymous.close());
  t.match(await rejection(anonymous.topics.list()), { code: 'UNAUTHENTICATED', status: 401 });

  const admin = new Runnel({ url: server.url, apiKey: ADMIN_KEY });
  t.teardown(() => admin.close());
  const made = await admin.keys.create({ name: 'reader', grants: [{ resource: 'topic', prefix: 'public.', operations: ['read'] }] });
  t.type(made.key, 'string');
  t.match(await admin.keys.list(), [{ keyId: made.keyId, name: 'reader' }]);

  await admin.topics.create({ name: 'public.news', partitions: 1 });
  await admin.send({ topic: 'public.news', records: [{ value: 'hello' }] });
  const reader = new Runnel({ url: server.url, apiKey: made.key });
  t.teardown(() => reader.close());
  t.same((await reader.fetch('public.news', 0)).records.map((record) => record.value), ['hello']);
  t.match(await rejection(reader.send({ topic: 'public.news', records: [{ value: 'no' }] })), { code: 'FORBIDDEN', status: 403 });

  await admin.keys.delete(made.keyId);
  t.match(await rejection(reader.fetch('public.news', 0)), { code: 'UNAUTHENTICATED' });
  t.match(await rejection(admin.keys.delete(made.keyId)), { code: 'KEY_NOT_FOUND', status: 404 });
});

void t.test('the package entry exports the client with its types', async (t) => {
  const entry = await import('../../src/index.js');
  t.type(entry.Runnel, 'function');
  t.type(entry.RunnelApiError, 'function');
  t.type(entry.RunnelConnectionError, 'function');
  t.ok(entry.errorCodes.includes('TOPIC_NOT_FOUND'));
  const record: ConsumedRecord = { topic: 't', partition: 0, offset: 0, timestamp: 0, key: null, value: null, headers: {} };
  t.equal(record.topic, 't');
});
