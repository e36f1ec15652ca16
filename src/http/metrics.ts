/**
 * Prometheus metrics at GET /metrics (prom-client, text format), named by Prometheus
 * conventions: runnel_ prefix, _total for counters, _seconds and _bytes units.
 *
 * Hot paths only bump counters (records and bytes in and out per topic, requests per
 * route); per-partition offsets and sizes, group lag and reader counts are read from
 * the broker when Prometheus scrapes, so they cost nothing between scrapes.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClusterNode } from '../cluster/cluster-node.js';
import type { Broker } from '../broker/broker.js';
import type { PartitionState } from '../broker/topic-state.js';
import type { StreamRegistry } from './stream.js';
import { registerShareMetrics } from './share-metrics.js';
import { totalCounter } from './total-counter.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status_code'>;
  private readonly requestSeconds: Histogram<'method' | 'route' | 'status_code'>;
  private readonly recordsIn: Counter<'topic'>;
  private readonly bytesIn: Counter<'topic'>;
  private readonly recordsOut: Counter<'topic'>;
  private readonly bytesOut: Counter<'topic'>;
  readonly fsyncSeconds: Histogram;

  constructor(broker: Broker, streams: StreamRegistry, cluster?: ClusterNode) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'runnel_' });
    this.requests = new Counter({ name: 'runnel_http_requests_total', help: 'HTTP requests answered, by route and status.', labelNames: ['method', 'route', 'status_code'], registers });
    this.requestSeconds = new Histogram({
      name: 'runnel_http_request_duration_seconds',
      help: 'Time to answer an HTTP request (long-polls include their wait).',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.recordsIn = new Counter({ name: 'runnel_records_in_total', help: 'Records appended, by topic.', labelNames: ['topic'], registers });
    this.bytesIn = new Counter({ name: 'runnel_bytes_in_total', help: 'Bytes of record batches appended, by topic.', labelNames: ['topic'], registers });
    this.recordsOut = new Counter({ name: 'runnel_records_out_total', help: 'Records served to fetches, streams and group polls, by topic.', labelNames: ['topic'], registers });
    this.bytesOut = new Counter({ name: 'runnel_bytes_out_total', help: 'Bytes of stored batches read for fetches, streams and group polls, by topic.', labelNames: ['topic'], registers });
    this.fsyncSeconds = new Histogram({
      name: 'runnel_log_fsync_duration_seconds',
      help: 'Time one fsync of a partition log took.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    });

    registerPartitionGauges(registers, broker);
    registerLeadershipGauges(registers, broker, cluster);
    registerReaderGauges(registers, broker, streams);
    registerGroupGauges(registers, broker);
    registerIdempotencyMetrics(registers, broker);
    registerOpenFileMetrics(registers, broker);
    registerDiskMetrics(registers, broker);
    registerCleanerMetrics(registers, broker);
    registerShareMetrics(registers, broker);
  }

  request(method: string, route: string, statusCode: number, seconds: number): void {
    const labels = { method, route, status_code: String(statusCode) };
    this.requests.inc(labels);
    this.requestSeconds.observe(labels, seconds);
  }

  produced(topic: string, records: number, bytes: number): void {
    this.recordsIn.inc({ topic }, records);
    this.bytesIn.inc({ topic }, bytes);
  }

  consumed(topic: string, records: number, bytes: number): void {
    if (records === 0) return;
    this.recordsOut.inc({ topic }, records);
    this.bytesOut.inc({ topic }, bytes);
  }
}

type Registers = Registry[];

/** Per-partition log positions and sizes, read from the logs at scrape time. */
function registerPartitionGauges(registers: Registers, broker: Broker): void {
  const partitionGauge = (name: string, help: string, read: (state: PartitionState) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset();
        for (const topic of broker.topics.list()) {
          for (const state of topic.partitions) this.set({ topic: topic.record.name, partition: String(state.partition) }, read(state));
        }
      },
    });
  };
  partitionGauge('runnel_log_end_offset', 'Offset the next record of the partition will get.', (state) => state.log.logEndOffset);
  partitionGauge('runnel_log_start_offset', 'Earliest offset the partition still holds.', (state) => state.log.logStartOffset);
  partitionGauge('runnel_high_watermark', 'Offset up to which consumers may read.', (state) => state.log.highWatermark);
  partitionGauge('runnel_log_size_bytes', "Bytes of the partition's segments on disk.", (state) => state.log.sizeBytes);
  partitionGauge('runnel_log_segments', 'Segment files of the partition.', (state) => state.log.segmentCount);
  new Counter({
    name: 'runnel_log_corruptions_total',
    help: 'Damaged stored batches (CRC, framing or offsets) that reads found since the node started, each counted once, by partition.',
    labelNames: ['topic', 'partition'],
    registers,
    collect() {
      this.reset();
      for (const topic of broker.topics.list()) {
        for (const state of topic.partitions) {
          if (state.log.damagedBatchesFound > 0) this.inc({ topic: topic.record.name, partition: String(state.partition) }, state.log.damagedBatchesFound);
        }
      }
    },
  });
}

