/**
 * Settings of one node, from four sources in order of precedence:
 * command-line flags > RUNNEL_* environment variables > a JSON config file
 * (--config runnel.json) > defaults. Every setting is declared once here with its flag,
 * variable, default and meaning; `runnel serve --help` and the README table come from
 * this list, and an invalid value stops start-up with a message naming the setting.
 *
 * The config file may also hold broker-wide topic defaults under Kafka's broker names
 * (log.retention.ms, log.segment.bytes, ...); see broker/topic-config.ts.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { topicConfigDefinitions } from '../broker/topic-config.js';
import { limits } from '../limits.js';

/** Kafka broker names a config file may hold: topic defaults, and num.partitions (= numPartitions). */
const knownBrokerNames = new Set(['num.partitions', ...[...topicConfigDefinitions.values()].map((d) => d.brokerName)]);

export interface Settings {
  host: string;
  port: number;
  dataDir: string;
  nodeId: number;
  peers: string;
  clusterSecret: string;
  nodeSessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  replicaReadLagMaxMs: number;
  raftElectionTimeoutMs: number;
  rack: string;
  corsOrigins: string;
  console: boolean;
  logLevel: string;
  bodyLimitBytes: number;
  numPartitions: number;
  maxPartitions: number;
  maxOpenLogFiles: number;
  retentionCheckIntervalMs: number;
  cleanerDedupeBufferBytes: number;
  cleanerIoMaxBytesPerSecond: number;
  cleanerBackoffMs: number;
  keyIndexMemoryBytes: number;
  shutdownTimeoutMs: number;
  offsetsRetentionMinutes: number;
  shareRecordLockDurationMs: number;
  shareDeliveryCountLimit: number;
  sharePartitionMaxRecordLocks: number;
  auth: string;
  adminKey: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  metricsRequireKey: boolean;
  maxInFlightRequests: number;
  maxInFlightRequestsPerConnection: number;
  maxEventLoopDelayMs: number;
  maxConnections: number;
  requestBodyTimeoutMs: number;
  idempotencyKeysMax: number;
  idempotencyBytesMax: number;
  producerStatesMax: number;
  diskFreeMinBytes: number;
  logFormat: string;
  config: string;
  /** Broker-level Kafka settings from the config file (log.retention.ms, ...). */
  brokerSettings: Record<string, unknown>;
}

type SettingName = Exclude<keyof Settings, 'brokerSettings'>;

interface SettingDefinition {
  name: SettingName;
  flag: string;
  env: string;
  type: 'string' | 'integer' | 'boolean';
  defaultValue: string;
  description: string;
  minimum?: number;
  maximum?: number;
  choices?: string[];
  /** For strings: the shortest non-empty value allowed. */
  minimumLength?: number;
  /** For strings: what a non-empty value must match, and how to say so. */
  pattern?: { regex: RegExp; expected: string };
}

