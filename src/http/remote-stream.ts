/**
 * Streams on a node that does not serve the partition from its own log (it holds no
 * replica, or its replica is out of the ISR or lags): the node follows the partition
 * itself, reading from the in-sync replicas (the leader first) over /internal/v1/read,
 * instead of relaying one replica's stream. It keeps the stream's position, so when the
 * replica it reads from dies (a leader SIGKILLed) the next read goes to another one at
 * the same offset: no gap, no repeated record, no error event, only the failover's delay.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyReply } from 'fastify';
import type { Broker } from '../broker/broker.js';
import type { OffsetSpec } from '../broker/fetch.js';
import { inSyncReplicasBesides, notLeaderError, type RemoteReadRequest, type RemoteReadResult } from '../broker/replication.js';
import { offsetOutOfRange, RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import { setServedBy } from './hand-over.js';
import { streamRecords, type StreamMode, type StreamRegistry, type StreamSource } from './stream.js';

/** How long a stream waits before asking the replicas again when none answered. */
const RETRY_MS = 250;

export async function streamFromReplicas(
  reply: FastifyReply, broker: Broker, registry: StreamRegistry,
  read: { topic: string; partition: number; offset: OffsetSpec; mode: StreamMode; maxRecords: number },
): Promise<void> {
  const { topic, partition } = read;
  const source = new ReplicaSource(broker, topic, partition);
  const controller = new AbortController();
  const onClose = (): void => controller.abort();
  reply.raw.once('close', onClose);
  let first: RemoteReadResult & { nodeId: number };
  try {
    // Where the stream starts, checked as a read here is: 416 below the log start or past the end.
    // (With a replica here that lags, against the leader's high watermark as last learnt, as Fetcher.position does.)
    const state = broker.topics.partition(topic, partition);
    if (typeof read.offset === 'number' && broker.groups.ranges.isHere(state)) broker.fetcher.position(topic, partition, read.offset);
    else if (typeof read.offset === 'number') {
      const range = await broker.groups.ranges.lookup(state);
      if (read.offset < range.logStartOffset || read.offset > range.highWatermark) throw offsetOutOfRange(read.offset, range.logStartOffset, range.highWatermark);
    }
    const request = typeof read.offset === 'number' ? { offset: read.offset, reset: 'none' as const } : { offset: null, reset: read.offset };
    first = await source.readOnce({ topic, partition, ...request, maxRecords: 1, maxBytes: 1, waitMs: 0 }, controller.signal);
  } finally {
    reply.raw.off('close', onClose);
  }
  setServedBy(reply.raw, first.nodeId);
  await streamRecords(reply, source, registry, first.startOffset, read.mode, read.maxRecords);
}

class ReplicaSource implements StreamSource {
  constructor(private readonly broker: Broker, readonly topic: string, readonly partition: number) {}

  /** Reads at `offset` from the first in-sync replica that answers; with none, asks again until waitMs is over. */
  async read(offset: number, options: { maxRecords: number; maxBytes: number; waitMs: number; signal: AbortSignal }): Promise<{ batches: Buffer | null }> {
    const deadlineMs = Date.now() + options.waitMs;
    for (;;) {
      const waitMs = Math.max(0, deadlineMs - Date.now());
      const request = { topic: this.topic, partition: this.partition, offset, reset: 'none' as const, maxRecords: options.maxRecords, maxBytes: options.maxBytes, waitMs };
      try {
        return await this.readOnce(request, options.signal);
      } catch (error) {
        if (!(error instanceof RunnelError) || error.code !== 'NOT_LEADER' || options.signal.aborted) throw error;
      }
      if (waitMs <= 0) return { batches: null };
      await sleep(Math.min(RETRY_MS, waitMs), undefined, { signal: options.signal }).catch(() => undefined);
      if (options.signal.aborted) return { batches: null };
    }
  }

  /**
   * One read at the first of the partition's in-sync replicas (the leader first, as the
   * metadata names them now) that answers; its coded refusals other than NOT_LEADER are
   * the stream's. 503 NOT_LEADER when none answered.
   */
  async readOnce(request: RemoteReadRequest, signal: AbortSignal): Promise<RemoteReadResult & { nodeId: number }> {
    const { replication } = this.broker;
    const state = this.broker.topics.partition(this.topic, this.partition);
    const failures: string[] = [];
    for (const nodeId of inSyncReplicasBesides(state, replication.nodeId)) {
      try {
        return { ...await replication.readRemote(nodeId, request, request.waitMs + limits.remoteReadTimeoutMs, signal), nodeId };
      } catch (error) {
        if (signal.aborted) throw error;
        if (error instanceof RunnelError && error.code !== 'NOT_LEADER') throw error;
        failures.push(`node ${nodeId}: ${(error as Error).message}`);
      }
    }
    throw notLeaderError(replication, state, `no in-sync replica of partition ${this.partition} of topic '${this.topic}' answered node ${replication.nodeId}` +
      (failures.length === 0 ? '' : ` (${failures.join('; ')})`));
  }
}
