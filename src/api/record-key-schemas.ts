/**
 * Schemas of the read by key, GET /v1/topics/{topic}/keys/{key}: the latest record of
 * one key of a compacted topic.
 */
import { limits } from '../limits.js';
import { fetchedRecordSchema, partitionParam, topicNameParam } from './schemas.js';

export const recordKeyParams = {
  type: 'object',
  required: ['topic', 'key'],
  properties: {
    topic: topicNameParam,
    key: {
      type: 'string',
      minLength: 1,
      maxLength: limits.recordKeyPathLengthMax,
      description: 'The key: its bytes as UTF-8 text (percent-encoded in the URL as any path segment), or base64 of them with keyFormat=base64. A key produced with keyFormat json is its JSON text (a JSON string key has its quotes).',
      example: 'apple',
    },
  },
} as const;

export const recordKeyQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    keyFormat: {
      type: 'string',
      enum: ['string', 'base64'],
      default: 'string',
      description: "How the key in the path is written: string (its UTF-8 text) or base64 (of its bytes, standard or URL-safe alphabet; for binary keys, produced with keyFormat binary).",
    },
    partition: {
      ...partitionParam,
      description: "The partition to read. Default: the one the default partitioner picks for the key, murmur2 of its bytes modulo the partition count, as produce and Kafka's Java client do.",
    },
  },
} as const;

export const recordByKeySchema = {
  ...fetchedRecordSchema,
  description: "The key's latest committed record (below the high watermark), in the shape of a fetched record, with its topic.",
  required: ['topic', ...fetchedRecordSchema.required],
  properties: { topic: { type: 'string' }, ...fetchedRecordSchema.properties },
  example: { topic: 'prices', partition: 0, offset: 41, timestamp: 1764000000000, key: 'apple', value: { eur: 1.25 }, headers: {} },
} as const;
