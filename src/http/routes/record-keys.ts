/**
 * GET /v1/topics/{topic}/keys/{key}: the latest committed value of one key of a
 * compacted topic, read through the partition's key index (broker/key-read.ts). The
 * record is written as JSON straight from its stored batch, as fetch writes records.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import { KeyReader } from '../../broker/key-read.js';
import { RunnelError } from '../../errors.js';
import { errorResponses, servedByHeaders } from '../../api/schemas.js';
import { recordByKeySchema, recordKeyParams, recordKeyQuerySchema } from '../../api/record-key-schemas.js';
import { JsonBuffer } from '../../record/json-buffer.js';
import { writeRecords } from '../../record/json-writer.js';
import type { HandOver } from '../hand-over.js';
import { typed } from '../type-provider.js';
import { handedOver } from './records.js';

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** The key's bytes from its text in the path. */
function keyBytes(text: string, keyFormat: 'string' | 'base64'): Buffer {
  if (keyFormat === 'string') return Buffer.from(text, 'utf8');
  const bytes = Buffer.from(text, 'base64');
  if (!BASE64.test(text) || text.length % 4 === 1 || bytes.length === 0) {
    throw new RunnelError('INVALID_REQUEST', `params/key is not base64 of a key (keyFormat=base64): ${JSON.stringify(text.slice(0, 40))}`);
  }
  return bytes;
}

export function recordKeyRoutes(fastify: FastifyInstance, broker: Broker, handOver: HandOver | undefined): void {
  const app = typed(fastify);
  const reader = new KeyReader(broker.topics, broker.replication);
  app.get('/v1/topics/:topic/keys/:key', {
    schema: {
      tags: ['records'],
      summary: 'Read the latest value of a key (compacted topics)',
      description: "The key's latest committed record (below the high watermark: never a record the in-sync replicas do not all have), read from the partition through its key index: one read of the log, however large the partition. Only for topics whose cleanup.policy holds compact (400 TOPIC_NOT_COMPACTED otherwise). A key never written, or whose latest record is a tombstone (a null value), is 404 RECORD_KEY_NOT_FOUND. The partition is the one produce picks for the key (murmur2, as Kafka's Java client) unless `partition` says otherwise. The record comes back as a fetch returns it: the value in the format it was produced in, with keyFormat/valueFormat when not the defaults. In a cluster any node answers, as for fetch: the leader or an in-sync follower reads its own log (Runnel-Served-By names it); a node that cannot hands the request to one that can.",
      params: recordKeyParams,
      querystring: recordKeyQuerySchema,
      response: {
        200: { ...recordByKeySchema, headers: servedByHeaders },
        ...errorResponses('INVALID_TOPIC_NAME', 'TOPIC_NOT_COMPACTED', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'RECORD_KEY_NOT_FOUND', 'NOT_LEADER', 'CORRUPT_LOG', 'KEY_INDEX_FULL'),
      },
    },
  }, async (request, reply) => {
    const { topic } = request.params;
    const key = keyBytes(request.params.key, request.query.keyFormat);
    const partition = reader.partitionFor(topic, key, request.query.partition);
    if (await handedOver(broker, handOver, request, reply, { topic, partition, offset: 'latest', isStream: false, waitMs: 0 })) return reply;
    const found = await reader.read(topic, partition, key);
    const out = new JsonBuffer(2 * found.batch.length + 256);
    writeRecords(out, found.batch, partition, found.offset, 1, { separator: '', topic });
    reply.type('application/json; charset=utf-8');
    return out.toBuffer();
  });
}
