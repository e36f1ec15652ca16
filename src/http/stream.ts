/**
 * Live partition streams: `Accept: text/event-stream` (SSE: `id:` is the offset, so a
 * reconnecting EventSource resumes with Last-Event-ID) or `Accept:
 * application/x-ndjson` (one record per line).
 *
 * Backpressure: the next read happens only after the socket has taken the previous
 * one (write() returned true or 'drain' fired), and a read is at most
 * limits.streamBufferedBytesMax, so a slow reader holds at most about one read of
 * memory on the server however far behind it is.
 */
import { once } from 'node:events';
import type { FastifyReply } from 'fastify';
import type { Fetcher } from '../broker/fetch.js';
import type { PartitionState } from '../broker/topic-state.js';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import { JsonBuffer } from '../record/json-buffer.js';
import { writeRecords, type RecordStyle } from '../record/json-writer.js';

export type StreamMode = 'sse' | 'ndjson';

/** Every open stream, so shutdown can end them and the count stays bounded. */
export class StreamRegistry {
  private readonly controllers = new Set<AbortController>();

  get size(): number {
    return this.controllers.size;
  }

  open(): AbortController {
    if (this.controllers.size >= limits.streamsMax) {
      throw new RunnelError('TOO_MANY_WAITERS', `this node already serves ${limits.streamsMax} streams`);
    }
    const controller = new AbortController();
    this.controllers.add(controller);
    return controller;
  }

  release(controller: AbortController): void {
    this.controllers.delete(controller);
  }

  abortAll(): void {
    for (const controller of this.controllers) controller.abort();
  }
}

/** Where a stream's records come from: this node's log, or replicas elsewhere (remote-stream.ts). */
export interface StreamSource {
  topic: string;
  partition: number;
  /** Whole batches from the one holding `offset` (null: nothing came within waitMs). */
  read(offset: number, options: { maxRecords: number; maxBytes: number; waitMs: number; signal: AbortSignal }): Promise<{ batches: Buffer | null }>;
}

/** A stream of this node's own replica of the partition. */
export function streamPartition(
  reply: FastifyReply,
  fetcher: Fetcher,
  registry: StreamRegistry,
  state: PartitionState,
  startOffset: number,
  mode: StreamMode,
  maxRecordsPerWrite: number,
): Promise<void> {
  const source: StreamSource = { topic: state.topic, partition: state.partition, read: (offset, options) => fetcher.fetchFrom(state, offset, options) };
  return streamRecords(reply, source, registry, startOffset, mode, maxRecordsPerWrite);
}

export async function streamRecords(
  reply: FastifyReply,
  source: StreamSource,
  registry: StreamRegistry,
  startOffset: number,
  mode: StreamMode,
  maxRecordsPerWrite: number,
): Promise<void> {
  const controller = registry.open();
  const raw = reply.raw;
  reply.hijack();
  raw.writeHead(200, {
    'content-type': mode === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  // Send the status line and headers now: Node holds them until the first write, so a
  // stream from `latest` (or resumed at the end) would leave the client without a
  // response, an EventSource unopened, until the first record or keep-alive (15 s).
  raw.flushHeaders();
  const onClose = (): void => controller.abort();
  raw.on('close', onClose);
  const { signal } = controller;
  let offset = startOffset;
  try {
    while (!signal.aborted) {
      const result = await source.read(offset, {
        maxRecords: maxRecordsPerWrite,
        maxBytes: limits.streamBufferedBytesMax,
        waitMs: limits.streamKeepAliveMs,
        signal,
      });
      if (signal.aborted) break;
      let chunk: string | Buffer;
      if (result.batches === null) {
        // Nothing new: SSE gets a comment so proxies keep the connection open.
        if (mode !== 'sse') continue;
        chunk = ': keep-alive\n\n';
      } else {
        const out = new JsonBuffer(2 * result.batches.length + 256);
        const written = writeRecords(out, result.batches, source.partition, offset, maxRecordsPerWrite, mode === 'sse' ? SSE_STYLE : NDJSON_STYLE);
        if (written.count === 0) continue;
        reply.server.runnelMetrics.consumed(source.topic, written.count, result.batches.length);
        offset = written.nextOffset;
        chunk = out.toBuffer();
      }
      if (!raw.write(chunk)) {
        await Promise.race([once(raw, 'drain'), once(signal, 'abort')]);
      }
    }
  } catch (error) {
    if (!raw.destroyed) {
      const body = JSON.stringify({
        error: error instanceof RunnelError
          ? { code: error.code, message: error.message, ...error.details }
          : { code: 'INTERNAL_ERROR', message: (error as Error).message },
      });
      raw.write(mode === 'sse' ? `event: error\ndata: ${body}\n\n` : body + '\n');
    }
  } finally {
    raw.off('close', onClose);
    registry.release(controller);
    if (!raw.destroyed) raw.end();
  }
}

const SSE_STYLE: RecordStyle = { separator: '', before: (offset) => 'id: ' + offset + '\nevent: record\ndata: ', after: '\n\n' };
const NDJSON_STYLE: RecordStyle = { separator: '', after: '\n' };
