/**
 * The record-batch media type (application/vnd.runnel.record-batch) against a real
 * Kafka client's codec: batches encoded by kafkajs's producer code are produced as
 * they are, fetched back as stored bytes and decoded by kafkajs's consumer code with
 * keys, values, headers, timestamps and offsets intact; a JSON fetch shows the same
 * records. Bad bodies (CRC, truncation, compression, magic, size, transactions) are
 * refused with stable codes and append nothing.
 */
import t from 'tap';
import { request } from 'undici';
import { createTopic, requestJson, requestOk, type FetchResponse } from '../helpers/http.js';
import { logEndOffsets } from '../helpers/http-support.js';
import { decodeKafkaBatches, encodeKafkaBatch, KAFKA_COMPRESSION, type KafkaMessage } from '../helpers/kafkajs-codec.js';
import { startServer } from '../helpers/server.js';
import { encodeBatch, type EncodeBatchOptions } from '../../src/record/encode.js';
import { crc32c } from '../../src/util/crc32c.js';

const BATCH_TYPE = 'application/vnd.runnel.record-batch';

interface BatchAnswer { batches: Array<{ partition: number; baseOffset: number; lastOffset: number; timestamp: number }>; error?: { code: string; message: string } }

async function produceBatches(url: string, topic: string, partition: number, body: Buffer, headers: Record<string, string> = {}, query = '') {
  const response = await request(`${url}/v1/topics/${topic}/partitions/${partition}/records${query}`, {
    method: 'POST', body, headers: { 'content-type': BATCH_TYPE, ...headers },
  });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, body: JSON.parse(text) as BatchAnswer };
}

async function fetchBatches(url: string, topic: string, partition: number, query: string) {
  const response = await request(`${url}/v1/topics/${topic}/partitions/${partition}/records?${query}`, { headers: { accept: BATCH_TYPE } });
  const bytes = Buffer.from(await response.body.arrayBuffer());
  const header = (name: string): number => Number(response.headers[name]);
  return {
    status: response.statusCode,
    contentType: String(response.headers['content-type']),
    bytes,
    nextOffset: header('runnel-next-offset'),
    highWatermark: header('runnel-high-watermark'),
    logStartOffset: header('runnel-log-start-offset'),
  };
}

const binaryValue = Buffer.from([0x00, 0xff, 0xfe, 0x80, 0x0a, 0x22]);
const firstMessages: KafkaMessage[] = [
  { key: 'customer-1', value: 'plain text value', headers: { trace: 'abc', raw: Buffer.from([0xc3, 0x28]) }, timestamp: 1_764_000_000_000 },
  { key: null, value: binaryValue, timestamp: 1_764_000_000_500 },
  // Out of order: kafkajs names the last timestamp maxTimestamp, which is not the largest here.
  { key: Buffer.from([1, 2, 3]), value: null, headers: { empty: '' }, timestamp: 1_764_000_000_200 },
];
const secondMessages: KafkaMessage[] = [
  { key: 'customer-2', value: '{"json":"as bytes"}', timestamp: 1_764_000_001_000 },
  { key: 'customer-2', value: Buffer.alloc(0), headers: { a: '1', b: '2' }, timestamp: 1_764_000_001_001 },
];

function asBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return Buffer.isBuffer(value) ? value : Buffer.from(value);
}

