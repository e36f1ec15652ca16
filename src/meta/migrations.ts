/**
 * Schema migrations, applied in order by PRAGMA user_version: version N of the schema
 * is the first N steps. A step is appended, never edited, once it has shipped.
 */
export const migrations: readonly string[] = [
  // v1: cluster identity, topics, configs, partitions, idempotency.
  `
  CREATE TABLE cluster (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cluster_id TEXT NOT NULL
  );
  CREATE TABLE topics (
    name TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL,
    partition_count INTEGER NOT NULL,
    replication_factor INTEGER NOT NULL,
    created_at_ms INTEGER NOT NULL
  );
  CREATE TABLE topic_configs (
    topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (topic, key)
  );
  CREATE TABLE partitions (
    topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
    partition INTEGER NOT NULL,
    leader INTEGER NOT NULL,
    leader_epoch INTEGER NOT NULL,
    replicas TEXT NOT NULL,
    isr TEXT NOT NULL,
    log_start_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
  );
  CREATE TABLE idempotency (
    topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    response_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (topic, idempotency_key)
  );
  CREATE INDEX idempotency_created ON idempotency(created_at_ms);
  `,
];
