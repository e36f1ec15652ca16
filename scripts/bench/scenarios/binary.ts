/**
 * The record-batch media type (application/vnd.runnel.record-batch), measured beside
 * the JSON rows with the same sizes and the same Redis rows to compare with:
 * - produce-binary: the produce scenario's rows (100 B / 1 KiB values, batches of
 *   1/100/1000, concurrency 1/8, acks=leader), each request one RecordBatch v2 of the
 *   same value bytes;
 * - fetch-binary: the fetch scenario's read (~1M x 100 B over 4 partitions, preloaded
 *   as batches of 1000, read from offset 0 with maxRecords=10000 and maxBytes=16 MiB,
 *   1 and 4 readers), nextOffset taken from the Runnel-Next-Offset header.
 * Batches are encoded once by Runnel's own encoder with binary key and value formats:
 * plain Kafka batches, as any Kafka producer sends.
 */
import { encodeBatch } from '../../../src/record/encode.js';
import { decodeRecords } from '../../../src/record/decode.js';
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import type { RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { fetchCompareKey, FETCH_PARTITIONS, FETCH_RECORDS_MAX, FETCH_VALUE_BYTES } from './fetch.js';
import { BATCH_SIZES, CONCURRENCIES, produceCompareKey, VALUE_SIZES_BYTES } from './produce.js';

const BATCH_TYPE = 'application/vnd.runnel.record-batch';
const FETCH_BYTES_MAX = 16 * 1024 * 1024;
const PRELOAD_BATCH_SIZE = 1000;

/** One RecordBatch v2 of `count` records, each value the JSON rows' value bytes. */
function batchBody(valueBytes: number, count: number): Buffer {
  const value = Buffer.from(jsonValueOfSize(valueBytes));
  const nowMs = Date.now();
  const records = Array.from({ length: count }, () => ({ key: null, value, headers: null, timestampMs: nowMs }));
  return encodeBatch(records, { leaderEpoch: -1, timestampType: 'CreateTime', keyFormat: 'binary', valueFormat: 'binary' });
}

async function postBatch(http: RunnelHttp, path: string, body: Buffer): Promise<string> {
  const response = await http.pool.request({ method: 'POST', path, body, headers: { 'content-type': BATCH_TYPE, accept: 'application/json' } });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`POST ${path}: expected HTTP 200, got ${response.statusCode}: ${text.slice(0, 500)}`);
  return text;
}

async function measureProduceBinaryRow(context: BenchContext, http: RunnelHttp, label: string, valueBytes: number, batchSize: number, concurrency: number): Promise<ResultRow> {
  const { settings } = context;
  const topic = benchTopicName('produce-binary');
  await http.createTopic(topic, 1);
  try {
    const body = batchBody(valueBytes, batchSize);
    const path = `/v1/topics/${topic}/partitions/0/records?acks=leader`;
    const answer = JSON.parse(await postBatch(http, path, body)) as { batches?: Array<{ lastOffset: number; baseOffset: number }> };
    if (answer.batches?.length !== 1 || answer.batches[0].lastOffset - answer.batches[0].baseOffset !== batchSize - 1) {
      throw new Error(`${label}: expected {"batches":[one of ${batchSize} records]}, got ${JSON.stringify(answer).slice(0, 300)}`);
    }
    const recordCountMax = Math.min(settings.rowRecordCountMax, Math.floor(settings.rowValueBytesMax / valueBytes));
    const result = await runClosedLoop({
      concurrency,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      maxOperations: Math.max(concurrency, Math.floor(recordCountMax / batchSize)),
      operation: async () => (await postBatch(http, path, body)).length,
    });
    return throughputRow({
      scenario: 'produce-binary',
      system: 'runnel',
      label,
      params: { valueBytes, batchSize, concurrency, acks: 'leader', mediaType: BATCH_TYPE },
      records: result.operations * batchSize,
      elapsedMs: result.elapsedMs,
      valueBytes,
      latency: result.histogram.summary(),
      compareKey: produceCompareKey(valueBytes, batchSize, concurrency),
    });
  } finally {
    await http.deleteTopic(topic);
  }
}

export const produceBinaryScenario: Scenario = {
  name: 'produce-binary',
  description: 'produce throughput with record-batch bodies: the produce scenario\'s sizes, batches and concurrency',
  async run(context) {
    const http = await context.runnel();
    const rows: ResultRow[] = [];
    for (const valueBytes of VALUE_SIZES_BYTES) {
      for (const batchSize of BATCH_SIZES) {
        for (const concurrency of CONCURRENCIES) {
          const label = `produce-binary ${sizeLabel(valueBytes)} x${batchSize} c${concurrency}`;
          if (!context.isRowWanted(label)) continue;
          context.log(`  ${label}`);
          rows.push(await measureProduceBinaryRow(context, http, label, valueBytes, batchSize, concurrency));
        }
      }
    }
    return { rows };
  },
};

interface ReadProgress {
  records: number;
  bytes: number;
  isComplete: boolean;
}

