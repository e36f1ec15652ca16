/**
 * The SQLite metadata store (DESIGN.md "Metadata: SQLite"): meta.db runs in WAL mode
 * with the PRAGMAs database.ts promises, its schema is brought up to date by
 * PRAGMA user_version migrations (and a newer file is refused), and what it holds is
 * there again after a reopen.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { MetadataStore, TopicExistsError, type PartitionRecord, type TopicRecord } from '../../src/meta/metadata-store.js';
import { migrations } from '../../src/meta/migrations.js';
import { InvariantError } from '../../src/util/assert.js';

function tempDbPath(t: Test): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-meta-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return path.join(directory, 'meta.db');
}

function openStore(t: Test, file: string): MetadataStore {
  const store = MetadataStore.open(file);
  t.teardown(() => store.close());
  return store;
}

const topic = (name: string, configs: Record<string, string> = {}, partitionCount = 2): TopicRecord => ({
  name, topicId: `id-${name}`, partitionCount, replicationFactor: 1, configs, createdAtMs: 1_700_000_000_000,
});
const partitions = (name: string, count = 2): PartitionRecord[] => Array.from({ length: count }, (_, partition) => ({
  topic: name, partition, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], logStartOffset: 0, partitionEpoch: 0,
}));

void t.test('meta.db runs in WAL mode with synchronous=NORMAL and foreign keys on', async (t) => {
  const file = tempDbPath(t);
  const store = openStore(t, file);
  const db = store.database;
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  t.equal(db.pragma('synchronous', { simple: true }), 1, 'NORMAL');
  t.equal(db.pragma('foreign_keys', { simple: true }), 1);
  store.createTopic(topic('orders'), partitions('orders'));
  t.ok(fs.existsSync(`${file}-wal`), 'writes go to the write-ahead log');

  // WAL is a property of the file: another connection sees it too.
  const other = new Database(file, { readonly: true });
  t.teardown(() => other.close());
  t.equal(other.pragma('journal_mode', { simple: true }), 'wal', 'the file itself is in WAL mode');
});

void t.test('a new file gets every migration; user_version says how many', async (t) => {
  const store = openStore(t, tempDbPath(t));
  const db = store.database;
  t.equal(db.pragma('user_version', { simple: true }), migrations.length, `user_version = ${migrations.length}`);
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map((row) => row.name);
  for (const wanted of ['cluster', 'topics', 'topic_configs', 'partitions', 'idempotency']) {
    t.ok(tables.includes(wanted), `table ${wanted}`);
  }
});

void t.test('an older file is migrated forward step by step, keeping its rows', async (t) => {
  const file = tempDbPath(t);
  // A file as the first release left it: schema v1 with a topic in it.
  const v1 = new Database(file);
  v1.pragma('journal_mode = WAL');
  v1.exec(migrations[0]);
  v1.pragma('user_version = 1');
  v1.prepare("INSERT INTO cluster (id, cluster_id) VALUES (1, 'old-cluster')").run();
  v1.prepare("INSERT INTO topics VALUES ('legacy', 'legacy-id', 1, 1, 1)").run();
  v1.prepare("INSERT INTO partitions VALUES ('legacy', 0, 1, 0, '[1]', '[1]', 5)").run();
  v1.close();

  const store = openStore(t, file);
  t.equal(store.database.pragma('user_version', { simple: true }), migrations.length, 'brought up to the current version');
  t.equal(store.clusterId, 'old-cluster', 'the cluster id is kept');
  t.same(store.listTopics().map((record) => record.name), ['legacy']);
  t.same(store.listPartitions('legacy').map((p) => [p.partition, p.logStartOffset]), [[0, 5]]);
});

void t.test('a file written by a newer Runnel (higher user_version) is refused, not changed', async (t) => {
  const file = tempDbPath(t);
  openStore(t, file).close();
  const db = new Database(file);
  db.pragma(`user_version = ${migrations.length + 1}`);
  db.close();
  t.throws(() => MetadataStore.open(file), /newer version/, 'a clear refusal');
  const after = new Database(file, { readonly: true });
  t.teardown(() => after.close());
  t.equal(after.pragma('user_version', { simple: true }), migrations.length + 1, 'the version is left alone');
});

void t.test('reopening keeps the cluster id, topics, configs, partitions, logStartOffsets and idempotent answers', async (t) => {
  const file = tempDbPath(t);
  const first = MetadataStore.open(file);
  const clusterId = first.clusterId;
  first.createTopic(topic('orders', { 'retention.ms': '1000' }), partitions('orders'));
  first.createTopic(topic('audit', {}, 1), partitions('audit', 1));
  first.addPartitions('orders', [{ topic: 'orders', partition: 2, leader: 1, leaderEpoch: 0, replicas: [1], isr: [1], logStartOffset: 0, partitionEpoch: 0 }]);
  first.setTopicConfigs('orders', { 'retention.ms': '2000', 'segment.bytes': '4096' });
  first.setLogStartOffset('orders', 1, 42);
  first.idempotency.put('orders', 'key-1', '{"offsets":[]}', 1_700_000_000_000);
  first.close();

  const store = openStore(t, file);
  t.equal(store.clusterId, clusterId, 'the same cluster id');
  t.same(store.listTopics().map((record) => [record.name, record.partitionCount, record.configs]), [
    ['audit', 1, {}],
    ['orders', 3, { 'retention.ms': '2000', 'segment.bytes': '4096' }],
  ]);
  t.same(store.listPartitions('orders').map((p) => [p.partition, p.logStartOffset, p.replicas, p.isr]), [[0, 0, [1], [1]], [1, 42, [1], [1]], [2, 0, [1], [1]]]);
  t.same(store.idempotency.get('orders', 'key-1'), { responseJson: '{"offsets":[]}', createdAtMs: 1_700_000_000_000 });
  t.equal(store.database.pragma('user_version', { simple: true }), migrations.length, 'no migration ran twice');
});

void t.test('deleting a topic removes its configs, partitions and idempotent answers (foreign keys cascade)', async (t) => {
  const store = openStore(t, tempDbPath(t));
  store.createTopic(topic('orders', { 'retention.ms': '1000' }), partitions('orders'));
  store.createTopic(topic('keep', { 'retention.ms': '1000' }), partitions('keep'));
  store.idempotency.put('orders', 'k', '{}', Date.now());
  store.idempotency.put('keep', 'k', '{}', Date.now());
  t.equal(store.deleteTopic('orders'), true);
  t.equal(store.deleteTopic('orders'), false, 'a second delete finds nothing');
  const db = store.database;
  for (const table of ['topic_configs', 'partitions', 'idempotency']) {
    t.equal((db.prepare(`SELECT COUNT(*) AS count FROM ${table} WHERE topic = 'orders'`).get() as { count: number }).count, 0, `no ${table} rows left`);
    t.ok((db.prepare(`SELECT COUNT(*) AS count FROM ${table} WHERE topic = 'keep'`).get() as { count: number }).count > 0, `the other topic keeps its ${table} rows`);
  }
});

void t.test('a topic name is created once; logStartOffset never moves back', async (t) => {
  const store = openStore(t, tempDbPath(t));
  store.createTopic(topic('orders'), partitions('orders'));
  t.throws(() => store.createTopic(topic('orders'), partitions('orders')), TopicExistsError);
  t.same(store.listTopics().length, 1, 'the failed create left nothing half-written');
  store.setLogStartOffset('orders', 0, 10);
  t.throws(() => store.setLogStartOffset('orders', 0, 9), InvariantError, 'moving back would resurrect deleted offsets');
  t.equal(store.listPartitions('orders')[0].logStartOffset, 10);
});

void t.test('idempotent answers expire by age', async (t) => {
  const store = openStore(t, tempDbPath(t));
  store.createTopic(topic('orders'), partitions('orders'));
  store.idempotency.put('orders', 'old', '{}', 1_000);
  store.idempotency.put('orders', 'new', '{}', 5_000);
  t.equal(store.idempotency.expire(2_000), 1);
  t.equal(store.idempotency.get('orders', 'old'), undefined);
  t.ok(store.idempotency.get('orders', 'new'));
  t.equal(store.idempotency.size.count, 1);
});