void t.test('kafkajs batches go in as they are and come back decodable, with JSON showing the same records', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'events', { partitions: 2 });
  const first = await encodeKafkaBatch(firstMessages);
  const second = await encodeKafkaBatch(secondMessages);
  const produced = await produceBatches(server.url, 'events', 1, Buffer.concat([first, second]));
  t.equal(produced.status, 200);
  t.same(produced.body, { batches: [
    { partition: 1, baseOffset: 0, lastOffset: 2, timestamp: 1_764_000_000_500 },
    { partition: 1, baseOffset: 3, lastOffset: 4, timestamp: 1_764_000_001_001 },
  ] }, 'one entry per batch: offsets assigned in order, the batch\'s largest timestamp');
  t.equal(produced.headers['runnel-served-by'], '1');

  const fetched = await fetchBatches(server.url, 'events', 1, 'offset=0');
  t.equal(fetched.status, 200);
  t.equal(fetched.contentType, BATCH_TYPE);
  t.same([fetched.nextOffset, fetched.highWatermark, fetched.logStartOffset], [5, 5, 0]);
  t.equal(fetched.bytes.length, first.length + second.length, 'the stored batches, nothing added');
  t.same(fetched.bytes.subarray(first.length + 21), second.subarray(21), 'a batch with a right maxTimestamp is stored byte for byte from its attributes on (the CRC covers these)');
  t.same(fetched.bytes.subarray(61, first.length), first.subarray(61), 'the records of the other are byte for byte too');
  const decoded = await decodeKafkaBatches(fetched.bytes);
  t.same(decoded.map((batch) => batch.firstOffset), ['0', '3']);
  const records = decoded.flatMap((batch) => batch.records);
  const messages = [...firstMessages, ...secondMessages];
  t.same(records.map((record) => record.offset), ['0', '1', '2', '3', '4']);
  t.same(records.map((record) => Number(record.timestamp)), messages.map((message) => message.timestamp), 'CreateTime timestamps kept');
  t.same(records.map((record) => record.key), messages.map((message) => asBuffer(message.key)), 'keys byte for byte');
  t.same(records.map((record) => record.value), messages.map((message) => asBuffer(message.value)), 'values byte for byte');
  t.same(records[0].headers, { trace: Buffer.from('abc'), raw: Buffer.from([0xc3, 0x28]) }, 'headers byte for byte, non-UTF-8 included');
  t.same(records[4].headers, { a: Buffer.from('1'), b: Buffer.from('2') });

  const json = await requestOk<FetchResponse>(`${server.url}/v1/topics/events/partitions/1/records?offset=0`);
  const jsonRecords = json.body.records;
  t.same(jsonRecords.map((record) => record.offset), [0, 1, 2, 3, 4]);
  t.same(jsonRecords.map((record) => record.value === null ? null : Buffer.from(record.value as string, 'base64')), messages.map((message) => asBuffer(message.value)),
    'a JSON fetch shows the same values (binary format: base64)');
  t.same(jsonRecords.map((record) => record.timestamp), messages.map((message) => message.timestamp));
  t.same(jsonRecords[0].headers, { trace: 'abc', raw: '\ufffd(' }, 'header values are text in JSON; bytes that are not UTF-8 come out replaced, the answer stays JSON');

  const fromMiddle = await fetchBatches(server.url, 'events', 1, 'offset=4');
  t.same((await decodeKafkaBatches(fromMiddle.bytes)).map((batch) => batch.firstOffset), ['3'], 'from the batch holding the offset');
  t.equal(fromMiddle.nextOffset, 5);
  const small = await fetchBatches(server.url, 'events', 1, 'offset=0&maxBytes=1');
  t.equal(small.bytes.length, first.length, 'maxBytes: the first batch whole, no more');
  t.equal(small.nextOffset, 3);
  const atEnd = await fetchBatches(server.url, 'events', 1, 'offset=latest');
  t.same([atEnd.status, atEnd.bytes.length, atEnd.nextOffset], [200, 0, 5], 'nothing new: an empty body');
  const outOfRange = await requestJson(`${server.url}/v1/topics/events/partitions/1/records?offset=99`, { headers: { accept: BATCH_TYPE } });
  t.equal(outOfRange.status, 416, 'errors stay JSON');

  // A JSON-produced batch reads back through kafkajs too.
  await requestOk(`${server.url}/v1/topics/events/partitions/0/records`, { body: { records: [{ key: 'k', value: { n: 1 }, headers: { h: 'v' }, timestamp: 1_764_000_002_000 }] } });
  const fromJson = (await decodeKafkaBatches((await fetchBatches(server.url, 'events', 0, 'offset=0')).bytes))[0].records[0];
  t.same([fromJson.key?.toString(), fromJson.value?.toString(), fromJson.headers.h.toString(), fromJson.timestamp], ['k', '{"n":1}', 'v', '1764000002000']);

  const metrics = await (await request(`${server.url}/metrics`)).body.text();
  t.match(metrics, /runnel_records_in_total\{topic="events"\} 6\n/, 'records in count the binary produce\'s records, as JSON\'s');
});

