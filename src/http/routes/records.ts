import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { Acks, ProduceRequest } from '../../broker/produce.js';
import type { ProduceRecord, ValueFormat } from '../../broker/record-input.js';
import { RunnelError } from '../../errors.js';
import { refuseInternalTopic } from '../../broker/internal-topics.js';
import { JsonBuffer } from '../../record/json-buffer.js';
import { writeRecords } from '../../record/json-writer.js';
import {
  errorResponses, fetchQuerySchema, fetchResponseSchema, partitionOffsetsQuerySchema, partitionOffsetsSchema, partitionParam,
  produceBodySchema, produceHeadersSchema, produceQuerySchema, produceResponseSchema, topicNameParam,
} from '../../api/schemas.js';
import { streamPartition, type StreamRegistry } from '../stream.js';

const produceErrors = errorResponses('INVALID_JSON', 'INVALID_TOPIC_NAME', 'INVALID_RECORD', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'REQUEST_TOO_LARGE', 'RECORD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'NOT_LEADER', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT');

const produceDescription = 'Appends records: one batch per partition, the request whole or not at all. Body: application/json `{"records":[...], "keyFormat", "valueFormat"}` or application/x-ndjson (one record object per line, formats in the query). The answer lists partition, offset and timestamp per record in request order.';

interface ProduceBody {
  records: ProduceRecord[];
  keyFormat?: ValueFormat;
  valueFormat?: ValueFormat;
}

interface ProduceQuery {
  acks?: Acks;
  keyFormat?: ValueFormat;
  valueFormat?: ValueFormat;
}

const partitionPathParams = {
  type: 'object',
  required: ['topic', 'partition'],
  properties: { topic: topicNameParam, partition: partitionParam },
} as const;

