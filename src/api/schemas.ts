/**
 * JSON schemas shared by routes. The same schemas validate requests, serialise
 * replies and generate openapi/openapi.json, so the docs cannot drift from the code.
 */
import { errorCatalogue, type ErrorCode } from './error-codes.js';
import { limits } from '../limits.js';

export const errorBodySchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error: a stable upper-case code and a human message. OFFSET_OUT_OF_RANGE adds logStartOffset and highWatermark; NOT_LEADER adds leaderId, leaderUrl and leaderEpoch (null when no leader is known); every 503 carries Retry-After (seconds); CORRUPT_LOG adds the damaged offset and segment file; NOT_CONTROLLER adds controllerId (null when none is known); NOT_ENOUGH_REPLICAS adds insyncReplicas and minInsyncReplicas; TOO_MANY_PARTITIONS adds partitions (held now), partitionsMax and, in a cluster, the nodeId that is full.',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', enum: Object.keys(errorCatalogue) },
        message: { type: 'string' },
        logStartOffset: { type: 'integer' },
        highWatermark: { type: 'integer' },
        leaderId: { type: ['integer', 'null'] },
        leaderUrl: { type: ['string', 'null'] },
        leaderEpoch: { type: ['integer', 'null'] },
        offset: { type: 'integer' },
        segment: { type: 'string' },
        controllerId: { type: ['integer', 'null'] },
        insyncReplicas: { type: 'integer' },
        minInsyncReplicas: { type: 'integer' },
        nodeId: { type: 'integer' },
        partitions: { type: 'integer' },
        partitionsMax: { type: 'integer' },
      },
    },
  },
} as const;

/** Every 503 says when to try again. */
const RETRY_AFTER_HEADERS = {
  'retry-after': { type: 'integer', minimum: 1, description: 'Seconds to wait before trying again (a leader election, a node starting).' },
} as const;

/** Headers of an answer a cluster node may have had another node serve. */
export const servedByHeaders = {
  'runnel-served-by': {
    type: 'string',
    description: 'The node(s) that served the answer: the replica whose log was read, the leader(s) that appended, the coordinator of the group (comma-separated node ids). Any node takes any request and hands it to one of these when it cannot serve it itself.',
    example: '2',
  },
} as const;

/**
 * Where an error response entry keeps the codes it stands for: the OpenAPI document
 * shows one example of each (src/http/openapi-errors.ts); the serialiser ignores it.
 */
export const ERROR_CODES_KEY = 'x-runnel-error-codes';

