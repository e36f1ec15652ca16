/**
 * `node dist/scripts/bench/markdown.js <bench-results/....json>`: the results of a run as
 * the Markdown the README's Performance section shows (every throughput row, its Redis
 * ratio and server CPU per record, then the targets), so the table is pasted from a run
 * rather than typed.
 */
import { readFile } from 'node:fs/promises';
import type { ResultRow } from './scenario.js';
import type { TargetResult } from './targets.js';

interface Results {
  startedAt: string;
  environment?: Record<string, unknown>;
  rows: ResultRow[];
  targets: TargetResult[];
  skipped?: string[];
  failures?: Array<{ scenario: string; message: string }>;
}

const integer = (value: number): string => (Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-');
const ms = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '-' : value < 10 ? value.toFixed(2) : value.toFixed(1));

/** A row of the Markdown table: label, rec/s, MB/s, p50, p99, vs Redis, server us/record. */
export function markdownRow(row: ResultRow): string {
  const cells = [
    row.system === 'redis' ? `${row.label} (Redis)` : row.label,
    integer(row.recordsPerSecond),
    row.megabytesPerSecond === null ? '-' : row.megabytesPerSecond.toFixed(1),
    ms(row.latency?.p50Ms),
    ms(row.latency?.p99Ms),
    row.vsRedis === undefined ? '-' : `${row.vsRedis.toFixed(2)}x`,
    row.serverCpu?.microsPerRecord === undefined || row.serverCpu.microsPerRecord === null ? '-' : row.serverCpu.microsPerRecord.toFixed(2),
  ];
  return `| ${cells.join(' | ')} |`;
}

export function markdownOf(results: Results): string {
  const lines = [
    '| scenario | rec/s | MB/s | p50 ms | p99 ms | vs Redis | srv us/rec |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...results.rows.filter((row) => row.startup === undefined).map(markdownRow),
    '',
    '| target | goal | measured | status |',
    '|---|---|---|---|',
    ...results.targets.map((target) => `| ${target.name} | ${target.goal} | ${target.actual} | ${target.isMet === null ? 'not measured' : target.isMet ? 'met' : '**missed**'} |`),
  ];
  for (const line of results.skipped ?? []) lines.push('', `Skipped: ${line}`);
  for (const failure of results.failures ?? []) lines.push('', `Failed: ${failure.scenario}: ${failure.message.split('\n')[0]}`);
  return lines.join('\n') + '\n';
}

async function main(argv: string[]): Promise<number> {
  if (argv.length !== 1) {
    process.stderr.write('Usage: node dist/scripts/bench/markdown.js <bench-results/<date>.json>\n');
    return 2;
  }
  const results = JSON.parse(await readFile(argv[0], 'utf8')) as Results;
  process.stdout.write(markdownOf(results));
  return 0;
}

if (process.argv[1]?.endsWith('markdown.js')) process.exitCode = await main(process.argv.slice(2));
