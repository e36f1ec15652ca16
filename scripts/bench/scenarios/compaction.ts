/**
 * Compaction (issue 16): cleaner throughput and reads by key.
 *
 *  - `cleaner N MB K keys`: in this process, on real files in a temporary directory,
 *    a compacted partition of about N MB (100 B JSON values, keys drawn from K) is
 *    written, fsynced and cleaned by a LogCleaner with no I/O limit until nothing is
 *    due; MB/s is log bytes cleaned (read and rewritten) per second of cleaning.
 *  - `key index rebuild`: the same partition's key index built from its log, as a
 *    start does (records/s read).
 *  - `key lookup K keys`: over HTTP against the shared node, GET
 *    /v1/topics/{topic}/keys/{key} of random keys of a compacted topic holding K keys,
 *    one request at a time after a warm-up: p50/p99/p999 per request.
 *
 * Every loop is bounded in records and time.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodeBatch } from '../../../src/record/encode.js';
import { LogCleaner } from '../../../src/storage/cleaner/log-cleaner.js';
import { KeyIndex, KeyIndexBudget } from '../../../src/storage/key-index.js';
import { DEFAULT_LOG_CONFIG } from '../../../src/storage/log-config.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { Histogram } from '../histogram.js';
import { jsonValueOfSize } from '../payload.js';
import { benchTopicName, throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { startServerCpu } from '../server-cpu.js';

const VALUE_BYTES = 100;
const RECORDS_PER_BATCH = 1000;

interface Sizes { logMegabytes: number; keyCount: number; lookupKeyCount: number; lookupCount: number; timeMaxMs: number }

function sizesFor(context: BenchContext): Sizes {
  return context.options.isQuick
    ? { logMegabytes: 32, keyCount: 50_000, lookupKeyCount: 20_000, lookupCount: 2_000, timeMaxMs: 30_000 }
    : { logMegabytes: 128, keyCount: 200_000, lookupKeyCount: 100_000, lookupCount: 10_000, timeMaxMs: 120_000 };
}

/** A deterministic key sequence (xorshift), so runs compare. */
function keyPicker(keyCount: number): () => number {
  let state = 0x2545f491;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % keyCount;
  };
}

