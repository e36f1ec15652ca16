/**
 * JSON schemas of the share-group routes (KIP-932 queues over HTTP): they validate
 * requests, shape replies and document the API in openapi/openapi.json.
 */
import { limits } from '../limits.js';
import { groupIdParam } from './group-schemas.js';
import { fetchedRecordSchema, partitionParam, topicNameParam } from './schemas.js';

const shareGroupIdParam = {
  ...groupIdParam,
  description: `Share group id: 1-${limits.groupIdLengthMax} characters of [a-zA-Z0-9._:-].`,
  example: 'jobs',
} as const;

export const shareGroupParams = {
  type: 'object',
  required: ['group'],
  properties: { group: shareGroupIdParam },
} as const;

const consumerIdSchema = { type: 'string', minLength: 1, maxLength: 256, description: "Who holds the records: only the consumer that acquired a record may acknowledge it. Default 'anonymous'." } as const;

export const shareRecordsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topics: { type: 'string', maxLength: 65_536, description: 'Comma-separated topic names to read.', example: 'jobs' },
    topicPrefix: { type: 'string', maxLength: 249, description: 'Also read every topic whose name starts with this.' },
    consumerId: consumerIdSchema,
    maxRecords: { type: 'integer', minimum: 1, maximum: limits.fetchRecordCountMax, default: 100, description: 'Most records to acquire, over all partitions.' },
    maxBytes: { type: 'integer', minimum: 1, maximum: limits.fetchBytesMax, default: limits.fetchBytesDefault, description: 'Most bytes of stored batches to read.' },
    waitMs: { type: 'integer', minimum: 0, maximum: limits.fetchWaitMsMax, default: 0, description: 'Long-poll: how long to wait when no record is available.' },
  },
} as const;

const acquiredRecordSchema = {
  ...fetchedRecordSchema,
  required: [...fetchedRecordSchema.required, 'topic', 'deliveryCount', 'lockExpiresAtMs', 'acquisitionId'],
  properties: {
    topic: { type: 'string' },
    ...fetchedRecordSchema.properties,
    deliveryCount: { type: 'integer', description: 'How many times the record was acquired, this time included.' },
    lockExpiresAtMs: { type: 'integer', description: 'When the lock runs out (epoch ms): the record is then delivered again unless acknowledged or renewed.' },
    acquisitionId: { type: 'integer', description: 'This acquisition of the record; an acknowledgement may name it to act only on it.' },
  },
} as const;

export const shareRecordsResponseSchema = {
  type: 'object',
  required: ['groupId', 'records'],
  properties: {
    groupId: { type: 'string' },
    records: { type: 'array', items: acquiredRecordSchema },
  },
} as const;

const offsetSchema = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const;

export const acknowledgeBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['acknowledgements'],
  properties: {
    consumerId: consumerIdSchema,
    acknowledgements: {
      type: 'array',
      minItems: 1,
      maxItems: 10_000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['topic', 'partition', 'type'],
        properties: {
          topic: topicNameParam,
          partition: partitionParam,
          offsets: { type: 'array', items: offsetSchema, minItems: 1, maxItems: 10_000 },
          firstOffset: offsetSchema,
          lastOffset: offsetSchema,
          type: { type: 'string', enum: ['accept', 'release', 'reject', 'renew'], description: 'accept: done, never delivered again; release: deliver again; reject: never deliver again (archived); renew: extend the lock.' },
          acquisitionId: { type: 'integer', minimum: 0, description: 'Only if the record is still held under this acquisition.' },
        },
      },
    },
  },
  example: { consumerId: 'worker-1', acknowledgements: [{ topic: 'jobs', partition: 0, offsets: [0, 1], type: 'accept' }, { topic: 'jobs', partition: 0, firstOffset: 2, lastOffset: 4, type: 'release' }] },
} as const;

