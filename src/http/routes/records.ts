/**
 * Records over HTTP: produce (to a topic or one partition), fetch (a read, a long-poll
 * or a live stream) and the offsets of a partition. The hot answers are written as JSON
 * text here rather than through the schema serialiser.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { OffsetSpec } from '../../broker/fetch.js';
import { notLeaderError } from '../../broker/replication.js';
import { isHandedOver, setServedBy, type HandOver } from '../hand-over.js';
import { scannedRequest, type ProduceRequest, type RecordOffset } from '../../broker/produce-request.js';
import { ScannedProduceBody } from '../../record/produce-body-scan.js';
import { acceptScannedBodies } from '../ndjson.js';
import { RunnelError } from '../../errors.js';
import { refuseInternalTopic } from '../../broker/internal-topics.js';
import { JsonBuffer } from '../../record/json-buffer.js';
import { writeRecords } from '../../record/json-writer.js';
import {
  errorResponses, fetchQuerySchema, fetchResponseSchema, partitionOffsetsQuerySchema, partitionOffsetsSchema, partitionParam,
  produceBatchesResponseSchema, produceBodySchema, produceHeadersSchema, produceQuerySchema, produceResponseSchema,
  fetchedBatchesSchema, RECORD_BATCH_MEDIA_TYPE, recordBatchBodySchema, recordBatchFetchHeaders, servedByHeaders, topicNameParam,
} from '../../api/schemas.js';
import { recordEventStreamSchema, recordLineStreamSchema } from '../../api/media-schemas.js';
import type { FetchQuery, ProduceBody, ProduceQuery } from '../../api/types.js';
import type { Metrics } from '../metrics.js';
import { streamFromReplicas } from '../remote-stream.js';
import { streamPartition, type StreamMode, type StreamRegistry } from '../stream.js';
import { typed, type TypedApp } from '../type-provider.js';
import {
  acceptsRecordBatch, fetchRecordBatches, installRecordBatchParser, isRecordBatch, produceRecordBatches, skipRecordBatchBodies,
} from './record-batches.js';

const produceCodes = [
  'INVALID_JSON', 'INVALID_TOPIC_NAME', 'INVALID_RECORD', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'IDEMPOTENCY_KEY_REUSED', 'OUT_OF_ORDER_SEQUENCE',
  'REQUEST_TOO_LARGE', 'RECORD_TOO_LARGE', 'RECORD_KEY_REQUIRED', 'UNSUPPORTED_MEDIA_TYPE', 'NOT_LEADER', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'CORRUPT_LOG', 'DISK_FULL',
] as const;
const produceErrors = errorResponses(...produceCodes);
/** The one-partition route also takes idempotent producers' fields and record-batch bodies. */
const partitionProduceErrors = errorResponses(...produceCodes, 'PRODUCER_FENCED', 'UNKNOWN_PRODUCER_ID', 'CORRUPT_RECORD', 'UNSUPPORTED_COMPRESSION_TYPE');

const produceDescription = 'Appends records: one batch per partition, the request whole or not at all. Any node of a cluster takes it and forwards records to their partitions\' leaders. Body: application/json `{"records":[...], "keyFormat", "valueFormat"}` or application/x-ndjson (one record object per line, formats in the query). The answer lists partition, offset and timestamp per record in request order.';

const produceResponses = { 200: { ...produceResponseSchema, headers: servedByHeaders }, 202: { ...produceResponseSchema, headers: servedByHeaders, description: 'Accepted (acks=none).' }, ...produceErrors };

const batchProduceDescription = ` With Content-Type ${RECORD_BATCH_MEDIA_TYPE}, the body is Kafka RecordBatch v2 bytes as a Kafka producer encodes them (compression none), stored byte for byte, and the answer lists each batch's partition, baseOffset, lastOffset and timestamp.`;

/** The one-partition produce answers per record for JSON and NDJSON bodies, per batch for record-batch bodies. */
const batchProduceAnswer = {
  description: 'Offsets per record (JSON, NDJSON bodies) or per batch (record-batch bodies).',
  headers: servedByHeaders,
  anyOf: [produceResponseSchema, produceBatchesResponseSchema],
};

const partitionPathParams = {
  type: 'object',
  required: ['topic', 'partition'],
  properties: { topic: topicNameParam, partition: partitionParam },
} as const;

export function recordRoutes(fastify: FastifyInstance, broker: Broker, streams: StreamRegistry, handOver: HandOver | undefined): void {
  const app = typed(fastify);
  installRecordBatchParser(fastify);
  produceRoutes(app, broker, handOver);
  fetchRoute(app, broker, streams, handOver);
  offsetsRoute(app, broker, handOver);
}