/**
 * Kafka's UnderReplicatedPartitions and leader count, for partitions this node leads
 * (on a single node every partition is led here and fully replicated); in a cluster,
 * the metadata quorum as this node sees it.
 */
function registerLeadershipGauges(registers: Registers, broker: Broker, cluster: ClusterNode | undefined): void {
  new Gauge({
    name: 'runnel_partitions_led',
    help: 'Partitions this node leads.',
    registers,
    collect() {
      let led = 0;
      for (const topic of broker.topics.list()) for (const state of topic.partitions) if (state.leader === broker.replication.nodeId) led += 1;
      this.set(led);
    },
  });
  new Gauge({
    name: 'runnel_under_replicated_partitions',
    help: 'Partitions this node leads whose in-sync replicas are fewer than their replicas.',
    registers,
    collect() {
      let under = 0;
      for (const topic of broker.topics.list()) {
        for (const state of topic.partitions) if (state.leader === broker.replication.nodeId && state.isr.length < state.replicas.length) under += 1;
      }
      this.set(under);
    },
  });
  if (cluster !== undefined) {
    new Gauge({ name: 'runnel_metadata_epoch', help: "The metadata quorum's Raft epoch as this node knows it.", registers, collect() { this.set(cluster.status().metadata.epoch); } });
    new Gauge({ name: 'runnel_metadata_applied_offset', help: 'Metadata log entries this node has applied.', registers, collect() { this.set(cluster.status().metadata.appliedOffset); } });
    new Gauge({ name: 'runnel_active_controller', help: '1 when this node is the active controller.', registers, collect() { this.set(cluster.status().controller === broker.replication.nodeId ? 1 : 0); } });
  }
}

/** Waiting long-polls, open streams and the topic count. */
function registerReaderGauges(registers: Registers, broker: Broker, streams: StreamRegistry): void {
  new Gauge({
    name: 'runnel_waiting_readers',
    help: 'Long-polls and streams waiting for new records.',
    registers,
    collect() {
      let waiting = 0;
      for (const topic of broker.topics.list()) for (const state of topic.partitions) waiting += state.notifier.waiterCount;
      this.set(waiting);
    },
  });
  new Gauge({ name: 'runnel_open_streams', help: 'Open SSE and NDJSON partition streams.', registers, collect() { this.set(streams.size); } });
  new Gauge({ name: 'runnel_topics', help: 'Topics on this node.', registers, collect() { this.set(broker.topics.list().length); } });
}

/** Consumer groups: live members and lag per partition. */
function registerGroupGauges(registers: Registers, broker: Broker): void {
  new Gauge({
    name: 'runnel_group_members',
    help: 'Live members per consumer group.',
    labelNames: ['group'],
    registers,
    collect() {
      this.reset();
      for (const group of broker.groups.list()) this.set({ group: group.groupId }, group.members);
    },
  });
  new Gauge({
    name: 'runnel_group_lag',
    help: 'High watermark minus committed offset, per group and partition.',
    labelNames: ['group', 'topic', 'partition'],
    registers,
    collect() {
      this.reset();
      for (const group of broker.groups.list()) {
        for (const view of broker.groups.offsets(group.groupId)) {
          if (view.lag !== null) this.set({ group: group.groupId, topic: view.topic, partition: String(view.partition) }, view.lag);
        }
      }
    },
  });
}

declare module 'fastify' {
  interface FastifyInstance {
    runnelMetrics: Metrics;
  }
}