/** Response entries for the given error codes, grouped by status, each listing its codes. */
export function errorResponses(...codes: ErrorCode[]): Record<number, object> {
  const all: ErrorCode[] = ['INVALID_REQUEST', 'INTERNAL_ERROR', ...codes];
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set(all)) {
    const status = errorCatalogue[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, object> = {};
  for (const [status, statusCodes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[status] = {
      description: statusCodes.map((code) => `${code}: ${errorCatalogue[code].description}`).join(' | '),
      $ref: 'Error#',
      ...(status === 503 ? { headers: RETRY_AFTER_HEADERS } : {}),
      [ERROR_CODES_KEY]: statusCodes,
    };
  }
  return responses;
}

export const topicNameParam = {
  type: 'string',
  description: 'Topic name: 1-249 characters of [a-zA-Z0-9._-].',
  example: 'orders',
} as const;

export const partitionParam = {
  type: 'integer',
  minimum: 0,
  description: 'Partition number, from 0.',
  example: 0,
} as const;

export const valueFormatSchema = {
  type: 'string',
  enum: ['json', 'string', 'binary'],
  description: 'json: any JSON value, stored as its JSON text. string: a JSON string, stored as UTF-8. binary: base64 text, stored as the decoded bytes.',
} as const;

export const configsSchema = {
  type: 'object',
  description: "Topic configs by Kafka's names (retention.ms, retention.bytes, segment.bytes, segment.ms, cleanup.policy, min.cleanable.dirty.ratio, min.compaction.lag.ms, max.compaction.lag.ms, delete.retention.ms, max.message.bytes, min.insync.replicas, flush.messages, flush.ms, message.timestamp.type, index.interval.bytes, unclean.leader.election.enable). Values are strings or numbers.",
  additionalProperties: { type: ['string', 'number', 'boolean'] },
  example: { 'retention.ms': '604800000', 'segment.bytes': '1073741824' },
} as const;

export const partitionInfoSchema = {
  type: 'object',
  required: ['partition', 'leader', 'leaderEpoch', 'replicas', 'isr', 'logStartOffset', 'highWatermark', 'logEndOffset', 'sizeBytes'],
  properties: {
    partition: { type: 'integer' },
    leader: { type: 'integer', description: 'Node id of the leader (-1: no in-sync replica is alive, the partition is offline).' },
    leaderUrl: { type: ['string', 'null'], description: "The leader's URL: produce and fetch go there." },
    leaderEpoch: { type: 'integer', description: 'Bumped by every change of leader; stamped on every batch the leader writes.' },
    replicas: { type: 'array', items: { type: 'integer' } },
    isr: { type: 'array', items: { type: 'integer' }, description: 'In-sync replicas.' },
    logStartOffset: { type: 'integer', description: "Earliest offset still stored (retention moves it forward); as this node's replica knows it." },
    highWatermark: { type: 'integer', description: "Offset after the last committed record (every in-sync replica has it): consumers read up to here. As this node's replica knows it." },
    logEndOffset: { type: 'integer', description: "Offset the next record will get, in this node's replica." },
    sizeBytes: { type: 'integer', description: 'Bytes of log on disk.' },
    segmentCount: { type: 'integer' },
  },
} as const;

export const topicDescriptionSchema = {
  $id: 'TopicDescription',
  type: 'object',
  required: ['name', 'topicId', 'partitions', 'replicationFactor', 'configs'],
  properties: {
    name: { type: 'string' },
    topicId: { type: 'string' },
    replicationFactor: { type: 'integer' },
    configs: { type: 'object', description: 'Configs set on this topic (others use broker defaults).', additionalProperties: { type: 'string' } },
    effectiveConfigs: { type: 'object', description: 'Every config with the value in force.', additionalProperties: { type: 'string' } },
    partitions: { type: 'array', items: partitionInfoSchema },
  },
} as const;

export const produceRecordSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    key: { description: `Optional key in keyFormat (default string). Keyed records go to murmur2(key) % partitions, as in Kafka. A json key nests at most ${limits.jsonDepthMax} levels of arrays and objects (deeper: 400 INVALID_REQUEST).`, example: 'customer-42' },
    value: { description: `The value in valueFormat (default json). null is a tombstone. A json value nests at most ${limits.jsonDepthMax} levels of arrays and objects (deeper: 400 INVALID_REQUEST).`, example: { item: 'book', quantity: 1 } },
    headers: { type: ['object', 'null'], additionalProperties: { type: ['string', 'null'] }, description: 'Header names to UTF-8 string values.', example: { source: 'web' } },
    partition: { type: 'integer', minimum: 0, description: 'Explicit partition (overrides the key).' },
    timestamp: { type: 'integer', minimum: 0, description: 'CreateTime in ms since the epoch; the node stamps it when absent or when the topic uses LogAppendTime.' },
  },
} as const;

export const produceBodySchema = {
  type: 'object',
  required: ['records'],
  additionalProperties: false,
  properties: {
    records: { type: 'array', minItems: 1, maxItems: limits.produceRecordCountMax, items: produceRecordSchema },
    keyFormat: { ...valueFormatSchema, default: 'string' },
    valueFormat: { ...valueFormatSchema, default: 'json' },
    producerId: { type: 'integer', minimum: 0, maximum: limits.producerIdMax, description: 'An idempotent producer (POST /v1/producers); with producerEpoch and baseSequence, on the one-partition route only.' },
    producerEpoch: { type: 'integer', minimum: 0, maximum: 32767 },
    baseSequence: { type: 'integer', minimum: 0, maximum: 2147483647, description: "The producer's sequence of the first record here: 0 for its first batch to this partition, then each batch's baseSequence plus its record count." },
  },
  example: { records: [{ key: 'customer-42', value: { item: 'book', quantity: 1 } }] },
} as const;

export const produceResponseSchema = {
  type: 'object',
  required: ['offsets'],
  properties: {
    offsets: {
      type: 'array',
      description: 'One entry per record, in request order.',
      items: {
        type: 'object',
        required: ['partition', 'offset', 'timestamp'],
        properties: { partition: { type: 'integer' }, offset: { type: 'integer' }, timestamp: { type: 'integer' } },
      },
    },
  },
  example: { offsets: [{ partition: 0, offset: 41, timestamp: 1764000000000 }] },
} as const;