export const settingDefinitions: SettingDefinition[] = [
  { name: 'host', flag: 'host', env: 'RUNNEL_HOST', type: 'string', defaultValue: '127.0.0.1', description: 'Listen address (the container sets 0.0.0.0).' },
  { name: 'port', flag: 'port', env: 'RUNNEL_PORT', type: 'integer', defaultValue: '8080', minimum: 0, maximum: 65535, description: 'Listen port (0 = any free port, printed at start).' },
  { name: 'dataDir', flag: 'data-dir', env: 'RUNNEL_DATA_DIR', type: 'string', defaultValue: './data', description: 'Directory for partition logs and meta.db.' },
  { name: 'nodeId', flag: 'node-id', env: 'RUNNEL_NODE_ID', type: 'integer', defaultValue: '1', minimum: 0, maximum: 2 ** 31 - 1, description: "This node's id in a cluster." },
  { name: 'peers', flag: 'peers', env: 'RUNNEL_PEERS', type: 'string', defaultValue: '', description: 'Cluster seed list `1@http://h1:8080,2@http://h2:8080`, this node included (empty: a single node). Every listed node votes in the metadata quorum.' },
  { name: 'clusterSecret', flag: 'cluster-secret', env: 'RUNNEL_CLUSTER_SECRET', type: 'string', defaultValue: '', minimumLength: 16, description: 'Shared secret of node-to-node requests (header x-runnel-cluster-secret); when set, every /internal route refuses requests without it. Required in a cluster (--peers) with --auth api-key; without one a cluster logs a warning at start. Prefer the environment variable.' },
  { name: 'nodeSessionTimeoutMs', flag: 'node-session-timeout-ms', env: 'RUNNEL_NODE_SESSION_TIMEOUT_MS', type: 'integer', defaultValue: '2000', minimum: 200, maximum: 600_000, description: "A node that has not heartbeated the controller this long is fenced and its partitions get new leaders (Kafka's broker.session.timeout.ms, 9 s there); nodes heartbeat every sixth of it. See Cluster for the trade-off." },
  { name: 'replicaLagTimeMaxMs', flag: 'replica-lag-time-max-ms', env: 'RUNNEL_REPLICA_LAG_TIME_MAX_MS', type: 'integer', defaultValue: '10000', minimum: 100, maximum: 600_000, description: "A follower not caught up for this long leaves the ISR (Kafka's replica.lag.time.max.ms)." },
  { name: 'replicaReadLagMaxMs', flag: 'replica-read-lag-max-ms', env: 'RUNNEL_REPLICA_READ_LAG_MAX_MS', type: 'integer', defaultValue: '10000', minimum: 100, maximum: 600_000, description: 'Reads from any node (KIP-392): a follower in the ISR serves reads of a partition, up to its own high watermark, while it heard from the leader within this; one that did not (or that left the ISR, or holds no replica) hands the read to an in-sync replica.' },
  { name: 'raftElectionTimeoutMs', flag: 'raft-election-timeout-ms', env: 'RUNNEL_RAFT_ELECTION_TIMEOUT_MS', type: 'integer', defaultValue: '1000', minimum: 50, maximum: 60_000, description: "A metadata quorum follower that hears nothing from the leader this long (randomised up to twice) starts an election (Kafka's controller.quorum.election.timeout.ms)." },
  { name: 'corsOrigins', flag: 'cors-origins', env: 'RUNNEL_CORS_ORIGINS', type: 'string', defaultValue: '', pattern: { regex: /^\s*(\*|https?:\/\/[^/,\s]+)\s*(,\s*(\*|https?:\/\/[^/,\s]+)\s*)*$/, expected: "a comma-separated list of origins like https://app.example.com:8443, or '*'" }, description: "Origins whose web pages may call the API (CORS): a comma-separated list of exact origins (scheme://host[:port]) or `*` for any. Preflights are answered; Runnel-*, Retry-After and idempotent-replayed are readable by the page; SSE works. Empty: off (browsers refuse other origins' calls)." },
  { name: 'console', flag: 'console', env: 'RUNNEL_CONSOLE', type: 'boolean', defaultValue: 'true', description: 'Serve the web console at /console on this port (a public page; with --auth api-key every call it makes needs a key). false: /console is 404.' },
  { name: 'rack', flag: 'rack', env: 'RUNNEL_RACK', type: 'string', defaultValue: '', pattern: { regex: /^[A-Za-z0-9._-]{1,64}$/, expected: '1-64 characters of A-Z, a-z, 0-9, ".", "_" and "-"' }, description: "This node's rack, zone or data centre (Kafka's broker.rack), listed by GET /v1/cluster: a client given the same `rack` reads from an in-sync replica on this node instead of the leader (KIP-392). Empty: none." },
  { name: 'logLevel', flag: 'log-level', env: 'RUNNEL_LOG_LEVEL', type: 'string', defaultValue: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'Log level (pino); debug logs every request.' },
  { name: 'bodyLimitBytes', flag: 'body-limit-bytes', env: 'RUNNEL_BODY_LIMIT_BYTES', type: 'integer', defaultValue: String(limits.requestBodyBytesDefault), minimum: 1024, maximum: 1024 ** 3, description: 'Largest request body; larger ones get 413 REQUEST_TOO_LARGE.' },
  { name: 'maxPartitions', flag: 'max-partitions', env: 'RUNNEL_MAX_PARTITIONS', type: 'integer', defaultValue: String(limits.partitionsPerNodeDefault), minimum: 1, maximum: 1_000_000, description: 'Partitions (replicas) this node holds at most; a topic create or partition add past it gets 400 TOO_MANY_PARTITIONS and makes nothing.' },
  { name: 'maxOpenLogFiles', flag: 'max-open-log-files', env: 'RUNNEL_MAX_OPEN_LOG_FILES', type: 'integer', defaultValue: '0', minimum: 0, maximum: 1_000_000, description: 'Segment files (logs and indexes) kept open at most; the least recently used are closed first and reopened when needed. 0: half of ulimit -n, at most 10,000. The value in force is logged at start.' },
  { name: 'numPartitions', flag: 'num-partitions', env: 'RUNNEL_NUM_PARTITIONS', type: 'integer', defaultValue: '1', minimum: 1, maximum: limits.partitionCountMax, description: "Partitions of a topic created without a count (Kafka's num.partitions)." },
  { name: 'retentionCheckIntervalMs', flag: 'retention-check-interval-ms', env: 'RUNNEL_RETENTION_CHECK_INTERVAL_MS', type: 'integer', defaultValue: '300000', minimum: 10, maximum: 2 ** 31 - 1, description: "How often retention runs (Kafka's log.retention.check.interval.ms)." },
  { name: 'cleanerDedupeBufferBytes', flag: 'cleaner-dedupe-buffer-bytes', env: 'RUNNEL_CLEANER_DEDUPE_BUFFER_BYTES', type: 'integer', defaultValue: String(32 * 1024 * 1024), minimum: 1024, maximum: 2 ** 31 - 1, description: "Memory of the compaction cleaner's key map, 24 bytes per key (Kafka's log.cleaner.dedupe.buffer.size); a partition with more dirty keys than fit is cleaned in rounds." },
  { name: 'cleanerIoMaxBytesPerSecond', flag: 'cleaner-io-max-bytes-per-second', env: 'RUNNEL_CLEANER_IO_MAX_BYTES_PER_SECOND', type: 'integer', defaultValue: String(64 * 1024 * 1024), minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: "Bytes the compaction cleaner reads and writes per second at most (Kafka's log.cleaner.io.max.bytes.per.second); 0: no limit." },
  { name: 'cleanerBackoffMs', flag: 'cleaner-backoff-ms', env: 'RUNNEL_CLEANER_BACKOFF_MS', type: 'integer', defaultValue: '15000', minimum: 10, maximum: 2 ** 31 - 1, description: "How long the compaction cleaner waits when no compacted partition is due (Kafka's log.cleaner.backoff.ms)." },
  { name: 'keyIndexMemoryBytes', flag: 'key-index-memory-bytes', env: 'RUNNEL_KEY_INDEX_MEMORY_BYTES', type: 'integer', defaultValue: String(128 * 1024 * 1024), minimum: 1024, maximum: Number.MAX_SAFE_INTEGER, description: "Memory of the key indexes behind GET /v1/topics/{topic}/keys/{key}, across every compacted partition of the node: 16 bytes per slot, 21 to 43 bytes per key (128 MiB: 3 to 6 million keys). A partition whose keys do not fit answers a key it does not hold with 507 KEY_INDEX_FULL (keys it holds still answer) until the node restarts with more." },
  { name: 'shutdownTimeoutMs', flag: 'shutdown-timeout-ms', env: 'RUNNEL_SHUTDOWN_TIMEOUT_MS', type: 'integer', defaultValue: '10000', minimum: 0, maximum: 600_000, description: 'Longest a graceful shutdown may take before the process exits anyway.' },
  { name: 'offsetsRetentionMinutes', flag: 'offsets-retention-minutes', env: 'RUNNEL_OFFSETS_RETENTION_MINUTES', type: 'integer', defaultValue: '10080', minimum: 1, maximum: 2 ** 31 - 1, description: "Committed offsets of a group empty this long expire (Kafka's offsets.retention.minutes)." },
  { name: 'shareRecordLockDurationMs', flag: 'share-record-lock-duration-ms', env: 'RUNNEL_SHARE_RECORD_LOCK_DURATION_MS', type: 'integer', defaultValue: '30000', minimum: 100, maximum: 3_600_000, description: "How long a share group's acquired record stays locked, unless the group sets share.record.lock.duration.ms (Kafka's group.share.record.lock.duration.ms)." },
  { name: 'shareDeliveryCountLimit', flag: 'share-delivery-count-limit', env: 'RUNNEL_SHARE_DELIVERY_COUNT_LIMIT', type: 'integer', defaultValue: '5', minimum: 1, maximum: 100, description: "Deliveries after which a share group's record is archived, unless the group sets share.delivery.count.limit (Kafka's group.share.delivery.count.limit)." },
  { name: 'sharePartitionMaxRecordLocks', flag: 'share-partition-max-record-locks', env: 'RUNNEL_SHARE_PARTITION_MAX_RECORD_LOCKS', type: 'integer', defaultValue: '2000', minimum: 1, maximum: 10_000, description: "Records in flight per share-partition at most, unless the group sets group.share.partition.max.record.locks (Kafka's name)." },
  { name: 'auth', flag: 'auth', env: 'RUNNEL_AUTH', type: 'string', defaultValue: 'none', choices: ['none', 'api-key'], description: 'none: every request is allowed. api-key: requests need an API key (Authorization: Bearer <key>) whose grants allow them.' },
  { name: 'adminKey', flag: 'admin-key', env: 'RUNNEL_ADMIN_KEY', type: 'string', defaultValue: '', minimumLength: 16, description: 'A bootstrap key allowed everything, to make the first API keys (at least 16 characters; prefer the environment variable to the flag).' },
  { name: 'tlsCertFile', flag: 'tls-cert-file', env: 'RUNNEL_TLS_CERT_FILE', type: 'string', defaultValue: '', description: 'PEM certificate: serve HTTPS (with --tls-key-file).' },
  { name: 'tlsKeyFile', flag: 'tls-key-file', env: 'RUNNEL_TLS_KEY_FILE', type: 'string', defaultValue: '', description: 'PEM private key for --tls-cert-file.' },
  { name: 'metricsRequireKey', flag: 'metrics-require-key', env: 'RUNNEL_METRICS_REQUIRE_KEY', type: 'boolean', defaultValue: 'false', description: 'With --auth api-key, /metrics needs a key too (any valid key).' },
  { name: 'maxInFlightRequests', flag: 'max-in-flight-requests', env: 'RUNNEL_MAX_IN_FLIGHT_REQUESTS', type: 'integer', defaultValue: '10000', minimum: 1, maximum: 1_000_000, description: 'Requests (long-polls and streams included) the node works on at once; more get 503 OVERLOADED.' },
  { name: 'maxInFlightRequestsPerConnection', flag: 'max-in-flight-requests-per-connection', env: 'RUNNEL_MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION', type: 'integer', defaultValue: '1000', minimum: 1, maximum: 1_000_000, description: 'Requests one connection may have in flight; more get 429 TOO_MANY_REQUESTS.' },
  { name: 'maxEventLoopDelayMs', flag: 'max-event-loop-delay-ms', env: 'RUNNEL_MAX_EVENT_LOOP_DELAY_MS', type: 'integer', defaultValue: '2000', minimum: 0, maximum: 600_000, description: 'Event-loop delay past which new requests get 503 OVERLOADED (0: never).' },
  { name: 'maxConnections', flag: 'max-connections', env: 'RUNNEL_MAX_CONNECTIONS', type: 'integer', defaultValue: '20000', minimum: 0, maximum: 1_000_000, description: 'Open connections at most; more are refused (0: no limit).' },
  { name: 'requestBodyTimeoutMs', flag: 'request-body-timeout-ms', env: 'RUNNEL_REQUEST_BODY_TIMEOUT_MS', type: 'integer', defaultValue: String(limits.requestBodyTimeoutMsDefault), minimum: 100, maximum: 3_600_000, description: 'A request whose headers and body have not all arrived this long after it began gets 408 REQUEST_BODY_TIMEOUT and its connection is closed.' },
  { name: 'idempotencyKeysMax', flag: 'idempotency-keys-max', env: 'RUNNEL_IDEMPOTENCY_KEYS_MAX', type: 'integer', defaultValue: String(limits.idempotencyKeyCountDefault), minimum: 1, maximum: 100_000_000, description: 'Idempotency-Key answers remembered per node at most; past it the oldest are evicted first (runnel_idempotency_evictions_total).' },
  { name: 'idempotencyBytesMax', flag: 'idempotency-bytes-max', env: 'RUNNEL_IDEMPOTENCY_BYTES_MAX', type: 'integer', defaultValue: String(limits.idempotencyBytesDefault), minimum: 1024, maximum: 2 ** 40, description: 'Bytes of Idempotency-Key answers (topic, key and offsets) remembered per node at most; past it the oldest are evicted first.' },
  { name: 'producerStatesMax', flag: 'producer-states-max', env: 'RUNNEL_PRODUCER_STATES_MAX', type: 'integer', defaultValue: String(limits.producerStatesDefault), minimum: 100, maximum: 100_000_000, description: "Producers (allocated producer ids and Idempotency-Keys) whose recent batches a node remembers across its partitions, to answer a retry with the first answer; past it the least recently written producer of a partition is forgotten (runnel_producer_states_evicted_total). A producer silent for 24 hours is forgotten (Kafka's producer.id.expiration.ms)." },
  { name: 'diskFreeMinBytes', flag: 'disk-free-min-bytes', env: 'RUNNEL_DISK_FREE_MIN_BYTES', type: 'integer', defaultValue: '-1', minimum: -1, maximum: 2 ** 50, description: "Free space on the data directory's filesystem at or below which produce is refused with 507 DISK_FULL, so checkpoints and meta.db always find room; produce resumes by itself once space is freed. -1: 1% of the filesystem, at most 256 MiB. 0: no floor (refused only once a write fails)." },
  { name: 'logFormat', flag: 'log-format', env: 'RUNNEL_LOG_FORMAT', type: 'string', defaultValue: 'json', choices: ['json', 'pretty'], description: 'json: one pino JSON object per line. pretty: human-readable lines for a terminal.' },
  { name: 'config', flag: 'config', env: 'RUNNEL_CONFIG', type: 'string', defaultValue: '', description: 'JSON config file: any setting above by name (e.g. "dataDir") plus broker topic defaults by Kafka name (e.g. "log.retention.ms").' },
];

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function parseValue(definition: SettingDefinition, raw: unknown, source: string): string | number | boolean {
  const where = `setting ${definition.name} (--${definition.flag} / ${definition.env}) from ${source}`;
  if (definition.type === 'boolean') return parseBoolean(raw, where);
  if (definition.type === 'integer') return parseInteger(definition, raw, where);
  return parseString(definition, raw, where);
}

