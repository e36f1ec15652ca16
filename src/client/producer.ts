/**
 * Producer: a batching producer in the manner of Kafka's (linger.ms, batch.size,
 * max.in.flight.requests), over the plain produce API. Kafka's batch.size counts
 * bytes: here batchBytes does, and batchRecordsMax bounds the records.
 *
 * - send(topic, record) adds the record to its topic's open batch and returns a promise
 *   of where it landed, settled when the whole batch is acknowledged (or failed).
 * - A batch is sent when it holds batchRecordsMax records, when lingerMs has passed since its
 *   first record, or on flush(). By default its records go as record batches, one
 *   RecordBatch v2 per partition, each encoded once (batch-produce.ts: the client picks
 *   partitions by the node's own rule); with wireFormat 'json', the topic's records go
 *   in one JSON request, serialised once per batch (one JSON.stringify), never per record.
 * - batchBytes bounds a request's body: the producer learns the average serialised
 *   size of a record from the batches it sent and closes batches early enough to stay
 *   under it; a batch that still comes out larger is cut into slices.
 * - Every batch carries its own Idempotency-Key (a random UUID) and every retry of it
 *   the same key and the very same body, so the node appends it once however often it
 *   is retried (see Transport for what is retried).
 * - At most maxInFlight requests are in flight; more batches wait their turn. With more
 *   than one in flight, two batches of the same topic may be appended in either order;
 *   maxInFlight: 1 keeps send() order within a partition, retries included.
 */
import { randomUUID } from 'node:crypto';
import type { Acks, ProduceRecord, ProduceResponse, RecordMetadata, ValueFormat } from '../api/types.js';
import { produceBatches } from './batch-produce.js';
import { RunnelApiError, RunnelClientError } from './client-errors.js';
import type { TopicPartitions } from './partitions.js';
import { topicPath } from './paths.js';
import type { WireFormat } from './record-batch.js';
import type { Transport } from './transport.js';

export interface ProducerOptions {
  /** How long a batch waits for more records after its first one. Default 5 ms. */
  lingerMs?: number;
  /** Most records in one request (a count, not Kafka's batch.size in bytes: see batchBytes). Default 1000. */
  batchRecordsMax?: number;
  /** Most bytes of JSON body in one request (a single larger record is still sent). Default 1 MiB. */
  batchBytes?: number;
  /** Most requests in flight at once. Default 5. */
  maxInFlight?: number;
  /** Default 'all'. */
  acks?: Acks;
  /** Format of every record's key. Default 'string'. */
  keyFormat?: ValueFormat;
  /** Format of every record's value. Default 'json'. */
  valueFormat?: ValueFormat;
  /** How records travel: 'record-batch' (Kafka's RecordBatch v2, the default) or 'json'. Default: the client's. */
  wireFormat?: WireFormat;
}

/** Records of one topic on their way: kept as parallel arrays, no object per record. */
interface Batch {
  topic: string;
  records: ProduceRecord[];
  resolves: Array<(metadata: RecordMetadata) => void>;
  rejects: Array<(error: unknown) => void>;
  timer: NodeJS.Timeout | undefined;
}

const DEFAULTS = { lingerMs: 5, batchRecordsMax: 1000, batchBytes: 1024 * 1024, maxInFlight: 5 } as const;

function positiveInteger(name: string, value: number | undefined, fallback: number, minimum = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < minimum) throw new TypeError(`expected ${name} to be an integer >= ${minimum}, got ${value}`);
  return value;
}