void t.test('a long-poll answers with the batch that arrives; acks=none answers 202', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'polled');
  const waiting = fetchBatches(server.url, 'polled', 0, 'offset=0&waitMs=10000');
  const batch = await encodeKafkaBatch([{ value: 'late', timestamp: 1_764_000_000_000 }]);
  const produced = await produceBatches(server.url, 'polled', 0, batch, {}, '?acks=none');
  t.equal(produced.status, 202);
  const answer = await waiting;
  t.equal(answer.nextOffset, 1);
  t.equal((await decodeKafkaBatches(answer.bytes))[0].records[0].value?.toString(), 'late');
});

void t.test('bad bodies are refused with stable codes and append nothing', async (t) => {
  const server = await startServer(t, { bodyLimitBytes: 64 * 1024 });
  await createTopic(server.url, 'strict', { configs: { 'max.message.bytes': 2048 } });
  const good = await encodeKafkaBatch([{ key: 'k', value: 'v', timestamp: 1_764_000_000_000 }, { value: 'w', timestamp: 1_764_000_000_001 }]);
  const refuse = async (body: Buffer, status: number, code: string, what: string): Promise<void> => {
    const answer = await produceBatches(server.url, 'strict', 0, body);
    t.equal(answer.status, status, what);
    t.equal(answer.body.error?.code, code, what);
  };
  const flipped = Buffer.from(good);
  flipped[flipped.length - 3] ^= 0x01;
  await refuse(flipped, 400, 'CORRUPT_RECORD', 'a CRC that does not match');
  await refuse(good.subarray(0, good.length - 1), 400, 'CORRUPT_RECORD', 'a truncated batch');
  await refuse(good.subarray(0, 40), 400, 'CORRUPT_RECORD', 'less than a header');
  await refuse(Buffer.concat([good, flipped]), 400, 'CORRUPT_RECORD', 'a sound batch before a corrupt one: nothing of the body');
  await refuse(Buffer.concat([good, Buffer.from([0, 0, 0])]), 400, 'CORRUPT_RECORD', 'bytes after the last batch');
  const magic = Buffer.from(good);
  magic[16] = 1;
  await refuse(magic, 400, 'CORRUPT_RECORD', 'magic 1 (the old message format)');
  await refuse(await encodeKafkaBatch([{ value: 'zipped', timestamp: 1_764_000_000_000 }], { compression: KAFKA_COMPRESSION.gzip }), 415, 'UNSUPPORTED_COMPRESSION_TYPE', 'gzip');
  await refuse(await encodeKafkaBatch([{ value: 'tx', timestamp: 1_764_000_000_000 }], { transactional: true, producerId: 1 }), 400, 'INVALID_RECORD', 'a transactional batch');
  await refuse(await encodeKafkaBatch([{ value: 'x'.repeat(3000), timestamp: 1_764_000_000_000 }]), 413, 'RECORD_TOO_LARGE', 'a batch over max.message.bytes');
  const many = await Promise.all(Array.from({ length: 40 }, () => encodeKafkaBatch([{ value: 'y'.repeat(2000), timestamp: 1_764_000_000_000 }])));
  await refuse(Buffer.concat(many), 413, 'REQUEST_TOO_LARGE', 'a body over the node\'s body limit');
  await refuse(await encodeKafkaBatch([{ value: 'old', timestamp: -5 }]), 400, 'INVALID_RECORD', 'a negative timestamp');
  t.same(await logEndOffsets(server.url, 'strict'), [0], 'nothing was appended');

  const topicRoute = await request(`${server.url}/v1/topics/strict/records`, { method: 'POST', body: good, headers: { 'content-type': BATCH_TYPE } });
  t.equal(topicRoute.statusCode, 415, 'batches name one partition: the topic route does not take them');
  t.equal(((await topicRoute.body.json()) as BatchAnswer).error?.code, 'UNSUPPORTED_MEDIA_TYPE');
  const noRoute = await request(`${server.url}/v1/nowhere`, { method: 'POST', body: good, headers: { 'content-type': BATCH_TYPE } });
  t.equal(noRoute.statusCode, 404, 'no route is 404 whatever the body');
  await noRoute.body.dump();
  const missing = await produceBatches(server.url, 'strict', 3, good);
  t.equal(missing.body.error?.code, 'PARTITION_NOT_FOUND');
  t.equal((await produceBatches(server.url, 'strict', 0, good)).status, 200, 'the sound batch alone goes in');
});

