/**
 * The human side of the results: a fixed-width table of every row (Runnel and Redis),
 * the notes rows carry, the targets, and what was skipped or failed. Plain text on
 * stdout so it pastes into an issue as it is.
 */
import type { ResultRow } from './scenario.js';
import type { TargetResult } from './targets.js';

const HEADERS = ['scenario', 'rec/s', 'MB/s', 'p50 ms', 'p99 ms', 'p999 ms', 'vs Redis'] as const;

/** '-' for rows that are not a throughput (e.g. failover time): their recordsPerSecond is NaN. */
function formatRecordsPerSecond(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-';
}

function formatMs(value: number | undefined): string {
  if (value === undefined || Number.isNaN(value)) return '-';
  return value < 10 ? value.toFixed(3) : value < 100 ? value.toFixed(2) : value.toFixed(1);
}

function cells(row: ResultRow): string[] {
  return [
    row.label,
    formatRecordsPerSecond(row.recordsPerSecond),
    row.megabytesPerSecond === null ? '-' : row.megabytesPerSecond.toFixed(1),
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