export class Producer {
  private readonly lingerMs: number;
  private readonly batchRecordsMax: number;
  private readonly batchBytes: number;
  private readonly maxInFlight: number;
  private readonly acks: Acks | undefined;
  private readonly keyFormat: ValueFormat | undefined;
  private readonly valueFormat: ValueFormat | undefined;
  private readonly wireFormat: WireFormat;
  /** The batch each topic is filling. */
  private readonly open = new Map<string, Batch>();
  /** Closed batches waiting for a free request slot, oldest first. */
  private readonly ready: Batch[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Average serialised bytes per record, learned from sent batches (0: nothing sent yet). */
  private recordBytesAverage = 0;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  /** Requests sent (attempts not counted): for callers that report batching. */
  requestCount = 0;

  constructor(
    private readonly transport: Transport,
    private readonly partitions: TopicPartitions,
    options: ProducerOptions & { wireFormat: WireFormat },
    private readonly onClose?: (producer: Producer) => void,
  ) {
    this.lingerMs = positiveInteger('lingerMs', options.lingerMs, DEFAULTS.lingerMs, 0);
    this.batchRecordsMax = positiveInteger('batchRecordsMax', options.batchRecordsMax, DEFAULTS.batchRecordsMax);
    this.batchBytes = positiveInteger('batchBytes', options.batchBytes, DEFAULTS.batchBytes);
    this.maxInFlight = positiveInteger('maxInFlight', options.maxInFlight, DEFAULTS.maxInFlight);
    this.acks = options.acks;
    this.keyFormat = options.keyFormat;
    this.valueFormat = options.valueFormat;
    this.wireFormat = options.wireFormat;
  }

  /** Queues a record; resolves with its partition, offset and timestamp once its batch is acknowledged. */
  send(topic: string, record: ProduceRecord): Promise<RecordMetadata> {
    if (this.isClosed) return Promise.reject(new RunnelClientError('the producer is closed'));
    let batch = this.open.get(topic);
    if (batch === undefined) {
      batch = { topic, records: [], resolves: [], rejects: [], timer: undefined };
      this.open.set(topic, batch);
    }
    const { resolves, rejects } = batch;
    const promise = new Promise<RecordMetadata>((resolve, reject) => {
      resolves.push(resolve);
      rejects.push(reject);
    });
    batch.records.push(record);
    if (batch.records.length >= this.recordsPerBatch()) {
      this.seal(batch);
    } else if (batch.timer === undefined) {
      batch.timer = setTimeout(this.onLinger, this.lingerMs, batch);
    }
    return promise;
  }

  /** Sends every queued record now and waits until all are acknowledged or failed. */
  async flush(): Promise<void> {
    for (const batch of [...this.open.values()]) this.seal(batch);
    while (this.inFlight.size > 0 || this.ready.length > 0) {
      await Promise.all(this.inFlight);
    }
  }

  /** Flushes, then refuses further sends. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.isClosed = true;
      await this.flush();
      this.onClose?.(this);
    })();
    return this.closing;
  }

  /** batchRecordsMax, or fewer when records are large enough that batchRecordsMax of them would pass batchBytes. */
  private recordsPerBatch(): number {
    if (this.recordBytesAverage === 0) return this.batchRecordsMax;
    return Math.max(1, Math.min(this.batchRecordsMax, Math.floor(this.batchBytes / this.recordBytesAverage)));
  }

  private readonly onLinger = (batch: Batch): void => {
    batch.timer = undefined;
    this.seal(batch);
  };

  private seal(batch: Batch): void {
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    batch.timer = undefined;
    if (this.open.get(batch.topic) === batch) this.open.delete(batch.topic);
    this.ready.push(batch);
    this.pump();
  }

  private pump(): void {
    while (this.inFlight.size < this.maxInFlight && this.ready.length > 0) {
      const batch = this.ready.shift() as Batch;
      const sending: Promise<void> = this.deliver(batch).then(() => {
        this.inFlight.delete(sending);
        this.pump();
      });
      this.inFlight.add(sending);
    }
  }

  /** Sends a batch (in slices if its body is too large); settles every record's promise. Never rejects. */
  private async deliver(batch: Batch): Promise<void> {
    if (this.wireFormat === 'record-batch') {
      await this.deliverBatches(batch);
      return;
    }
    const { records } = batch;
    const body = this.serialise(records);
    const bodyBytes = Buffer.byteLength(body);
    const perRecord = bodyBytes / records.length;
    this.recordBytesAverage = this.recordBytesAverage === 0 ? perRecord : this.recordBytesAverage * 0.8 + perRecord * 0.2;
    if (bodyBytes <= this.batchBytes || records.length === 1) {
      await this.sendSlice(batch, 0, records.length, body);
      return;
    }
    const sliceCount = Math.min(records.length, Math.ceil(bodyBytes / this.batchBytes));
    const sliceSize = Math.ceil(records.length / sliceCount);
    for (let start = 0; start < records.length; start += sliceSize) {
      const end = Math.min(records.length, start + sliceSize);
      await this.sendSlice(batch, start, end, this.serialise(records.slice(start, end)));
    }
  }

  /** The batch's records as record batches, one per partition (more when over batchBytes). */
  private async deliverBatches(batch: Batch): Promise<void> {
    const { records } = batch;
    try {
      const outcomes = await produceBatches(this.transport, this.partitions, {
        topic: batch.topic,
        records,
        formats: { keyFormat: this.keyFormat ?? 'string', valueFormat: this.valueFormat ?? 'json' },
        acks: this.acks,
        batchBytes: this.batchBytes,
        onRequest: () => {
          this.requestCount += 1;
        },
      });
      for (let i = 0; i < records.length; i++) {
        const outcome = outcomes[i];
        if (outcome instanceof Error) batch.rejects[i](outcome);
        else batch.resolves[i](outcome);
      }
    } catch (error) {
      for (const reject of batch.rejects) reject(error);
    }
  }

  private serialise(records: ProduceRecord[]): string {
    return JSON.stringify({ records, keyFormat: this.keyFormat, valueFormat: this.valueFormat });
  }

  private async sendSlice(batch: Batch, start: number, end: number, body: string): Promise<void> {
    let answer: ProduceResponse;
    try {
      this.requestCount += 1;
      answer = await this.transport.call<ProduceResponse>({
        method: 'POST',
        path: topicPath(batch.topic) + '/records',
        query: { acks: this.acks },
        body,
        headers: { 'idempotency-key': randomUUID() },
        isIdempotent: true,
      });
      if (answer?.offsets?.length !== end - start) {
        throw new RunnelApiError('UNEXPECTED_RESPONSE', 200, `produce to '${batch.topic}' answered ${answer?.offsets?.length} offsets for ${end - start} records`);
      }
    } catch (error) {
      for (let i = start; i < end; i++) batch.rejects[i](error);
      return;
    }
    const { offsets } = answer;
    for (let i = start; i < end; i++) batch.resolves[i](offsets[i - start]);
  }
}