function parseBoolean(raw: unknown, where: string): boolean {
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  throw new SettingsError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
}

function parseInteger(definition: SettingDefinition, raw: unknown, where: string): number {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : undefined;
  if (text === undefined || !/^-?\d+$/.test(text)) throw new SettingsError(`${where}: expected an integer, got ${JSON.stringify(raw)}`);
  const value = Number(text);
  if ((definition.minimum !== undefined && value < definition.minimum) || (definition.maximum !== undefined && value > definition.maximum)) {
    throw new SettingsError(`${where}: expected an integer between ${definition.minimum} and ${definition.maximum}, got ${value}`);
  }
  return value;
}

function parseString(definition: SettingDefinition, raw: unknown, where: string): string {
  if (typeof raw !== 'string') throw new SettingsError(`${where}: expected a string, got ${JSON.stringify(raw)}`);
  if (definition.minimumLength !== undefined && raw !== '' && raw.length < definition.minimumLength) {
    throw new SettingsError(`${where}: expected at least ${definition.minimumLength} characters, got ${raw.length}`);
  }
  if (definition.pattern !== undefined && raw !== '' && !definition.pattern.regex.test(raw)) {
    throw new SettingsError(`${where}: expected ${definition.pattern.expected}, got ${JSON.stringify(raw)}`);
  }
  if (definition.choices !== undefined && !definition.choices.includes(raw)) {
    throw new SettingsError(`${where}: expected one of ${definition.choices.join(', ')}, got ${JSON.stringify(raw)}`);
  }
  return raw;
}