/** Reads one partition from offset 0 to its high watermark in record-batch answers; the first answer is decoded and checked. */
async function readPartition(
  http: RunnelHttp, topic: string, partition: number, highWatermark: number, deadline: number, histogram: Histogram, progress: ReadProgress,
): Promise<void> {
  let offset = 0;
  let isFirst = true;
  while (offset < highWatermark) {
    if (performance.now() >= deadline) {
      progress.isComplete = false;
      return;
    }
    const path = `/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}&maxRecords=${FETCH_RECORDS_MAX}&maxBytes=${FETCH_BYTES_MAX}`;
    const sentAt = performance.now();
    const response = await http.pool.request({ method: 'GET', path, headers: { accept: BATCH_TYPE } });
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    histogram.recordMs(performance.now() - sentAt);
    const body = Buffer.concat(chunks);
    if (response.statusCode !== 200) throw new Error(`GET ${path}: expected HTTP 200, got ${response.statusCode}: ${body.toString('utf8', 0, 500)}`);
    const nextOffset = Number(response.headers['runnel-next-offset']);
    if (isFirst) {
      const first = decodeRecords(body, 0)[0];
      if (first.offset !== offset || first.value?.length !== FETCH_VALUE_BYTES) {
        throw new Error(`GET ${path}: the first record should have offset ${offset} and a ${FETCH_VALUE_BYTES} B value, got offset ${first.offset}`);
      }
      isFirst = false;
    }
    if (!(nextOffset > offset)) throw new Error(`GET ${path}: Runnel-Next-Offset ${nextOffset} did not move past ${offset} below highWatermark ${highWatermark}`);
    progress.records += nextOffset - offset;
    progress.bytes += body.length;
    offset = nextOffset;
  }
}

export const fetchBinaryScenario: Scenario = {
  name: 'fetch-binary',
  description: `fetch throughput with record-batch answers: the fetch scenario's ~1M x 100 B over ${FETCH_PARTITIONS} partitions, 1 and ${FETCH_PARTITIONS} readers`,
  async run(context) {
    const { settings } = context;
    const label = (concurrency: number): string => `fetch-binary ${sizeLabel(FETCH_VALUE_BYTES)} c${concurrency}`;
    const concurrencies = [1, FETCH_PARTITIONS].filter((concurrency) => context.isRowWanted(label(concurrency)));
    if (concurrencies.length === 0) return { rows: [] };
    const http = await context.runnel();
    const topic = benchTopicName('fetch-binary');
    await http.createTopic(topic, FETCH_PARTITIONS);
    try {
      context.log(`  preloading up to ${settings.fetchPreloadRecordCount} records (at most ${settings.fetchPreloadTimeMaxMs / 1000} s)`);
      const body = batchBody(FETCH_VALUE_BYTES, PRELOAD_BATCH_SIZE);
      const preload = await runClosedLoop({
        concurrency: FETCH_PARTITIONS,
        warmupMs: 0,
        durationMs: settings.fetchPreloadTimeMaxMs,
        maxOperations: Math.ceil(settings.fetchPreloadRecordCount / PRELOAD_BATCH_SIZE),
        operation: async (worker) => (await postBatch(http, `/v1/topics/${topic}/partitions/${worker}/records?acks=leader`, body)).length,
      });
      const highWatermarks: number[] = [];
      for (let partition = 0; partition < FETCH_PARTITIONS; partition++) highWatermarks.push(await http.highWatermark(topic, partition));
      const preloaded = highWatermarks.reduce((sum, value) => sum + value, 0);
      const preloadNote = `preloaded ${preloaded} records in ${(preload.elapsedMs / 1000).toFixed(1)} s`;
      context.log(`  ${preloadNote}`);
      const rows: ResultRow[] = [];
      for (const concurrency of concurrencies) {
        context.log(`  ${label(concurrency)}`);
        const histogram = new Histogram();
        const progress: ReadProgress = { records: 0, bytes: 0, isComplete: true };
        const startedAt = performance.now();
        const deadline = startedAt + settings.fetchReadTimeMaxMs;
        if (concurrency === 1) {
          for (let partition = 0; partition < FETCH_PARTITIONS; partition++) {
            await readPartition(http, topic, partition, highWatermarks[partition], deadline, histogram, progress);
          }
        } else {
          await Promise.all(highWatermarks.map((highWatermark, partition) => readPartition(http, topic, partition, highWatermark, deadline, histogram, progress)));
        }
        const elapsedMs = performance.now() - startedAt;
        const row = throughputRow({
          scenario: 'fetch-binary',
          system: 'runnel',
          label: label(concurrency),
          params: { valueBytes: FETCH_VALUE_BYTES, concurrency, partitions: FETCH_PARTITIONS, maxRecords: FETCH_RECORDS_MAX, maxBytes: FETCH_BYTES_MAX, mediaType: BATCH_TYPE },
          records: progress.records,
          elapsedMs,
          valueBytes: FETCH_VALUE_BYTES,
          latency: histogram.summary(),
          compareKey: fetchCompareKey(concurrency),
          notes: [preloadNote, `response bodies ${(progress.bytes / 1e6 / (elapsedMs / 1000)).toFixed(1)} MB/s of record batches`],
        });
        if (!progress.isComplete) row.notes?.push(`time limit reached after ${progress.records} of ${preloaded} records`);
        rows.push(row);
      }
      return { rows };
    } finally {
      await http.deleteTopic(topic);
    }
  },
};