export const fetchedRecordSchema = {
  type: 'object',
  required: ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'],
  properties: {
    partition: { type: 'integer' },
    offset: { type: 'integer' },
    timestamp: { type: 'integer' },
    key: { description: 'In the format it was produced in: a string (string), base64 text (binary, with keyFormat "binary") or any JSON value (json, with keyFormat "json").' },
    value: { description: 'In the format it was produced in: any JSON value (json), a string (string, with valueFormat "string") or base64 text (binary, with valueFormat "binary").' },
    headers: { type: 'object', additionalProperties: { type: ['string', 'null'] } },
    keyFormat: { type: 'string', enum: ['json', 'binary'], description: 'Present when the key is not null and was not produced as a string: binary (the key is base64 of its bytes) or json. Records of a Kafka producer\'s batch are binary.' },
    valueFormat: { type: 'string', enum: ['string', 'binary'], description: 'Present when the value is not null and is not JSON: string (UTF-8 text) or binary (the value is base64 of its bytes). Records of a Kafka producer\'s batch are binary.' },
  },
} as const;

/** Kafka RecordBatch v2 bytes (magic 2), as a Kafka producer encodes them: produce bodies and fetch answers. */
export const RECORD_BATCH_MEDIA_TYPE = 'application/vnd.runnel.record-batch';

export const recordBatchBodySchema = {
  type: 'string',
  format: 'binary',
  description: 'One or more Kafka RecordBatch v2 (magic 2) back to back, exactly as a Kafka producer encodes them: baseOffset is ignored, the CRC-32C is checked, compression must be none, no transactional or control batches. Records, keys, values and headers are stored byte for byte. Producer fields (producerId, producerEpoch, baseSequence) make an idempotent producer\'s batches, as the JSON body\'s do.',
} as const;

export const produceBatchesResponseSchema = {
  type: 'object',
  required: ['batches'],
  properties: {
    batches: {
      type: 'array',
      description: 'One entry per batch of the body, in order (no per-record entries).',
      items: {
        type: 'object',
        required: ['partition', 'baseOffset', 'lastOffset', 'timestamp'],
        properties: {
          partition: { type: 'integer' },
          baseOffset: { type: 'integer' },
          lastOffset: { type: 'integer' },
          timestamp: { type: 'integer', description: "The batch's largest record timestamp; with message.timestamp.type LogAppendTime, the time of the append." },
        },
      },
    },
  },
  example: { batches: [{ partition: 0, baseOffset: 41, lastOffset: 140, timestamp: 1764000000000 }] },
} as const;

export const fetchedBatchesSchema = {
  type: 'string',
  format: 'binary',
  description: 'Stored Kafka RecordBatch v2 bytes, back to back, from the batch holding the offset asked for (skip the records before it). Empty when nothing is there.',
} as const;

/** Response headers of a record-batch fetch. */
export const recordBatchFetchHeaders = {
  ...servedByHeaders,
  'runnel-next-offset': { type: 'integer', description: 'Offset to ask for next (after the last record returned; the offset asked for when none was).' },
  'runnel-high-watermark': { type: 'integer', description: 'The high watermark of the replica that served the read.' },
  'runnel-log-start-offset': { type: 'integer', description: 'The first offset still in the log.' },
} as const;

export const fetchResponseSchema = {
  type: 'object',
  required: ['records', 'nextOffset', 'highWatermark', 'logStartOffset'],
  properties: {
    records: { type: 'array', items: fetchedRecordSchema },
    nextOffset: { type: 'integer', description: 'Offset to ask for next.' },
    highWatermark: { type: 'integer' },
    logStartOffset: { type: 'integer' },
  },
  example: {
    records: [{ partition: 0, offset: 41, timestamp: 1764000000000, key: 'customer-42', value: { item: 'book', quantity: 1 }, headers: {} }],
    nextOffset: 42,
    highWatermark: 42,
    logStartOffset: 0,
  },
} as const;

export const topicListSchema = {
  type: 'object',
  required: ['topics'],
  properties: {
    topics: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'partitions', 'replicationFactor'],
        properties: { name: { type: 'string' }, partitions: { type: 'integer' }, replicationFactor: { type: 'integer' } },
      },
    },
  },
  example: { topics: [{ name: 'orders', partitions: 3, replicationFactor: 1 }] },
} as const;

export const createTopicBodySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: topicNameParam,
    partitions: { type: 'integer', description: 'Number of partitions (at least 1; INVALID_PARTITIONS otherwise).', example: 3 },
    replicationFactor: { type: 'integer', minimum: 1, description: 'Copies of each partition (at most the number of nodes).', example: 1 },
    configs: configsSchema,
  },
  example: { name: 'orders', partitions: 3, configs: { 'retention.ms': '86400000' } },
} as const;

export const alterTopicBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    partitions: { type: 'integer', description: 'New total partition count: only grows (INVALID_PARTITIONS otherwise).' },
    configs: { ...configsSchema, additionalProperties: { type: ['string', 'number', 'boolean', 'null'] } },
  },
  example: { partitions: 6, configs: { 'retention.ms': '3600000' } },
} as const;