/** Resolves settings from flags (`argv` after the command), an environment and a config file. */
export function loadSettings(argv: string[], env: NodeJS.ProcessEnv = process.env): Settings {
  const flags = parseFlags(argv);
  const configPath = flags.config ?? env.RUNNEL_CONFIG ?? '';
  const file = configPath === '' ? {} : readConfigFile(configPath);
  const brokerSettings = brokerSettingsOf(file, configPath);
  // Fix: Kafka's num.partitions in the file is the file's value of numPartitions, so
  // flags and env beat it like any setting (serve.ts used to let it override an
  // explicit --num-partitions 1, and passed a non-number on unchecked).
  if (file.numPartitions === undefined && file['num.partitions'] !== undefined) file.numPartitions = file['num.partitions'];
  const settings: Record<string, unknown> = {};
  for (const definition of settingDefinitions) {
    settings[definition.name] = resolveSetting(definition, { flags, env, file, configPath });
  }
  const result = { ...(settings as Omit<Settings, 'brokerSettings'>), brokerSettings };
  if ((result.tlsCertFile === '') !== (result.tlsKeyFile === '')) {
    throw new SettingsError('settings tlsCertFile and tlsKeyFile (--tls-cert-file / --tls-key-file): give both or neither');
  }
  const peers = parsePeers(result.peers, result.nodeId);
  // With API keys on, a cluster without a secret would leave its node-to-node routes
  // (/internal: controller, replication, forwarded produce) open to any caller.
  if (peers.length > 0 && result.auth === 'api-key' && result.clusterSecret === '') {
    throw new SettingsError('setting clusterSecret (--cluster-secret / RUNNEL_CLUSTER_SECRET): required in a cluster (--peers) with --auth api-key, or anyone who reaches a node could create and delete topics and append records through its /internal routes');
  }
  return result;
}

