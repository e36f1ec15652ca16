/**
 * What a scenario is and what it hands back: rows of the final table. A row's
 * `compareKey` pairs a Runnel row with the Redis Streams row measured the same way
 * (same value size, batch and concurrency), which gives the "vs Redis" ratio.
 */
import type { LatencySummary } from './histogram.js';
import type { BenchOptions, BenchSettings, ScenarioName } from './options.js';
import type { RunnelHttp } from './runnel-http.js';
import { serverCpuOf, type CpuWindow, type ServerCpu } from './server-cpu.js';

export interface ResultRow {
  scenario: ScenarioName;
  system: 'runnel' | 'redis';
  /** Shown in the table, e.g. "produce 100 B x1000 c8". */
  label: string;
  params: Record<string, number | string>;
  records: number;
  elapsedMs: number;
  recordsPerSecond: number;
  /** Value bytes per second / 10^6; null where it means nothing (latency rows). */
  megabytesPerSecond: number | null;
  /** Per request (batch) for throughput rows; per record for end-to-end. */
  latency: LatencySummary | null;
  compareKey?: string;
  /**
   * The server's CPU time (/proc utime + stime, every node of a cluster summed) over
   * the measured window, and per record moved: the "srv us/rec" column. Absent where
   * nothing was read (no /proc, an in-process row, a row that is not a throughput).
   */
  serverCpu?: ServerCpu;
  /** Runnel records/s divided by the matching Redis row's; filled in by run.ts. */
  vsRedis?: number;
  notes?: string[];
  /** Rows of the `partitions` scenario: shown in the "start-up and resources" table, not the throughput one. */
  startup?: StartupResources;
}

/** GET /health/ready's `recovery` object. */
export interface RecoverySummary {
  partitions?: number;
  cleanPartitions?: number;
  recoveredSegments?: number;
  truncatedBytes?: number;
  durationMs?: number;
}

export interface StartReading {
  /** Spawn to the first GET /health/ready 200. */
  readyMs: number;
  rssBytes: number;
  openFiles: number;
  recovery: RecoverySummary | null;
}

/** What a node holding `partitions` partitions costs idle and at start-up. */
export interface StartupResources {
  partitions: number;
  /** Filesystem type and directory the data directory was on. */
  filesystem: string;
  /** Creating the topics (one request per 10,000 partitions). */
  createMs: number;
  /** The first start, on an empty data directory: spawn to ready (the node's fixed start-up cost). */
  emptyReadyMs: number;
  /** Open descriptors and RSS of the node before any topic exists. */
  emptyOpenFiles: number;
  emptyRssBytes: number;
  /** After one record in each partition and a settle: descriptors, runnel_log_files_open, RSS. */
  idle: { openFiles: number; logFilesOpen: number | null; rssBytes: number };
  /** SIGTERM to exit. */
  stopMs: number;
  isStopGraceful: boolean;
  afterStop: StartReading;
  afterKill: StartReading;
}

/** What one idle partition adds to the node's RSS: (idle RSS - RSS before any topic) / partitions. */
export function rssBytesPerPartition(resources: StartupResources): number {
  return (resources.idle.rssBytes - resources.emptyRssBytes) / resources.partitions;
}

export interface BenchContext {
  options: BenchOptions;
  settings: BenchSettings;
  /** The shared Runnel node's HTTP client; the node starts on first use. */
  runnel(): Promise<RunnelHttp>;
  /** A progress line on stderr (the table goes to stdout). */
  log(line: string): void;
  /** False for a row `--match` leaves out; scenarios skip such rows before any work. */
  isRowWanted(label: string): boolean;
}

export interface ScenarioOutcome {
  rows: ResultRow[];
  /** Lines for the report when (part of) a scenario was skipped. */
  skipped?: string[];
}

export interface Scenario {
  name: ScenarioName;
  description: string;
  run(context: BenchContext): Promise<ScenarioOutcome>;
}

/** `cpuWindow`: the server's CPU time over the same window as `elapsedMs`, made per record here. */
export function throughputRow(
  fields: Omit<ResultRow, 'recordsPerSecond' | 'megabytesPerSecond' | 'serverCpu'> & { valueBytes: number | null; cpuWindow?: CpuWindow },
): ResultRow {
  const { valueBytes, cpuWindow, ...row } = fields;
  const seconds = row.elapsedMs / 1000;
  const recordsPerSecond = seconds > 0 ? row.records / seconds : 0;
  return {
    ...row,
    recordsPerSecond,
    megabytesPerSecond: valueBytes === null ? null : (recordsPerSecond * valueBytes) / 1e6,
    ...(cpuWindow === undefined ? {} : { serverCpu: serverCpuOf(cpuWindow, row.records) }),
  };
}

/** Unique names so reruns inside one node never collide. */
let topicSequence = 0;
export function benchTopicName(stem: string): string {
  topicSequence += 1;
  return `bench-${stem}-${topicSequence}`;
}