export const produceQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    acks: { type: 'string', enum: ['none', 'leader', 'all'], default: 'all', description: "none: answer without waiting for an fsync (202). leader/all: answer once the records are written and, when flush.messages/flush.ms call for it, fsynced; all also waits for the in-sync replicas." },
    keyFormat: { ...valueFormatSchema, description: 'Key format for application/x-ndjson bodies (JSON bodies carry it in the body).' },
    valueFormat: { ...valueFormatSchema, description: 'Value format for application/x-ndjson bodies (JSON bodies carry it in the body).' },
  },
} as const;

export const produceHeadersSchema = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', minLength: 1, maxLength: limits.idempotencyKeyLengthMax, description: 'Makes a retried request return the first answer instead of appending again (remembered for 24 h).' },
  },
} as const;

export const fetchQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    offset: { type: 'string', default: 'earliest', description: "A non-negative offset, 'earliest' (logStartOffset) or 'latest' (highWatermark: only new records).", example: 'earliest' },
    maxRecords: { type: 'integer', minimum: 1, maximum: limits.fetchRecordCountMax, default: limits.fetchRecordCountDefault, description: 'Most records to return.' },
    maxBytes: { type: 'integer', minimum: 1, maximum: limits.fetchBytesMax, default: limits.fetchBytesDefault, description: 'Most bytes of stored batches to read (the first batch is returned whole even if larger).' },
    waitMs: { type: 'integer', minimum: 0, maximum: limits.fetchWaitMsMax, default: 0, description: 'Long-poll: how long to wait for a record when none is there.' },
  },
} as const;

export const partitionOffsetsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { timestamp: { type: 'integer', minimum: 0, description: 'Milliseconds since the epoch.' } },
} as const;

export const partitionOffsetsSchema = {
  type: 'object',
  required: ['partition', 'logStartOffset', 'highWatermark', 'logEndOffset'],
  properties: {
    partition: { type: 'integer' },
    logStartOffset: { type: 'integer', description: 'earliest' },
    highWatermark: { type: 'integer', description: 'latest' },
    logEndOffset: { type: 'integer' },
    offset: { type: ['integer', 'null'], description: 'With ?timestamp: the first offset at or after it, or null.' },
    timestamp: { type: ['integer', 'null'], description: "With ?timestamp: that record's timestamp, or null." },
  },
  example: { partition: 0, logStartOffset: 0, highWatermark: 42, logEndOffset: 42 },
} as const;

export const clusterSchema = {
  type: 'object',
  required: ['clusterId', 'controller', 'nodes'],
  properties: {
    clusterId: { type: ['string', 'null'], description: 'The same on every node (null until the first controller wrote it).' },
    controller: { type: ['integer', 'null'], description: 'Node id of the active controller (the metadata quorum leader); null during an election.' },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['nodeId', 'url', 'rack', 'state'],
        properties: {
          nodeId: { type: 'integer' },
          url: { type: 'string' },
          rack: { type: ['string', 'null'], description: "The node's rack (--rack); null when it has none. A client given the same rack reads from an in-sync replica on this node (Kafka's broker.rack and client.rack)." },
          state: { type: 'string', enum: ['online', 'fenced', 'unknown'], description: 'online: heartbeating the controller. fenced: silent past the session timeout, leads nothing. unknown: never registered.' },
        },
      },
    },
    metadata: {
      type: 'object',
      description: "The metadata log (a Raft quorum of every node) as this node sees it.",
      properties: {
        leaderId: { type: ['integer', 'null'] },
        epoch: { type: 'integer', description: 'Raft epoch (term) of the metadata quorum.' },
        highWatermark: { type: 'integer', description: 'Committed metadata entries.' },
        logEndOffset: { type: 'integer' },
        appliedOffset: { type: 'integer', description: "Entries this node's view has applied." },
      },
    },
  },
  example: { clusterId: 'q2KfX0cERmWGfZ1mRL6v2A', controller: 1, nodes: [{ nodeId: 1, url: 'http://127.0.0.1:9091', rack: 'eu-west-1a', state: 'online' }, { nodeId: 2, url: 'http://127.0.0.1:9092', rack: 'eu-west-1b', state: 'online' }, { nodeId: 3, url: 'http://127.0.0.1:9093', rack: 'eu-west-1c', state: 'online' }], metadata: { leaderId: 1, epoch: 3, highWatermark: 42, logEndOffset: 42, appliedOffset: 42 } },
} as const;
