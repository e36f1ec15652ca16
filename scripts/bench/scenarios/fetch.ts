/**
 * Scenario 3, fetch throughput: preload ~1M 100 B records (bounded by time) spread
 * over a 4-partition topic, then read everything from offset 0 with
 * maxRecords=10000 and maxBytes=16 MiB: once with one reader that walks the four
 * partitions in turn (c1), once with four readers, one per partition (c4).
 *
 * The reader takes nextOffset from the tail of each answer instead of parsing the
 * whole body (the body is still received in full); the first answer of each pass is
 * parsed completely and checked against the contract.
 */
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { produceBody, type RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type ResultRow, type Scenario } from '../scenario.js';

export const FETCH_VALUE_BYTES = 100;
export const FETCH_PARTITIONS = 4;
export const FETCH_RECORDS_MAX = 10_000;
const FETCH_BYTES_MAX = 16 * 1024 * 1024;
const PRELOAD_BATCH_SIZE = 1000;
const TAIL_BYTES = 256;

function fetchLabel(concurrency: number): string {
  return `fetch ${sizeLabel(FETCH_VALUE_BYTES)} c${concurrency}`;
}

export function fetchCompareKey(concurrency: number): string {
  return `fetch:${FETCH_VALUE_BYTES}B:c${concurrency}`;
}

interface ReadProgress {
  records: number;
  bytes: number;
  isComplete: boolean;
}

async function getBody(http: RunnelHttp, path: string): Promise<Buffer> {
  const response = await http.pool.request({ method: 'GET', path, headers: { accept: 'application/json' } });
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (response.statusCode !== 200) throw new Error(`GET ${path}: expected HTTP 200, got ${response.statusCode}: ${body.toString('utf8', 0, 500)}`);
  return body;
}

function nextOffsetOf(body: Buffer, isFullCheck: boolean, offset: number, path: string): number {
  if (isFullCheck) {
    const answer = JSON.parse(body.toString('utf8')) as { records?: Array<{ offset: number; value: unknown }>; nextOffset?: number };
    if (!Array.isArray(answer.records) || typeof answer.nextOffset !== 'number') {
      throw new Error(`GET ${path}: expected {"records":[...],"nextOffset":N,...}, got ${body.toString('utf8', 0, 300)}`);
    }
    const first = answer.records[0];
    if (first === undefined || first.offset !== offset || JSON.stringify(first.value).length !== FETCH_VALUE_BYTES) {
      throw new Error(`GET ${path}: the first record should have offset ${offset} and a ${FETCH_VALUE_BYTES} B value, got ${JSON.stringify(first)?.slice(0, 300)}`);
    }
    if (answer.records.length !== answer.nextOffset - offset) {
      throw new Error(`GET ${path}: ${answer.records.length} records but nextOffset ${answer.nextOffset} from offset ${offset}`);
    }
    return answer.nextOffset;
  }
  const tail = body.toString('latin1', Math.max(0, body.length - TAIL_BYTES));
  const match = /"nextOffset":(\d+)/.exec(tail);
  if (match !== null) return Number(match[1]);
  return (JSON.parse(body.toString('utf8')) as { nextOffset: number }).nextOffset;
}

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
    const body = await getBody(http, path);
    histogram.recordMs(performance.now() - sentAt);
    const nextOffset = nextOffsetOf(body, isFirst, offset, path);
    isFirst = false;
    if (nextOffset <= offset) throw new Error(`GET ${path}: nextOffset ${nextOffset} did not move past ${offset} below highWatermark ${highWatermark}`);
    progress.records += nextOffset - offset;
    progress.bytes += body.length;
    offset = nextOffset;
  }
}

export const fetchScenario: Scenario = {
  name: 'fetch',
  description: `fetch throughput: preload ~1M x 100 B over ${FETCH_PARTITIONS} partitions, read all with maxRecords=${FETCH_RECORDS_MAX}, 1 and ${FETCH_PARTITIONS} readers`,
  async run(context) {
    const { settings } = context;
    const concurrencies = [1, FETCH_PARTITIONS].filter((concurrency) => context.isRowWanted(fetchLabel(concurrency)));
    if (concurrencies.length === 0) return { rows: [] };
    const http = await context.runnel();
    const topic = benchTopicName('fetch');
    await http.createTopic(topic, FETCH_PARTITIONS);
    try {
      context.log(`  preloading up to ${settings.fetchPreloadRecordCount} records (at most ${settings.fetchPreloadTimeMaxMs / 1000} s)`);
      const body = produceBody(jsonValueOfSize(FETCH_VALUE_BYTES), PRELOAD_BATCH_SIZE);
      const preload = await runClosedLoop({
        concurrency: FETCH_PARTITIONS,
        warmupMs: 0,
        durationMs: settings.fetchPreloadTimeMaxMs,
        maxOperations: Math.ceil(settings.fetchPreloadRecordCount / PRELOAD_BATCH_SIZE),
        operation: (worker) => http.send('POST', `/v1/topics/${topic}/partitions/${worker}/records?acks=leader`, body),
      });
      const highWatermarks: number[] = [];
      for (let partition = 0; partition < FETCH_PARTITIONS; partition++) highWatermarks.push(await http.highWatermark(topic, partition));
      const preloaded = highWatermarks.reduce((sum, value) => sum + value, 0);
      const preloadNote = `preloaded ${preloaded} records in ${(preload.elapsedMs / 1000).toFixed(1)} s`;
      context.log(`  ${preloadNote}`);

      const rows: ResultRow[] = [];
      for (const concurrency of concurrencies) {
        const label = fetchLabel(concurrency);
        context.log(`  ${label}`);
        const histogram = new Histogram();
        const progress: ReadProgress = { records: 0, bytes: 0, isComplete: true };
        const startedAt = performance.now();
        const deadline = startedAt + settings.fetchReadTimeMaxMs;
        if (concurrency === 1) {
          for (let partition = 0; partition < FETCH_PARTITIONS; partition++) {
            await readPartition(http, topic, partition, highWatermarks[partition], deadline, histogram, progress);
          }
        } else {
          await Promise.all(highWatermarks.map((highWatermark, partition) =>
            readPartition(http, topic, partition, highWatermark, deadline, histogram, progress)));
        }
        const elapsedMs = performance.now() - startedAt;
        const row = throughputRow({
          scenario: 'fetch',
          system: 'runnel',
          label,
          params: { valueBytes: FETCH_VALUE_BYTES, concurrency, partitions: FETCH_PARTITIONS, maxRecords: FETCH_RECORDS_MAX, maxBytes: FETCH_BYTES_MAX },
          records: progress.records,
          elapsedMs,
          valueBytes: FETCH_VALUE_BYTES,
          latency: histogram.summary(),
          compareKey: fetchCompareKey(concurrency),
          notes: [preloadNote, `response bodies ${(progress.bytes / 1e6 / (elapsedMs / 1000)).toFixed(1)} MB/s of JSON`],
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
