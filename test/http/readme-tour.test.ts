/**
 * README.md's curl tour, request for request, against a real node: the tour is the
 * first promise a user reads, so every step must work as written and answer in the
 * shape shown. (Bodies and queries are copied from the README.)
 */
import t from 'tap';
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { requestJson, requestOk, type FetchResponse, type RecordOffset } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';
import { assertError, postRaw, until } from '../helpers/http-support.js';

void t.test('the README curl tour works step by step', async (t) => {
  const server = await startServer(t);
  const base = server.url;

  // Create a topic with three partitions.
  const created = await requestJson(`${base}/v1/topics`, { body: '{"name":"orders","partitions":3,"configs":{"retention.ms":"86400000"}}' });
  t.equal(created.status, 201, 'create');

  // Produce a batch: keyed records land where Kafka's client puts them.
  const batch = await requestJson<{ offsets: RecordOffset[] }>(`${base}/v1/topics/orders/records`, {
    body: `{"records":[{"key":"alice","value":{"item":"book","qty":1}},
                  {"key":"bob","value":{"item":"pen","qty":3},"headers":{"source":"web"}},
                  {"value":"no key, a JSON string value"}]}`,
  });
  t.equal(batch.status, 200, 'produce a batch');
  t.equal(batch.body.offsets.length, 3, 'one entry per record');
  t.ok(batch.body.offsets.every((o) => Number.isInteger(o.partition) && Number.isInteger(o.offset) && Number.isInteger(o.timestamp)), 'each with partition, offset, timestamp');
  const kafkajs = Partitioners.DefaultPartitioner();
  const partitionMetadata: PartitionMetadata[] = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 }));
  const aliceInKafka = kafkajs({ topic: 'orders', partitionMetadata, message: { key: Buffer.from('alice'), value: null } });
  const alice = batch.body.offsets[0];
  t.equal(alice.partition, aliceInKafka, `alice lands on partition ${aliceInKafka}, as with Kafka's client`);

  // NDJSON, one record per line.
  const ndjson = await postRaw(`${base}/v1/topics/orders/partitions/0/records?valueFormat=string`, '{"value":"a"}\n{"value":"b"}\n', 'application/x-ndjson');
  t.equal(ndjson.status, 200, 'produce NDJSON');

  // Retry safely with an Idempotency-Key.
  const idempotent = { body: '{"records":[{"key":"alice","value":{"item":"lamp"}}]}', headers: { 'idempotency-key': 'order-42' } };
  const first = await requestJson(`${base}/v1/topics/orders/records`, idempotent);
  const retried = await requestJson(`${base}/v1/topics/orders/records`, idempotent);
  t.same(retried.body, first.body, 'the retry gets the first answer');
  t.equal(retried.headers['idempotent-replayed'], 'true');

  // An idempotent producer: an id once, then sequences per partition; a retried batch answers its first offsets.
  const producer = await requestJson(`${base}/v1/producers`, { method: 'POST' });
  t.same(producer.body, { producerId: 0, producerEpoch: 0 }, 'the first producer id of a new node');
  const sequenced = { body: '{"producerId":0,"producerEpoch":0,"baseSequence":0,"records":[{"value":"first"},{"value":"second"}]}' };
  const sent = await requestJson<{ offsets: RecordOffset[] }>(`${base}/v1/topics/orders/partitions/0/records`, sequenced);
  t.equal(sent.status, 200, 'a sequenced batch');
  t.same((await requestJson(`${base}/v1/topics/orders/partitions/0/records`, sequenced)).body, sent.body, 'its retry answers the same offsets');

  // acks=none answers 202.
  t.equal((await requestJson(`${base}/v1/topics/orders/records?acks=none`, { body: '{"records":[{"value":1}]}' })).status, 202, 'acks=none');

  // Fetch from an offset.
  const fetched = await requestOk<FetchResponse>(`${base}/v1/topics/orders/partitions/${alice.partition}/records?offset=earliest&maxRecords=100`);
  t.match(fetched.body.records[alice.offset], { partition: alice.partition, offset: alice.offset, key: 'alice', value: { item: 'book', qty: 1 }, headers: {} }, 'alice reads back');
  t.same(Object.keys(fetched.body).sort(), ['highWatermark', 'logStartOffset', 'nextOffset', 'records']);
  const { highWatermark } = fetched.body;

  // waitMs long-polls until a record arrives.
  const notifier = server.broker.topics.partition('orders', alice.partition).notifier;
  const polling = requestOk<FetchResponse>(`${base}/v1/topics/orders/partitions/${alice.partition}/records?offset=${highWatermark}&waitMs=30000`, { timeoutMs: 35_000 });
  await until(() => notifier.waiterCount === 1, 'the long-poll waits');
  await requestOk(`${base}/v1/topics/orders/partitions/${alice.partition}/records`, { body: '{"records":[{"value":"late"}]}' });
  t.same((await polling).body.records.map((r) => r.value), ['late'], 'the long-poll returns the new record');

  // An offset outside [logStartOffset, highWatermark] gets 416 with both bounds.
  const outside = await requestJson(`${base}/v1/topics/orders/partitions/${alice.partition}/records?offset=999`);
  assertError(t, outside, 'OFFSET_OUT_OF_RANGE');
  t.match(outside.body, { error: { logStartOffset: 0, highWatermark: highWatermark + 1 } });

  // Offsets, and the first offset at or after a time.
  const offsets = await requestOk<{ logStartOffset: number; highWatermark: number }>(`${base}/v1/topics/orders/partitions/${alice.partition}/offsets`);
  t.match(offsets.body, { logStartOffset: 0, highWatermark: highWatermark + 1 });
  const byTime = await requestOk<{ offset: number | null }>(`${base}/v1/topics/orders/partitions/${alice.partition}/offsets?timestamp=${Date.now() - 60_000}`);
  t.equal(byTime.body.offset, 0, 'a minute ago: the first record');

  // Describe, alter, delete.
  t.match((await requestOk(`${base}/v1/topics`)).body, { topics: [{ name: 'orders', partitions: 3 }] });
  t.equal((await requestJson(`${base}/v1/topics/orders`)).status, 200, 'describe');
  const altered = await requestJson<{ partitions: unknown[]; configs: Record<string, string> }>(`${base}/v1/topics/orders`, {
    method: 'PATCH',
    body: '{"partitions":6,"configs":{"retention.bytes":"1073741824","retention.ms":null}}',
  });
  t.equal(altered.status, 200, 'alter');
  t.equal(altered.body.partitions.length, 6);
  t.same(altered.body.configs, { 'retention.bytes': '1073741824' });
  // The tour deletes a scratch topic: the groups section goes on reading orders.
  t.equal((await requestJson(`${base}/v1/topics`, { body: '{"name":"scratch"}' })).status, 201, 'create scratch');
  t.equal((await requestJson(`${base}/v1/topics/scratch`, { method: 'DELETE' })).status, 204, 'delete');
  t.equal((await requestJson(`${base}/v1/topics/orders`)).status, 200, 'orders is still there for the groups');

  // Health and docs.
  t.equal((await requestJson(`${base}/health/live`)).status, 200);
  t.equal((await requestJson(`${base}/health/ready`)).status, 200);
  t.equal((await requestJson(`${base}/openapi.json`)).status, 200);
});
