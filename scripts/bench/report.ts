/**
 * The human side of the results: a fixed-width table of every row (Runnel and Redis),
 * the notes rows carry, the targets, and what was skipped or failed. Plain text on
 * stdout so it pastes into an issue as it is.
 */
import { rssBytesPerPartition, type ResultRow } from './scenario.js';
import type { TargetResult } from './target-helpers.js';

const HEADERS = ['scenario', 'rec/s', 'MB/s', 'srv us/rec', 'p50 ms', 'p99 ms', 'p999 ms', 'vs Redis'] as const;

/** '-' for rows that are not a throughput (e.g. failover time): their recordsPerSecond is NaN. */
function formatRecordsPerSecond(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function formatMs(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return value < 10 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(1);
}

/** The server's CPU microseconds per record: 3 decimals below 1 us, 2 below 100. */
function formatMicrosPerRecord(value: number | null | undefined): string {
  if (value === undefined || value === null || !Number.isFinite(value)) return '-';
  return value < 1 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(0);
}

function cells(row: ResultRow): string[] {
  return [
    row.label,
    formatRecordsPerSecond(row.recordsPerSecond),
    row.megabytesPerSecond === null ? '-' : row.megabytesPerSecond.toFixed(1),
    formatMicrosPerRecord(row.serverCpu?.microsPerRecord),
    formatMs(row.latency?.p50Ms),
    formatMs(row.latency?.p99Ms),
    formatMs(row.latency?.p999Ms),
    row.vsRedis === undefined ? '-' : `${row.vsRedis.toFixed(2)}x`,
  ];
}

/** Columns before `numericFrom` are text (left-aligned), the rest numbers (right-aligned). */
function alignedTable(headers: readonly string[], body: string[][], numericFrom: number): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...body.map((line) => line[column].length)));
  const render = (line: readonly string[]): string =>
    line.map((cell, column) => (column < numericFrom ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ').trimEnd();
  return [render(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...body.map(render)].join('\n');
}

export function formatResultsTable(rows: ResultRow[]): string {
  return alignedTable(HEADERS, rows.map(cells), 1);
}

export function formatNotes(rows: ResultRow[]): string[] {
  const lines: string[] = [];
  for (const row of rows) for (const note of row.notes ?? []) lines.push(`  ${row.label}: ${note}`);
  return lines;
}

export function formatTargets(targets: TargetResult[]): string {
  const status = (target: TargetResult): string => (target.isMet === null ? 'NOT MEASURED' : target.isMet ? 'met' : 'MISSED');
  const headers = ['target', 'goal', 'measured', 'status'];
  return alignedTable(headers, targets.map((target) => [target.name, target.goal, target.actual, status(target)]), headers.length);
}

const STARTUP_HEADERS = [
  'scenario', 'empty ready ms', 'create ms', 'fds empty', 'fds idle', 'fds/partition', 'log files open', 'RSS MB', 'RSS KB/partition',
  'SIGTERM ms', 'restart ready ms', 'RSS MB', 'fds',
  'kill -9 ready ms', 'RSS MB', 'recovered segments',
] as const;

function formatMegabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function startupCells(row: ResultRow): string[] {
  const resources = row.startup;
  if (resources === undefined) return [row.label, ...STARTUP_HEADERS.slice(1).map(() => '-')];
  const { idle, afterStop, afterKill } = resources;
  const perPartition = (idle.openFiles - resources.emptyOpenFiles) / resources.partitions;
  return [
    row.label,
    Math.round(resources.emptyReadyMs).toLocaleString('en-US'),
    Math.round(resources.createMs).toLocaleString('en-US'),
    String(resources.emptyOpenFiles),
    String(idle.openFiles),
    perPartition.toFixed(3),
    idle.logFilesOpen === null ? '-' : String(idle.logFilesOpen),
    formatMegabytes(idle.rssBytes),
    (rssBytesPerPartition(resources) / 1e3).toFixed(1),
    Math.round(resources.stopMs).toLocaleString('en-US') + (resources.isStopGraceful ? '' : ' (killed)'),
    Math.round(afterStop.readyMs).toLocaleString('en-US'),
    formatMegabytes(afterStop.rssBytes),
    String(afterStop.openFiles),
    Math.round(afterKill.readyMs).toLocaleString('en-US'),
    formatMegabytes(afterKill.rssBytes),
    afterKill.recovery?.recoveredSegments === undefined ? '-' : String(afterKill.recovery.recoveredSegments),
  ];
}

/**
 * The `partitions` rows: the first start's time to ready (empty data directory), the
 * time creating the topics took, idle descriptors (before any topic, and with one record in
 * each partition), descriptors per partition ((idle - empty) / partitions),
 * runnel_log_files_open, RSS and RSS per partition (kB, (idle - empty) / partitions); then the time SIGTERM took, and after it and after
 * a kill -9 the time from spawn to ready, RSS and descriptors at ready.
 */
export function formatStartupTable(rows: ResultRow[]): string {
  return alignedTable(STARTUP_HEADERS, rows.map(startupCells), 1);
}
