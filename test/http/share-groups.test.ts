/**
 * Share groups over real HTTP (README "Share groups (queues)", issue 19): acquire under
 * a lock, acknowledge accept/release/reject/renew with per-entry and per-record codes,
 * redelivery with deliveryCount + 1, the delivery limit, long-polls, describe, list,
 * configs, reset, delete, metrics, the internal topic, and the state kept across a
 * clean restart. One node.
 */
import t from 'tap';
import { createTopic, fetchRecords, produce, requestJson, requestOk } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface AcquiredRecord {
  topic: string;
  partition: number;
  offset: number;
  key: unknown;
  value: unknown;
  headers: Record<string, string | null>;
  timestamp: number;
  deliveryCount: number;
  lockExpiresAtMs: number;
  acquisitionId: number;
}

interface AckResult {
  topic: string;
  partition: number;
  type: string;
  errorCode: string | null;
  records: Array<{ offset: number; errorCode: string | null; lockExpiresAtMs?: number }>;
}

interface PartitionView {
  topic: string;
  partition: number;
  startOffset: number;
  endOffset: number;
  inFlight: number;
  acquired: number;
  acknowledged: number;
  archived: number;
  lag: number | null;
}

const server = await startServer(t);
const base = `${server.url}/v1/share-groups`;

async function acquire(group: string, query: string): Promise<AcquiredRecord[]> {
  const response = await requestOk<{ groupId: string; records: AcquiredRecord[] }>(`${base}/${group}/records?${query}`, { timeoutMs: 20_000 });
  return response.body.records;
}

async function acknowledge(group: string, acknowledgements: object[], consumerId?: string): Promise<AckResult[]> {
  const response = await requestOk<{ results: AckResult[] }>(`${base}/${group}/acknowledgements`, { method: 'POST', body: { consumerId, acknowledgements } });
  return response.body.results;
}

async function configure(group: string, configs: Record<string, unknown>): Promise<void> {
  await requestOk(`${base}/${group}`, { method: 'PATCH', body: { configs } });
}

async function describe(group: string): Promise<PartitionView[]> {
  return (await requestOk<{ partitions: PartitionView[] }>(`${base}/${group}`)).body.partitions;
}

const offsetsOf = (records: AcquiredRecord[]): number[] => records.map((record) => record.offset).sort((a, b) => a - b);

await createTopic(server.url, 'jobs', { partitions: 1 });
await produce(server.url, 'jobs', Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: { job: i }, headers: { origin: 'test' } })));