async function cleanerRows(context: BenchContext, sizes: Sizes): Promise<ResultRow[]> {
  const cleanLabel = `cleaner ${sizes.logMegabytes} MB ${sizes.keyCount / 1000}k keys`;
  const rebuildLabel = `key index rebuild ${sizes.keyCount / 1000}k keys`;
  if (!context.isRowWanted(cleanLabel) && !context.isRowWanted(rebuildLabel)) return [];
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-bench-compaction-'));
  const config = { ...DEFAULT_LOG_CONFIG, segmentBytes: 16 * 1024 * 1024, isCompacted: true, isDeleted: false, minCleanableDirtyRatio: 0 };
  const log = PartitionLog.open(directory, config);
  try {
    context.log(`  ${cleanLabel}: writing`);
    const value = Buffer.from(jsonValueOfSize(VALUE_BYTES));
    const pick = keyPicker(sizes.keyCount);
    const deadline = performance.now() + sizes.timeMaxMs;
    while (log.sizeBytes < sizes.logMegabytes * 1e6 && performance.now() < deadline) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, () => ({ key: Buffer.from(`key-${pick()}`), value, headers: null, timestampMs: Date.now() }));
      log.appendAsLeader(encodeBatch(records, { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'json' }), 0);
    }
    log.roll();
    log.updateHighWatermark(log.logEndOffset);
    await log.flushUpTo();
    const recordCount = log.logEndOffset;
    const bytesBefore = log.sizeBytes;
    const budget = KeyIndexBudget.unbounded();
    const rebuildStart = performance.now();
    const index = KeyIndex.build(log.localLog, log, budget);
    const rebuildMs = performance.now() - rebuildStart;
    const rebuild = throughputRow({
      scenario: 'compaction', system: 'runnel', label: rebuildLabel,
      params: { keys: index.keyCount, records: recordCount },
      records: recordCount, elapsedMs: rebuildMs, valueBytes: null, latency: null,
      notes: [`${index.keyCount} keys from ${recordCount} records (not yet cleaned) in ${rebuildMs.toFixed(0)} ms; ${index.memoryBytes} bytes of index (${(index.memoryBytes / index.keyCount).toFixed(1)} per key)`],
    });
    index.release();
    const cleaner = new LogCleaner(() => [['bench', log]], { dedupeBufferBytes: 32 * 1024 * 1024, ioBytesPerSecond: 0, backoffMs: 60_000 });
    context.log(`  ${cleanLabel}: cleaning ${(bytesBefore / 1e6).toFixed(1)} MB, ${recordCount} records`);
    const startedAt = performance.now();
    for (let round = 0; round < 100 && performance.now() < deadline + sizes.timeMaxMs && (await cleaner.cleanOnce()) !== undefined; round++);
    const cleanMs = performance.now() - startedAt;
    const clean = throughputRow({
      scenario: 'compaction', system: 'runnel', label: cleanLabel,
      params: { logBytes: bytesBefore, keys: sizes.keyCount, valueBytes: VALUE_BYTES },
      records: recordCount, elapsedMs: cleanMs, valueBytes: null, latency: null,
      notes: [`${(bytesBefore / 1e6 / (cleanMs / 1000)).toFixed(1)} MB/s of log cleaned: ${(bytesBefore / 1e6).toFixed(1)} MB to ${(log.sizeBytes / 1e6).toFixed(1)} MB in ${cleaner.stats.rounds} round(s), ${cleaner.stats.recordsRemoved} records removed`],
    });
    clean.megabytesPerSecond = bytesBefore / 1e6 / (cleanMs / 1000);
    return [rebuild, clean];
  } finally {
    await log.close();
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

async function lookupRow(context: BenchContext, sizes: Sizes): Promise<ResultRow[]> {
  const label = `key lookup ${sizes.lookupKeyCount / 1000}k keys c1`;
  if (!context.isRowWanted(label)) return [];
  const http = await context.runnel();
  const topic = benchTopicName('keys');
  await http.createTopic(topic, 1, { 'cleanup.policy': 'compact' });
  try {
    context.log(`  ${label}`);
    const value = jsonValueOfSize(VALUE_BYTES);
    const deadline = performance.now() + sizes.timeMaxMs;
    for (let start = 0; start < sizes.lookupKeyCount && performance.now() < deadline; start += RECORDS_PER_BATCH) {
      const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => `{"key":"key-${start + i}","value":${value}}`);
      await http.text('POST', `/v1/topics/${topic}/partitions/0/records`, `{"records":[${records.join(',')}]}`);
    }
    const pick = keyPicker(sizes.lookupKeyCount);
    for (let i = 0; i < sizes.lookupCount / 10 && performance.now() < deadline; i++) await http.send('GET', `/v1/topics/${topic}/keys/key-${pick()}`, undefined);
    const histogram = new Histogram();
    const cpu = startServerCpu(http.serverPids);
    const startedAt = performance.now();
    for (let i = 0; i < sizes.lookupCount && performance.now() < deadline; i++) {
      const sentAt = performance.now();
      await http.send('GET', `/v1/topics/${topic}/keys/key-${pick()}`, undefined);
      histogram.recordMs(performance.now() - sentAt);
    }
    const elapsedMs = performance.now() - startedAt;
    const cpuWindow = cpu.stop();
    return [throughputRow({
      scenario: 'compaction', system: 'runnel', label,
      params: { keys: sizes.lookupKeyCount, valueBytes: VALUE_BYTES, concurrency: 1 },
      records: histogram.count, elapsedMs, valueBytes: VALUE_BYTES, latency: histogram.summary(), cpuWindow,
    })];
  } finally {
    await http.deleteTopic(topic);
  }
}

export const compactionScenario: Scenario = {
  name: 'compaction',
  description: 'cleaner throughput and key index rebuild (in-process, real files); key lookup latency over HTTP',
  async run(context) {
    const sizes = sizesFor(context);
    return { rows: [...await cleanerRows(context, sizes), ...await lookupRow(context, sizes)] };
  },
};