/**
 * A read this node does not serve itself (Fetcher.route) goes to the in-sync replicas
 * named; true when it was handed over (the reply is theirs). 503 NOT_LEADER when none answers.
 */
export async function handedOver(
  broker: Broker, handOver: HandOver | undefined, request: FastifyRequest, reply: FastifyReply,
  read: { topic: string; partition: number; offset: OffsetSpec; isStream: boolean; waitMs: number },
): Promise<boolean> {
  const route = broker.fetcher.route(read.topic, read.partition, read.offset, isHandedOver(request));
  if (route.kind === 'local') {
    setServedBy(reply.raw, broker.replication.nodeId);
    return false;
  }
  if (handOver === undefined) throw new Error('a single node serves every read itself');
  const state = broker.topics.partition(read.topic, read.partition);
  await handOver.forward(request, reply, route.nodeIds, {
    isStream: read.isStream,
    waitMs: read.waitMs,
    unavailable: (why) => notLeaderError(broker.replication, state,
      `node ${broker.replication.nodeId} cannot serve partition ${read.partition} of topic '${read.topic}' and no in-sync replica answered (${why})`),
  });
  return true;
}

/** The parts of a produce request the two produce routes share. */
interface ProduceCall {
  params: { topic: string };
  body: ProduceBody;
  query: ProduceQuery;
  headers: IncomingHttpHeaders;
  server: { runnelMetrics: Metrics };
}

/** The parts of the reply a produce sets before its answer. */
interface ProduceReply {
  raw: { setHeader(name: string, value: string): unknown };
  header(name: string, value: string): unknown;
  code(statusCode: number): unknown;
  type(contentType: string): unknown;
}

/** producerId, producerEpoch and baseSequence come together or not at all. */
function producerFields(body: ProduceBody): ProduceRequest['producer'] {
  const { producerId, producerEpoch, baseSequence } = body;
  if (producerId === undefined && producerEpoch === undefined && baseSequence === undefined) return undefined;
  if (producerId === undefined || producerEpoch === undefined || baseSequence === undefined) {
    throw new RunnelError('INVALID_REQUEST', 'producerId, producerEpoch and baseSequence go together: give all three or none');
  }
  return { producerId, producerEpoch, baseSequence };
}

function produceRoutes(app: TypedApp, broker: Broker, handOver: HandOver | undefined): void {
  const produce = async (request: ProduceCall, reply: ProduceReply, partition?: number): Promise<string> => {
    const { topic } = request.params;
    refuseInternalTopic(topic, 'produce to');
    const { body, query } = request;
    const isNdjson = request.headers['content-type']?.startsWith('application/x-ndjson') === true;
    if (!isNdjson && (query.keyFormat !== undefined || query.valueFormat !== undefined)) {
      // Ignored, it would store base64 text as a string (or a JSON value as text) without a word.
      throw new RunnelError('INVALID_REQUEST', 'keyFormat and valueFormat in the query apply to application/x-ndjson bodies; a JSON body gives them in the body: {"valueFormat":"binary","records":[...]}');
    }
    const idempotencyKey = request.headers['idempotency-key'];
    const fields = {
      topic,
      partition,
      keyFormat: isNdjson ? query.keyFormat : body.keyFormat,
      valueFormat: isNdjson ? query.valueFormat : body.valueFormat,
      acks: query.acks,
      idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : undefined,
      producer: producerFields(body),
    };
    // A scanned body's records stay spans of the body (ndjson.ts); the broker encodes from them.
    const result = await broker.producer.produce(body instanceof ScannedProduceBody ? scannedRequest(fields, body.scanned) : { ...fields, records: body.records });
    if (!result.isReplay) request.server.runnelMetrics.produced(topic, result.offsets.length, result.appendedBytes);
    // The leaders that appended (as metadata names them now): a client learns them without asking.
    const { partitions } = broker.topics.get(topic);
    setServedBy(reply.raw, result.offsets.map((entry) => partitions[entry.partition]?.leader ?? broker.replication.nodeId).filter((id) => id >= 0));
    if (result.isReplay) reply.header('idempotent-replayed', 'true');
    reply.code(query.acks === 'none' ? 202 : 200);
    // The answer is built as text: one short object per record, in request order, and a
    // thousand of them through the schema serialiser cost more than the append itself.
    reply.type('application/json; charset=utf-8');
    return offsetsJson(result.offsets);
  };

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
    validatorCompiler: acceptScannedBodies(skipRecordBatchBodies(app)),
  }, (request, reply) => produce(request, reply));

  app.post('/v1/topics/:topic/partitions/:partition/records', {
    schema: {
      tags: ['records'],
      summary: 'Produce records to one partition',
      description: produceDescription + ' Every record goes to the partition in the path.' + batchProduceDescription,
      params: partitionPathParams,
      querystring: produceQuerySchema,
      headers: produceHeadersSchema,
      body: {
        content: {
          'application/json': { schema: produceBodySchema },
          'application/x-ndjson': { schema: produceBodySchema },
          [RECORD_BATCH_MEDIA_TYPE]: { schema: recordBatchBodySchema },
        },
      },
      response: { ...partitionProduceErrors, 200: batchProduceAnswer, 202: { ...batchProduceAnswer, description: 'Accepted (acks=none).' } },
    },
    validatorCompiler: acceptScannedBodies(skipRecordBatchBodies(app)),
  }, async (request, reply) => {
    const { topic, partition } = request.params;
    if (!isRecordBatch(request.headers['content-type'])) {
      // The body schemas are per content type: a request with no content type (and no body) meets none of them.
      if (typeof request.body !== 'object' || request.body === null) throw new RunnelError('INVALID_REQUEST', 'body must be object');
      return produce(request as ProduceCall, reply, partition);
    }
    return await produceRecordBatches(broker, handOver, request, reply, { topic, partition, acks: request.query.acks }) ?? reply;
  });
}

