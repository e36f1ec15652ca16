/**
 * Produce over real HTTP: both body types, the three key/value formats, headers,
 * timestamps, where records land (explicit, keyed as Kafka's client, keyless sticky),
 * acks, Idempotency-Key, and every refusal. Bad input writes nothing: each refusal is
 * checked against every partition's log end offset, and followed by a request that
 * works (the node stays up).
 */
import t, { type Test } from 'tap';
// kafkajs is a dev-time reference only: its DefaultPartitioner ports the Java client's.
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { createTopic, fetchAll, produce, requestJson, type ProduceRecord, type RecordOffset } from '../helpers/http.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertError, logEndOffsets, postRaw } from '../helpers/http-support.js';

const NDJSON = 'application/x-ndjson';

/** Asserts a refusal wrote nothing and that the next good request still works. */
async function assertNothingWrittenAndStillServing(t: Test, server: TestServer, topic: string, before: number[], what: string): Promise<void> {
  t.same(await logEndOffsets(server.url, topic), before, `${what}: no partition's log end moved`);
  const [offset] = await produce(server.url, topic, [{ value: 'after' }], { partition: 0 });
  t.equal(offset.offset, before[0], `${what}: the next good request is appended where the log ended`);
  before[0] += 1;
}

void t.test('a JSON batch round-trips keys, values of every JSON type, headers and null', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const records: Array<Omit<ProduceRecord, 'headers'> & { headers?: ProduceRecord['headers'] | null }> = [
    { key: 'alice', value: { item: 'book', qty: 1, tags: ['a', 'b'], nested: { ok: true } } },
    { key: 'bob', value: [1, 'two', null], headers: { source: 'web', trace: 'ü-✓', empty: '', gone: null } },
    { value: 'a JSON string, with "quotes" and \n newline' },
    { value: 42.5 },
    { value: false },
    { value: null },
    { key: null },
    { key: 'only-key', headers: null },
  ];
  // headers: null is accepted too (the helper's type leaves it out).
  const offsets = await produce(server.url, 'orders', records as ProduceRecord[]);
  t.same(offsets.map((o) => [o.partition, o.offset]), records.map((_, i) => [0, i]), 'one offset per record, in request order');
  const fetched = (await fetchAll(server.url, 'orders', 0)).records;
  t.same(fetched.map((r) => [r.offset, r.key, r.value, r.headers]), [
    [0, 'alice', records[0].value, {}],
    [1, 'bob', [1, 'two', null], { source: 'web', trace: 'ü-✓', empty: '', gone: null }],
    [2, null, records[2].value, {}],
    [3, null, 42.5, {}],
    [4, null, false, {}],
    [5, null, null, {}],
    [6, null, null, {}],
    [7, 'only-key', null, {}],
  ]);
  t.same(fetched.map((r) => r.timestamp), offsets.map((o) => o.timestamp), 'fetched timestamps are the acknowledged ones');
});