void t.test('retries are exactly-once: an Idempotency-Key, or the batch\'s own producer fields', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { configs: { 'message.timestamp.type': 'LogAppendTime' } });
  const body = Buffer.concat([
    await encodeKafkaBatch([{ value: 'a', timestamp: 1 }, { value: 'b', timestamp: 2 }]),
    await encodeKafkaBatch([{ value: 'c', timestamp: 3 }]),
  ]);
  const beforeMs = Date.now();
  const first = await produceBatches(server.url, 'orders', 0, Buffer.from(body), { 'idempotency-key': 'order-7' });
  t.equal(first.status, 200);
  t.ok(first.body.batches.every((batch) => batch.timestamp >= beforeMs && batch.timestamp <= Date.now()), 'LogAppendTime: the answer carries the append time');
  const retry = await produceBatches(server.url, 'orders', 0, Buffer.from(body), { 'idempotency-key': 'order-7' });
  t.same(retry.body, first.body, 'the retry answers the first offsets');
  t.equal(retry.headers['idempotent-replayed'], 'true');
  const other = await produceBatches(server.url, 'orders', 0, await encodeKafkaBatch([{ value: 'z', timestamp: 1 }]), { 'idempotency-key': 'order-7' });
  t.equal(other.body.error?.code, 'IDEMPOTENCY_KEY_REUSED');
  t.same(await logEndOffsets(server.url, 'orders'), [3]);
  const decoded = await decodeKafkaBatches((await fetchBatches(server.url, 'orders', 0, 'offset=0')).bytes);
  t.ok(decoded.every((batch) => batch.timestampType === 1), 'stored as LogAppendTime');
  t.same(decoded.flatMap((batch) => batch.records.map((record) => Number(record.timestamp))), [first.body.batches[0].timestamp, first.body.batches[0].timestamp, first.body.batches[1].timestamp]);

  const { producerId, producerEpoch } = (await requestOk<{ producerId: number; producerEpoch: number }>(`${server.url}/v1/producers`, { method: 'POST' })).body;
  const sequenced = (firstSequence: number, values: string[]) =>
    encodeKafkaBatch(values.map((value) => ({ value, timestamp: 5 })), { producerId, producerEpoch, firstSequence });
  const p0 = await produceBatches(server.url, 'orders', 0, await sequenced(0, ['p0', 'p1']));
  t.same(p0.body.batches.map((batch) => [batch.baseOffset, batch.lastOffset]), [[3, 4]]);
  const again = await produceBatches(server.url, 'orders', 0, await sequenced(0, ['p0', 'p1']));
  t.same(again.body.batches.map((batch) => [batch.baseOffset, batch.lastOffset]), [[3, 4]], 'a retried batch answers its original offsets');
  const gap = await produceBatches(server.url, 'orders', 0, await sequenced(5, ['p5']));
  t.equal(gap.body.error?.code, 'OUT_OF_ORDER_SEQUENCE');
  const both = await produceBatches(server.url, 'orders', 0, await sequenced(2, ['p2']), { 'idempotency-key': 'k' });
  t.equal(both.body.error?.code, 'INVALID_REQUEST', 'not with an Idempotency-Key besides');
  t.same(await logEndOffsets(server.url, 'orders'), [5]);
});

void t.test('API keys: a binary produce needs write and a binary fetch needs read, as with JSON', async (t) => {
  const adminKey = 'record-batch-bootstrap-admin-key-0123456789';
  const server = await startServer(t, { isAuthEnabled: true, adminKey });
  const admin = { authorization: `Bearer ${adminKey}` };
  await requestOk(`${server.url}/v1/topics`, { body: { name: 'guarded', partitions: 1 }, headers: admin });
  const makeKey = async (name: string, operations: string[]) =>
    (await requestOk<{ key: string }>(`${server.url}/v1/keys`, { body: { name, grants: [{ resource: 'topic', name: 'guarded', operations }] }, headers: admin })).body.key;
  const reader = await makeKey('reader', ['read']);
  const writer = await makeKey('writer', ['write']);
  const batch = await encodeKafkaBatch([{ value: 'guarded value', timestamp: 1_764_000_000_000 }]);
  const asReader = await produceBatches(server.url, 'guarded', 0, Buffer.from(batch), { authorization: `Bearer ${reader}` });
  t.same([asReader.status, asReader.body.error?.code], [403, 'FORBIDDEN'], 'read is not write');
  const anonymous = await produceBatches(server.url, 'guarded', 0, Buffer.from(batch));
  t.same([anonymous.status, anonymous.body.error?.code], [401, 'UNAUTHENTICATED']);
  t.equal((await produceBatches(server.url, 'guarded', 0, Buffer.from(batch), { authorization: `Bearer ${writer}` })).status, 200);
  const fetchAs = (key: string) => request(`${server.url}/v1/topics/guarded/partitions/0/records?offset=0`, { headers: { accept: BATCH_TYPE, authorization: `Bearer ${key}` } });
  const refused = await fetchAs(writer);
  t.equal(refused.statusCode, 403, 'write is not read');
  t.notOk((await refused.body.text()).includes('guarded value'), 'not a byte of the records');
  const allowed = await fetchAs(reader);
  t.equal(allowed.statusCode, 200);
  t.equal((await decodeKafkaBatches(Buffer.from(await allowed.body.arrayBuffer())))[0].records[0].value?.toString(), 'guarded value');
});

