/**
 * JSON schemas of the consumer-group routes: they validate requests, shape replies
 * and document the API in openapi/openapi.json.
 */
import { limits } from '../limits.js';
import { fetchedRecordSchema, partitionParam, topicNameParam } from './schemas.js';

/** Server-side assignors a member may ask for (the broker implements them). */
export const ASSIGNOR_NAMES = ['sticky', 'range', 'roundrobin'] as const;
export type AssignorName = (typeof ASSIGNOR_NAMES)[number];

export const groupIdParam = {
  type: 'string',
  pattern: `^[a-zA-Z0-9._:-]{1,${limits.groupIdLengthMax}}$`,
  description: `Group id: 1-${limits.groupIdLengthMax} characters of [a-zA-Z0-9._:-].`,
  example: 'billing',
} as const;

export const groupParams = {
  type: 'object',
  required: ['group'],
  properties: { group: groupIdParam },
} as const;

export const memberParams = {
  type: 'object',
  required: ['group', 'member'],
  properties: { group: groupIdParam, member: { type: 'string', maxLength: 512, description: 'The memberId the join returned.' } },
} as const;

const topicAssignmentSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['topic', 'partitions'],
    additionalProperties: false,
    properties: {
      topic: topicNameParam,
      partitions: { type: 'array', items: partitionParam, maxItems: limits.partitionCountMax },
    },
  },
  example: [{ topic: 'orders', partitions: [0, 2] }],
} as const;

export const memberReplySchema = {
  type: 'object',
  required: ['groupId', 'memberId', 'generation', 'assignment', 'heartbeatIntervalMs'],
  properties: {
    groupId: { type: 'string' },
    memberId: { type: 'string' },
    generation: { type: 'integer', description: "The member's generation: rises whenever its assignment changes. Commits carry it." },
    assignment: { ...topicAssignmentSchema, description: 'Partitions the member owns now.' },
    heartbeatIntervalMs: { type: 'integer', description: 'Call (heartbeat or poll) at least this often.' },
  },
  example: { groupId: 'billing', memberId: 'consumer-3Jw9Qm1bXc0aLk2R', generation: 2, assignment: [{ topic: 'orders', partitions: [0, 1, 2] }], heartbeatIntervalMs: 5000 },
} as const;

export const joinBodySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    topics: { type: 'array', items: topicNameParam, maxItems: 10_000, description: 'Topic names to consume.' },
    topicPrefix: { type: 'string', minLength: 1, maxLength: limits.topicNameLengthMax, description: 'Also every topic whose name starts with this (topics created later included).' },
    topicPattern: { type: 'string', minLength: 1, maxLength: limits.topicPatternLengthMax, description: 'Also every topic whose whole name matches this regular expression, in RE2 syntax (matched in linear time; no backreferences or lookaround: 400 INVALID_REQUEST).' },
    clientId: { type: 'string', pattern: '^[a-zA-Z0-9._-]{1,64}$', description: 'A name for the consumer, the start of its memberId.' },
    sessionTimeoutMs: { type: 'integer', minimum: limits.sessionTimeoutMsMin, maximum: limits.sessionTimeoutMsMax, default: limits.sessionTimeoutMsDefault, description: 'Removed after this long without a call.' },
    rebalanceTimeoutMs: { type: 'integer', minimum: limits.rebalanceTimeoutMsMin, maximum: limits.rebalanceTimeoutMsMax, default: limits.rebalanceTimeoutMsDefault, description: 'Removed if it holds on to a revoked partition longer than this.' },
    assignor: { type: 'string', enum: [...ASSIGNOR_NAMES], default: 'sticky', description: "The group's assignor is the one most members ask for." },
    autoOffsetReset: { type: 'string', enum: ['earliest', 'latest'], default: 'latest', description: 'Where to start a partition the group has no committed offset for.' },
  },
  example: { topics: ['orders'], sessionTimeoutMs: 30000, autoOffsetReset: 'earliest' },
} as const;

export const heartbeatBodySchema = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    generation: { type: 'integer', minimum: 0, description: 'The generation the member has seen.' },
    ownedPartitions: { ...topicAssignmentSchema, description: 'Partitions the member still holds; revoked ones not listed are released.' },
  },
} as const;

export const commitBodySchema = {
  type: 'object',
  required: ['offsets'],
  additionalProperties: false,
  properties: {
    offsets: {
      type: 'array',
      minItems: 1,
      maxItems: limits.commitOffsetCountMax,
      items: {
        type: 'object',
        required: ['topic', 'partition', 'offset'],
        additionalProperties: false,
        properties: {
          topic: topicNameParam,
          partition: partitionParam,
          offset: { type: 'integer', minimum: 0, description: 'The next offset to read (last processed + 1), at most the high watermark.' },
          metadata: { type: 'string', maxLength: limits.commitMetadataLengthMax, description: 'Free text kept with the offset.' },
        },
      },
    },
    memberId: { type: 'string', maxLength: 512 },
    generation: { type: 'integer', minimum: 0 },
  },
  example: { offsets: [{ topic: 'orders', partition: 0, offset: 42 }], memberId: 'consumer-3Jw9Qm1bXc0aLk2R', generation: 2 },
} as const;

const committedOffsetSchema = {
  type: 'object',
  required: ['topic', 'partition', 'offset'],
  properties: {
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: 'integer' },
    metadata: { type: 'string' },
    committedAtMs: { type: 'integer' },
  },
} as const;