void t.test('an NDJSON body appends one record per line (blank lines ignored), formats from the query', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  const path = `${server.url}/v1/topics/orders/partitions/1/records?valueFormat=string&keyFormat=string`;
  const response = await postRaw(path, '{"value":"a"}\n\n{"key":"k","value":"b","headers":{"h":"v"}}\r\n   \n{"value":"c"}', NDJSON);
  t.equal(response.status, 200);
  t.same((response.body as { offsets: RecordOffset[] }).offsets.map((o) => [o.partition, o.offset]), [[1, 0], [1, 1], [1, 2]]);
  t.same((await fetchAll(server.url, 'orders', 1)).records.map((r) => [r.key, r.value, r.headers]), [
    [null, 'a', {}],
    ['k', 'b', { h: 'v' }],
    [null, 'c', {}],
  ]);

  const json = await postRaw(`${server.url}/v1/topics/orders/records`, '{"value":{"n":1},"partition":0}\n{"value":[2],"partition":0}\n', `${NDJSON}; charset=utf-8`);
  t.equal(json.status, 200, 'a charset parameter is fine; values default to JSON');
  t.same((await fetchAll(server.url, 'orders', 0)).records.map((r) => r.value), [{ n: 1 }, [2]]);

  // No body and no content type, on either produce path: 400, not a server error.
  for (const path of ['records', 'partitions/0/records']) {
    const empty = await requestJson(`${server.url}/v1/topics/orders/${path}`, { method: 'POST' });
    assertError(t, empty, 'INVALID_REQUEST', `POST ${path} without a body`);
  }

  // A JSON body carries its formats in the body: a query format would be ignored, so it is refused.
  const before = (await fetchAll(server.url, 'orders', 0)).records.length;
  const misplaced = await postRaw(`${server.url}/v1/topics/orders/partitions/0/records?valueFormat=binary`, '{"records":[{"value":"not base64!"}]}', 'application/json');
  assertError(t, misplaced, 'INVALID_REQUEST', 'valueFormat in the query of a JSON body');
  t.match((misplaced.body as any).error.message, /in the body/, 'the message says where the format goes');
  t.equal((await fetchAll(server.url, 'orders', 0)).records.length, before, 'nothing was appended');

  const bad = await postRaw(`${server.url}/v1/topics/orders/records`, '{"value":1,"partition":0}\n{"value":\n', NDJSON);
  assertError(t, bad, 'INVALID_JSON', 'a broken line');
  t.match((bad.body as any).error.message, /line 2/, 'the message names the line');
  assertError(t, await postRaw(`${server.url}/v1/topics/orders/records`, '\n\n', NDJSON), 'INVALID_REQUEST', 'no records at all');
  assertError(t, await postRaw(`${server.url}/v1/topics/orders/records`, '[1,2]\n', NDJSON), 'INVALID_REQUEST', 'a line that is not a record object');
  t.same(await logEndOffsets(server.url, 'orders'), [2, 3], 'refused NDJSON bodies wrote nothing');
});

void t.test('keyFormat and valueFormat json|string|binary round-trip; binary is base64 and keeps every byte', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'formats');
  const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255, 10, 13, 34, 92]);
  await produce(server.url, 'formats', [{ key: bytes.toString('base64'), value: Buffer.from('hello').toString('base64') }, { key: '', value: '' }], {
    keyFormat: 'binary',
    valueFormat: 'binary',
  });
  await produce(server.url, 'formats', [{ key: { id: 7 }, value: 'plain "text"\u0000\u2028' }], { keyFormat: 'json', valueFormat: 'string' });
  await produce(server.url, 'formats', [{ key: 'text-key', value: { json: [true] } }], { keyFormat: 'string', valueFormat: 'json' });
  const fetched = (await fetchAll(server.url, 'formats', 0)).records;
  t.same(fetched.map((r) => [r.key, r.value]), [
    [bytes.toString('base64'), Buffer.from('hello').toString('base64')],
    ['', ''],
    [{ id: 7 }, 'plain "text"\u0000\u2028'],
    ['text-key', { json: [true] }],
  ], 'each record comes back in the format it was produced in');
  t.same(Buffer.from(fetched[0].key as string, 'base64'), bytes, 'binary bytes are exact');

  const before = await logEndOffsets(server.url, 'formats');
  for (const [what, body] of [
    ['not base64 at all', { records: [{ value: 'aGk=' }, { value: 'not base64!' }], valueFormat: 'binary' }],
    ['unpadded base64', { records: [{ value: 'aGk' }], valueFormat: 'binary' }],
    ['a number as binary', { records: [{ value: 12 }], valueFormat: 'binary' }],
    ['a binary key that is not base64', { records: [{ key: '%%%', value: 'x' }], keyFormat: 'binary', valueFormat: 'string' }],
    ['an object as a string value', { records: [{ value: { a: 1 } }], valueFormat: 'string' }],
    ['a number as a string key', { records: [{ key: 5, value: 1 }] }],
  ] as const) {
    assertError(t, await requestJson(`${server.url}/v1/topics/formats/records`, { body }), 'INVALID_RECORD', what);
  }
  assertError(t, await requestJson(`${server.url}/v1/topics/formats/records`, { body: { records: [{ value: 1 }], valueFormat: 'xml' } }), 'INVALID_REQUEST', 'an unknown format');
  await assertNothingWrittenAndStillServing(t, server, 'formats', before, 'bad formats');
});

