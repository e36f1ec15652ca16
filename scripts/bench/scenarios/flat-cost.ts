/**
 * Flat cost at scale: what a request costs should not depend on where it reads in a
 * large partition or on how many partitions a node writes to. A node of its own, its
 * data on /dev/shm (or RUNNEL_BENCH_PARTITIONS_DIR, data-dirs.ts) so the disk and the
 * page cache do not decide the result:
 *
 *   - fetch position: a one-partition topic is filled with 1 GiB of 100 B records
 *     (256 MiB with --quick, in the label) in record batches of 1,000; then 4 readers
 *     fetch 10,000 records at offset 0 again and again, and then the last 10,000
 *     records before the high watermark, JSON and record-batch answers. Every answer
 *     of a row is the same size as its first, which is checked in full. The topic
 *     keeps the product's default segment.bytes (1 GiB).
 *   - produce spread: 8 producers send batches of 1,000 x 100 B, each request to
 *     the next partition in turn, on a topic of 4 and of 1,000 partitions (JSON and
 *     record batches); each topic is deleted after its row.
 *
 * The targets compare the pairs: offset 0 within 10% of the tail, 1,000 partitions
 * at 80% or more of 4. Every loop is bounded in records and time.
 */
import { encodeBatch } from '../../../src/record/encode.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { RunnelHttp } from '../runnel-http.js';
import { startRunnel, type RunnelNode } from '../runnel-node.js';
import { benchTopicName, throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { filesystemOf, makeDataDir, parentDirectory, removeDataDir } from '../data-dirs.js';
import { RECORD_BATCH_WIRE, WIRES, type BenchWire } from '../wire.js';

const VALUE_BYTES = 100;
const BATCH_SIZE = 1000;
const FULL_PARTITION_BYTES = 1024 ** 3;
const QUICK_PARTITION_BYTES = 256 * 1024 ** 2;
/** Filling the large partition may take this long at most (a busy machine), then the rows run on what is there. */
const FILL_TIME_MAX_MS = 120_000;
const FETCH_RECORDS = 10_000;
const FETCH_BYTES_MAX = 16 * 1024 * 1024;
const FETCH_CONCURRENCY = 4;
const PRODUCE_CONCURRENCY = 8;
const SPREAD_PARTITION_COUNTS = [4, 1000] as const;
const CONNECTIONS = 16;

export type FetchPosition = 'offset 0' | 'tail';

export function flatFetchLabel(wire: BenchWire, position: FetchPosition, partitionBytes: number): string {
  return `fetch${wire.suffix} ${position} of ${partitionBytes / 1024 ** 3 >= 1 ? `${partitionBytes / 1024 ** 3} GiB` : `${partitionBytes / 1024 ** 2} MiB`} c${FETCH_CONCURRENCY}`;
}

export function spreadLabel(wire: BenchWire, partitions: number): string {
  return `produce${wire.suffix} ${sizeLabel(VALUE_BYTES)} x${BATCH_SIZE} c${PRODUCE_CONCURRENCY} over ${partitions.toLocaleString('en-US')} partitions`;
}

interface FlatNode {
  node: RunnelNode;
  http: RunnelHttp;
  filesystem: string;
}

/**
 * One record batch of `BATCH_SIZE` 100 B JSON values marked as JSON (valueFormat
 * json), so JSON answers carry them as JSON as they would after a JSON produce.
 */
function jsonValuesBatch(): Buffer {
  const value = Buffer.from(jsonValueOfSize(VALUE_BYTES));
  const nowMs = Date.now();
  const records = Array.from({ length: BATCH_SIZE }, () => ({ key: null, value, headers: null, timestampMs: nowMs }));
  return encodeBatch(records, { leaderEpoch: -1, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'json' });
}

/** Fills partition 0 of `topic` with record batches until it holds `partitionBytes` (or the time is up); returns the high watermark. */
async function fill(context: BenchContext, http: RunnelHttp, topic: string, partitionBytes: number): Promise<{ highWatermark: number; bytes: number; ms: number }> {
  const body = jsonValuesBatch();
  const requests = Math.ceil(partitionBytes / body.length);
  context.log(`  filling ${topic} with ${(requests * body.length / 1024 ** 2).toFixed(0)} MiB (${requests} record batches of ${BATCH_SIZE} x ${VALUE_BYTES} B)`);
  const result = await runClosedLoop({
    concurrency: 2,
    warmupMs: 0,
    durationMs: FILL_TIME_MAX_MS,
    maxOperations: requests,
    operation: () => http.send('POST', `/v1/topics/${topic}/partitions/0/records?acks=leader`, body, 200, RECORD_BATCH_WIRE.mediaType),
  });
  const highWatermark = await http.highWatermark(topic, 0);
  return { highWatermark, bytes: (highWatermark / BATCH_SIZE) * body.length, ms: result.elapsedMs };
}

/** One fetch at `offset`: the answer's size and how many records it covers (the first answer is checked in full). */
async function fetchOnce(http: RunnelHttp, wire: BenchWire, topic: string, offset: number, isFullCheck: boolean): Promise<{ bytes: number; records: number }> {
  const path = `/v1/topics/${topic}/partitions/0/records?offset=${offset}&maxRecords=${FETCH_RECORDS}&maxBytes=${FETCH_BYTES_MAX}`;
  const response = await http.pool.request({ method: 'GET', path, headers: { accept: wire.mediaType } });
  const chunks: Buffer[] = [];
  for await (const chunk of response.body) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (response.statusCode !== 200) throw new Error(`GET ${path}: expected HTTP 200, got ${response.statusCode}: ${body.toString('utf8', 0, 500)}`);
  const nextOffset = wire.nextOffset(body, response.headers, isFullCheck, offset, VALUE_BYTES, `GET ${path}`);
  return { bytes: body.length, records: nextOffset - offset };
}

async function fetchRow(context: BenchContext, flat: FlatNode, wire: BenchWire, topic: string, offset: number, label: string, filled: string): Promise<ResultRow> {
  const { settings } = context;
  const { http } = flat;
  const first = await fetchOnce(http, wire, topic, offset, true);
  if (first.records <= 0) throw new Error(`${label}: the fetch at offset ${offset} returned no record`);
  const result = await runClosedLoop({
    concurrency: FETCH_CONCURRENCY,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    maxOperations: Math.max(FETCH_CONCURRENCY, Math.floor(settings.rowRecordCountMax / first.records)),
    operation: async () => {
      const answer = await fetchOnce(http, wire, topic, offset, false);
      if (answer.bytes !== first.bytes) throw new Error(`${label}: an answer of ${answer.bytes} B where the first had ${first.bytes} B`);
    },
    serverPids: http.serverPids,
  });
  return throughputRow({
    scenario: 'flat-cost',
    system: 'runnel',
    label,
    params: { kind: 'fetch-position', position: offset === 0 ? 'offset 0' : 'tail', offset, valueBytes: VALUE_BYTES, concurrency: FETCH_CONCURRENCY, maxRecords: FETCH_RECORDS, mediaType: wire.mediaType },
    records: result.operations * first.records,
    elapsedMs: result.elapsedMs,
    valueBytes: VALUE_BYTES,
    latency: result.histogram.summary(),
    cpuWindow: result.serverCpu,
    notes: [`${filled}; each answer ${first.records} records, ${first.bytes} B; data on ${flat.filesystem}`],
  });
}

function wantedFetchRows(context: BenchContext): Array<{ wire: BenchWire; position: FetchPosition; label: string }> {
  const partitionBytes = partitionBytesFor(context);
  return WIRES.flatMap((wire) => (['offset 0', 'tail'] as const).map((position) => ({ wire, position, label: flatFetchLabel(wire, position, partitionBytes) })))
    .filter((row) => context.isRowWanted(row.label));
}

function wantedSpreadRows(context: BenchContext): Array<{ wire: BenchWire; partitions: number; label: string }> {
  return WIRES.flatMap((wire) => SPREAD_PARTITION_COUNTS.map((partitions) => ({ wire, partitions, label: spreadLabel(wire, partitions) })))
    .filter((row) => context.isRowWanted(row.label));
}

function partitionBytesFor(context: BenchContext): number {
  return context.options.isQuick ? QUICK_PARTITION_BYTES : FULL_PARTITION_BYTES;
}

async function fetchPositionRows(context: BenchContext, flat: FlatNode): Promise<ResultRow[]> {
  const partitionBytes = partitionBytesFor(context);
  const wanted = wantedFetchRows(context);
  if (wanted.length === 0) return [];
  const topic = benchTopicName('flat-fetch');
  await flat.http.createTopic(topic, 1);
  try {
    const { highWatermark, bytes, ms } = await fill(context, flat.http, topic, partitionBytes);
    const filled = `partition of ${highWatermark} records, ${(bytes / 1024 ** 2).toFixed(0)} MiB, filled in ${(ms / 1000).toFixed(1)} s`;
    if (highWatermark < 2 * FETCH_RECORDS) throw new Error(`${topic}: only ${highWatermark} records after ${FILL_TIME_MAX_MS / 1000} s of filling`);
    const rows: ResultRow[] = [];
    for (const { wire, position, label } of wanted) {
      context.log(`  ${label}`);
      const row = await fetchRow(context, flat, wire, topic, position === 'offset 0' ? 0 : highWatermark - FETCH_RECORDS, label, filled);
      if (bytes < partitionBytes) row.notes?.push(`the fill stopped at ${(bytes / 1024 ** 2).toFixed(0)} MiB of ${(partitionBytes / 1024 ** 2).toFixed(0)} (time limit)`);
      rows.push(row);
    }
    return rows;
  } finally {
    await flat.http.deleteTopic(topic);
  }
}

async function spreadRow(context: BenchContext, flat: FlatNode, wire: BenchWire, partitions: number, label: string): Promise<ResultRow> {
  const { settings } = context;
  const { http } = flat;
  const topic = benchTopicName('flat-spread');
  const createdAt = performance.now();
  await http.createTopic(topic, partitions);
  const createMs = performance.now() - createdAt;
  try {
    const body = wire.produceBody(VALUE_BYTES, BATCH_SIZE);
    const pathOf = (partition: number): string => `/v1/topics/${topic}/partitions/${partition}/records?acks=leader`;
    // Every partition once, unmeasured: each has its first segment before the row starts.
    for (let partition = 0; partition < partitions; partition++) {
      wire.checkProduceAnswer(await http.text('POST', pathOf(partition), body, 200, wire.mediaType), BATCH_SIZE, label);
    }
    let next = 0;
    const recordCountMax = Math.min(settings.rowRecordCountMax, Math.floor(settings.rowValueBytesMax / VALUE_BYTES));
    const result = await runClosedLoop({
      concurrency: PRODUCE_CONCURRENCY,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      maxOperations: Math.max(PRODUCE_CONCURRENCY, Math.floor(recordCountMax / BATCH_SIZE)),
      operation: () => http.send('POST', pathOf(next++ % partitions), body, 200, wire.mediaType),
      serverPids: http.serverPids,
    });
    return throughputRow({
      scenario: 'flat-cost',
      system: 'runnel',
      label,
      params: { kind: 'produce-spread', partitions, valueBytes: VALUE_BYTES, batchSize: BATCH_SIZE, concurrency: PRODUCE_CONCURRENCY, acks: 'leader', mediaType: wire.mediaType },
      records: result.operations * BATCH_SIZE,
      elapsedMs: result.elapsedMs,
      valueBytes: VALUE_BYTES,
      latency: result.histogram.summary(),
      cpuWindow: result.serverCpu,
      notes: [`each request to the next partition in turn; topic created in ${createMs.toFixed(0)} ms and every partition written once before the row; data on ${flat.filesystem}`],
    });
  } finally {
    await http.deleteTopic(topic);
  }
}

async function spreadRows(context: BenchContext, flat: FlatNode): Promise<ResultRow[]> {
  const rows: ResultRow[] = [];
  for (const { wire, partitions, label } of wantedSpreadRows(context)) {
    context.log(`  ${label}`);
    rows.push(await spreadRow(context, flat, wire, partitions, label));
  }
  return rows;
}

export const flatCostScenario: Scenario = {
  name: 'flat-cost',
  description: `flat cost: fetch at offset 0 vs the tail of a 1 GiB partition (256 MiB with --quick), produce over ${SPREAD_PARTITION_COUNTS.join(' vs ')} partitions; a node of its own on /dev/shm`,
  async run(context) {
    if (wantedFetchRows(context).length === 0 && wantedSpreadRows(context).length === 0) return { rows: [] };
    const dataDir = await makeDataDir('runnel-bench-flat-');
    let flat: FlatNode | undefined;
    try {
      const node = await startRunnel({ dataDir });
      const filesystem = await filesystemOf(parentDirectory());
      flat = { node, http: new RunnelHttp(node.origin, CONNECTIONS, undefined, node.pid === undefined ? [] : [node.pid]), filesystem };
      context.log(`  node ${node.origin} (pid ${node.pid}), data on ${filesystem}`);
      return { rows: [...await fetchPositionRows(context, flat), ...await spreadRows(context, flat)] };
    } finally {
      await flat?.http.close();
      await flat?.node.stop();
      await removeDataDir(dataDir);
    }
  },
};
