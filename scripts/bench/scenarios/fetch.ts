/**
 * Scenario 3, fetch throughput: preload ~1M 100 B records (bounded by time) spread
 * over a 4-partition topic, then read everything from offset 0 with
 * maxRecords=10000 and maxBytes=16 MiB: once with one reader that walks the four
 * partitions in turn (c1), once with four readers, one per partition (c4).
 *
 * Measured with JSON answers (fetch) and with record-batch answers (fetch-binary: the
 * stored batches as they are, preloaded as record batches of the same value bytes).
 *
 * The reader takes nextOffset from the tail of each JSON answer, or from the
 * Runnel-Next-Offset header, instead of parsing the whole body (the body is still
 * received in full); the first answer of each pass is decoded completely and checked
 * against the contract.
 */
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { sizeLabel } from '../payload.js';
import { startServerCpu } from '../server-cpu.js';
import type { RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type ResultRow, type Scenario } from '../scenario.js';
import { JSON_WIRE, RECORD_BATCH_WIRE, type BenchWire } from '../wire.js';

export const FETCH_VALUE_BYTES = 100;
export const FETCH_PARTITIONS = 4;
export const FETCH_RECORDS_MAX = 10_000;
const FETCH_BYTES_MAX = 16 * 1024 * 1024;
const PRELOAD_BATCH_SIZE = 1000;

function fetchLabel(wire: BenchWire, concurrency: number): string {
  return `fetch${wire.suffix} ${sizeLabel(FETCH_VALUE_BYTES)} c${concurrency}`;
}

export function fetchCompareKey(concurrency: number): string {
  return `fetch:${FETCH_VALUE_BYTES}B:c${concurrency}`;
}

interface ReadProgress {
  records: number;
  bytes: number;
  isComplete: boolean;
}

async function readPartition(
  http: RunnelHttp, wire: BenchWire, topic: string, partition: number, highWatermark: number, deadline: number, histogram: Histogram, progress: ReadProgress,
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
    const response = await http.pool.request({ method: 'GET', path, headers: { accept: wire.mediaType } });
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    histogram.recordMs(performance.now() - sentAt);
    const body = Buffer.concat(chunks);
    if (response.statusCode !== 200) throw new Error(`GET ${path}: expected HTTP 200, got ${response.statusCode}: ${body.toString('utf8', 0, 500)}`);
    const nextOffset = wire.nextOffset(body, response.headers, isFirst, offset, FETCH_VALUE_BYTES, `GET ${path}`);
    isFirst = false;
    if (!(nextOffset > offset)) throw new Error(`GET ${path}: nextOffset ${nextOffset} did not move past ${offset} below highWatermark ${highWatermark}`);
    progress.records += nextOffset - offset;
    progress.bytes += body.length;
    offset = nextOffset;
  }
}

function fetchScenarioFor(wire: BenchWire, description: string): Scenario {
  const scenario = `fetch${wire.suffix}` as const;
  return {
    name: scenario,
    description,
    async run(context) {
      const { settings } = context;
      const concurrencies = [1, FETCH_PARTITIONS].filter((concurrency) => context.isRowWanted(fetchLabel(wire, concurrency)));
      if (concurrencies.length === 0) return { rows: [] };
      const http = await context.runnel();
      const topic = benchTopicName(scenario);
      await http.createTopic(topic, FETCH_PARTITIONS);
      try {
        context.log(`  preloading up to ${settings.fetchPreloadRecordCount} records (at most ${settings.fetchPreloadTimeMaxMs / 1000} s)`);
        const body = wire.produceBody(FETCH_VALUE_BYTES, PRELOAD_BATCH_SIZE);
        const preload = await runClosedLoop({
          concurrency: FETCH_PARTITIONS,
          warmupMs: 0,
          durationMs: settings.fetchPreloadTimeMaxMs,
          maxOperations: Math.ceil(settings.fetchPreloadRecordCount / PRELOAD_BATCH_SIZE),
          operation: (worker) => http.send('POST', `/v1/topics/${topic}/partitions/${worker}/records?acks=leader`, body, 200, wire.mediaType),
        });
        const highWatermarks: number[] = [];
        for (let partition = 0; partition < FETCH_PARTITIONS; partition++) highWatermarks.push(await http.highWatermark(topic, partition));
        const preloaded = highWatermarks.reduce((sum, value) => sum + value, 0);
        const preloadNote = `preloaded ${preloaded} records in ${(preload.elapsedMs / 1000).toFixed(1)} s`;
        context.log(`  ${preloadNote}`);

        const rows: ResultRow[] = [];
        for (const concurrency of concurrencies) {
          const label = fetchLabel(wire, concurrency);
          context.log(`  ${label}`);
          const histogram = new Histogram();
          const progress: ReadProgress = { records: 0, bytes: 0, isComplete: true };
          const cpu = startServerCpu(http.serverPids);
          const startedAt = performance.now();
          const deadline = startedAt + settings.fetchReadTimeMaxMs;
          if (concurrency === 1) {
            for (let partition = 0; partition < FETCH_PARTITIONS; partition++) {
              await readPartition(http, wire, topic, partition, highWatermarks[partition], deadline, histogram, progress);
            }
          } else {
            await Promise.all(highWatermarks.map((highWatermark, partition) =>
              readPartition(http, wire, topic, partition, highWatermark, deadline, histogram, progress)));
          }
          const elapsedMs = performance.now() - startedAt;
          const cpuWindow = cpu.stop();
          const row = throughputRow({
            scenario,
            system: 'runnel',
            label,
            params: { valueBytes: FETCH_VALUE_BYTES, concurrency, partitions: FETCH_PARTITIONS, maxRecords: FETCH_RECORDS_MAX, maxBytes: FETCH_BYTES_MAX, mediaType: wire.mediaType },
            records: progress.records,
            elapsedMs,
            valueBytes: FETCH_VALUE_BYTES,
            latency: histogram.summary(),
            cpuWindow,
            compareKey: fetchCompareKey(concurrency),
            notes: [preloadNote, `response bodies ${(progress.bytes / 1e6 / (elapsedMs / 1000)).toFixed(1)} MB/s of ${wire === JSON_WIRE ? 'JSON' : 'record batches'}`],
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
}

export const fetchScenario = fetchScenarioFor(JSON_WIRE, `fetch throughput: preload ~1M x 100 B over ${FETCH_PARTITIONS} partitions, read all with maxRecords=${FETCH_RECORDS_MAX}, 1 and ${FETCH_PARTITIONS} readers`);
export const fetchBinaryScenario = fetchScenarioFor(RECORD_BATCH_WIRE, `fetch throughput with record-batch answers: the fetch scenario's ~1M x 100 B over ${FETCH_PARTITIONS} partitions, 1 and ${FETCH_PARTITIONS} readers`);
