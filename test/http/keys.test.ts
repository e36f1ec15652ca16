/**
 * GET /v1/topics/{topic}/keys/{key} over real HTTP: the latest value of a key after
 * overwrites, in the partition produce picked; tombstoned and never-written keys are
 * 404 RECORD_KEY_NOT_FOUND; a topic that is not compacted is 400 TOPIC_NOT_COMPACTED
 * until it is altered to compact; binary keys by base64; and the same answers after
 * the cleaner removed the superseded records and after a restart. The restart runs
 * with a small --key-index-memory-bytes: a partition whose keys no longer fit answers
 * the keys it holds and 507 KEY_INDEX_FULL for the others.
 */
import t from 'tap';
import { createTopic, produce, requestJson, requestOk, type JsonResponse } from '../helpers/http.js';
import { assertError } from '../helpers/http-support.js';
import { startInProcessNode } from '../helpers/server.js';
import { KEY_TABLE_SLOT_BYTES } from '../../src/storage/key-table.js';

interface RecordByKey { topic: string; partition: number; offset: number; timestamp: number; key: unknown; value: unknown; headers: Record<string, string | null>; keyFormat?: string; valueFormat?: string }

const BINARY_KEY = Buffer.from([0, 255, 1, 2, 0xfe, 0x3f]);
/** A key with a slash, a space and non-ASCII characters, sent percent-encoded. */
const ODD_KEY = 'dir/sub key é€';
/** Keys of z-many: more than its table may hold after the restart (see below). */
const MANY_KEYS = 120;

function readKey(url: string, topic: string, key: string, query = ''): Promise<JsonResponse<RecordByKey>> {
  return requestJson<RecordByKey>(`${url}/v1/topics/${topic}/keys/${encodeURIComponent(key)}${query}`);
}