export function recordRoutes(app: FastifyInstance, broker: Broker, streams: StreamRegistry): void {
  const produce = async (request: FastifyRequest, reply: FastifyReply, partition?: number): Promise<unknown> => {
    const { topic } = request.params as { topic: string };
    refuseInternalTopic(topic, 'produce to');
    const body = request.body as ProduceBody;
    const query = request.query as ProduceQuery;
    const isNdjson = request.headers['content-type']?.startsWith('application/x-ndjson') === true;
    const idempotencyKey = request.headers['idempotency-key'];
    const produceRequest: ProduceRequest = {
      topic,
      partition,
      records: body.records,
      keyFormat: isNdjson ? query.keyFormat : body.keyFormat,
      valueFormat: isNdjson ? query.valueFormat : body.valueFormat,
      acks: query.acks,
      idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : undefined,
    };
    const result = await broker.producer.produce(produceRequest);
    if (!result.isReplay) request.server.runnelMetrics.produced(topic, result.offsets.length, result.appendedBytes);
    if (result.isReplay) reply.header('idempotent-replayed', 'true');
    reply.code(query.acks === 'none' ? 202 : 200);
    // The answer is built as text: one short object per record, in request order, and a
    // thousand of them through the schema serialiser cost more than the append itself.
    reply.type('application/json; charset=utf-8');
    return offsetsJson(result.offsets);
  };
  const produceResponses = { 200: produceResponseSchema, 202: { ...produceResponseSchema, description: 'Accepted (acks=none).' }, ...produceErrors };

  app.post('/v1/topics/:topic/records', {
    schema: {
      tags: ['records'],
      summary: 'Produce records',
      description: produceDescription + ' Records go to their explicit partition, else murmur2(key) % partitions (as Kafka), else one partition per request (sticky).',
      params: { type: 'object', required: ['topic'], properties: { topic: topicNameParam } },
      querystring: produceQuerySchema,
      headers: produceHeadersSchema,
      body: produceBodySchema,
      response: produceResponses,
    },
  }, (request, reply) => produce(request, reply));

  app.post('/v1/topics/:topic/partitions/:partition/records', {
    schema: {
      tags: ['records'],
      summary: 'Produce records to one partition',
      description: produceDescription + ' Every record goes to the partition in the path.',
      params: partitionPathParams,
      querystring: produceQuerySchema,
      headers: produceHeadersSchema,
      body: produceBodySchema,
      response: produceResponses,
    },
  }, (request, reply) => produce(request, reply, (request.params as { partition: number }).partition));

  app.get('/v1/topics/:topic/partitions/:partition/records', {
    schema: {
      tags: ['records'],
      summary: 'Fetch records (or stream them)',
      description: 'Reads records from an offset up to the high watermark. With waitMs, an empty read waits (long-poll) until a record arrives or waitMs passes. With `Accept: text/event-stream` (SSE; id = offset; reconnect with Last-Event-ID to resume) or `Accept: application/x-ndjson` the response follows the partition live. Values come back in the format they were produced in.',
      params: partitionPathParams,
      querystring: fetchQuerySchema,
      headers: {
        type: 'object',
        properties: { 'last-event-id': { type: 'string', description: 'SSE resume: the last offset received; the stream continues after it.' } },
      },
      response: {
        200: { ...fetchResponseSchema, description: 'Records (JSON), or a live stream for Accept: text/event-stream / application/x-ndjson.' },
        ...errorResponses('INVALID_TOPIC_NAME', 'INVALID_OFFSET', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'OFFSET_OUT_OF_RANGE', 'TOO_MANY_WAITERS', 'NOT_LEADER'),
      },
    },
  }, async (request, reply) => {
    const { topic, partition } = request.params as { topic: string; partition: number };
    const query = request.query as { offset: string; maxRecords: number; maxBytes: number; waitMs: number };
    const state = broker.topics.partition(topic, partition);
    const accept = request.headers.accept ?? '';
    const mode = accept.includes('text/event-stream') ? 'sse' : accept.includes('application/x-ndjson') ? 'ndjson' : undefined;
    const lastEventId = request.headers['last-event-id'];
    const resumeAfter = mode === 'sse' && typeof lastEventId === 'string' && lastEventId !== ''
      ? parseOffset(lastEventId, 'Last-Event-ID')
      : undefined;
    const requested = typeof resumeAfter === 'number' ? resumeAfter + 1 : parseOffset(query.offset, 'offset');
    const startOffset = broker.fetcher.resolveOffset(state, requested);
    if (mode !== undefined) {
      await streamPartition(reply, broker.fetcher, streams, state, startOffset, mode, query.maxRecords);
      return reply;
    }
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    reply.raw.once('close', onClose);
    try {
      const result = await broker.fetcher.fetchFrom(state, startOffset, {
        maxRecords: query.maxRecords,
        maxBytes: query.maxBytes,
        waitMs: query.waitMs,
        signal: controller.signal,
      });
      const out = new JsonBuffer(2 * (result.batches?.length ?? 0) + 256);
      out.ascii('{"records":[');
      const written = writeRecords(out, result.batches, partition, startOffset, result.maxRecords, ARRAY_STYLE);
      out.ascii('],"nextOffset":' + written.nextOffset + ',"highWatermark":' + result.highWatermark + ',"logStartOffset":' + result.logStartOffset + '}');
      request.server.runnelMetrics.consumed(topic, written.count, result.batches?.length ?? 0);
      reply.type('application/json; charset=utf-8');
      return out.toBuffer();
    } finally {
      reply.raw.off('close', onClose);
    }
  });

  app.get('/v1/topics/:topic/partitions/:partition/offsets', {
    schema: {
      tags: ['records'],
      summary: 'Earliest and latest offsets, or the offset for a time',
      description: "logStartOffset (earliest), highWatermark (latest) and logEndOffset. With ?timestamp=ms, also `offset`: the first offset whose timestamp is at or after it (null when none), found through the time index (Kafka's ListOffsets).",
      params: partitionPathParams,
      querystring: partitionOffsetsQuerySchema,
      response: {
        200: partitionOffsetsSchema,
        ...errorResponses('INVALID_TOPIC_NAME', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'NOT_LEADER'),
      },
    },
  }, async (request) => {
    const { topic, partition } = request.params as { topic: string; partition: number };
    const { timestamp } = request.query as { timestamp?: number };
    return { partition, ...broker.fetcher.offsets(topic, partition, timestamp) };
  });
}

function parseOffset(text: string, what: string): number | 'earliest' | 'latest' {
  if (text === 'earliest' || text === 'latest') return text;
  if (/^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  throw new RunnelError('INVALID_OFFSET', `${what} must be a non-negative integer, 'earliest' or 'latest', got ${JSON.stringify(text.slice(0, 40))}`);
}

const ARRAY_STYLE = { separator: ',' };

function offsetsJson(offsets: Array<{ partition: number; offset: number; timestamp: number }>): string {
  let text = '{"offsets":[';
  for (let i = 0; i < offsets.length; i++) {
    const entry = offsets[i];
    if (i > 0) text += ',';
    text += '{"partition":' + entry.partition + ',"offset":' + entry.offset + ',"timestamp":' + entry.timestamp + '}';
  }
  return text + ']}';
}