void t.test('timestamps: CreateTime keeps the client time (or stamps now); LogAppendTime uses the node clock', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'create-time');
  await createTopic(server.url, 'append-time', { configs: { 'message.timestamp.type': 'LogAppendTime' } });
  const clientMs = Date.now() - 3_600_000;

  const beforeMs = Date.now();
  const created = await produce(server.url, 'create-time', [{ value: 1, timestamp: clientMs }, { value: 2 }, { value: 3, timestamp: 0 }]);
  const afterMs = Date.now();
  t.equal(created[0].timestamp, clientMs, 'the client timestamp is kept');
  t.ok(created[1].timestamp >= beforeMs && created[1].timestamp <= afterMs, 'a record without one is stamped on arrival');
  t.equal(created[2].timestamp, 0, 'the epoch is a valid timestamp');
  t.same((await fetchAll(server.url, 'create-time', 0)).records.map((r) => r.timestamp), created.map((o) => o.timestamp), 'fetch returns them');

  const appendBeforeMs = Date.now();
  const appended = await produce(server.url, 'append-time', [{ value: 1, timestamp: clientMs }, { value: 2 }]);
  const appendAfterMs = Date.now();
  for (const offset of appended) {
    t.ok(offset.timestamp >= appendBeforeMs && offset.timestamp <= appendAfterMs, `LogAppendTime: offset ${offset.offset} has the node's time, not the client's`);
  }
  t.same((await fetchAll(server.url, 'append-time', 0)).records.map((r) => r.timestamp), appended.map((o) => o.timestamp), 'fetch returns the append time');

  assertError(t, await requestJson(`${server.url}/v1/topics/create-time/records`, { body: { records: [{ value: 1, timestamp: -5 }] } }), 'INVALID_REQUEST', 'a negative timestamp');
  assertError(t, await requestJson(`${server.url}/v1/topics/create-time/records`, { body: { records: [{ value: 1, timestamp: '2024-01-01' }] } }), 'INVALID_REQUEST', 'a date string');
  assertError(t, await requestJson(`${server.url}/v1/topics/create-time/records`, { body: { records: [{ value: 1, timestamp: 2 ** 60 }] } }), 'INVALID_RECORD', 'beyond a safe integer');
});

void t.test('an explicit partition in the body or the path decides where a record goes; the path wins', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 3 });
  const body = await produce(server.url, 'orders', [{ key: 'k', value: 'a', partition: 2 }, { value: 'b', partition: 0 }, { key: 'k', value: 'c', partition: 2 }]);
  t.same(body.map((o) => [o.partition, o.offset]), [[2, 0], [0, 0], [2, 1]], 'partition in the body beats the key');
  const path = await produce(server.url, 'orders', [{ value: 'd' }, { key: 'x', value: 'e', partition: 0 }], { partition: 1 });
  t.same(path.map((o) => [o.partition, o.offset]), [[1, 0], [1, 1]], 'every record goes to the partition in the path');
  t.same(await logEndOffsets(server.url, 'orders'), [1, 2, 2]);
});

void t.test('an unknown partition gets 404 PARTITION_NOT_FOUND and nothing of the request is written to any partition', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 3 });
  await produce(server.url, 'orders', [{ value: 'seed', partition: 0 }, { value: 'seed', partition: 1 }, { value: 'seed', partition: 2 }]);
  const before = await logEndOffsets(server.url, 'orders');
  t.same(before, [1, 1, 1]);

  const spanning = await requestJson(`${server.url}/v1/topics/orders/records`, {
    body: { records: [{ value: 'p0', partition: 0 }, { value: 'p1', partition: 1 }, { key: 'alice', value: 'keyed' }, { value: 'keyless' }, { value: 'p2', partition: 2 }, { value: 'bad', partition: 3 }] },
  });
  assertError(t, spanning, 'PARTITION_NOT_FOUND', 'bad partition last in a batch spanning every partition');
  t.match((spanning.body as any).error.message, /records\[5\]/, 'the message names the record');
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'unknown partition in the body');

  assertError(t, await requestJson(`${server.url}/v1/topics/orders/partitions/7/records`, { body: { records: [{ value: 1 }] } }), 'PARTITION_NOT_FOUND', 'unknown partition in the path');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/partitions/-1/records`, { body: { records: [{ value: 1 }] } }), 'INVALID_REQUEST', 'a negative partition in the path');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/records`, { body: { records: [{ value: 1, partition: -1 }] } }), 'INVALID_REQUEST', 'a negative partition in the body');
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'unknown partition in the path');

  assertError(t, await requestJson(`${server.url}/v1/topics/nope/records`, { body: { records: [{ value: 1 }] } }), 'TOPIC_NOT_FOUND', 'unknown topic');
  assertError(t, await requestJson(`${server.url}/v1/topics/nope/partitions/0/records`, { body: { records: [{ value: 1 }] } }), 'TOPIC_NOT_FOUND', 'unknown topic, with a partition');
});