/** A batch of Runnel's own encoder with the given format bits (which it does not check). */
function runnelBatch(values: Array<Buffer | string>, options: Partial<EncodeBatchOptions> = {}): Buffer {
  return encodeBatch(values.map((value) => ({ key: null, value: Buffer.from(value), headers: null, timestampMs: 1_764_000_000_000 })), {
    leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'binary', valueFormat: 'binary', ...options,
  });
}

/** Writes the CRC-32C a producer would have computed over a batch it changed. */
function withCrc(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(21)), 17);
  return batch;
}

void t.test('a sound CRC over records that do not parse, or fields that break their format bits, is refused', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'formats');
  const refuse = async (body: Buffer, code: string, what: string): Promise<void> => {
    const answer = await produceBatches(server.url, 'formats', 0, body);
    t.equal(answer.body.error?.code, code, `${what}: ${answer.body.error?.message}`);
  };
  const two = runnelBatch(['a', 'b']);
  const moreRecords = Buffer.from(two);
  moreRecords.writeInt32BE(2, 23); // lastOffsetDelta
  moreRecords.writeInt32BE(3, 57); // recordCount
  await refuse(withCrc(moreRecords), 'CORRUPT_RECORD', 'a record count past the records');
  const trailing = Buffer.concat([two, Buffer.from([0, 0])]);
  trailing.writeInt32BE(trailing.length - 12, 8);
  await refuse(withCrc(trailing), 'CORRUPT_RECORD', 'bytes after the last record');
  const keyTooLong = Buffer.from(two);
  keyTooLong[61 + 1 + 1 + 1 + 1] = 0x7e; // record 0: length, attributes, timestampDelta, offsetDelta, then the key length
  await refuse(withCrc(keyTooLong), 'CORRUPT_RECORD', 'a key length past its record');
  const offsets = Buffer.from(two);
  offsets[61 + 1 + 1 + 1] = 2; // record 0's offsetDelta (zigzag 1)
  await refuse(withCrc(offsets), 'CORRUPT_RECORD', 'offsetDelta not i');
  const logAppendTime = Buffer.from(two);
  logAppendTime.writeInt16BE(0x08, 21);
  await refuse(withCrc(logAppendTime), 'INVALID_RECORD', 'LogAppendTime from a producer');
  await refuse(runnelBatch(['not json'], { valueFormat: 'json' }), 'INVALID_RECORD', 'json format bits over text that is not JSON');
  await refuse(runnelBatch(['{"a":\n1}'], { valueFormat: 'json' }), 'INVALID_RECORD', 'json over two lines (NDJSON and SSE answers copy it)');
  await refuse(runnelBatch([Buffer.from([0xff, 0xfe])], { valueFormat: 'string' }), 'INVALID_RECORD', 'string format bits over bytes that are not UTF-8');
  t.same(await logEndOffsets(server.url, 'formats'), [0], 'nothing was appended');

  const typed = runnelBatch(['{"n":1}', '[true,null]'], { valueFormat: 'json' });
  t.equal((await produceBatches(server.url, 'formats', 0, typed)).status, 200, 'sound json values with the json bits');
  const json = await requestOk<FetchResponse>(`${server.url}/v1/topics/formats/partitions/0/records?offset=0`);
  t.same(json.body.records.map((record) => record.value), [{ n: 1 }, [true, null]], 'a JSON fetch shows them as JSON, as if produced as JSON');
});