function fetchRoute(app: TypedApp, broker: Broker, streams: StreamRegistry, handOver: HandOver | undefined): void {
  app.get('/v1/topics/:topic/partitions/:partition/records', {
    schema: {
      tags: ['records'],
      summary: 'Fetch records (or stream them)',
      description: 'Reads records from an offset up to the high watermark. With `Accept: ' + RECORD_BATCH_MEDIA_TYPE + '` the answer is the stored Kafka RecordBatch v2 bytes from the batch holding the offset (whole batches up to maxBytes; reading stops after the batch holding the maxRecords-th record), with Runnel-Next-Offset, Runnel-High-Watermark and Runnel-Log-Start-Offset headers. With waitMs, an empty read waits (long-poll) until a record arrives or waitMs passes. With `Accept: text/event-stream` (SSE; id = offset; reconnect with Last-Event-ID to resume) or `Accept: application/x-ndjson` the response follows the partition live (maxRecords bounds each write; offset, Last-Event-ID and maxRecords apply, waitMs and maxBytes do not). Accept is matched by what it contains, in this order: the record-batch type, text/event-stream, application/x-ndjson; anything else (none, */*, application/json) gets JSON. Values come back in the format they were produced in; a key or value not in its produce default format (string keys, json values) comes with keyFormat or valueFormat. In a cluster any node answers: the leader or an in-sync follower serves the read from its own log, up to its own high watermark (Kafka\'s KIP-392); a node that cannot hands the request to an in-sync replica (Runnel-Served-By names who served it).',
      params: partitionPathParams,
      querystring: fetchQuerySchema,
      headers: {
        type: 'object',
        properties: { 'last-event-id': { type: 'string', description: 'SSE resume: the last offset received; the stream continues after it.' } },
      },
      response: {
        200: {
          description: `Records (JSON); with Accept: ${RECORD_BATCH_MEDIA_TYPE}, the stored batches as they are (the Runnel-* offset headers come with these); or a live stream for Accept: text/event-stream / application/x-ndjson.`,
          headers: recordBatchFetchHeaders,
          content: {
            'application/json': { schema: fetchResponseSchema },
            [RECORD_BATCH_MEDIA_TYPE]: { schema: fetchedBatchesSchema },
            'text/event-stream': { schema: recordEventStreamSchema },
            'application/x-ndjson': { schema: recordLineStreamSchema },
          },
        },
        ...errorResponses('INVALID_TOPIC_NAME', 'INVALID_OFFSET', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'OFFSET_OUT_OF_RANGE', 'TOO_MANY_WAITERS', 'NOT_LEADER', 'CORRUPT_LOG'),
      },
    },
  }, async (request, reply) => {
    const { topic, partition } = request.params;
    const { query } = request;
    // An unknown topic or partition is refused before the offset is read (404 before 400).
    broker.topics.partition(topic, partition);
    const accept = request.headers.accept ?? '';
    const isBatches = acceptsRecordBatch(accept);
    const mode: StreamMode | undefined = isBatches ? undefined : accept.includes('text/event-stream') ? 'sse' : accept.includes('application/x-ndjson') ? 'ndjson' : undefined;
    const lastEventId = request.headers['last-event-id'];
    const resumeAfter = mode === 'sse' && typeof lastEventId === 'string' && lastEventId !== ''
      ? parseOffset(lastEventId, 'Last-Event-ID')
      : undefined;
    const offset = typeof resumeAfter === 'number' ? resumeAfter + 1 : parseOffset(query.offset, 'offset');
    // Who serves the read comes before the offset is checked or any wait begins. A stream
    // this node does not serve itself is followed here from the replicas (remote-stream.ts), so it outlives any one of them.
    if (mode !== undefined && handOver !== undefined && !isHandedOver(request) && broker.fetcher.route(topic, partition, offset, false).kind === 'remote') {
      return streamFromReplicas(reply, broker, streams, { topic, partition, offset, mode, maxRecords: query.maxRecords });
    }
    if (await handedOver(broker, handOver, request, reply, { topic, partition, offset, isStream: mode !== undefined, waitMs: query.waitMs })) return reply;
    if (isBatches) return fetchRecordBatches(broker, request, reply, { topic, partition, offset, maxRecords: query.maxRecords, maxBytes: query.maxBytes, waitMs: query.waitMs });
    if (mode !== undefined) {
      const { state, startOffset } = broker.fetcher.position(topic, partition, offset);
      await streamPartition(reply, broker.fetcher, streams, state, startOffset, mode, query.maxRecords);
      return;
    }
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    reply.raw.once('close', onClose);
    try {
      const answer = await fetchJson(broker, topic, partition, offset, query, controller.signal);
      request.server.runnelMetrics.consumed(topic, answer.count, answer.bytesRead);
      reply.type('application/json; charset=utf-8');
      return answer.json;
    } finally {
      reply.raw.off('close', onClose);
    }
  });
}

