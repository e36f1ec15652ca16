/**
 * runnel bench produce|consume: load from this machine against a node, with a live
 * progress bar on stderr (when it is a terminal) and a final table of throughput and
 * request latency (p50/p99/p999). Every run is bounded by --records.
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { createRequire } from 'node:module';
import type CliProgress from 'cli-progress';
import type { Command } from 'commander';
import type { Runnel } from '../client.js';
import { integerAtLeast } from '../arguments.js';
import { isApiError, withClient } from '../context.js';
import { formatCount, note, printJson, renderTable, writeOut } from '../output.js';
import { payloadText } from '../record-format.js';

interface BenchOptions {
  topic: string;
  records: number;
  recordSize: number;
  batch: number;
  concurrency: number;
  partitions: number;
}

export interface BenchResult {
  bench: 'produce' | 'consume';
  topic: string;
  records: number;
  bytes: number;
  seconds: number;
  recordsPerSecond: number;
  megabytesPerSecond: number;
  requests: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
}

function addCommonOptions(command: Command, batchDefault: number, concurrencyDefault: number): Command {
  return command
    .option('-t, --topic <topic>', 'topic to use (created when missing)', 'runnel-bench')
    .option('-n, --records <n>', 'records to produce or consume', integerAtLeast(1), 100_000)
    .option('-s, --record-size <bytes>', 'bytes of each value', integerAtLeast(1), 100)
    .option('-b, --batch <n>', 'records per request', integerAtLeast(1), batchDefault)
    .option('-c, --concurrency <n>', 'requests in flight at once', integerAtLeast(1), concurrencyDefault)
    .option('-p, --partitions <n>', 'partitions of the topic if it is created', integerAtLeast(1), 1);
}

export function registerBenchCommands(program: Command): void {
  const bench = program.command('bench').description('measure produce or consume throughput and latency against a node');

  addCommonOptions(bench.command('produce'), 100, 4)
    .description('produce --records records of --record-size bytes in batches of --batch, --concurrency requests at once')
    .action(async (options: BenchOptions, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await ensureTopic(client, options);
        await report(await benchProduce(client, options, options.records, true), output);
      });
    });

  addCommonOptions(bench.command('consume'), 1000, 1)
    .description('fetch --records records from the start of the topic (producing first what is missing)')
    .action(async (options: BenchOptions, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await ensureTopic(client, options);
        await report(await benchConsume(client, options), output);
      });
    });
}

async function ensureTopic(client: Runnel, options: BenchOptions): Promise<void> {
  try {
    await client.topics.describe(options.topic);
  } catch (error) {
    if (!isApiError(error, 'TOPIC_NOT_FOUND')) throw error;
    await client.topics.create({ name: options.topic, partitions: options.partitions });
  }
}

/** A cli-progress bar on stderr, or nothing when stderr is not a terminal. */
function progressBar(label: string, total: number): { increment: (count: number) => void; stop: () => void } {
  if (process.stderr.isTTY !== true) return { increment: () => undefined, stop: () => undefined };
  const cliProgress = createRequire(import.meta.url)('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `${label} [{bar}] {percentage}% | {value}/{total} records | {speed} rec/s | ETA {eta_formatted}`,
    hideCursor: true,
    clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const startedAtMs = performance.now();
  bar.start(total, 0, { speed: '0' });
  let value = 0;
  return {
    increment: (count) => {
      value += count;
      bar.update(value, { speed: formatCount(value / Math.max(0.001, (performance.now() - startedAtMs) / 1000)) });
    },
    stop: () => bar.stop(),
  };
}

function result(bench: BenchResult['bench'], topic: string, records: number, bytes: number, seconds: number, histogram: RecordableHistogram): BenchResult {
  const ms = (microseconds: number): number => Math.round(microseconds / 10) / 100;
  return {
    bench,
    topic,
    records,
    bytes,
    seconds: Number(seconds.toFixed(3)),
    recordsPerSecond: Math.round(records / seconds),
    megabytesPerSecond: Number((bytes / 1e6 / seconds).toFixed(2)),
    requests: histogram.count,
    latencyMs: {
      p50: ms(histogram.percentile(50)),
      p99: ms(histogram.percentile(99)),
      p999: ms(histogram.percentile(99.9)),
      max: ms(histogram.max),
    },
  };
}

async function benchProduce(client: Runnel, options: BenchOptions, recordCount: number, isMeasured: boolean): Promise<BenchResult> {
  const value = 'x'.repeat(options.recordSize);
  const histogram = createHistogram();
  const bar = progressBar(isMeasured ? 'produce' : 'producing records to consume', recordCount);
  let sentCount = 0;
  const startedAtMs = performance.now();
  const worker = async (): Promise<void> => {
    while (sentCount < recordCount) {
      const count = Math.min(options.batch, recordCount - sentCount);
      sentCount += count;
      const records = Array.from({ length: count }, () => ({ value }));
      const requestStartedAtMs = performance.now();
      await client.send({ topic: options.topic, records, valueFormat: 'string' });
      histogram.record(Math.max(1, Math.round((performance.now() - requestStartedAtMs) * 1000)));
      bar.increment(count);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - startedAtMs) / 1000;
  return result('produce', options.topic, recordCount, recordCount * options.recordSize, seconds, histogram);
}

async function benchConsume(client: Runnel, options: BenchOptions): Promise<BenchResult> {
  let description = await client.topics.describe(options.topic);
  const stored = description.partitions.reduce((sum, info) => sum + info.highWatermark - info.logStartOffset, 0);
  if (stored < options.records) {
    note(`${options.topic} holds ${stored} records; producing ${options.records - stored} more first`);
    await benchProduce(client, options, options.records - stored, false);
    description = await client.topics.describe(options.topic);
  }
  const histogram = createHistogram();
  const bar = progressBar('consume', options.records);
  let readCount = 0;
  let byteCount = 0;
  // Partitions dealt to the workers round robin; each reads its own from the start.
  const queues = Array.from({ length: Math.min(options.concurrency, description.partitions.length) }, () => [] as Array<{ partition: number; offset: number; end: number }>);
  description.partitions.forEach((info, index) => queues[index % queues.length].push({ partition: info.partition, offset: info.logStartOffset, end: info.highWatermark }));
  const startedAtMs = performance.now();
  const worker = async (queue: Array<{ partition: number; offset: number; end: number }>): Promise<void> => {
    for (const cursor of queue) {
      while (cursor.offset < cursor.end && readCount < options.records) {
        const requestStartedAtMs = performance.now();
        const answer = await client.fetch(options.topic, cursor.partition, { offset: cursor.offset, maxRecords: Math.min(options.batch, options.records - readCount) });
        histogram.record(Math.max(1, Math.round((performance.now() - requestStartedAtMs) * 1000)));
        if (answer.records.length === 0) break;
        const count = Math.min(answer.records.length, options.records - readCount);
        for (let index = 0; index < count; index++) byteCount += Buffer.byteLength(payloadText(answer.records[index].value));
        readCount += count;
        cursor.offset = answer.nextOffset;
        bar.increment(count);
      }
    }
  };
  try {
    await Promise.all(queues.map(worker));
  } finally {
    bar.stop();
  }
  const seconds = (performance.now() - startedAtMs) / 1000;
  return result('consume', options.topic, readCount, byteCount, seconds, histogram);
}

async function report(bench: BenchResult, output: string): Promise<void> {
  if (output === 'json') return printJson(bench);
  await writeOut(renderTable(
    ['bench', 'records', 'records/s', 'MB/s', 'p50 ms', 'p99 ms', 'p999 ms'],
    [[bench.bench, formatCount(bench.records), formatCount(bench.recordsPerSecond), bench.megabytesPerSecond.toFixed(2),
      bench.latencyMs.p50.toFixed(2), bench.latencyMs.p99.toFixed(2), bench.latencyMs.p999.toFixed(2)]],
  ) + '\n');
}