void t.test('acquire hands each record to one consumer under a lock; acknowledgements settle them', async (t) => {
  await configure('workers', { 'share.auto.offset.reset': 'earliest' });
  const first = await acquire('workers', 'topics=jobs&maxRecords=4&consumerId=a');
  t.same(offsetsOf(first), [0, 1, 2, 3], 'the first four records, in offset order');
  t.match(first[0], { topic: 'jobs', partition: 0, offset: 0, key: 'k0', value: { job: 0 }, headers: { origin: 'test' }, deliveryCount: 1 });
  t.ok(first[0].lockExpiresAtMs > Date.now() + 10_000, 'locked for the default 30 s');
  const second = await acquire('workers', 'topics=jobs&maxRecords=10&consumerId=b');
  t.same(offsetsOf(second), [4, 5], 'another consumer gets only the records not held');
  t.same(await acquire('workers', 'topics=jobs&consumerId=c'), [], 'nothing left to acquire');

  const results = await acknowledge('workers', [
    { topic: 'jobs', partition: 0, offsets: [0, 1], type: 'accept' },
    { topic: 'jobs', partition: 0, offsets: [2], type: 'release' },
    { topic: 'jobs', partition: 0, offsets: [3], type: 'reject' },
    { topic: 'jobs', partition: 0, offsets: [4], type: 'accept' },
    { topic: 'jobs', partition: 0, offsets: [999], type: 'accept' },
    { topic: 'nope', partition: 0, offsets: [0], type: 'accept' },
    { topic: 'jobs', partition: 7, offsets: [0], type: 'accept' },
  ], 'a');
  t.same(results.map((result) => result.errorCode), [null, null, null, null, null, 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND']);
  t.same(results[0].records, [{ offset: 0, errorCode: null }, { offset: 1, errorCode: null }], 'accepted');
  t.same(results[3].records, [{ offset: 4, errorCode: 'INVALID_RECORD_STATE' }], "another consumer's record is refused");
  t.same(results[4].records, [{ offset: 999, errorCode: 'RECORD_NOT_IN_FLIGHT' }], 'a record never handed out');
  const again = await acknowledge('workers', [{ topic: 'jobs', partition: 0, firstOffset: 0, lastOffset: 1, type: 'accept' }], 'a');
  t.same(again[0].records.map((record) => record.errorCode), ['RECORD_NOT_IN_FLIGHT', 'RECORD_NOT_IN_FLIGHT'], 'accepted records are done: not in flight any more');

  const redelivered = await acquire('workers', 'topics=jobs&consumerId=c');
  t.same(redelivered.map((record) => [record.offset, record.deliveryCount]), [[2, 2]], 'the released record comes again, deliveryCount 2; rejected and accepted ones never');
  const renewed = await acknowledge('workers', [{ topic: 'jobs', partition: 0, offsets: [2], type: 'renew' }], 'c');
  t.ok(renewed[0].records[0].lockExpiresAtMs! >= redelivered[0].lockExpiresAtMs, 'renew extends the lock');
  const stale = await acknowledge('workers', [{ topic: 'jobs', partition: 0, offsets: [2], type: 'accept', acquisitionId: redelivered[0].acquisitionId - 1 }], 'c');
  t.same(stale[0].records[0].errorCode, 'INVALID_RECORD_STATE', 'an acknowledgement naming an earlier acquisition is refused');

  const deleted = await requestJson<{ error: { code: string } }>(`${base}/workers`, { method: 'DELETE' });
  t.equal(deleted.status, 409);
  t.equal(deleted.body.error.code, 'SHARE_GROUP_NOT_EMPTY', 'delete waits while records are held');
  const reset = await requestJson<{ error: { code: string } }>(`${base}/workers/reset`, { method: 'POST', body: { to: 'earliest' } });
  t.equal(reset.body.error.code, 'SHARE_GROUP_NOT_EMPTY', 'so does reset');

  await acknowledge('workers', [{ topic: 'jobs', partition: 0, offsets: [2], type: 'accept' }], 'c');
  await acknowledge('workers', [{ topic: 'jobs', partition: 0, offsets: [5], type: 'accept' }], 'b');
  await acknowledge('workers', [{ topic: 'jobs', partition: 0, offsets: [4], type: 'accept' }], 'b');
  const [view] = await describe('workers');
  t.match(view, { topic: 'jobs', partition: 0, startOffset: 6, endOffset: 6, inFlight: 0, acquired: 0, lag: 0 }, 'all done: the start offset moved past them');
});

void t.test('locks run out: the record comes again, and is archived at the delivery limit', async (t) => {
  await createTopic(server.url, 'flaky', { partitions: 1 });
  await produce(server.url, 'flaky', [{ value: 'once' }]);
  await configure('retry', { 'share.auto.offset.reset': 'earliest', 'share.record.lock.duration.ms': 200, 'share.delivery.count.limit': 2 });
  const first = await acquire('retry', 'topics=flaky');
  t.same(first.map((record) => [record.offset, record.deliveryCount]), [[0, 1]]);
  // The long-poll wakes when the lock runs out.
  const second = await acquire('retry', 'topics=flaky&waitMs=10000&consumerId=other');
  t.same(second.map((record) => [record.offset, record.deliveryCount]), [[0, 2]], 'delivered again after the lock ran out');
  let view: PartitionView | undefined;
  for (let attempt = 0; attempt < 200 && view?.startOffset !== 1; attempt++) {
    [view] = await describe('retry');
    if (view.startOffset !== 1) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.match(view, { startOffset: 1, inFlight: 0 }, 'at the delivery limit the expired record is archived: done');
  t.same(await acquire('retry', 'topics=flaky'), [], 'and never delivered again');
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  t.match(metrics, /runnel_share_lock_expirations_total [1-9]/);
  t.match(metrics, /runnel_share_records_archived_total [1-9]/);
  t.match(metrics, /runnel_share_records_acknowledged_total\{type="accept"\} [1-9]/);
  t.match(metrics, /runnel_share_records_redelivered_total [1-9]/);
});

void t.test('a long-poll answers when a record is produced; latest starts at the end', async (t) => {
  await createTopic(server.url, 'tasks.a', { partitions: 2 });
  // The same partition as the record produced during the poll: only the later one may come.
  await produce(server.url, 'tasks.a', [{ value: 'before' }], { partition: 1 });
  t.same(await acquire('late', 'topicPrefix=tasks.'), [], 'share.auto.offset.reset latest: records before the first read are not delivered');
  const polling = acquire('late', 'topicPrefix=tasks.&waitMs=15000');
  await produce(server.url, 'tasks.a', [{ value: 'after' }], { partition: 1 });
  const records = await polling;
  t.same(records.map((record) => [record.topic, record.partition, record.offset, record.value]), [['tasks.a', 1, 1, 'after']]);
});

void t.test('describe, list, configs, reset and delete', async (t) => {
  const missing = await requestJson<{ error: { code: string } }>(`${base}/ghost`);
  t.equal(missing.status, 404);
  t.equal(missing.body.error.code, 'SHARE_GROUP_NOT_FOUND');
  const ackMissing = await requestJson<{ error: { code: string } }>(`${base}/ghost/acknowledgements`, { method: 'POST', body: { acknowledgements: [{ topic: 'jobs', partition: 0, offsets: [0], type: 'accept' }] } });
  t.equal(ackMissing.body.error.code, 'SHARE_GROUP_NOT_FOUND');
  const badConfig = await requestJson<{ error: { code: string } }>(`${base}/ghost`, { method: 'PATCH', body: { configs: { 'share.delivery.count.limit': 0 } } });
  t.equal(badConfig.body.error.code, 'INVALID_CONFIG');
  const unknownConfig = await requestJson<{ error: { code: string } }>(`${base}/ghost`, { method: 'PATCH', body: { configs: { 'retention.ms': 1 } } });
  t.equal(unknownConfig.body.error.code, 'INVALID_CONFIG');
  const bothForms = await requestJson<{ error: { code: string } }>(`${base}/workers/acknowledgements`, { method: 'POST', body: { acknowledgements: [{ topic: 'jobs', partition: 0, offsets: [0], firstOffset: 0, lastOffset: 1, type: 'accept' }] } });
  t.equal(bothForms.body.error.code, 'INVALID_REQUEST', 'offsets and a range together are refused');
  const noTopics = await requestJson<{ error: { code: string } }>(`${base}/workers/records`);
  t.equal(noTopics.body.error.code, 'INVALID_REQUEST', 'a read names its topics');
  const noSuchTopic = await requestJson<{ error: { code: string } }>(`${base}/workers/records?topics=nope`);
  t.equal(noSuchTopic.body.error.code, 'TOPIC_NOT_FOUND');

  const described = (await requestOk<{ configs: Record<string, string> }>(`${base}/retry`)).body;
  t.same(described.configs, { 'share.record.lock.duration.ms': '200', 'share.delivery.count.limit': '2', 'share.auto.offset.reset': 'earliest', 'group.share.partition.max.record.locks': '2000' });
  const list = (await requestOk<{ groups: Array<{ groupId: string }> }>(base)).body.groups.map((group) => group.groupId);
  t.same(list, ['late', 'retry', 'workers']);

  const reset = await requestOk<{ partitions: Array<{ startOffset: number }> }>(`${base}/workers/reset`, { method: 'POST', body: { topic: 'jobs', to: 'earliest' } });
  t.same(reset.body.partitions.map((partition) => partition.startOffset), [0]);
  t.same(offsetsOf(await acquire('workers', 'topics=jobs&consumerId=z')), [0, 1, 2, 3, 4, 5], 'after a reset to earliest every record comes again');
  await acknowledge('workers', [{ topic: 'jobs', partition: 0, firstOffset: 0, lastOffset: 5, type: 'accept' }], 'z');
  const byTime = await requestOk<{ partitions: Array<{ startOffset: number }> }>(`${base}/workers/reset`, { method: 'POST', body: { to: { timestamp: Date.now() + 60_000 } } });
  t.same(byTime.body.partitions.map((partition) => partition.startOffset), [6], 'a time after every record: the end');

  await acknowledge('late', [{ topic: 'tasks.a', partition: 1, offsets: [1], type: 'accept' }]);
  t.equal((await requestJson(`${base}/late`, { method: 'DELETE' })).status, 204);
  t.equal((await requestJson(`${base}/late`)).status, 404, 'gone');
});

void t.test('share.dead.letter.topic: rejected and delivery-limit records are produced there with their origin; a failed produce is tried again', async (t) => {
  await createTopic(server.url, 'invoices', { partitions: 1 });
  await createTopic(server.url, 'invoices.dead', { partitions: 1 });
  for (const [topic, why] of [['no-such-topic', 'a missing topic'], ['__share_group_state', 'an internal topic']]) {
    const refused = await requestJson<{ error: { code: string } }>(`${base}/billing`, { method: 'PATCH', body: { configs: { 'share.dead.letter.topic': topic } } });
    t.equal(refused.body.error.code, 'INVALID_CONFIG', `${why} is refused (${refused.status})`);
  }
  await configure('billing', { 'share.auto.offset.reset': 'earliest', 'share.delivery.count.limit': 1, 'share.dead.letter.topic': 'invoices.dead' });
  const described = (await requestOk<{ configs: Record<string, string> }>(`${base}/billing`)).body.configs;
  t.equal(described['share.dead.letter.topic'], 'invoices.dead', 'describe shows it');
  await produce(server.url, 'invoices', [{ key: 'i0', value: { amount: 10 }, headers: { origin: 'shop' } }, { key: 'i1', value: { amount: 11 } }]);
  t.same(offsetsOf(await acquire('billing', 'topics=invoices')), [0, 1]);
  const results = await acknowledge('billing', [{ topic: 'invoices', partition: 0, offsets: [0], type: 'reject' }, { topic: 'invoices', partition: 0, offsets: [1], type: 'release' }]);
  t.ok(results.every((result) => result.records.every((record) => record.errorCode === null)), 'both acknowledgements applied');
  const letters = (await fetchRecords(server.url, 'invoices.dead', 0)).records;
  t.match(letters, [
    { key: 'i0', value: { amount: 10 }, headers: { origin: 'shop', 'runnel.dlq.topic': 'invoices', 'runnel.dlq.partition': '0', 'runnel.dlq.offset': '0', 'runnel.dlq.group': 'billing', 'runnel.dlq.reason': 'rejected' } },
    { key: 'i1', value: { amount: 11 }, headers: { 'runnel.dlq.offset': '1', 'runnel.dlq.reason': 'delivery-limit', 'runnel.dlq.delivery.count': '1' } },
  ], 'the rejected record and the one released at the delivery limit, each with key, value, headers and origin, before the answer');
  t.match(await describe('billing'), [{ startOffset: 2, inFlight: 0 }], 'both are done');

  // The dead-letter topic is gone: the archived record waits, and goes once the topic is back.
  await requestOk(`${server.url}/v1/topics/invoices.dead`, { method: 'DELETE' });
  await produce(server.url, 'invoices', [{ key: 'i2', value: { amount: 12 } }]);
  t.same(offsetsOf(await acquire('billing', 'topics=invoices')), [2]);
  await acknowledge('billing', [{ topic: 'invoices', partition: 0, offsets: [2], type: 'reject' }]);
  t.match(await describe('billing'), [{ startOffset: 2, archived: 1 }], 'not produced: the record stays archived, pending, and the start offset waits for it');
  await createTopic(server.url, 'invoices.dead', { partitions: 1 });
  t.same(await acquire('billing', 'topics=invoices'), [], 'the next call (nothing to acquire) tries again');
  t.match((await fetchRecords(server.url, 'invoices.dead', 0)).records, [{ key: 'i2', headers: { 'runnel.dlq.offset': '2', 'runnel.dlq.reason': 'rejected' } }], 'and produces it');
  t.match(await describe('billing'), [{ startOffset: 3, inFlight: 0 }], 'then it is done');
});

void t.test('the state topic is internal', async (t) => {
  const produced = await requestJson<{ error: { code: string } }>(`${server.url}/v1/topics/__share_group_state/records`, { method: 'POST', body: { records: [{ value: 1 }] } });
  t.equal(produced.status, 400);
  t.equal(produced.body.error.code, 'INVALID_REQUEST');
});

void t.test('state survives a restart: accepted records stay done, held ones come back', async (t) => {
  await createTopic(server.url, 'durable', { partitions: 1 });
  await produce(server.url, 'durable', [{ value: 0 }, { value: 1 }, { value: 2 }]);
  await configure('keeper', { 'share.auto.offset.reset': 'earliest' });
  t.same(offsetsOf(await acquire('keeper', 'topics=durable')), [0, 1, 2]);
  await acknowledge('keeper', [{ topic: 'durable', partition: 0, offsets: [1], type: 'accept' }]);
  await server.close();
  const restarted = await startServer(t, { dataDir: server.dataDir });
  const records = (await requestOk<{ records: AcquiredRecord[] }>(`${restarted.url}/v1/share-groups/keeper/records?topics=durable`)).body.records;
  t.same(records.map((record) => [record.offset, record.deliveryCount]), [[0, 2], [2, 2]], 'the held records come back with their delivery counted; the accepted one does not');
  const configs = (await requestOk<{ configs: Record<string, string> }>(`${restarted.url}/v1/share-groups/keeper`)).body.configs;
  t.equal(configs['share.auto.offset.reset'], 'earliest', 'configs are kept');
});