export function installMetrics(app: FastifyInstance, broker: Broker, streams: StreamRegistry, cluster?: ClusterNode): Metrics {
  const metrics = new Metrics(broker, streams, cluster);
  broker.fsyncListener = (seconds) => metrics.fsyncSeconds.observe(seconds);
  app.decorate('runnelMetrics', metrics);
  app.addHook('onResponse', async (request, reply) => {
    metrics.request(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', {
    schema: {
      tags: ['health'],
      summary: 'Prometheus metrics',
      description: 'Requests by route and status with latency histograms, records and bytes in and out per topic, per-partition log end, log start, high watermark and size, fsync latency, waiting readers and open streams, consumer group members and lag, and process metrics, in Prometheus text format.',
      produces: ['text/plain'],
      response: { 200: { type: 'string', description: 'Prometheus text exposition format 0.0.4.' } },
    },
  }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
  return metrics;
}

/** Segment files held open by the LRU (storage/file-cache.ts), and how many it closed to make room. */
function registerOpenFileMetrics(registers: Registers, broker: Broker): void {
  const { files } = broker.logs;
  new Gauge({ name: 'runnel_log_files_open', help: 'Segment files (logs and indexes) open now; at most --max-open-log-files.', registers, collect() { this.set(files.openCount); } });
  totalCounter(registers, 'runnel_log_files_evicted_total', 'Segment files closed (least recently used first) to stay within --max-open-log-files; reopened when next used.', () => files.evictions);
}

/** The Idempotency-Key answers kept in meta.db, against their bounds, and how many the bounds evicted. */
function registerIdempotencyMetrics(registers: Registers, broker: Broker): void {
  const store = broker.store.idempotency;
  new Gauge({ name: 'runnel_idempotency_keys', help: 'Idempotency-Key answers remembered on this node.', registers, collect() { this.set(store.size.count); } });
  new Gauge({ name: 'runnel_idempotency_bytes', help: 'Bytes of Idempotency-Key answers remembered on this node (topic, key and answer).', registers, collect() { this.set(store.size.bytes); } });
  totalCounter(registers, 'runnel_idempotency_evictions_total', 'Idempotency-Key answers evicted (oldest first) to keep within --idempotency-keys-max and --idempotency-bytes-max.', () => store.evictedCount);
  const producers = broker.logs.producerStates;
  new Gauge({ name: 'runnel_producer_states', help: 'Producers (producer ids and Idempotency-Keys) whose recent batches this node remembers across its partitions; at most --producer-states-max.', registers, collect() { this.set(producers.count); } });
  totalCounter(registers, 'runnel_producer_states_evicted_total', 'Producers forgotten (least recently written first) to stay within --producer-states-max.', () => producers.evictedCount);
}

/** The data directory's free space, the floor and produce refused for a full disk. */
function registerDiskMetrics(registers: Registers, broker: Broker): void {
  const { disk } = broker;
  new Gauge({ name: 'runnel_disk_free_bytes', help: "Free bytes on the data directory's filesystem (last reading, less what was appended since).", registers, collect() { this.set(Math.max(0, disk.freeBytes === Number.POSITIVE_INFINITY ? 0 : disk.freeBytes)); } });
  new Gauge({ name: 'runnel_disk_free_min_bytes', help: 'The free-space floor: produce is refused at or below it (--disk-free-min-bytes).', registers, collect() { this.set(disk.freeMinBytes); } });
  new Gauge({ name: 'runnel_disk_full', help: '1 while produce is refused with 507 DISK_FULL.', registers, collect() { this.set(disk.isFull ? 1 : 0); } });
  totalCounter(registers, 'runnel_disk_full_refusals_total', 'Produce requests refused with 507 DISK_FULL (free space at or below the floor, or a write that failed for space).', () => disk.refusedCount);
}

/** The compaction cleaner (storage/cleaner): what is waiting to be cleaned, and what it has done. */
function registerCleanerMetrics(registers: Registers, broker: Broker): void {
  const { cleaner } = broker.logs;
  new Gauge({ name: 'runnel_cleaner_cleanable_bytes', help: 'Bytes of closed segments of compacted partitions written since their last cleaning (dirty bytes).', registers, collect() { this.set(cleaner.cleanableLogs().reduce((sum, entry) => sum + entry.cleanable.dirtyBytes, 0)); } });
  new Gauge({ name: 'runnel_cleaner_max_dirty_ratio', help: "The highest dirty ratio among compacted partitions (dirty bytes over closed bytes); cleaned once it reaches min.cleanable.dirty.ratio.", registers, collect() { this.set(cleaner.cleanableLogs()[0]?.cleanable.dirtyRatio ?? 0); } });
  totalCounter(registers, 'runnel_cleaner_rounds_total', 'Cleaning rounds completed.', () => cleaner.stats.rounds);
  totalCounter(registers, 'runnel_cleaner_bytes_read_total', 'Bytes the cleaner read and wrote.', () => cleaner.stats.bytesRead);
  totalCounter(registers, 'runnel_cleaner_bytes_removed_total', 'Bytes removed from compacted partitions by cleaning.', () => cleaner.stats.bytesRemoved);
  totalCounter(registers, 'runnel_cleaner_records_removed_total', 'Records removed by cleaning (superseded records and expired tombstones).', () => cleaner.stats.recordsRemoved);
  totalCounter(registers, 'runnel_cleaner_run_seconds_total', 'Time spent in cleaning rounds, pauses for the I/O limit included.', () => cleaner.stats.runSeconds);
}
