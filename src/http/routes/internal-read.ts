/**
 * POST /internal/v1/read: another node reads committed batches of a partition from
 * this one (RemoteReadRequest: a group member's poll on a coordinator that holds no
 * in-sync replica of an assigned partition). Node-to-node only, hidden from the OpenAPI
 * document; the cluster-secret check is the app's. This node serves it as a read
 * handed over (Fetcher.readHandedOver): only with a replica here, up to its own high
 * watermark, waiting up to waitMs for a record. The answer is the batches' bytes as
 * they are stored; where they start and the partition's range travel in headers.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { RemoteReadRequest, RemoteReadResult } from '../../broker/replication.js';
import { limits } from '../../limits.js';
import { typed } from '../type-provider.js';

export const REMOTE_READ_PATH = '/internal/v1/read';
/** Another node asks a partition's range here (Kafka's ListOffsets), with the offset for a time when given. */
export const REMOTE_OFFSETS_PATH = '/internal/v1/offsets';

const START_OFFSET = 'runnel-start-offset';
const HIGH_WATERMARK = 'runnel-high-watermark';
const LOG_START_OFFSET = 'runnel-log-start-offset';

const count = { type: 'integer', minimum: 0 } as const;
const remoteReadSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['topic', 'partition', 'offset', 'reset', 'maxRecords', 'maxBytes', 'waitMs'],
  properties: {
    topic: { type: 'string', minLength: 1, maxLength: 249 },
    partition: count,
    offset: { type: ['integer', 'null'], minimum: 0 },
    reset: { type: 'string', enum: ['earliest', 'latest', 'none'] },
    maxRecords: { type: 'integer', minimum: 1, maximum: limits.fetchRecordCountMax },
    maxBytes: { type: 'integer', minimum: 1, maximum: limits.fetchBytesMax },
    waitMs: { type: 'integer', minimum: 0, maximum: limits.fetchWaitMsMax },
  },
} as const;

const remoteOffsetsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['topic', 'partition'],
  properties: { topic: remoteReadSchema.properties.topic, partition: count, timestampMs: count },
} as const;

export function registerRemoteReadRoute(fastify: FastifyInstance, broker: Broker): void {
  const app = typed(fastify);
  app.post(REMOTE_OFFSETS_PATH, { schema: { hide: true, body: remoteOffsetsSchema } }, async (request) => {
    const { topic, partition, timestampMs } = request.body as { topic: string; partition: number; timestampMs?: number };
    const found = broker.fetcher.offsets(topic, partition, timestampMs);
    return { logStartOffset: found.logStartOffset, highWatermark: found.highWatermark, ...(timestampMs === undefined ? {} : { offset: found.offset ?? null }) };
  });
  app.post(REMOTE_READ_PATH, { schema: { hide: true, body: remoteReadSchema } }, async (request, reply) => {
    // The reading node giving up (its member's poll ended) ends the wait here too.
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    reply.raw.once('close', onClose);
    let result: RemoteReadResult;
    try {
      result = await broker.fetcher.readHandedOver(request.body as RemoteReadRequest, controller.signal);
    } finally {
      reply.raw.off('close', onClose);
    }
    reply.header(START_OFFSET, String(result.startOffset));
    reply.header(HIGH_WATERMARK, String(result.highWatermark));
    reply.header(LOG_START_OFFSET, String(result.logStartOffset));
    reply.type('application/octet-stream');
    return reply.send(result.batches ?? Buffer.alloc(0));
  });
}

/** The reading side: a peer's answer back to a RemoteReadResult (a malformed one throws). */
export function remoteReadResult(answer: { headers: Record<string, string | string[] | undefined>; body: Buffer }): RemoteReadResult {
  const number = (name: string): number => {
    const value = Number(answer.headers[name]);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`a remote read's answer has no valid ${name} header`);
    return value;
  };
  return {
    startOffset: number(START_OFFSET),
    highWatermark: number(HIGH_WATERMARK),
    logStartOffset: number(LOG_START_OFFSET),
    batches: answer.body.length === 0 ? null : answer.body,
  };
}
