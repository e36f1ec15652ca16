/**
 * What the CLI prints: tables (cli-table3) for people, JSON for scripts, and raw
 * lines for record output, written with backpressure so a slow pipe is never
 * buffered without bound.
 */
import { createRequire } from 'node:module';
import type TableType from 'cli-table3';

// Loaded on first use: a command that prints no table does not pay for it.
const require = createRequire(import.meta.url);
let Table: typeof TableType | undefined;

export type OutputMode = 'json' | 'table';

/** Writes to stdout, waiting when the pipe is full. */
export async function writeOut(text: string): Promise<void> {
  if (text === '') return;
  if (!process.stdout.write(text)) {
    await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
  }
}

/** One JSON document on stdout: what `--output json` prints for every command but consume. */
export async function printJson(value: unknown): Promise<void> {
  await writeOut(JSON.stringify(value, null, 2) + '\n');
}

/** A table with plain (uncoloured) borders and headings, so it reads the same in a pipe. */
export function renderTable(head: string[], rows: Array<Array<string | number>>): string {
  Table ??= require('cli-table3') as typeof TableType;
  const table = new Table({
    head,
    style: { head: [], border: [] },
    // No rule between body rows: one line per row, easy to read and to grep.
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
  });
  for (const row of rows) table.push(row.map((cell) => String(cell)));
  return table.toString();
}

/** `name: value` lines, for one object's fields. */
export function renderFields(fields: Array<[string, string | number]>): string {
  const width = Math.max(...fields.map(([name]) => name.length));
  return fields.map(([name, value]) => `${(name + ':').padEnd(width + 1)} ${value}`).join('\n');
}

/** 11900.4 -> "11,900". */
export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

/** Text for a notice on stderr (progress, summaries): never mixed into stdout's data. */
export function note(text: string): void {
  process.stderr.write(text + '\n');
}
