/**
 * The peer measured in the same run: Redis Streams on this machine, driven the way
 * the Runnel rows are, so each Redis row carries the compareKey of its Runnel
 * counterpart and run.ts can print "vs Redis".
 *
 * - produce: XADD <stream> * value <the same JSON bytes>, `batchSize` commands
 *   pipelined in one write per operation (Runnel's one request per batch), one
 *   connection per worker, 1 or 8 workers, a fresh stream per row (DEL after).
 * - produce-fsync: the same 1000 x 100 B c8 row against a second redis-server with
 *   appendonly yes + appendfsync always (Redis's fsync-before-reply).
 * - fetch: the same number of 100 B entries preloaded into 4 streams, then read with
 *   XRANGE <stream> <start> + COUNT 10000 (exclusive start "(id" after the first
 *   page): one reader walking the streams in turn (c1) and one per stream (c4).
 *   Replies are parsed into arrays of Buffers (no copies of the values), which is
 *   roughly what the Runnel reader does when it receives a JSON body.
 *
 * Skipped, with one line saying so, when redis-server is not on PATH.
 */
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { findRedisServer, REDIS_INSTALL_HINT, startRedis, type RedisNode } from '../redis-node.js';
import { encodeCommand, RespClient, type RespValue } from '../resp.js';
import { throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { startServerCpu } from '../server-cpu.js';
import { FETCH_PARTITIONS, FETCH_RECORDS_MAX, FETCH_VALUE_BYTES, fetchCompareKey } from './fetch.js';
import { FSYNC_BATCH_SIZE, FSYNC_CONCURRENCY, FSYNC_VALUE_BYTES, fsyncCompareKey } from './produce-fsync.js';
import { BATCH_SIZES, CONCURRENCIES, produceCompareKey, VALUE_SIZES_BYTES } from './produce.js';

const FIELD = 'value';
const PRELOAD_BATCH_SIZE = 1000;

interface RedisProduceSpec {
  scenario: 'redis';
  label: string;
  valueBytes: number;
  batchSize: number;
  concurrency: number;
  compareKey: string;
  persistence: string;
}

async function connectAll(port: number, count: number): Promise<RespClient[]> {
  const clients: RespClient[] = [];
  try {
    for (let index = 0; index < count; index++) clients.push(await RespClient.connect(port));
  } catch (error) {
    await Promise.all(clients.map((client) => client.close()));
    throw error;
  }
  return clients;
}

async function closeAll(clients: RespClient[]): Promise<void> {
  await Promise.all(clients.map((client) => client.close()));
}

async function measureProduce(context: BenchContext, redis: RedisNode, spec: RedisProduceSpec, streamSequence: number): Promise<ResultRow> {
  const { settings } = context;
  const stream = `bench-produce-${streamSequence}`;
  const clients = await connectAll(redis.port, spec.concurrency);
  try {
    const command = encodeCommand(['XADD', stream, '*', FIELD, jsonValueOfSize(spec.valueBytes)]);
    const payload = Buffer.concat(new Array<Buffer>(spec.batchSize).fill(command));
    const first = await clients[0].pipeline(payload, spec.batchSize);
    if (first.length !== spec.batchSize || !first.every((id) => Buffer.isBuffer(id))) {
      throw new Error(`${spec.label}: expected ${spec.batchSize} stream ids from XADD, got ${JSON.stringify(first.slice(0, 3))}`);
    }
    const recordCountMax = Math.min(settings.rowRecordCountMax, Math.floor(settings.rowValueBytesMax / spec.valueBytes));
    const result = await runClosedLoop({
      concurrency: spec.concurrency,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      maxOperations: Math.max(spec.concurrency, Math.floor(recordCountMax / spec.batchSize)),
      operation: (worker) => clients[worker].pipeline(payload, spec.batchSize, false),
      serverPids: redis.pid === undefined ? [] : [redis.pid],
    });
    return throughputRow({
      scenario: spec.scenario,
      system: 'redis',
      label: spec.label,
      params: {
        valueBytes: spec.valueBytes, batchSize: spec.batchSize, concurrency: spec.concurrency,
        command: 'XADD (pipelined)', persistence: spec.persistence, redisVersion: redis.version,
      },
      records: result.operations * spec.batchSize,
      elapsedMs: result.elapsedMs,
      valueBytes: spec.valueBytes,
      latency: result.histogram.summary(),
      cpuWindow: result.serverCpu,
      compareKey: spec.compareKey,
    });
  } finally {
    // Free the stream's memory before the next row (UNLINK would defer it into the next row's time).
    await clients[0].command('DEL', stream).catch(() => undefined);
    await closeAll(clients);
  }
}

/** The id (as text) of the last entry of an XRANGE reply, and how many entries it had. */
function lastEntry(reply: RespValue, what: string): { count: number; lastId: string | undefined } {
  if (!Array.isArray(reply)) throw new Error(`${what}: expected an array from XRANGE, got ${String(reply).slice(0, 200)}`);
  if (reply.length === 0) return { count: 0, lastId: undefined };
  const last = reply[reply.length - 1];
  const id = Array.isArray(last) ? last[0] : undefined;
  if (!Buffer.isBuffer(id)) throw new Error(`${what}: an XRANGE entry should be [id, [field, value]], got ${JSON.stringify(last).slice(0, 200)}`);
  return { count: reply.length, lastId: id.toString('latin1') };
}

interface ReadProgress {
  records: number;
  isComplete: boolean;
}

async function readStream(
  client: RespClient, stream: string, length: number, deadline: number, histogram: Histogram, progress: ReadProgress,
): Promise<void> {
  let start = '-';
  let read = 0;
  let isFirst = true;
  while (read < length) {
    if (performance.now() >= deadline) {
      progress.isComplete = false;
      return;
    }
    const sentAt = performance.now();
    const reply = await client.command('XRANGE', stream, start, '+', 'COUNT', String(FETCH_RECORDS_MAX));
    histogram.recordMs(performance.now() - sentAt);
    const { count, lastId } = lastEntry(reply, `XRANGE ${stream} ${start}`);
    if (isFirst) {
      const entry = (reply as RespValue[])[0] as RespValue[];
      const fields = entry[1] as RespValue[];
      if (!Array.isArray(fields) || !Buffer.isBuffer(fields[1]) || fields[1].length !== FETCH_VALUE_BYTES) {
        throw new Error(`XRANGE ${stream}: the first entry should carry a ${FETCH_VALUE_BYTES} B value, got ${JSON.stringify(entry).slice(0, 200)}`);
      }
      isFirst = false;
    }
    if (count === 0 || lastId === undefined) throw new Error(`XRANGE ${stream} ${start}: no entries after ${read} of ${length}`);
    read += count;
    progress.records += count;
    start = `(${lastId}`;
  }
}

function xrangeLabel(concurrency: number): string {
  return `redis XRANGE ${sizeLabel(FETCH_VALUE_BYTES)} c${concurrency}`;
}

async function measureFetch(context: BenchContext, redis: RedisNode, concurrencies: number[]): Promise<ResultRow[]> {
  const { settings } = context;
  const streams = Array.from({ length: FETCH_PARTITIONS }, (_, index) => `bench-fetch-${index}`);
  const clients = await connectAll(redis.port, FETCH_PARTITIONS);
  try {
    context.log(`  redis: preloading up to ${settings.fetchPreloadRecordCount} entries into ${FETCH_PARTITIONS} streams`);
    const value = jsonValueOfSize(FETCH_VALUE_BYTES);
    const payloads = streams.map((stream) => Buffer.concat(new Array<Buffer>(PRELOAD_BATCH_SIZE).fill(encodeCommand(['XADD', stream, '*', FIELD, value]))));
    const preload = await runClosedLoop({
      concurrency: FETCH_PARTITIONS,
      warmupMs: 0,
      durationMs: settings.fetchPreloadTimeMaxMs,
      maxOperations: Math.ceil(settings.fetchPreloadRecordCount / PRELOAD_BATCH_SIZE),
      operation: (worker) => clients[worker].pipeline(payloads[worker], PRELOAD_BATCH_SIZE, false),
    });
    const lengths: number[] = [];
    for (const stream of streams) {
      const length = await clients[0].command('XLEN', stream);
      if (typeof length !== 'number') throw new Error(`XLEN ${stream}: expected an integer, got ${String(length)}`);
      lengths.push(length);
    }
    const preloaded = lengths.reduce((sum, length) => sum + length, 0);
    const preloadNote = `preloaded ${preloaded} entries in ${(preload.elapsedMs / 1000).toFixed(1)} s`;

    const rows: ResultRow[] = [];
    for (const concurrency of concurrencies) {
      const label = xrangeLabel(concurrency);
      context.log(`  ${label}`);
      const histogram = new Histogram();
      const progress: ReadProgress = { records: 0, isComplete: true };
      const cpu = startServerCpu([redis.pid]);
      const startedAt = performance.now();
      const deadline = startedAt + settings.fetchReadTimeMaxMs;
      if (concurrency === 1) {
        for (let index = 0; index < streams.length; index++) {
          await readStream(clients[0], streams[index], lengths[index], deadline, histogram, progress);
        }
      } else {
        await Promise.all(streams.map((stream, index) => readStream(clients[index], stream, lengths[index], deadline, histogram, progress)));
      }
      const elapsedMs = performance.now() - startedAt;
      const cpuWindow = cpu.stop();
      const row = throughputRow({
        scenario: 'redis',
        system: 'redis',
        label,
        params: { valueBytes: FETCH_VALUE_BYTES, concurrency, streams: FETCH_PARTITIONS, count: FETCH_RECORDS_MAX, command: 'XRANGE', redisVersion: redis.version },
        records: progress.records,
        elapsedMs,
        valueBytes: FETCH_VALUE_BYTES,
        latency: histogram.summary(),
        cpuWindow,
        compareKey: fetchCompareKey(concurrency),
        notes: [preloadNote],
      });
      if (!progress.isComplete) row.notes?.push(`time limit reached after ${progress.records} of ${preloaded} entries`);
      rows.push(row);
    }
    return rows;
  } finally {
    await clients[0].command('DEL', ...streams).catch(() => undefined);
    await closeAll(clients);
  }
}

export const redisScenario: Scenario = {
  name: 'redis',
  description: 'Redis Streams peer: pipelined XADD like the produce rows (no persistence, and appendfsync always), XRANGE like the fetch rows',
  async run(context) {
    const executable = await findRedisServer();
    if (executable === undefined) {
      return {
        rows: [],
        skipped: [`redis: redis-server is not on PATH, so there is no "vs Redis" column; install it (${REDIS_INSTALL_HINT}) to measure Redis Streams in the same run`],
      };
    }
    const rows: ResultRow[] = [];
    let streamSequence = 0;

    const produceSpecs: RedisProduceSpec[] = [];
    for (const valueBytes of VALUE_SIZES_BYTES) {
      for (const batchSize of BATCH_SIZES) {
        for (const concurrency of CONCURRENCIES) {
          produceSpecs.push({
            scenario: 'redis', label: `redis XADD ${sizeLabel(valueBytes)} x${batchSize} c${concurrency}`, valueBytes, batchSize, concurrency,
            compareKey: produceCompareKey(valueBytes, batchSize, concurrency), persistence: 'none',
          });
        }
      }
    }
    const wantedProduceSpecs = produceSpecs.filter((spec) => context.isRowWanted(spec.label));
    const fetchConcurrencies = [1, FETCH_PARTITIONS].filter((concurrency) => context.isRowWanted(xrangeLabel(concurrency)));
    if (wantedProduceSpecs.length > 0 || fetchConcurrencies.length > 0) {
      const memory = await startRedis(executable, false);
      context.log(`  redis-server ${memory.version} (no persistence) on port ${memory.port}`);
      try {
        for (const spec of wantedProduceSpecs) {
          context.log(`  ${spec.label}`);
          streamSequence += 1;
          rows.push(await measureProduce(context, memory, spec, streamSequence));
        }
        if (fetchConcurrencies.length > 0) rows.push(...await measureFetch(context, memory, fetchConcurrencies));
      } finally {
        await memory.stop();
      }
    }

    const fsyncLabel = `redis XADD fsync ${sizeLabel(FSYNC_VALUE_BYTES)} x${FSYNC_BATCH_SIZE} c${FSYNC_CONCURRENCY}`;
    if (!context.isRowWanted(fsyncLabel)) return { rows };
    const durable = await startRedis(executable, true);
    context.log(`  redis-server ${durable.version} (appendfsync always) on port ${durable.port}`);
    try {
      context.log(`  ${fsyncLabel}`);
      streamSequence += 1;
      rows.push(await measureProduce(context, durable, {
        scenario: 'redis', label: fsyncLabel, valueBytes: FSYNC_VALUE_BYTES, batchSize: FSYNC_BATCH_SIZE, concurrency: FSYNC_CONCURRENCY,
        compareKey: fsyncCompareKey, persistence: 'appendonly yes, appendfsync always',
      }, streamSequence));
    } finally {
      await durable.stop();
    }
    return { rows };
  },
};
