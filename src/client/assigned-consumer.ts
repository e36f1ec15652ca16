/**
 * AssignedConsumer: `for await (const record of consumer)` over partitions the caller
 * chose (Kafka's assign(), no group membership), read with long-polling fetches.
 *
 * Each partition has one fetch in flight at most and one fetched batch waiting at
 * most, so memory stays bounded however slow the loop body is; batches of different
 * partitions are taken in turn. Within a partition records come in offset order with
 * no gap: each fetch starts at the previous one's nextOffset.
 *
 * With `group`, processed offsets are committed to that group without a member id
 * (the group must have no live members): before the consumer waits for more records
 * ('after-processing', default), every commitIntervalMs ('interval'), or only by
 * commit() ('manual'); and on close() unless 'manual'. A record counts as processed
 * when the loop asks for the next one (as in GroupConsumer).
 */
import type { OffsetsView } from '../api/types.js';
import { fetchPartition } from './batch-fetch.js';
import { RunnelApiError } from './client-errors.js';
import { ConsumerLoop, type CommitMode, type ConsumedRecord } from './consumer-loop.js';
import { groupPath } from './paths.js';
import type { WireFormat } from './record-batch.js';
import type { Transport } from './transport.js';

export interface AssignOptions {
  topic: string;
  partitions: number[];
  /**
   * Where to start: 'earliest', 'latest', an offset per partition ({0: 42, 1: 7};
   * partitions left out start at 'earliest'), or 'committed' (the group's committed
   * offsets, 'earliest' where none). Default: 'committed' with a group, else 'earliest'.
   */
  from?: 'earliest' | 'latest' | 'committed' | Record<number, number>;
  /** A group to commit processed offsets to (standalone commits: the group must have no live members). */
  group?: string;
  /** Most records per fetch. Default 500. */
  maxRecords?: number;
  maxBytes?: number;
  /** How long a fetch waits for records. Default 5000 ms. */
  waitMs?: number;
  /** With a group: when processed offsets are committed. Default 'after-processing'. */
  commit?: CommitMode;
  commitIntervalMs?: number;
  /** How records travel: 'record-batch' or 'json'. Default: the client's (record-batch). */
  wireFormat?: WireFormat;
}

interface PartitionReader {
  partition: number;
  position: number | 'earliest' | 'latest';
  records: ConsumedRecord[];
  index: number;
  fetching: Promise<void> | undefined;
}

export class AssignedConsumer extends ConsumerLoop {
  private readers: PartitionReader[] | undefined;
  private cursor = 0;
  private readonly processed = new Map<number, number>();
  private readonly controller = new AbortController();
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly options: AssignOptions,
    private readonly onClose?: (consumer: AssignedConsumer) => void,
  ) {
    super(options.commit);
    if (options.partitions.length === 0) throw new TypeError('expected at least one partition');
    if (options.from === 'committed' && options.group === undefined) throw new TypeError("from: 'committed' needs a group");
    if (options.group !== undefined) this.startCommitTimer(options.commitIntervalMs);
  }

  protected async shutdown(): Promise<void> {
    this.controller.abort();
    this.wake?.();
    this.stopCommitTimer();
    try {
      if (this.mode !== 'manual') await this.commit();
    } finally {
      this.onClose?.(this);
    }
  }

  protected markProcessed(record: ConsumedRecord): void {
    this.processed.set(record.partition, record.offset + 1);
  }

  protected async next(): Promise<IteratorResult<ConsumedRecord>> {
    this.readers ??= await this.start();
    while (!this.controller.signal.aborted) {
      if (this.failure !== undefined) {
        const failure = this.failure;
        this.failure = undefined;
        throw failure;
      }
      const readers = this.readers;
      for (let i = 0; i < readers.length; i++) {
        const reader = readers[(this.cursor + i) % readers.length];
        if (reader.index < reader.records.length) {
          const record = reader.records[reader.index++];
          if (reader.index === reader.records.length) {
            this.cursor = (this.cursor + i + 1) % readers.length;
            this.fetch(reader);
          }
          return this.deliver(record);
        }
      }
      // Nothing buffered: commit what is done, then wait for any partition's fetch.
      if (this.options.group !== undefined && this.mode === 'after-processing' && this.processed.size > 0) {
        await this.commit();
        continue;
      }
      for (const reader of readers) this.fetch(reader);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    return { value: undefined, done: true };
  }

  private async start(): Promise<PartitionReader[]> {
    const { from = this.options.group === undefined ? 'earliest' : 'committed' } = this.options;
    let committed = new Map<number, number>();
    if (from === 'committed') committed = await this.committedOffsets();
    return this.options.partitions.map((partition) => {
      let position: PartitionReader['position'];
      if (from === 'committed') position = committed.get(partition) ?? 'earliest';
      else if (typeof from === 'object') position = from[partition] ?? 'earliest';
      else position = from;
      return { partition, position, records: [], index: 0, fetching: undefined };
    });
  }

  private async committedOffsets(): Promise<Map<number, number>> {
    const offsets = new Map<number, number>();
    try {
      const view = await this.transport.call<OffsetsView>({
        method: 'GET',
        path: groupPath(this.options.group as string) + '/offsets',
        query: { topic: this.options.topic },
        isIdempotent: true,
        signal: this.controller.signal,
      });
      for (const entry of view.offsets) if (entry.topic === this.options.topic && entry.offset !== null) offsets.set(entry.partition, entry.offset);
    } catch (error) {
      if (!(error instanceof RunnelApiError && error.code === 'GROUP_NOT_FOUND')) throw error;
    }
    return offsets;
  }

  /** Starts a fetch for the partition unless one is running or records are waiting. */
  private fetch(reader: PartitionReader): void {
    if (reader.fetching !== undefined || reader.index < reader.records.length || this.controller.signal.aborted) return;
    reader.fetching = this.fetchOnce(reader).finally(() => {
      reader.fetching = undefined;
      this.wake?.();
    });
  }

  private async fetchOnce(reader: PartitionReader): Promise<void> {
    const waitMs = this.options.waitMs ?? 5_000;
    const { topic } = this.options;
    try {
      const answer = await fetchPartition(this.transport, this.options.wireFormat ?? 'record-batch', {
        topic,
        partition: reader.partition,
        offset: reader.position,
        maxRecords: this.options.maxRecords,
        maxBytes: this.options.maxBytes,
        waitMs,
        signal: this.controller.signal,
      });
      reader.position = answer.nextOffset;
      reader.records = answer.records.map((record) => ({ topic, ...record }));
      reader.index = 0;
    } catch (error) {
      if (this.controller.signal.aborted) return;
      // Retention passed the position: go on from the first record still kept (Kafka's auto.offset.reset=earliest).
      if (error instanceof RunnelApiError && error.code === 'OFFSET_OUT_OF_RANGE') {
        const logStartOffset = error.details.logStartOffset;
        if (typeof reader.position === 'number' && typeof logStartOffset === 'number' && reader.position < logStartOffset) {
          reader.position = logStartOffset;
          return;
        }
      }
      this.failure ??= error;
    }
  }

  protected async commitOnce(): Promise<void> {
    if (this.options.group === undefined || this.processed.size === 0) return;
    const entries = [...this.processed];
    await this.transport.call({
      method: 'POST',
      path: groupPath(this.options.group) + '/offsets',
      body: JSON.stringify({ offsets: entries.map(([partition, offset]) => ({ topic: this.options.topic, partition, offset })) }),
      isIdempotent: true,
    });
    for (const [partition, offset] of entries) if (this.processed.get(partition) === offset) this.processed.delete(partition);
  }
}