/** One fetch, its records written as the JSON answer. */
async function fetchJson(
  broker: Broker, topic: string, partition: number, offset: number | 'earliest' | 'latest', query: Required<FetchQuery>, signal: AbortSignal,
): Promise<{ json: Buffer; count: number; bytesRead: number }> {
  const result = await broker.fetcher.fetch({
    topic, partition, offset, maxRecords: query.maxRecords, maxBytes: query.maxBytes, waitMs: query.waitMs, signal,
  });
  const bytesRead = result.batches?.length ?? 0;
  const out = new JsonBuffer(2 * bytesRead + 256);
  out.ascii('{"records":[');
  const written = writeRecords(out, result.batches, partition, result.startOffset, result.maxRecords, ARRAY_STYLE);
  out.ascii('],"nextOffset":' + written.nextOffset + ',"highWatermark":' + result.highWatermark + ',"logStartOffset":' + result.logStartOffset + '}');
  return { json: out.toBuffer(), count: written.count, bytesRead };
}

function offsetsRoute(app: TypedApp, broker: Broker, handOver: HandOver | undefined): void {
  app.get('/v1/topics/:topic/partitions/:partition/offsets', {
    schema: {
      tags: ['records'],
      summary: 'Earliest and latest offsets, or the offset for a time',
      description: "logStartOffset (earliest), highWatermark (latest) and logEndOffset. With ?timestamp=ms, also `offset`: the first offset whose timestamp is at or after it (null when none), found through the time index (Kafka's ListOffsets).",
      params: partitionPathParams,
      querystring: partitionOffsetsQuerySchema,
      response: {
        200: { ...partitionOffsetsSchema, headers: servedByHeaders },
        ...errorResponses('INVALID_TOPIC_NAME', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'NOT_LEADER'),
      },
    },
  }, async (request, reply) => {
    const { topic, partition } = request.params;
    const { timestamp } = request.query;
    if (await handedOver(broker, handOver, request, reply, { topic, partition, offset: 'latest', isStream: false, waitMs: 0 })) return reply;
    return { partition, ...broker.fetcher.offsets(topic, partition, timestamp) };
  });
}

function parseOffset(text: string, what: string): number | 'earliest' | 'latest' {
  if (text === 'earliest' || text === 'latest') return text;
  if (/^\d{1,16}$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  throw new RunnelError('INVALID_OFFSET', `${what} must be a non-negative integer, 'earliest' or 'latest', got ${JSON.stringify(text.slice(0, 40))}`);
}

const ARRAY_STYLE = { separator: ',' };

/** The produce answer; records of one partition and one timestamp (the usual run) reuse the text around their offsets. */
function offsetsJson(offsets: RecordOffset[]): string {
  let text = '{"offsets":[';
  let partition = -1;
  let head = '';
  let timestamp = -1;
  let tail = '';
  for (let i = 0; i < offsets.length; i++) {
    const entry = offsets[i];
    if (entry.partition !== partition) {
      partition = entry.partition;
      head = '{"partition":' + partition + ',"offset":';
    }
    if (entry.timestamp !== timestamp) {
      timestamp = entry.timestamp;
      tail = ',"timestamp":' + timestamp + '}';
    }
    text += (i > 0 ? ',' : '') + head + entry.offset + tail;
  }
  return text + ']}';
}
