/**
 * Share groups (queues, KIP-932) over HTTP: preload 100 B JSON records into a
 * one-partition topic, then 1, 4 and 16 consumers of one share group each loop
 * GET /v1/share-groups/{g}/records (acquire up to 500 records, long-poll 100 ms) and
 * POST /v1/share-groups/{g}/acknowledgements (accept what it acquired, as ranges of
 * consecutive offsets, one entry each), back to back. Each row is a new group reading
 * the same records from the earliest offset: a warm-up, then the measured phase until
 * the time is up or every preloaded record is accepted.
 *
 * Records/s counts records accepted; latency is per acquire + accept round. At most
 * group.share.partition.max.record.locks (2,000 by default) records of the partition
 * are held at once, so with 16 consumers of 500 records some wait for others'
 * acknowledgements, as they would in production. Every answer is parsed in full, as a
 * consumer would; an acknowledgement refused for any record fails the scenario.
 */
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { produceBody, type RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { startServerCpu } from '../server-cpu.js';

const SHARE_VALUE_BYTES = 100;
const CONSUMER_COUNTS = [1, 4, 16] as const;
const ACQUIRE_RECORDS_MAX = 500;
const ACQUIRE_WAIT_MS = 100;
const PRELOAD_BATCH_SIZE = 1000;

function shareLabel(consumers: number): string {
  return `share acquire+accept ${sizeLabel(SHARE_VALUE_BYTES)} c${consumers}`;
}

interface AcquiredRecord {
  partition: number;
  offset: number;
  value: unknown;
}

/** One acknowledgement entry per run of consecutive offsets of a partition (an acquisition is mostly one run). */
export function acceptRanges(topic: string, records: readonly AcquiredRecord[]): Array<{ topic: string; partition: number; firstOffset: number; lastOffset: number; type: 'accept' }> {
  const sorted = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const entries: Array<{ topic: string; partition: number; firstOffset: number; lastOffset: number; type: 'accept' }> = [];
  for (const record of sorted) {
    const last = entries[entries.length - 1];
    if (last !== undefined && last.partition === record.partition && last.lastOffset + 1 === record.offset) last.lastOffset = record.offset;
    else entries.push({ topic, partition: record.partition, firstOffset: record.offset, lastOffset: record.offset, type: 'accept' });
  }
  return entries;
}

interface Progress {
  accepted: number;
  total: number;
  isChecked: boolean;
}

/** Acquire, accept, repeat until the deadline or until every preloaded record is accepted. */
async function consume(http: RunnelHttp, group: string, topic: string, consumerId: string, progress: Progress, deadline: number, histogram: Histogram | undefined): Promise<void> {
  const acquirePath = `/v1/share-groups/${group}/records?topics=${topic}&maxRecords=${ACQUIRE_RECORDS_MAX}&waitMs=${ACQUIRE_WAIT_MS}&consumerId=${consumerId}`;
  const acknowledgePath = `/v1/share-groups/${group}/acknowledgements`;
  while (progress.accepted < progress.total && performance.now() < deadline) {
    const startedAt = performance.now();
    const answer = JSON.parse(await http.text('GET', acquirePath)) as { records?: AcquiredRecord[] };
    if (!Array.isArray(answer.records)) throw new Error(`GET ${acquirePath}: expected {"records":[...]}`);
    if (answer.records.length === 0) continue;
    if (!progress.isChecked) {
      const first = answer.records[0];
      if (typeof first.offset !== 'number' || JSON.stringify(first.value).length !== SHARE_VALUE_BYTES) {
        throw new Error(`GET ${acquirePath}: the first record should carry an offset and a ${SHARE_VALUE_BYTES} B value, got ${JSON.stringify(first).slice(0, 300)}`);
      }
      progress.isChecked = true;
    }
    const body = JSON.stringify({ consumerId, acknowledgements: acceptRanges(topic, answer.records) });
    const results = await http.text('POST', acknowledgePath, body);
    // Every record's errorCode is null when all were accepted; any code is a broken contract here.
    if (results.includes('"errorCode":"')) throw new Error(`POST ${acknowledgePath}: a record was not accepted: ${results.slice(0, 500)}`);
    histogram?.recordMs(performance.now() - startedAt);
    progress.accepted += answer.records.length;
  }
}

async function preload(context: BenchContext, http: RunnelHttp, topic: string): Promise<number> {
  const { settings } = context;
  const body = produceBody(jsonValueOfSize(SHARE_VALUE_BYTES), PRELOAD_BATCH_SIZE);
  await runClosedLoop({
    concurrency: 2,
    warmupMs: 0,
    durationMs: settings.fetchPreloadTimeMaxMs,
    maxOperations: Math.ceil(settings.fetchPreloadRecordCount / PRELOAD_BATCH_SIZE),
    operation: () => http.send('POST', `/v1/topics/${topic}/partitions/0/records?acks=leader`, body),
  });
  return http.highWatermark(topic, 0);
}

async function measureRow(context: BenchContext, http: RunnelHttp, topic: string, total: number, consumerCount: number): Promise<ResultRow> {
  const { settings } = context;
  const label = shareLabel(consumerCount);
  const group = `${topic}-c${consumerCount}`;
  await http.text('PATCH', `/v1/share-groups/${group}`, JSON.stringify({ configs: { 'share.auto.offset.reset': 'earliest' } }));
  const consumerIds = Array.from({ length: consumerCount }, (_, index) => `consumer-${index}`);
  const progress: Progress = { accepted: 0, total, isChecked: false };
  const warmupDeadline = performance.now() + settings.warmupMs;
  await Promise.all(consumerIds.map((id) => consume(http, group, topic, id, progress, warmupDeadline, undefined)));
  const warmedUp = progress.accepted;
  const histogram = new Histogram();
  const cpu = startServerCpu(http.serverPids);
  const startedAt = performance.now();
  await Promise.all(consumerIds.map((id) => consume(http, group, topic, id, progress, startedAt + settings.durationMs, histogram)));
  const elapsedMs = performance.now() - startedAt;
  const cpuWindow = cpu.stop();
  const row = throughputRow({
    scenario: 'share',
    system: 'runnel',
    label,
    params: { valueBytes: SHARE_VALUE_BYTES, consumers: consumerCount, partitions: 1, maxRecords: ACQUIRE_RECORDS_MAX, waitMs: ACQUIRE_WAIT_MS },
    records: progress.accepted - warmedUp,
    elapsedMs,
    valueBytes: SHARE_VALUE_BYTES,
    latency: histogram.summary(),
    cpuWindow,
    notes: [`${total} records preloaded, ${warmedUp} accepted in the warm-up; each round acquires up to ${ACQUIRE_RECORDS_MAX} and accepts them`],
  });
  if (progress.accepted >= total) row.notes?.push('every preloaded record was accepted before the time was up');
  await http.text('DELETE', `/v1/share-groups/${group}`, undefined, 204);
  return row;
}

export const shareScenario: Scenario = {
  name: 'share',
  description: `share group acquire + accept throughput: one partition of ${sizeLabel(SHARE_VALUE_BYTES)} records, ${CONSUMER_COUNTS.join(', ')} consumers, up to ${ACQUIRE_RECORDS_MAX} records per acquire`,
  async run(context) {
    const consumerCounts = CONSUMER_COUNTS.filter((count) => context.isRowWanted(shareLabel(count)));
    if (consumerCounts.length === 0) return { rows: [] };
    const http = await context.runnel();
    const topic = benchTopicName('share');
    await http.createTopic(topic, 1);
    try {
      context.log(`  preloading up to ${context.settings.fetchPreloadRecordCount} records`);
      const total = await preload(context, http, topic);
      const rows: ResultRow[] = [];
      for (const consumerCount of consumerCounts) {
        context.log(`  ${shareLabel(consumerCount)}`);
        rows.push(await measureRow(context, http, topic, total, consumerCount));
      }
      return { rows };
    } finally {
      await http.deleteTopic(topic);
    }
  },
};