function parseFlags(argv: string[]): Record<string, string | undefined> {
  try {
    const parsed = parseArgs({
      args: argv,
      options: Object.fromEntries(settingDefinitions.map((d) => [d.flag, { type: 'string' as const }])),
      strict: true,
      allowPositionals: false,
    });
    return parsed.values as Record<string, string | undefined>;
  } catch (error) {
    throw new SettingsError(`${(error as Error).message}; see runnel serve --help`);
  }
}

function readConfigFile(configPath: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (error) {
    throw new SettingsError(`setting config: cannot read ${configPath}: ${(error as Error).message}`);
  }
  let file: unknown;
  try {
    file = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`setting config: ${configPath} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new SettingsError(`setting config: ${configPath} must hold a JSON object`);
  return file as Record<string, unknown>;
}

/** The config file's Kafka broker names (log.retention.ms, ...); any other unknown key stops start-up. */
function brokerSettingsOf(file: Record<string, unknown>, configPath: string): Record<string, unknown> {
  const brokerSettings: Record<string, unknown> = {};
  const known = new Set(settingDefinitions.map((d) => d.name as string));
  for (const [key, value] of Object.entries(file)) {
    if (known.has(key)) continue;
    // Fix: a misspelt Kafka name (log.retention.mss) used to be accepted and ignored,
    // so the node ran with a default the operator thought was changed.
    if (key.includes('.') && knownBrokerNames.has(key)) brokerSettings[key] = value;
    else if (key.includes('.')) throw new SettingsError(`setting config: unknown broker setting '${key}' in ${configPath}; known: ${[...knownBrokerNames].join(', ')}`);
    else throw new SettingsError(`setting config: unknown setting '${key}' in ${configPath}; known: ${[...known].join(', ')} and Kafka broker names such as log.retention.ms`);
  }
  return brokerSettings;
}

interface SettingSources {
  flags: Record<string, string | undefined>;
  env: NodeJS.ProcessEnv;
  file: Record<string, unknown>;
  configPath: string;
}

/** Flag > environment (empty counts as unset) > config file > default. */
function resolveSetting(definition: SettingDefinition, sources: SettingSources): string | number | boolean {
  const flag = sources.flags[definition.flag];
  const fromEnv = sources.env[definition.env];
  if (flag !== undefined) return parseValue(definition, flag, 'the command line');
  if (fromEnv !== undefined && fromEnv !== '') return parseValue(definition, fromEnv, 'the environment');
  if (sources.file[definition.name] !== undefined) return parseValue(definition, sources.file[definition.name], sources.configPath);
  return parseValue(definition, definition.defaultValue, 'the defaults');
}

export interface Peer {
  nodeId: number;
  url: string;
}

/**
 * `1@http://h1:8080,2@http://h2:8080`: every node of the cluster, this one included
 * (empty: a single node). Ids are unique, URLs are http(s) without a path.
 */
export function parsePeers(text: string, nodeId: number): Peer[] {
  if (text.trim() === '') return [];
  const where = 'setting peers (--peers / RUNNEL_PEERS)';
  const peers: Peer[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)@(\S+?)\/?\s*$/.exec(part);
    if (match === null) throw new SettingsError(`${where}: expected id@url entries separated by commas (1@http://h1:8080), got ${JSON.stringify(part)}`);
    const id = Number(match[1]);
    let url: URL;
    try {
      url = new URL(match[2]);
    } catch {
      throw new SettingsError(`${where}: ${JSON.stringify(match[2])} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(`${where}: ${match[2]} must be http:// or https://`);
    if (peers.some((peer) => peer.nodeId === id)) throw new SettingsError(`${where}: node id ${id} appears twice`);
    peers.push({ nodeId: id, url: url.origin });
  }
  if (!peers.some((peer) => peer.nodeId === nodeId)) {
    throw new SettingsError(`${where}: this node's id ${nodeId} (--node-id) is not in the list ${text}`);
  }
  return peers.sort((a, b) => a.nodeId - b.nodeId);
}

export function settingsHelp(): string {
  const lines = ['Usage: runnel serve [options]', '', 'Options (flag > environment > config file > default):'];
  for (const d of settingDefinitions) {
    lines.push(`  --${d.flag} <${d.type === 'integer' ? 'n' : d.type === 'boolean' ? 'true|false' : 'value'}>`.padEnd(38) + `${d.env}`);
    lines.push(`      ${d.description} Default: ${d.defaultValue === '' ? '(none)' : d.defaultValue}`);
  }
  lines.push('  --help'.padEnd(38) + 'Show this help.');
  return lines.join('\n');
}

/** The README's configuration table (markdown), one row per setting. */
export function settingsTable(): string {
  return [
    '| flag | env | default | meaning |',
    '|---|---|---|---|',
    ...settingDefinitions.map((d) => `| --${d.flag} | ${d.env} | ${d.defaultValue === '' ? '(none)' : d.defaultValue} | ${d.description} |`),
  ].join('\n') + '\n';
}
