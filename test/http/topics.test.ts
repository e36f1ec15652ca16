/**
 * Topics over real HTTP, as a new user would try them: list, create (with and
 * without a partition count), describe, alter (grow, set and remove configs),
 * delete; every refusal of the API; and what survives a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { createTopic, fetchAll, fetchRecords, produce, requestJson, requestOk } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';
import { assertError, describe, topicNames, until, type TopicDescription } from '../helpers/http-support.js';

const KAFKA_DEFAULTS = {
  'cleanup.policy': 'delete',
  'retention.ms': '604800000',
  'retention.bytes': '-1',
  'segment.bytes': '1073741824',
  'max.message.bytes': '1048588',
  'message.timestamp.type': 'CreateTime',
  'min.insync.replicas': '1',
};

function logDirectory(dataDir: string, topic: string, partition: number): string {
  return path.join(dataDir, 'logs', `${topic}-${partition}`);
}

void t.test('a new node lists no topics; a created topic is described with its partitions, defaults and location', async (t) => {
  const server = await startServer(t);
  t.same((await requestOk(`${server.url}/v1/topics`)).body, { topics: [] }, 'no topics at first');

  const created = await requestJson<TopicDescription>(`${server.url}/v1/topics`, { body: { name: 'orders', partitions: 3 } });
  t.equal(created.status, 201);
  t.equal(created.headers.location, '/v1/topics/orders', 'Location names the new topic');
  t.equal(created.body.name, 'orders');
  t.match(created.body.topicId, /^[A-Za-z0-9_-]{22}$/, 'a topic id');
  t.equal(created.body.replicationFactor, 1, 'replication factor defaults to 1');
  t.same(created.body.configs, {}, 'no configs set');
  t.match(created.body.effectiveConfigs, KAFKA_DEFAULTS, "every config shows Kafka's default");
  t.same(created.body.partitions.map((p) => [p.partition, p.leader, p.replicas, p.isr, p.logStartOffset, p.highWatermark, p.logEndOffset]), [
    [0, 1, [1], [1], 0, 0, 0],
    [1, 1, [1], [1], 0, 0, 0],
    [2, 1, [1], [1], 0, 0, 0],
  ], 'three empty partitions led by this node');
  for (let partition = 0; partition < 3; partition++) {
    t.ok(fs.statSync(logDirectory(server.dataDir, 'orders', partition)).isDirectory(), `log directory orders-${partition} exists`);
  }

  const described = await describe(server.url, 'orders');
  t.same(described, created.body, 'describe answers what create answered');
  t.same((await requestOk(`${server.url}/v1/topics`)).body, { topics: [{ name: 'orders', partitions: 3, replicationFactor: 1 }] });
});

void t.test("a topic created without a partition count gets the node's num.partitions; the list is sorted by name", async (t) => {
  const server = await startServer(t, { defaultPartitionCount: 4 });
  await requestOk(`${server.url}/v1/topics`, { body: { name: 'zebra' } });
  await requestOk(`${server.url}/v1/topics`, { body: { name: 'apple', partitions: 2, replicationFactor: 1, configs: { 'retention.ms': 1000 } } });
  t.same((await requestOk(`${server.url}/v1/topics`)).body, {
    topics: [
      { name: 'apple', partitions: 2, replicationFactor: 1 },
      { name: 'zebra', partitions: 4, replicationFactor: 1 },
    ],
  });
  const apple = await describe(server.url, 'apple');
  t.same(apple.configs, { 'retention.ms': '1000' }, 'a numeric config value is stored as its string');
  t.equal(apple.effectiveConfigs['retention.ms'], '1000');
});

void t.test('creating a topic that exists is refused with 409 TOPIC_EXISTS and leaves it as it was', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  await produce(server.url, 'orders', [{ value: 1 }], { partition: 1 });
  const again = await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', partitions: 5 } });
  assertError(t, again, 'TOPIC_EXISTS');
  const described = await describe(server.url, 'orders');
  t.equal(described.partitions.length, 2, 'partition count unchanged');
  t.equal(described.partitions[1].logEndOffset, 1, 'records kept');
});

void t.test("topic names follow Kafka's rule: bad names get 400 INVALID_TOPIC_NAME and create nothing; . _ - are fine", async (t) => {
  const server = await startServer(t);
  for (const name of ['..', '.', 'a/b', 'a'.repeat(250), '', 'with space', 'ünïcode', 'a\\b']) {
    const response = await requestJson(`${server.url}/v1/topics`, { body: { name } });
    assertError(t, response, 'INVALID_TOPIC_NAME', `name ${JSON.stringify(name.slice(0, 20))}${name.length > 20 ? `... (${name.length})` : ''}`);
  }
  t.same(await topicNames(server.url), [], 'nothing was created');
  t.same(fs.readdirSync(path.join(server.dataDir, 'logs')), [], 'no directory was made');

  const accepted = ['a.b_c-D', 'under_score', 'dash-ed', 'dot.ted', '...', 'x'.repeat(249), '0'];
  for (const name of accepted) {
    const response = await requestJson(`${server.url}/v1/topics`, { body: { name, partitions: 1 } });
    t.equal(response.status, 201, `${name.slice(0, 20)} (${name.length} chars) is accepted`);
  }
  t.same((await topicNames(server.url)).sort(), [...accepted].sort());
  await produce(server.url, 'a.b_c-D', [{ value: 'fits' }]);
  t.same((await fetchAll(server.url, 'a.b_c-D', 0)).records.map((r) => r.value), ['fits'], 'a name with . _ - works end to end');

  // The same rule guards every route that names a topic.
  assertError(t, await requestJson(`${server.url}/v1/topics/a%2Fb`), 'INVALID_TOPIC_NAME', 'GET a%2Fb');
  assertError(t, await requestJson(`${server.url}/v1/topics/a%2Fb`, { method: 'DELETE' }), 'INVALID_TOPIC_NAME', 'DELETE a%2Fb');
  assertError(t, await requestJson(`${server.url}/v1/topics/a%2Fb/partitions/0/offsets`), 'INVALID_TOPIC_NAME', 'offsets of a%2Fb');
});

// Regression: Fastify's router cut path parameters at 100 characters (maxParamLength),
// so a topic named with 101-249 characters could be created (the name is in the body)
// but never produced to, fetched, described or deleted.
void t.test('a topic with the longest allowed name (249 characters) works on every route', async (t) => {
  const server = await startServer(t);
  const long = 'x'.repeat(249);
  await createTopic(server.url, long);
  t.same(await topicNames(server.url), [long], 'created: the name travels in the body');
  const produced = await requestJson(`${server.url}/v1/topics/${long}/records`, { body: { records: [{ value: 'fits' }] } });
  t.equal(produced.status, 200, 'produce');
  t.equal((await requestJson(`${server.url}/v1/topics/${long}`)).status, 200, 'describe');
  t.equal((await requestJson(`${server.url}/v1/topics/${long}/partitions/0/records`)).status, 200, 'fetch');
  assertError(t, await requestJson(`${server.url}/v1/topics/${'y'.repeat(250)}/partitions/0/records`), 'INVALID_TOPIC_NAME', 'fetch from a 250-character name');
  t.equal((await requestJson(`${server.url}/v1/topics/${long}`, { method: 'DELETE' })).status, 204, 'delete');
});

void t.test('unknown configs and bad values get 400 INVALID_CONFIG and create nothing', async (t) => {
  const server = await startServer(t);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['unknown name', { 'retention.minutes': '5' }],
    ['broker name, not topic name', { 'log.retention.ms': '5' }],
    ['not a number', { 'retention.ms': 'soon' }],
    ['below the minimum', { 'segment.bytes': 100 }],
    ['beyond int32', { 'segment.bytes': '3000000000' }],
    ['not one of the choices', { 'message.timestamp.type': 'Whenever' }],
    ['not a cleanup policy', { 'cleanup.policy': 'compacted' }],
    ['a fraction', { 'retention.bytes': 1.5 }],
  ];
  for (const [what, configs] of cases) {
    const response = await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', configs } });
    assertError(t, response, 'INVALID_CONFIG', what);
    t.match((response.body as any).error.message, Object.keys(configs)[0], `${what}: the message names the config`);
  }
  t.same(await topicNames(server.url), [], 'nothing was created');
});

void t.test('a replication factor above the node count gets 400 INVALID_REPLICATION_FACTOR', async (t) => {
  const server = await startServer(t);
  assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', replicationFactor: 2 } }), 'INVALID_REPLICATION_FACTOR');
  assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', replicationFactor: 0 } }), 'INVALID_REQUEST', 'replicationFactor 0');
  t.same(await topicNames(server.url), []);
});

void t.test('partition counts below 1 or beyond the limit get 400 INVALID_PARTITIONS; non-integers are schema errors', async (t) => {
  const server = await startServer(t);
  assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', partitions: 10_001 } }), 'INVALID_PARTITIONS');
  assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', partitions: 0 } }), 'INVALID_PARTITIONS', 'partitions 0');
  assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', partitions: -3 } }), 'INVALID_PARTITIONS', 'partitions -3');
  assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'orders', partitions: 1.5 } }), 'INVALID_REQUEST', 'partitions 1.5');
  t.same(await topicNames(server.url), []);
});

void t.test('PATCH adds partitions, sets configs, removes them with null, and refuses to shrink', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 1, configs: { 'retention.ms': 3_600_000 } });
  await produce(server.url, 'orders', [{ value: 'before' }]);

  const grown = await requestJson<TopicDescription>(`${server.url}/v1/topics/orders`, {
    method: 'PATCH',
    body: { partitions: 3, configs: { 'retention.bytes': '1073741824', 'flush.messages': 1 } },
  });
  t.equal(grown.status, 200);
  t.same(grown.body.partitions.map((p) => [p.partition, p.logEndOffset]), [[0, 1], [1, 0], [2, 0]], 'two partitions added, the old one keeps its records');
  t.same(grown.body.configs, { 'retention.ms': '3600000', 'retention.bytes': '1073741824', 'flush.messages': '1' }, 'configs are merged');
  t.ok(fs.existsSync(logDirectory(server.dataDir, 'orders', 2)), 'the new partition has a log directory');
  const [offset] = await produce(server.url, 'orders', [{ value: 'new partition' }], { partition: 2 });
  t.same([offset.partition, offset.offset], [2, 0], 'the new partition takes records');

  const removed = await requestJson<TopicDescription>(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { configs: { 'retention.ms': null } } });
  t.equal(removed.status, 200);
  t.same(removed.body.configs, { 'retention.bytes': '1073741824', 'flush.messages': '1' }, 'null removes a config');
  t.equal(removed.body.effectiveConfigs['retention.ms'], KAFKA_DEFAULTS['retention.ms'], 'and the default applies again');

  const shrink = await requestJson(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { partitions: 2, configs: { 'retention.ms': 5 } } });
  assertError(t, shrink, 'INVALID_PARTITIONS', 'decrease');
  const same = await requestJson(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { partitions: 3 } });
  t.equal(same.status, 200, 'the same count is not a change, and not an error');

  assertError(t, await requestJson(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { partitions: 4, configs: { 'segment.bytes': 1 } } }), 'INVALID_CONFIG', 'bad value');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { configs: { 'no.such': null } } }), 'INVALID_CONFIG', 'removing an unknown config');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { replicationFactor: 3 } }), 'INVALID_REQUEST', 'a field PATCH does not take');
  assertError(t, await requestJson(`${server.url}/v1/topics/missing`, { method: 'PATCH', body: { partitions: 2 } }), 'TOPIC_NOT_FOUND');

  const after = await describe(server.url, 'orders');
  t.equal(after.partitions.length, 3, 'refused changes changed no partition count');
  t.same(after.configs, { 'retention.bytes': '1073741824', 'flush.messages': '1' }, 'refused changes changed no config');
});

void t.test('a config changed with PATCH takes effect on the next produce', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  await produce(server.url, 'orders', [{ value: 'x'.repeat(2000) }]);
  await requestOk(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { configs: { 'max.message.bytes': 1000 } } });
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/records`, { body: { records: [{ value: 'x'.repeat(2000) }] } }), 'RECORD_TOO_LARGE');
  await requestOk(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { configs: { 'max.message.bytes': null } } });
  await produce(server.url, 'orders', [{ value: 'x'.repeat(2000) }]);
  t.equal((await describe(server.url, 'orders')).partitions[0].logEndOffset, 2, 'the default limit is back');
});

void t.test('a deleted topic is gone: from the API, from disk and from SQLite, also after a restart; its name starts again at offset 0', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2, configs: { 'retention.ms': 60_000 } });
  await createTopic(server.url, 'keep');
  await produce(server.url, 'orders', [{ value: 'a' }, { value: 'b' }], { partition: 0, idempotencyKey: 'k1' });
  await produce(server.url, 'orders', [{ value: 'c' }], { partition: 1 });
  const firstId = (await describe(server.url, 'orders')).topicId;

  const deleted = await requestJson(`${server.url}/v1/topics/orders`, { method: 'DELETE' });
  t.equal(deleted.status, 204);
  t.equal(deleted.body, undefined, '204 has no body');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders`), 'TOPIC_NOT_FOUND', 'describe after delete');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/partitions/0/records`), 'TOPIC_NOT_FOUND', 'fetch after delete');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/records`, { body: { records: [{ value: 1 }] } }), 'TOPIC_NOT_FOUND', 'produce after delete');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders`, { method: 'DELETE' }), 'TOPIC_NOT_FOUND', 'delete twice');
  t.same(await topicNames(server.url), ['keep']);
  t.notOk(fs.existsSync(logDirectory(server.dataDir, 'orders', 0)), 'orders-0 removed from disk');
  t.notOk(fs.existsSync(logDirectory(server.dataDir, 'orders', 1)), 'orders-1 removed from disk');
  t.ok(fs.existsSync(logDirectory(server.dataDir, 'keep', 0)), 'other topics keep their logs');

  await server.close();
  const db = new Database(path.join(server.dataDir, 'meta.db'), { readonly: true });
  try {
    for (const [table, column] of [['topics', 'name'], ['topic_configs', 'topic'], ['partitions', 'topic'], ['idempotency', 'topic']]) {
      const row = db.prepare(`SELECT COUNT(*) AS count FROM ${table} WHERE ${column} = ?`).get('orders') as { count: number };
      t.equal(row.count, 0, `no ${table} rows for the deleted topic`);
    }
  } finally {
    db.close();
  }

  const restarted = await startServer(t, { dataDir: server.dataDir });
  t.same(await topicNames(restarted.url), ['keep'], 'not listed after a restart');
  t.notOk(fs.existsSync(logDirectory(server.dataDir, 'orders', 0)), 'and not back on disk');

  await createTopic(restarted.url, 'orders', { partitions: 1 });
  const again = await describe(restarted.url, 'orders');
  t.not(again.topicId, firstId, 'a new topic id');
  t.same(again.configs, {}, 'no configs inherited');
  t.same(again.partitions.map((p) => [p.logStartOffset, p.logEndOffset]), [[0, 0]], 'an empty log');
  const offsets = await produce(restarted.url, 'orders', [{ value: 'a' }, { value: 'b' }], { partition: 0, idempotencyKey: 'k1' });
  t.same(offsets.map((o) => o.offset), [0, 1], 'offsets start at 0, and the old idempotency key does not replay the old answer');
  t.same((await fetchAll(restarted.url, 'orders', 0)).records.map((r) => r.value), ['a', 'b'], 'no record of the old topic');
  await restarted.close();
});

void t.test('a reader long-polling a topic that is deleted is told TOPIC_NOT_FOUND at once', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const state = server.broker.topics.partition('orders', 0);
  const startedMs = Date.now();
  const waiting = requestJson(`${server.url}/v1/topics/orders/partitions/0/records?offset=latest&waitMs=20000`, { timeoutMs: 15_000 });
  await until(() => state.notifier.waiterCount === 1, 'the long-poll is waiting');
  await requestOk(`${server.url}/v1/topics/orders`, { method: 'DELETE' });
  assertError(t, await waiting, 'TOPIC_NOT_FOUND', 'the waiting reader');
  t.ok(Date.now() - startedMs < 10_000, 'answered long before waitMs');
});

void t.test('topics, configs, partitions added later and records survive a restart', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2, configs: { 'retention.ms': 86_400_000, 'message.timestamp.type': 'LogAppendTime' } });
  await createTopic(server.url, 'audit', { partitions: 1 });
  await requestOk(`${server.url}/v1/topics/orders`, { method: 'PATCH', body: { partitions: 3, configs: { 'segment.bytes': 4096 } } });
  await produce(server.url, 'orders', [{ key: 'k', value: { n: 1 } }, { value: 'two', headers: { h: 'v' } }], { partition: 2 });
  for (let i = 0; i < 40; i++) await produce(server.url, 'orders', [{ value: { i, pad: 'p'.repeat(200) } }], { partition: 0 });
  await produce(server.url, 'audit', [{ value: null }]);
  const beforeOrders = await describe(server.url, 'orders');
  const beforeAudit = await describe(server.url, 'audit');
  const beforeRecords = await fetchAll(server.url, 'orders', 0);
  t.ok(beforeOrders.partitions[0].segmentCount > 1, 'orders-0 rolled segments (4096-byte segments)');
  const clusterId = (await requestOk<{ clusterId: string }>(`${server.url}/v1/cluster`)).body.clusterId;
  await server.close();

  const restarted = await startServer(t, { dataDir: server.dataDir });
  t.same(await topicNames(restarted.url), ['audit', 'orders']);
  const afterOrders = await describe(restarted.url, 'orders');
  t.same(afterOrders.configs, { 'retention.ms': '86400000', 'message.timestamp.type': 'LogAppendTime', 'segment.bytes': '4096' }, 'configs kept');
  t.same(afterOrders.partitions.map((p) => [p.logStartOffset, p.highWatermark, p.logEndOffset]),
    beforeOrders.partitions.map((p) => [p.logStartOffset, p.highWatermark, p.logEndOffset]), 'offsets kept');
  t.equal(afterOrders.topicId, beforeOrders.topicId, 'topic id kept');
  t.same(await describe(restarted.url, 'audit'), beforeAudit);
  t.same(await fetchAll(restarted.url, 'orders', 0), beforeRecords, 'records of a multi-segment partition kept');
  t.same((await fetchRecords(restarted.url, 'orders', 2)).records.map((r) => [r.offset, r.key, r.value, r.headers]), [
    [0, 'k', { n: 1 }, {}],
    [1, null, 'two', { h: 'v' }],
  ]);
  t.equal((await requestOk<{ clusterId: string }>(`${restarted.url}/v1/cluster`)).body.clusterId, clusterId, 'the cluster id is kept');
  const [next] = await produce(restarted.url, 'orders', [{ value: 'after restart' }], { partition: 2 });
  t.equal(next.offset, 2, 'appends continue after the last offset');
  await restarted.close();
});
