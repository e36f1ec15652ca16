/**
 * The record-batch media type on the one-partition records routes
 * (application/vnd.runnel.record-batch): a produce body of Kafka RecordBatch v2 bytes
 * appended as they are, and a fetch answered with the stored batches as they are, the
 * offsets in response headers. JSON stays the default; these are content negotiation on
 * the same routes, so ACLs, body limits, metrics and the hand-over apply alike.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaCompiler } from 'fastify';
import { RECORD_BATCH_MEDIA_TYPE } from '../../api/schemas.js';
import type { Acks } from '../../api/types.js';
import type { Broker } from '../../broker/broker.js';
import type { BatchOffsets } from '../../broker/produce-raw.js';
import { notLeaderError } from '../../broker/replication.js';
import { refuseInternalTopic } from '../../broker/internal-topics.js';
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import { batchSizeAt, readBatchHeader } from '../../record/header.js';
import { isHandedOver, setServedBy, type HandOver } from '../hand-over.js';

/** The route that takes record-batch bodies; any other answers 415. */
const BATCH_PRODUCE_URL = '/v1/topics/:topic/partitions/:partition/records';

/** Record-batch bodies arrive as one Buffer (within the node's body limit), on the one-partition produce route only. */
export function installRecordBatchParser(app: FastifyInstance): void {
  app.addContentTypeParser(RECORD_BATCH_MEDIA_TYPE, { parseAs: 'buffer' }, (request, body, done) => {
    // No route at all answers 404 as for any body.
    const url = request.routeOptions.url;
    if (url !== undefined && (url !== BATCH_PRODUCE_URL || request.method !== 'POST')) {
      done(new RunnelError('UNSUPPORTED_MEDIA_TYPE', `${RECORD_BATCH_MEDIA_TYPE} bodies go to POST /v1/topics/{topic}/partitions/{partition}/records (batches name one partition)`), undefined);
      return;
    }
    done(null, body);
  });
}

/**
 * The node's validator compiler, except for record-batch bodies: their schema
 * (string, format binary) documents bytes, which arrive as a Buffer and are checked
 * batch by batch on the way in.
 */
export function skipRecordBatchBodies(app: FastifyInstance): FastifySchemaCompiler<unknown> {
  const compile = app.validatorCompiler;
  if (compile === undefined) throw new Error('the node sets its validator compiler before routes are added');
  return (route) => (route.httpPart === 'body' && route.contentType === RECORD_BATCH_MEDIA_TYPE ? () => true : compile(route));
}

export function isRecordBatch(contentType: string | undefined): boolean {
  return contentType !== undefined && contentType.toLowerCase().startsWith(RECORD_BATCH_MEDIA_TYPE);
}

export function acceptsRecordBatch(accept: string | undefined): boolean {
  return accept !== undefined && accept.toLowerCase().includes(RECORD_BATCH_MEDIA_TYPE);
}

interface BatchProduceCall {
  topic: string;
  partition: number;
  acks: Acks | undefined;
}

/**
 * Appends the batches of the body to the partition; a node that does not lead it hands
 * the request, body as it came, to the leader (whose answer goes back as is: then
 * the answer is undefined, the reply already sent).
 */
export async function produceRecordBatches(
  broker: Broker, handOver: HandOver | undefined, request: FastifyRequest, reply: FastifyReply, call: BatchProduceCall,
): Promise<string | undefined> {
  const { topic, partition } = call;
  refuseInternalTopic(topic, 'produce to');
  const state = broker.topics.partition(topic, partition);
  const { replication } = broker;
  if (replication.isClustered && state.leader !== replication.nodeId && !isHandedOver(request) && handOver !== undefined) {
    if (state.leader < 0) throw notLeaderError(replication, state);
    await handOver.forward(request, reply, [state.leader], {
      isStream: false,
      waitMs: limits.acksAllTimeoutMs,
      unavailable: (why) => notLeaderError(replication, state, `node ${replication.nodeId} does not lead partition ${partition} of topic '${topic}' and its leader did not answer (${why})`),
    });
    return undefined;
  }
  const idempotencyKey = request.headers['idempotency-key'];
  const result = await broker.producer.raw.produce({
    topic,
    partition,
    body: request.body as Buffer,
    acks: call.acks,
    idempotencyKey: typeof idempotencyKey === 'string' ? idempotencyKey : undefined,
  });
  if (!result.isReplay) request.server.runnelMetrics.produced(topic, result.recordCount, result.appendedBytes);
  setServedBy(reply.raw, replication.nodeId);
  if (result.isReplay) reply.header('idempotent-replayed', 'true');
  reply.code(call.acks === 'none' ? 202 : 200);
  reply.type('application/json; charset=utf-8');
  return batchesJson(result.batches);
}

function batchesJson(batches: BatchOffsets[]): string {
  let text = '{"batches":[';
  for (let i = 0; i < batches.length; i++) {
    const entry = batches[i];
    if (i > 0) text += ',';
    text += '{"partition":' + entry.partition + ',"baseOffset":' + entry.baseOffset + ',"lastOffset":' + entry.lastOffset + ',"timestamp":' + entry.timestamp + '}';
  }
  return text + ']}';
}

interface BatchFetchCall {
  topic: string;
  partition: number;
  offset: number | 'earliest' | 'latest';
  maxRecords: number;
  maxBytes: number;
  waitMs: number;
}

/**
 * One fetch answered with the stored batches from the one holding the offset (a reader
 * skips the records before it, as a Kafka consumer does), never past the high
 * watermark; the bytes are the log's, checked on read, not encoded again.
 */
export async function fetchRecordBatches(broker: Broker, request: FastifyRequest, reply: FastifyReply, call: BatchFetchCall): Promise<Buffer> {
  const controller = new AbortController();
  const onClose = (): void => controller.abort();
  reply.raw.once('close', onClose);
  try {
    const result = await broker.fetcher.fetch({ ...call, signal: controller.signal });
    const batches = result.batches ?? Buffer.alloc(0);
    const nextOffset = nextOffsetAfter(batches, result.startOffset);
    request.server.runnelMetrics.consumed(call.topic, Math.max(0, nextOffset - result.startOffset), batches.length);
    reply.header('runnel-next-offset', String(nextOffset));
    reply.header('runnel-high-watermark', String(result.highWatermark));
    reply.header('runnel-log-start-offset', String(result.logStartOffset));
    reply.type(RECORD_BATCH_MEDIA_TYPE);
    return batches;
  } finally {
    reply.raw.off('close', onClose);
  }
}

/** The offset after the last batch of `batches` (whole batches, as the log reads them), or `startOffset` when there is none. */
function nextOffsetAfter(batches: Buffer, startOffset: number): number {
  let position = 0;
  let last = -1;
  while (position < batches.length) {
    last = position;
    position += batchSizeAt(batches, position);
  }
  if (last < 0) return startOffset;
  return readBatchHeader(batches, last).lastOffset + 1;
}
