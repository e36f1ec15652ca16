/**
 * The Idempotency-Key answers are bounded per node (issue: 200,000 distinct keys grew
 * meta.db and its WAL to 125 MB with only the 24 h expiry to stop them): by count and
 * by bytes, oldest evicted first, the sizes kept exact across puts, replacements,
 * expiry, eviction and a reopen, and the evictions counted.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { MetadataStore } from '../../src/meta/metadata-store.js';
import type { IdempotencyBounds } from '../../src/meta/idempotency-store.js';

function openStore(t: Test, bounds: IdempotencyBounds, file?: string): { store: MetadataStore; file: string } {
  const dbFile = file ?? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-idem-')), 'meta.db');
  const store = MetadataStore.open(dbFile, { idempotency: bounds });
  t.teardown(() => store.close());
  if (file === undefined) {
    const createdAtMs = Date.now();
    for (const name of ['orders', 'audit']) {
      store.createTopic({ name, topicId: name, partitionCount: 1, replicationFactor: 1, configs: {}, createdAtMs },
        [{ topic: name, partition: 0, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], logStartOffset: 0, partitionEpoch: 0 }]);
    }
  }
  return { store, file: dbFile };
}

/** Count and bytes as SQLite sees them, to check the store's own bookkeeping. */
function sqlTotals(file: string): { count: number; bytes: number } {
  const store = MetadataStore.open(file);
  try {
    const row = store.database.prepare('SELECT COUNT(*) AS count, COALESCE(SUM(LENGTH(CAST(topic AS BLOB)) + LENGTH(CAST(idempotency_key AS BLOB)) + LENGTH(CAST(response_json AS BLOB))), 0) AS bytes FROM idempotency').get() as { count: number; bytes: number };
    return row;
  } finally {
    store.close();
  }
}

void t.test('past the count bound the oldest answers are evicted first, and counted', async (t) => {
  const { store, file } = openStore(t, { countMax: 100, bytesMax: 1024 ** 3 });
  for (let i = 0; i < 1_000; i++) store.idempotency.put('orders', `key-${i}`, `{"offsets":[${i}]}`, 1_000 + i);
  const { count } = store.idempotency.size;
  t.ok(count <= 100, `at most 100 answers kept (${count})`);
  t.ok(count >= 90, `no more evicted than the headroom asks (${count})`);
  t.ok(store.idempotency.get('orders', 'key-999'), 'the newest answer is kept');
  t.equal(store.idempotency.get('orders', 'key-0'), undefined, 'the oldest answer is gone');
  t.equal(store.idempotency.evictedCount, 1_000 - count, 'every eviction is counted');
  t.strictSame(store.idempotency.size, sqlTotals(file), 'count and bytes match SQLite');
});

void t.test('past the byte bound the oldest answers are evicted first', async (t) => {
  const answer = JSON.stringify({ offsets: Array.from({ length: 100 }, (_, i) => ({ partition: 0, offset: i })) });
  const { store, file } = openStore(t, { countMax: 1_000_000, bytesMax: 64 * 1024 });
  for (let i = 0; i < 500; i++) store.idempotency.put('orders', `key-${i}`, answer, 1_000 + i);
  const { bytes } = store.idempotency.size;
  t.ok(bytes <= 64 * 1024, `at most 64 KiB kept (${bytes})`);
  t.ok(store.idempotency.get('orders', 'key-499'), 'the newest answer is kept');
  t.equal(store.idempotency.get('orders', 'key-0'), undefined, 'the oldest answer is gone');
  t.ok(store.idempotency.evictedCount > 0, 'evictions counted');
  t.strictSame(store.idempotency.size, sqlTotals(file), 'count and bytes match SQLite');
});

void t.test('replacing, expiring and reopening keep the sizes exact; an answer larger than the store is not kept', async (t) => {
  const bounds = { countMax: 10, bytesMax: 4096 };
  const { store, file } = openStore(t, bounds);
  store.idempotency.put('orders', 'same', '{"offsets":[1]}', 1_000);
  store.idempotency.put('orders', 'same', '{"offsets":[1,2,3]}', 2_000);
  t.equal(store.idempotency.size.count, 1, 'a replaced answer counts once');
  store.idempotency.put('orders', 'old', '{}', 500);
  t.equal(store.idempotency.expire(1_000), 1, 'expiry removes the old answer');
  t.strictSame(store.idempotency.size, sqlTotals(file), 'sizes after replace and expiry match SQLite');
  store.idempotency.put('orders', 'huge', 'x'.repeat(5_000), 3_000);
  t.equal(store.idempotency.get('orders', 'huge'), undefined, 'an answer over the byte bound is not remembered');
  t.ok(store.idempotency.get('orders', 'same'), 'and evicts nothing to make room for it');
  store.idempotency.put('audit', 'a', '{"offsets":[7]}', 3_000);
  store.deleteTopic('audit');
  t.strictSame(store.idempotency.size, sqlTotals(file), "a deleted topic's answers leave the sizes exact");
  const before = store.idempotency.size;
  store.close();
  const reopened = MetadataStore.open(file, { idempotency: bounds });
  t.teardown(() => reopened.close());
  t.strictSame(reopened.idempotency.size, before, 'a reopened store reads the same sizes');
});