export const committedOffsetsSchema = {
  type: 'object',
  required: ['groupId', 'offsets'],
  properties: { groupId: { type: 'string' }, offsets: { type: 'array', items: committedOffsetSchema } },
} as const;

export const resetBodySchema = {
  type: 'object',
  required: ['topic', 'to'],
  additionalProperties: false,
  properties: {
    topic: topicNameParam,
    partitions: { type: 'array', items: partitionParam, minItems: 1, maxItems: limits.partitionCountMax, description: 'Only these partitions (default: all).' },
    to: {
      description: "'earliest', 'latest', {\"timestamp\": ms} or {\"offset\": n}.",
      oneOf: [
        { type: 'string', enum: ['earliest', 'latest'] },
        { type: 'object', required: ['timestamp'], additionalProperties: false, properties: { timestamp: { type: 'integer', minimum: 0 } } },
        { type: 'object', required: ['offset'], additionalProperties: false, properties: { offset: { type: 'integer', minimum: 0 } } },
      ],
    },
  },
  example: { topic: 'orders', to: 'earliest' },
} as const;

const offsetViewSchema = {
  type: 'object',
  required: ['topic', 'partition', 'offset', 'logEndOffset', 'lag'],
  properties: {
    topic: { type: 'string' },
    partition: { type: 'integer' },
    offset: { type: ['integer', 'null'], description: 'Committed offset, null when none.' },
    metadata: { type: ['string', 'null'] },
    committedAtMs: { type: ['integer', 'null'] },
    logEndOffset: { type: 'integer', description: 'The high watermark.' },
    lag: { type: ['integer', 'null'], description: 'logEndOffset - offset; null without a commit.' },
  },
} as const;

export const offsetsViewSchema = {
  type: 'object',
  required: ['groupId', 'offsets'],
  properties: { groupId: { type: 'string' }, offsets: { type: 'array', items: offsetViewSchema } },
} as const;

export const groupListSchema = {
  type: 'object',
  required: ['groups'],
  properties: {
    groups: {
      type: 'array',
      items: {
        type: 'object',
        required: ['groupId', 'state', 'members', 'lag'],
        properties: {
          groupId: { type: 'string' },
          state: { type: 'string', enum: ['Empty', 'Stable', 'Reconciling'] },
          members: { type: 'integer' },
          lag: { type: 'integer', description: 'Sum of committed partitions\' lag.' },
        },
      },
    },
  },
  example: { groups: [{ groupId: 'billing', state: 'Stable', members: 2, lag: 17 }] },
} as const;

export const groupDescriptionSchema = {
  type: 'object',
  required: ['groupId', 'state', 'groupEpoch', 'assignor', 'members', 'offsets', 'lag'],
  properties: {
    groupId: { type: 'string' },
    state: { type: 'string', enum: ['Empty', 'Stable', 'Reconciling'], description: 'Stable: every member owns exactly its target. Reconciling: partitions are moving.' },
    groupEpoch: { type: 'integer', description: 'Rises when membership, subscriptions or subscribed topics change.' },
    assignor: { type: 'string' },
    members: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          memberId: { type: 'string' },
          clientId: { type: 'string' },
          generation: { type: 'integer' },
          subscription: {
            type: 'object',
            properties: { topics: { type: 'array', items: { type: 'string' } }, topicPrefix: { type: 'string' }, topicPattern: { type: 'string' } },
          },
          assignment: topicAssignmentSchema,
          targetAssignment: topicAssignmentSchema,
          revoking: topicAssignmentSchema,
          sessionTimeoutMs: { type: 'integer' },
          lastSeenMsAgo: { type: 'integer' },
        },
      },
    },
    offsets: { type: 'array', items: offsetViewSchema },
    lag: { type: 'integer' },
  },
} as const;

export const pollResponseSchema = {
  ...memberReplySchema,
  required: [...memberReplySchema.required, 'pollId', 'records'],
  properties: {
    ...memberReplySchema.properties,
    pollId: { type: 'integer', description: 'Send back as ?ack= with the next poll.' },
    records: { type: 'array', items: { ...fetchedRecordSchema, required: ['topic', ...fetchedRecordSchema.required], properties: { topic: { type: 'string' }, ...fetchedRecordSchema.properties } } },
  },
  example: { ...memberReplySchema.example, pollId: 7, records: [{ topic: 'orders', partition: 0, offset: 41, timestamp: 1764000000000, key: 'customer-42', value: { item: 'book' }, headers: {} }] },
} as const;

export const pollQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxRecords: { type: 'integer', minimum: 1, maximum: limits.fetchRecordCountMax, default: limits.fetchRecordCountDefault, description: 'Most records to return, over all partitions.' },
    maxBytes: { type: 'integer', minimum: 1, maximum: limits.fetchBytesMax, default: limits.fetchBytesDefault, description: 'Most bytes of stored batches to read.' },
    waitMs: { type: 'integer', minimum: 0, maximum: limits.fetchWaitMsMax, default: 0, description: 'Long-poll: how long to wait when there is nothing to read.' },
    autoCommit: { type: 'boolean', default: false, description: 'Commit what the previous poll delivered before reading on.' },
    ack: { type: 'integer', minimum: 0, description: "The pollId of the last reply you received. If a reply was lost on the way, its records are delivered again (without ack, each poll takes the previous reply as received)." },
  },
} as const;

export const offsetsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { topic: { type: 'string', description: 'Only this topic.' } },
} as const;
