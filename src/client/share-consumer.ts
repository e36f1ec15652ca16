/**
 * ShareConsumer: a share group's consumer (Kafka's KIP-932 queues) as an async
 * iterator. Each record comes locked to this consumer; settle it with accept(),
 * release() or reject(); a record the loop body leaves unsettled is accepted when the
 * loop asks for the next one (Kafka's implicit acknowledgement). While the body runs
 * the record's lock is renewed before it runs out. Acknowledgements are batched: they
 * go in one request before the next read, and at close().
 *
 *   const consumer = runnel.shareConsumer({ group: 'jobs', topics: ['orders'] });
 *   for await (const record of consumer) {
 *     if (!handle(record.value)) record.release();
 *   }
 */
import { randomUUID } from 'node:crypto';
import type { FetchedRecord } from '../api/types.js';
import type { Transport } from './transport.js';

export interface ShareConsumerOptions {
  group: string;
  topics?: string[];
  topicPrefix?: string;
  /** Who holds the records; default a random id per consumer. */
  consumerId?: string;
  /** Records per read. Default 100. */
  maxRecords?: number;
  /** Long-poll of each read. Default 5 000 ms. */
  waitMs?: number;
  /** Renew a record's lock while the loop body works on it. Default true. */
  autoRenew?: boolean;
  /** End the iteration when a read (after its long-poll) finds nothing. Default false: wait for more. */
  stopWhenEmpty?: boolean;
}

type AcknowledgeType = 'accept' | 'release' | 'reject';

export interface ShareRecord extends FetchedRecord {
  topic: string;
  deliveryCount: number;
  lockExpiresAtMs: number;
  acquisitionId: number;
  /** Done: never delivered again. */
  accept(): void;
  /** Deliver again (to any consumer). */
  release(): void;
  /** Never deliver again (archived). */
  reject(): void;
  /** Extends the lock now. */
  renew(): Promise<void>;
}

type WireRecord = FetchedRecord & { topic: string; deliveryCount: number; lockExpiresAtMs: number; acquisitionId: number };

interface AckResult {
  records: Array<{ offset: number; errorCode: string | null; lockExpiresAtMs?: number }>;
}

export class ShareConsumer implements AsyncIterable<ShareRecord> {
  readonly consumerId: string;
  private readonly pending: Array<{ record: WireRecord; type: AcknowledgeType }> = [];
  private isClosed = false;
  private readonly controller = new AbortController();

  constructor(private readonly transport: Transport, private readonly options: ShareConsumerOptions, private readonly onClose: (consumer: ShareConsumer) => void) {
    if (options.topics === undefined && options.topicPrefix === undefined) throw new TypeError('a share consumer needs topics or topicPrefix');
    this.consumerId = options.consumerId ?? `share-${randomUUID()}`;
  }

  private get path(): string {
    return `/v1/share-groups/${encodeURIComponent(this.options.group)}`;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<ShareRecord, void, undefined> {
    while (!this.isClosed) {
      await this.flush();
      const records = await this.poll();
      if (records.length === 0 && this.options.stopWhenEmpty === true) return;
      for (const wire of records) {
        if (this.isClosed) break;
        let settled: AcknowledgeType | undefined;
        const settle = (type: AcknowledgeType): void => {
          if (settled !== undefined) return;
          settled = type;
          this.pending.push({ record: wire, type });
        };
        const record: ShareRecord = {
          ...wire,
          accept: () => settle('accept'),
          release: () => settle('release'),
          reject: () => settle('reject'),
          renew: () => this.renew(record),
        };
        const renewal = this.options.autoRenew === false ? undefined : this.renewWhileHeld(record, () => settled !== undefined);
        try {
          yield record;
        } finally {
          if (renewal !== undefined) {
            clearTimeout(renewal.timer);
            renewal.isDone = true;
          }
          settle('accept');
        }
      }
    }
  }

  private async poll(): Promise<WireRecord[]> {
    const waitMs = this.options.waitMs ?? 5_000;
    try {
      const answer = await this.transport.call<{ records: WireRecord[] }>({
        method: 'GET',
        path: `${this.path}/records`,
        query: {
          topics: this.options.topics?.join(','), topicPrefix: this.options.topicPrefix, consumerId: this.consumerId,
          maxRecords: this.options.maxRecords ?? 100, waitMs,
        },
        // A read acquires: sent twice, the first answer's records would stay locked unseen.
        isIdempotent: false,
        waitMs,
        signal: this.controller.signal,
      });
      return answer.records;
    } catch (error) {
      if (this.isClosed) return [];
      throw error;
    }
  }

  /** Renews the record's lock at half its remaining time until it is settled. */
  private renewWhileHeld(record: ShareRecord, isSettled: () => boolean): { timer: NodeJS.Timeout | undefined; isDone: boolean } {
    const state: { timer: NodeJS.Timeout | undefined; isDone: boolean } = { timer: undefined, isDone: false };
    const schedule = (): void => {
      const delayMs = Math.max(50, (record.lockExpiresAtMs - Date.now()) / 2);
      state.timer = setTimeout(() => {
        if (state.isDone || isSettled() || this.isClosed) return;
        this.renew(record).then(schedule, () => undefined);
      }, delayMs);
      state.timer.unref();
    };
    schedule();
    return state;
  }

  private async renew(record: ShareRecord): Promise<void> {
    const [result] = await this.acknowledge([{ record, type: 'renew' }]);
    const renewed = result?.records[0];
    if (renewed?.errorCode === null && renewed.lockExpiresAtMs !== undefined) record.lockExpiresAtMs = renewed.lockExpiresAtMs;
  }

  private async acknowledge(entries: Array<{ record: WireRecord; type: AcknowledgeType | 'renew' }>): Promise<AckResult[]> {
    if (entries.length === 0) return [];
    const acknowledgements = entries.map(({ record, type }) => ({ topic: record.topic, partition: record.partition, offsets: [record.offset], type, acquisitionId: record.acquisitionId }));
    const answer = await this.transport.call<{ results: AckResult[] }>({
      method: 'POST',
      path: `${this.path}/acknowledgements`,
      body: JSON.stringify({ consumerId: this.consumerId, acknowledgements }),
      // Acknowledging twice changes nothing more (the second is refused per record).
      isIdempotent: true,
    });
    return answer.results;
  }

  /** Sends the acknowledgements waiting, in one request. */
  async flush(): Promise<void> {
    const entries = this.pending.splice(0, this.pending.length);
    await this.acknowledge(entries);
  }

  /** Stops reading and sends the acknowledgements waiting; records not yet yielded are left to run out their locks. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.controller.abort();
    try {
      await this.flush();
    } finally {
      this.onClose(this);
    }
  }
}