void t.test('a bad record or a record over max.message.bytes last in a multi-partition batch writes nothing', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 3, configs: { 'max.message.bytes': 2048 } });
  const before = await logEndOffsets(server.url, 'orders');
  const good = [{ value: 'p0', partition: 0 }, { value: 'p1', partition: 1 }, { key: 'bob', value: 'keyed' }, { value: 'p2', partition: 2 }];

  const invalid = await requestJson(`${server.url}/v1/topics/orders/records`, { body: { records: [...good, { value: 'aGk', partition: 1 }], valueFormat: 'binary' } });
  assertError(t, invalid, 'INVALID_RECORD', 'bad base64 last');
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'bad base64');

  const tooLarge = await requestJson(`${server.url}/v1/topics/orders/records`, { body: { records: [...good, { value: 'x'.repeat(4000), partition: 2 }] } });
  assertError(t, tooLarge, 'RECORD_TOO_LARGE', 'one record over max.message.bytes, last');
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'record too large');

  // Many records that fit one by one are split into several batches, not refused.
  const many = Array.from({ length: 30 }, (_, i) => ({ value: `${i}:${'y'.repeat(300)}`, partition: 1 }));
  const offsets = await produce(server.url, 'orders', many);
  t.same(offsets.map((o) => o.offset), many.map((_, i) => before[1] + i), 'a request over max.message.bytes in total is accepted with consecutive offsets');
  const describedAfter = (await fetchAll(server.url, 'orders', 1)).records.map((r) => r.value);
  t.same(describedAfter.slice(-30), many.map((r) => r.value), 'and every record reads back');
});

void t.test("keyed records go where Kafka's DefaultPartitioner (kafkajs) puts them", async (t) => {
  const server = await startServer(t);
  const partitionCount = 5;
  await createTopic(server.url, 'keyed', { partitions: partitionCount });
  const kafkajs = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = Array.from({ length: partitionCount }, (_, partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
  const keys = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'order-42', '', 'ключ', '🔑'];
  const offsets = await produce(server.url, 'keyed', keys.map((key) => ({ key, value: key })));
  const expected = keys.map((key) => kafkajs({ topic: 'keyed', partitionMetadata, message: { key: Buffer.from(key, 'utf8'), value: null } }));
  t.same(offsets.map((o) => o.partition), expected, 'string keys: the same partition as kafkajs');
  t.ok(new Set(expected).size > 1, 'the keys spread over more than one partition (the check can tell partitions apart)');

  const binaryKeys = [Buffer.from([0]), Buffer.from([255, 254, 0, 1]), Buffer.from('binary-key')];
  const binaryOffsets = await produce(server.url, 'keyed', binaryKeys.map((key) => ({ key: key.toString('base64'), value: 1 })), { keyFormat: 'binary' });
  t.same(binaryOffsets.map((o) => o.partition), binaryKeys.map((key) => kafkajs({ topic: 'keyed', partitionMetadata, message: { key, value: null } })), 'binary keys are partitioned by their decoded bytes');

  const again = await produce(server.url, 'keyed', [{ key: 'alice', value: 'again' }, { key: 'alice', value: 'and again' }]);
  t.same(again.map((o) => o.partition), [offsets[0].partition, offsets[0].partition], 'the same key always lands on the same partition');
  t.equal(again[1].offset, again[0].offset + 1, 'in order');
});

void t.test('keyless records of one request share one partition; successive requests move to the next partition', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'spread', { partitions: 3 });
  const used: number[] = [];
  for (let request = 0; request < 6; request++) {
    const offsets = await produce(server.url, 'spread', Array.from({ length: 10 }, (_, i) => ({ value: i })));
    t.equal(new Set(offsets.map((o) => o.partition)).size, 1, `request ${request}: one partition for all ten records`);
    used.push(offsets[0].partition);
  }
  t.same(new Set(used.slice(0, 3)).size, 3, 'three requests in a row use the three partitions');
  t.same(used.slice(3), used.slice(0, 3), 'round-robin continues');
  t.same(await logEndOffsets(server.url, 'spread'), [20, 20, 20], 'spread evenly');
});

