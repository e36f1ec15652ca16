/**
 * Runnel: the client. One object per application, over one undici Agent with
 * keep-alive connections, speaking only the public HTTP API.
 *
 *   const runnel = new Runnel({ url: 'http://127.0.0.1:8080' });
 *   await runnel.topics.create({ name: 'orders', partitions: 3 });
 *   await runnel.send({ topic: 'orders', records: [{ key: 'alice', value: { qty: 1 } }] });
 *   for await (const record of runnel.stream('orders', 0, { offset: 'earliest' })) ...
 *   await runnel.close();
 */
import { randomUUID } from 'node:crypto';
import { Agent, type Dispatcher } from 'undici';
import type {
  Acks, ClusterDescription, FetchedRecord, FetchResponse, PartitionOffsets, ProduceRecord, ProduceResponse, RecordMetadata, ValueFormat,
} from '../api/types.js';
import { Groups, Keys, Topics } from './admin.js';
import { AssignedConsumer, type AssignOptions } from './assigned-consumer.js';
import type { BackoffOptions } from './backoff.js';
import { GroupConsumer, type ConsumerOptions } from './group-consumer.js';
import { partitionPath, topicPath } from './paths.js';
import { fetchPartition } from './batch-fetch.js';
import { produceBatches } from './batch-produce.js';
import { TopicPartitions } from './partitions.js';
import { Producer, type ProducerOptions } from './producer.js';
import { ShareConsumer, type ShareConsumerOptions } from './share-consumer.js';
import { ShareGroups } from './share-groups.js';
import type { WireFormat } from './record-batch.js';
import { streamPartition, type StreamOptions } from './record-stream.js';
import { Transport } from './transport.js';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface RunnelOptions {
  /** The node to talk to. Default: the RUNNEL_URL environment variable, else http://127.0.0.1:8080. */
  url?: string;
  /** Several nodes (give every node of a cluster): one that refuses connections or stops answering is left for another. Overrides url. */
  urls?: string[];
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Deadline of a call, its retries included (a long-poll's wait comes on top). Default 30 000 ms. */
  timeoutMs?: number;
  /**
   * Longest wait for one node's answer to a request safe to send twice (reads, produce)
   * before it is retried on another node; a long-poll's wait comes on top. Default 2 000 ms.
   */
  attemptTimeoutMs?: number;
  /** Retries of a failed call (see README, Client). Default 5. */
  retries?: number;
  /** Backoff between retries (full jitter). Default 50 ms doubling up to 2 s. */
  backoff?: BackoffOptions;
  /** Your own undici dispatcher (then close() leaves it open). Default: a keep-alive Agent of the client's own. */
  dispatcher?: Dispatcher;
  /**
   * The client's rack, zone or data centre (Kafka's client.rack): reads of a partition
   * (fetch, offsets, streams, consumers) go to an in-sync replica on a node started with
   * the same --rack when there is one, else where other requests of the partition go
   * (its leader when the client knows it, else the node it was given, which serves the
   * read from its own in-sync replica or hands it to one). Writes go to the leader.
   * Default: none.
   */
  rack?: string;
  /**
   * How records travel: 'record-batch' (the default: Kafka's RecordBatch v2 bytes, the
   * node's fastest path; the client picks partitions by the node's own rule) or 'json'
   * (what curl sends; the node picks partitions). Results are the same either way.
   */
  wireFormat?: WireFormat;
  /** How long a topic's partition count is trusted before it is read again (Kafka's metadata.max.age.ms). Default 30 000 ms. */
  metadataMaxAgeMs?: number;
}

export interface SendRequest {
  topic: string;
  records: ProduceRecord[];
  /** Every record to this partition. */
  partition?: number;
  keyFormat?: ValueFormat;
  valueFormat?: ValueFormat;
  acks?: Acks;
  /** Default: a random UUID, so the call's own retries never append twice. */
  idempotencyKey?: string;
}

export interface FetchOptions {
  /** An offset, 'earliest' (default) or 'latest'. */
  offset?: number | 'earliest' | 'latest';
  maxRecords?: number;
  maxBytes?: number;
  /**
   * Long-poll: how long to wait for a record when none is there. A fetch of records this
   * client's own produce was acknowledged for waits for them at least 1 s (read-your-writes).
   */
  waitMs?: number;
  signal?: AbortSignal;
}

interface Closeable {
  close(): Promise<void>;
}

export class Runnel {
  readonly topics: Topics;
  readonly groups: Groups;
  /** Share groups (queues): list, describe, configure, reset, delete. */
  readonly shareGroups: ShareGroups;
  readonly keys: Keys;
  private readonly transport: Transport;
  private readonly partitions: TopicPartitions;
  private readonly wireFormat: WireFormat;
  private readonly ownAgent: Agent | undefined;
  /** Producers and consumers still open: close() closes them first. */
  private readonly open = new Set<Closeable>();
  /** Streams not finished yet: close() ends them. */
  private readonly streams = new Set<AbortController>();
  private closing: Promise<void> | undefined;

  constructor(options: RunnelOptions = {}) {
    const urls = options.urls ?? [options.url ?? process.env.RUNNEL_URL ?? DEFAULT_URL];
    this.ownAgent = options.dispatcher === undefined
      ? new Agent({ keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000, connect: { timeout: 10_000 } })
      : undefined;
    this.transport = new Transport({
      urls,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 30_000,
      attemptTimeoutMs: options.attemptTimeoutMs ?? 2_000,
      retries: options.retries ?? 5,
      backoff: options.backoff,
      dispatcher: options.dispatcher ?? (this.ownAgent as Agent),
      rack: options.rack,
    });
    this.partitions = new TopicPartitions(this.transport, options.metadataMaxAgeMs);
    this.wireFormat = options.wireFormat ?? 'record-batch';
    if (this.wireFormat !== 'record-batch' && this.wireFormat !== 'json') throw new TypeError(`expected wireFormat 'record-batch' or 'json', got ${String(this.wireFormat)}`);
    this.topics = new Topics(this.transport);
    this.groups = new Groups(this.transport);
    this.shareGroups = new ShareGroups(this.transport);
    this.keys = new Keys(this.transport);
  }

  /** The node requests go to now (it changes when a NOT_LEADER answer names another). */
  get url(): string {
    return this.transport.url;
  }

  /** Every node the client knows. */
  get urls(): string[] {
    return this.transport.urls;
  }

  /** Cluster id, nodes and controller. */
  cluster(): Promise<ClusterDescription> {
    return this.transport.call({ method: 'GET', path: '/v1/cluster', isIdempotent: true });
  }

  /** logStartOffset (earliest), highWatermark (latest), logEndOffset; with timestamp, the first offset at or after it. */
  offsets(topic: string, partition: number, options: { timestamp?: number } = {}): Promise<PartitionOffsets> {
    return this.transport.call({ method: 'GET', path: partitionPath(topic, partition) + '/offsets', query: { timestamp: options.timestamp }, isIdempotent: true });
  }

  /**
   * Produces records; the answer lists each record's partition, offset and timestamp in
   * order. As record batches, one request per partition, all at once (a failed one
   * throws, the others may have landed: each carries its own Idempotency-Key, so a retry
   * of this call by the client appends nothing twice, but a call you repeat yourself
   * does). With your own idempotencyKey the records go as one JSON request, whose
   * replay the node recognises across calls.
   */
  async send(request: SendRequest): Promise<ProduceResponse> {
    // No records at all goes as JSON, so the node refuses it (INVALID_REQUEST) whichever the wire format.
    if (this.wireFormat === 'record-batch' && request.idempotencyKey === undefined && request.records.length > 0) {
      const outcomes = await produceBatches(this.transport, this.partitions, {
        topic: request.topic,
        records: request.records,
        partition: request.partition,
        formats: { keyFormat: request.keyFormat ?? 'string', valueFormat: request.valueFormat ?? 'json' },
        acks: request.acks,
      });
      const failed = outcomes.find((outcome): outcome is Error => outcome instanceof Error);
      if (failed !== undefined) throw failed;
      return { offsets: outcomes as RecordMetadata[] };
    }
    const path = (request.partition === undefined ? topicPath(request.topic) : partitionPath(request.topic, request.partition)) + '/records';
    return this.transport.call({
      method: 'POST',
      path,
      query: { acks: request.acks },
      body: JSON.stringify({ records: request.records, keyFormat: request.keyFormat, valueFormat: request.valueFormat }),
      headers: { 'idempotency-key': request.idempotencyKey ?? randomUUID() },
      isIdempotent: true,
    });
  }

  /** A batching producer (linger, batch size, requests in flight). */
  producer(options: ProducerOptions = {}): Producer {
    const wireFormat = options.wireFormat ?? this.wireFormat;
    return this.track(new Producer(this.transport, this.partitions, { ...options, wireFormat }, (producer) => this.open.delete(producer)));
  }

  /** Reads records from an offset (long-polls up to waitMs when there are none). */
  fetch(topic: string, partition: number, options: FetchOptions = {}): Promise<FetchResponse> {
    return fetchPartition(this.transport, this.wireFormat, { topic, partition, ...options });
  }

  /** Follows a partition live (NDJSON or SSE), resuming after dropped connections without gaps or duplicates. */
  stream(topic: string, partition: number, options: StreamOptions = {}): AsyncGenerator<FetchedRecord, void, undefined> {
    if (this.closing !== undefined) throw new TypeError('the client is closed');
    // close() ends open streams: an unfinished one would hold the Agent's close() forever.
    const controller = new AbortController();
    const signal = options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
    this.streams.add(controller);
    const streams = this.streams;
    return (async function* tracked(transport: Transport): AsyncGenerator<FetchedRecord, void, undefined> {
      try {
        yield* streamPartition(transport, topic, partition, { ...options, signal });
      } finally {
        streams.delete(controller);
      }
    })(this.transport);
  }

  /** A consumer group member: `for await (const record of consumer)`. */
  consumer(options: ConsumerOptions): GroupConsumer {
    return this.track(new GroupConsumer(this.transport, options, (consumer) => this.open.delete(consumer)));
  }

  /** A share group's consumer (queues): `for await (const record of consumer)`, each record settled with accept(), release() or reject(). */
  shareConsumer(options: ShareConsumerOptions): ShareConsumer {
    return this.track(new ShareConsumer(this.transport, options, (consumer) => this.open.delete(consumer)));
  }

  /** A consumer of partitions you choose, without group membership. */
  assign(options: AssignOptions): AssignedConsumer {
    return this.track(new AssignedConsumer(this.transport, { wireFormat: this.wireFormat, ...options }, (consumer) => this.open.delete(consumer)));
  }

  /** Flushes producers, closes consumers (committing and leaving), then the connections. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const controller of this.streams) controller.abort();
      const results = await Promise.allSettled([...this.open].map((closeable) => closeable.close()));
      await this.ownAgent?.close();
      const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
      if (failed !== undefined) throw failed.reason;
    })();
    return this.closing;
  }

  private track<T extends Closeable>(closeable: T): T {
    if (this.closing !== undefined) throw new TypeError('the client is closed');
    this.open.add(closeable);
    return closeable;
  }
}
