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
  // v2: consumer groups and their committed offsets. Members are kept as one JSON
  // snapshot per group (rewritten on membership or assignment changes, never on a
  // plain heartbeat) so a restart keeps the group's assignment.
  `
  CREATE TABLE consumer_groups (
    group_id TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL,
    empty_since_ms INTEGER,
    group_epoch INTEGER NOT NULL,
    state_json TEXT NOT NULL
  );
  CREATE TABLE committed_offsets (
    group_id TEXT NOT NULL REFERENCES consumer_groups(group_id) ON DELETE CASCADE,
    topic TEXT NOT NULL REFERENCES topics(name) ON DELETE CASCADE,
    partition INTEGER NOT NULL,
    committed_offset INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    committed_at_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
  );
  CREATE INDEX committed_offsets_topic ON committed_offsets(topic);
  `,
  // v3: API keys. Only a SHA-256 of each secret is kept (secrets are 32 random bytes,
  // so a slow password hash adds nothing); grants are a JSON list.
  `
  CREATE TABLE api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    grants_json TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
  );
  `,
  // v4: the cluster. A partition's epoch (KIP-497: bumped by every leader or ISR
  // change), and this node's metadata image: the state the metadata log built, as of
  // applied_offset, kept whole so a restart resumes applying where it stopped.
  `
  ALTER TABLE partitions ADD COLUMN partition_epoch INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE metadata_image (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    applied_offset INTEGER NOT NULL,
    image_json TEXT NOT NULL
  );
  `,
  // v5: consumer groups in a cluster. How far this node has applied each partition of
  // __consumer_offsets to committed_offsets (the next offset to apply), so a restart
  // resumes where it stopped; topic_id tells a re-created offsets topic from the old one.
  `
  CREATE TABLE offsets_applied (
    partition INTEGER PRIMARY KEY,
    topic_id TEXT NOT NULL,
    applied_offset INTEGER NOT NULL
  );
  `,
  // v6: producer ids on a single node (KIP-98): the first id of the next block to hand
  // out; a restart takes a new block, so no id is ever given twice.
  `
  CREATE TABLE producer_ids (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    next_producer_id INTEGER NOT NULL
  );
  `,
];