void t.test('concurrent requests to one partition get distinct offsets, each request a consecutive run', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'busy', { configs: { 'flush.messages': 1 } });
  const requestCount = 20;
  const recordsPerRequest = 10;
  const answers = await Promise.all(Array.from({ length: requestCount }, (_, request) =>
    produce(server.url, 'busy', Array.from({ length: recordsPerRequest }, (_, i) => ({ value: { request, i } })), { acks: 'all' })));
  const all = answers.flat().map((o) => o.offset).sort((a, b) => a - b);
  t.same(all, Array.from({ length: requestCount * recordsPerRequest }, (_, i) => i), 'offsets 0..199, none twice, none skipped');
  for (const [request, offsets] of answers.entries()) {
    t.ok(offsets.every((o, i) => o.offset === offsets[0].offset + i), `request ${request}: one consecutive run (one batch)`);
  }
  const fetched = (await fetchAll(server.url, 'busy', 0)).records;
  t.ok(fetched.every((r) => {
    const { request, i } = r.value as { request: number; i: number };
    return answers[request][i].offset === r.offset;
  }), 'every record is at the offset its request was told');
});

void t.test('acks=none answers 202; acks=leader, acks=all and the default answer 200; all are readable', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'acks', { configs: { 'flush.messages': 1 } });
  const statuses: number[] = [];
  for (const acks of ['none', 'leader', 'all', undefined]) {
    const query = acks === undefined ? '' : `?acks=${acks}`;
    const response = await requestJson<{ offsets: RecordOffset[] }>(`${server.url}/v1/topics/acks/records${query}`, { body: { records: [{ value: acks ?? 'default' }] } });
    statuses.push(response.status);
    t.equal(response.body.offsets.length, 1, `acks=${acks}: the offsets are in the answer`);
  }
  t.same(statuses, [202, 200, 200, 200]);
  t.same((await fetchAll(server.url, 'acks', 0)).records.map((r) => r.value), ['none', 'leader', 'all', 'default']);
  assertError(t, await requestJson(`${server.url}/v1/topics/acks/records?acks=2`, { body: { records: [{ value: 1 }] } }), 'INVALID_REQUEST', 'acks=2');
});

void t.test('Idempotency-Key: a retry replays the first answer and appends nothing; another body with the key is refused', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  await createTopic(server.url, 'other');
  const body = { records: [{ key: 'alice', value: { item: 'lamp' } }, { value: 'x', partition: 1 }] };
  const headers = { 'idempotency-key': 'order-42' };
  const first = await requestJson<{ offsets: RecordOffset[] }>(`${server.url}/v1/topics/orders/records`, { body, headers });
  t.equal(first.status, 200);
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not a replay');
  const afterFirst = await logEndOffsets(server.url, 'orders');

  const retry = await requestJson<{ offsets: RecordOffset[] }>(`${server.url}/v1/topics/orders/records`, { body, headers });
  t.equal(retry.status, 200);
  t.equal(retry.headers['idempotent-replayed'], 'true');
  t.same(retry.body, first.body, 'the same offsets and timestamps');
  t.same(await logEndOffsets(server.url, 'orders'), afterFirst, 'nothing appended');

  const reused = await requestJson(`${server.url}/v1/topics/orders/records`, { body: { records: [{ value: 'different' }] }, headers });
  assertError(t, reused, 'IDEMPOTENCY_KEY_REUSED');
  t.same(await logEndOffsets(server.url, 'orders'), afterFirst, 'a refused reuse appends nothing');

  const elsewhere = await requestJson(`${server.url}/v1/topics/other/records`, { body: { records: [{ value: 'x' }] }, headers });
  t.equal(elsewhere.status, 200, 'a key is scoped to its topic');
  t.equal(elsewhere.headers['idempotent-replayed'], undefined);

  const plain = await produce(server.url, 'orders', [{ value: 'no key' }], { partition: 0 });
  t.equal(plain[0].offset, afterFirst[0], 'requests without a key append as usual');

  assertError(t, await requestJson(`${server.url}/v1/topics/orders/records`, { body, headers: { 'idempotency-key': 'k'.repeat(256) } }), 'INVALID_REQUEST', 'a key over 255 characters');
});