export const acknowledgeResponseSchema = {
  type: 'object',
  required: ['groupId', 'results'],
  properties: {
    groupId: { type: 'string' },
    results: {
      type: 'array',
      description: 'One per entry of the request, in order.',
      items: {
        type: 'object',
        required: ['topic', 'partition', 'type', 'errorCode', 'records'],
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          type: { type: 'string' },
          errorCode: { type: ['string', 'null'], enum: ['TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', null], description: 'null: the entry was applied record by record (see records).' },
          records: {
            type: 'array',
            items: {
              type: 'object',
              required: ['offset', 'errorCode'],
              properties: {
                offset: { type: 'integer' },
                errorCode: {
                  type: ['string', 'null'],
                  enum: ['RECORD_NOT_IN_FLIGHT', 'INVALID_RECORD_STATE', null],
                  description: 'null: done. RECORD_NOT_IN_FLIGHT: never handed out, or done long ago. INVALID_RECORD_STATE: not held by this consumer (under this acquisition): its lock ran out, or it was acknowledged already.',
                },
                lockExpiresAtMs: { type: 'integer', description: 'renew: the new end of the lock.' },
              },
            },
          },
        },
      },
    },
  },
} as const;

const sharePartitionViewSchema = {
  type: 'object',
  required: ['topic', 'partition', 'startOffset', 'endOffset', 'highWatermark', 'inFlight', 'available', 'acquired', 'acknowledged', 'archived', 'lag', 'consumers'],
  properties: {
    topic: { type: 'string' },
    partition: { type: 'integer' },
    startOffset: { type: 'integer', description: 'Every record before it is done (the share-partition start offset).' },
    endOffset: { type: 'integer', description: 'Records from here on were never handed out.' },
    highWatermark: { type: ['integer', 'null'] },
    inFlight: { type: 'integer', description: 'Records between the start and end offsets the group keeps state of.' },
    available: { type: 'integer' },
    acquired: { type: 'integer', description: 'Held under a live lock.' },
    acknowledged: { type: 'integer' },
    archived: { type: 'integer' },
    lag: { type: ['integer', 'null'], description: 'Records up to the high watermark not yet acknowledged or archived.' },
    consumers: { type: 'integer', description: 'Consumers holding records of it now.' },
  },
} as const;

const shareConfigsSchema = { type: 'object', additionalProperties: { type: 'string' } } as const;

export const shareGroupDescriptionSchema = {
  type: 'object',
  required: ['groupId', 'createdAtMs', 'configs', 'partitions'],
  properties: {
    groupId: { type: 'string' },
    createdAtMs: { type: 'integer' },
    configs: { ...shareConfigsSchema, description: 'Every config with its effective value (share.dead.letter.topic only when set).' },
    partitions: { type: 'array', items: sharePartitionViewSchema },
  },
} as const;

export const shareGroupListSchema = {
  type: 'object',
  required: ['groups'],
  properties: {
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['groupId', 'partitions', 'acquired', 'lag'],
        properties: { groupId: { type: 'string' }, partitions: { type: 'integer' }, acquired: { type: 'integer' }, lag: { type: 'integer' } },
      },
    },
  },
} as const;

export const shareResetBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['to'],
  properties: {
    topic: { ...topicNameParam, description: 'Only this topic (every partition of it); without it, every share-partition of the group.' },
    to: {
      oneOf: [
        { type: 'string', enum: ['earliest', 'latest'] },
        { type: 'object', additionalProperties: false, required: ['timestamp'], properties: { timestamp: { type: 'integer', minimum: 0 } } },
      ],
    },
  },
  example: { topic: 'jobs', to: 'earliest' },
} as const;

export const shareResetResponseSchema = {
  type: 'object',
  required: ['groupId', 'partitions'],
  properties: {
    groupId: { type: 'string' },
    partitions: {
      type: 'array',
      items: { type: 'object', required: ['topic', 'partition', 'startOffset'], properties: { topic: { type: 'string' }, partition: { type: 'integer' }, startOffset: { type: 'integer' } } },
    },
  },
} as const;

export const shareConfigsBodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['configs'],
  properties: {
    configs: {
      type: 'object',
      additionalProperties: { type: ['string', 'integer', 'null'] },
      description: 'share.record.lock.duration.ms, share.delivery.count.limit, share.auto.offset.reset (earliest|latest), group.share.partition.max.record.locks, share.dead.letter.topic (an existing topic that is not internal: records archived by reject or the delivery limit are produced there); null removes one (back to the node default).',
    },
  },
  example: { configs: { 'share.auto.offset.reset': 'earliest', 'share.record.lock.duration.ms': 60000 } },
} as const;