void t.test('reads by key: latest value, tombstones, absent keys, binary keys, non-compacted topics, after cleaning and after a restart', async (t) => {
  const first = await startInProcessNode(t, { broker: { cleaner: { backoffMs: 600_000 } } });
  const url = first.url;
  const compacted = { 'cleanup.policy': 'compact', 'segment.bytes': 2048, 'min.cleanable.dirty.ratio': 0.01 };
  await createTopic(url, 'prices', { partitions: 2, configs: compacted });
  await createTopic(url, 'events');
  await createTopic(url, 'plain');
  await createTopic(url, 'z-many', { configs: { 'cleanup.policy': 'compact' } });

  // Overwrites, spread by the default partitioner; the last write of each key wins.
  const latest = new Map<string, { partition: number; offset: number; timestamp: number; value: unknown }>();
  for (let round = 0; round < 12; round++) {
    const records = ['apple', 'pear', 'plum', ODD_KEY].map((key) => ({ key, value: { key, round }, headers: { round: String(round) } }));
    const offsets = await produce(url, 'prices', records);
    records.forEach((record, i) => latest.set(record.key, { partition: offsets[i].partition, offset: offsets[i].offset, timestamp: offsets[i].timestamp, value: record.value }));
  }
  await produce(url, 'prices', [{ key: 'pear', value: null }]);
  latest.delete('pear');
  const [binary] = await produce(url, 'prices', [{ key: BINARY_KEY.toString('base64'), value: 'raw' }], { keyFormat: 'binary', valueFormat: 'string' });
  for (let i = 0; i < MANY_KEYS; i += 40) {
    await produce(url, 'z-many', Array.from({ length: 40 }, (_, j) => ({ key: `k${i + j}`, value: i + j })));
  }
  t.ok(new Set([...latest.values()].map((entry) => entry.partition)).size === 2, 'the keys are spread over both partitions');

  const check = async (base: string, what: string): Promise<void> => {
    for (const [key, expected] of latest) {
      const answer = await readKey(base, 'prices', key);
      t.equal(answer.status, 200, `${what}: ${key} is there`);
      const { partition, offset, timestamp, value } = expected;
      t.same(answer.body, { topic: 'prices', partition, offset, timestamp, key, value, headers: { round: '11' } }, `${what}: ${key}'s latest record`);
    }
    const apple = latest.get('apple')!;
    t.equal((await readKey(base, 'prices', 'apple', `?partition=${apple.partition}`)).body.offset, apple.offset, `${what}: the partition given explicitly`);
    assertError(t, await readKey(base, 'prices', 'apple', `?partition=${1 - apple.partition}`), 'RECORD_KEY_NOT_FOUND', `${what}: the key in another partition`);
    assertError(t, await readKey(base, 'prices', 'pear'), 'RECORD_KEY_NOT_FOUND', `${what}: a tombstoned key`);
    assertError(t, await readKey(base, 'prices', 'quince'), 'RECORD_KEY_NOT_FOUND', `${what}: a key never written`);
    for (const encoded of [BINARY_KEY.toString('base64'), BINARY_KEY.toString('base64url')]) {
      const answer = await readKey(base, 'prices', encoded, '?keyFormat=base64');
      t.same(answer.body, { topic: 'prices', partition: binary.partition, offset: binary.offset, key: BINARY_KEY.toString('base64'), value: 'raw', headers: {}, keyFormat: 'binary', valueFormat: 'string', timestamp: answer.body.timestamp }, `${what}: a binary key by base64 (${encoded})`);
    }
    assertError(t, await readKey(base, 'prices', 'not base64!', '?keyFormat=base64'), 'INVALID_REQUEST', `${what}: a key that is not base64`);
    assertError(t, await readKey(base, 'plain', 'a'), 'TOPIC_NOT_COMPACTED', `${what}: a topic that is not compacted`);
    assertError(t, await readKey(base, 'nowhere', 'a'), 'TOPIC_NOT_FOUND', `${what}: an unknown topic`);
    assertError(t, await readKey(base, 'prices', 'apple', '?partition=7'), 'PARTITION_NOT_FOUND', `${what}: an unknown partition`);
  };
  await check(url, 'as written');

  // A topic altered to compact gets its index then, from the records it already holds.
  await produce(url, 'events', [{ key: 'e', value: 1 }, { key: 'e', value: 2 }], { partition: 0 });
  assertError(t, await readKey(url, 'events', 'e'), 'TOPIC_NOT_COMPACTED', 'before it is altered');
  await requestOk(`${url}/v1/topics/events`, { method: 'PATCH', body: { configs: { 'cleanup.policy': 'compact' } } });
  t.equal((await readKey(url, 'events', 'e')).body.value, 2, 'a topic altered to compact answers from the records it held before');

  const cleaner = first.broker.logs.cleaner;
  for (let i = 0; i < 20 && (await cleaner.cleanOnce()) !== undefined; i++);
  t.ok(cleaner.stats.recordsRemoved > 20, `the cleaner removed superseded records (${cleaner.stats.recordsRemoved})`);
  await check(url, 'after cleaning');

  // Restart with memory for the tables of prices (2 x 64 slots) and events (64), and
  // 128 slots for z-many, opened last (by name): it holds its first 96 keys only.
  const dataDir = first.dataDir;
  await first.close();
  const keyIndexMemoryBytes = (3 * 64 + 128) * KEY_TABLE_SLOT_BYTES;
  const second = await startInProcessNode(t, { broker: { dataDir, keyIndexMemoryBytes, cleaner: { backoffMs: 600_000 } } });
  await check(second.url, 'after a restart');
  t.equal((await readKey(second.url, 'events', 'e')).body.value, 2, 'after a restart: the altered topic too');
  t.same((await readKey(second.url, 'z-many', 'k0')).body.value, 0, 'a key the full index holds still answers');
  assertError(t, await readKey(second.url, 'z-many', `k${MANY_KEYS - 1}`), 'KEY_INDEX_FULL', 'a key the full index does not hold');
  assertError(t, await readKey(second.url, 'z-many', 'never'), 'KEY_INDEX_FULL', 'an absent key cannot be told absent by a full index');
  t.equal(second.broker.logs.keyIndexes.bytesUsed, keyIndexMemoryBytes, 'the indexes hold exactly the memory allowed');
});