void t.test('retries with one Idempotency-Key sent at the same time append once', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { configs: { 'flush.messages': 1 } });
  const body = { records: [{ value: 1 }, { value: 2 }] };
  const answers = await Promise.all(Array.from({ length: 5 }, () =>
    requestJson<{ offsets: RecordOffset[] }>(`${server.url}/v1/topics/orders/records`, { body, headers: { 'idempotency-key': 'burst' } })));
  t.same(answers.map((a) => a.status), [200, 200, 200, 200, 200]);
  t.equal(answers.filter((a) => a.headers['idempotent-replayed'] === 'true').length, 4, 'one original, four replays');
  t.ok(answers.every((a) => JSON.stringify(a.body) === JSON.stringify(answers[0].body)), 'all got the same offsets');
  t.same(await logEndOffsets(server.url, 'orders'), [2], 'appended once');
});

void t.test('an Idempotency-Key answer survives a restart', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const first = await produce(server.url, 'orders', [{ value: 1 }, { value: 2 }], { idempotencyKey: 'retry-me', acks: 'all' });
  await server.close();
  const restarted = await startServer(t, { dataDir: server.dataDir });
  const retry = await requestJson<{ offsets: RecordOffset[] }>(`${restarted.url}/v1/topics/orders/records?acks=all`, {
    body: { records: [{ value: 1 }, { value: 2 }] },
    headers: { 'idempotency-key': 'retry-me' },
  });
  t.equal(retry.headers['idempotent-replayed'], 'true', 'replayed after the restart');
  t.same(retry.body.offsets, first);
  t.same(await logEndOffsets(restarted.url, 'orders'), [2], 'nothing appended twice');
  await restarted.close();
});

void t.test('a body over --body-limit-bytes gets 413 REQUEST_TOO_LARGE and writes nothing', async (t) => {
  const server = await startServer(t, { bodyLimitBytes: 4096 });
  await createTopic(server.url, 'orders');
  const before = await logEndOffsets(server.url, 'orders');
  const big = { records: [{ value: 'x'.repeat(5000) }] };
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/records`, { body: big }), 'REQUEST_TOO_LARGE', 'JSON');
  assertError(t, await postRaw(`${server.url}/v1/topics/orders/records`, `{"value":"${'x'.repeat(5000)}"}\n`, NDJSON), 'REQUEST_TOO_LARGE', 'NDJSON');
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'body too large');
  const justUnder = await produce(server.url, 'orders', [{ value: 'x'.repeat(3900) }]);
  t.equal(justUnder.length, 1, 'a body just under the limit is accepted');
});

void t.test('malformed JSON, wrong types and unsupported content types are refused and the node keeps serving', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const before = await logEndOffsets(server.url, 'orders');
  const url = `${server.url}/v1/topics/orders/records`;

  for (const [what, text] of [['truncated', '{"records":[{"value":1}'], ['not JSON', 'records=1'], ['empty', ''], ['trailing comma', '{"records":[{"value":1},]}']]) {
    assertError(t, await postRaw(url, text, 'application/json'), 'INVALID_JSON', what);
    await assertNothingWrittenAndStillServing(t, server, 'orders', before, what);
  }
  const wrongTypes: Array<[string, unknown]> = [
    ['records not an array', { records: { value: 1 } }],
    ['no records', {}],
    ['empty records', { records: [] }],
    ['a record that is a string', { records: ['value'] }],
    ['an unknown record field', { records: [{ value: 1, offset: 3 }] }],
    ['an unknown top-level field', { records: [{ value: 1 }], acks: 'all' }],
    ['a partition as a string', { records: [{ value: 1, partition: '0' }] }],
    ['a header value that is a number', { records: [{ value: 1, headers: { h: 1 } }] }],
    ['a body that is an array', [{ value: 1 }]],
  ];
  for (const [what, body] of wrongTypes) {
    assertError(t, await requestJson(url, { body }), 'INVALID_REQUEST', what);
  }
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'wrong types');

  for (const contentType of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'application/octet-stream']) {
    assertError(t, await postRaw(url, '{"records":[{"value":1}]}', contentType), 'UNSUPPORTED_MEDIA_TYPE', contentType);
  }
  await assertNothingWrittenAndStillServing(t, server, 'orders', before, 'unsupported media types');
});
