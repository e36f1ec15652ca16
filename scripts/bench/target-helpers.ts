/**
 * The pieces every benchmark target is made of: picking rows, the best of them, and
 * a target that was not measured. A target whose rows were not measured (scenario
 * not selected, skipped or failed) is "not measured", never "met".
 */
import type { ResultRow } from './scenario.js';

export interface TargetResult {
  name: string;
  goal: string;
  /** The measured value in words, e.g. "412,000 rec/s (produce 100 B x1000 c8)". */
  actual: string;
  /** true met, false missed, null not measured. */
  isMet: boolean | null;
}

export function runnelRows(rows: ResultRow[], predicate: (row: ResultRow) => boolean): ResultRow[] {
  return rows.filter((row) => row.system === 'runnel' && predicate(row));
}

/** The row with the highest value of `measure`, or undefined when there is none. */
export function best(rows: ResultRow[], measure: (row: ResultRow) => number): ResultRow | undefined {
  let winner: ResultRow | undefined;
  for (const row of rows) if (winner === undefined || measure(row) > measure(winner)) winner = row;
  return winner;
}

export function notMeasured(name: string, goal: string): TargetResult {
  return { name, goal, actual: 'not measured', isMet: null };
}

export const integer = (value: number): string => Math.round(value).toLocaleString('en-US');

/** The best of `candidates` by records/s or MB/s, at least `minimum`. */
export function throughputTarget(name: string, goal: string, candidates: ResultRow[], minimum: number, unit: 'rec/s' | 'MB/s'): TargetResult {
  const measure = (row: ResultRow): number => (unit === 'rec/s' ? row.recordsPerSecond : row.megabytesPerSecond ?? 0);
  const row = best(candidates, measure);
  if (row === undefined) return notMeasured(name, goal);
  const value = measure(row);
  const text = unit === 'rec/s' ? `${integer(value)} rec/s` : `${value.toFixed(1)} MB/s`;
  return { name, goal, actual: `${text} (${row.label})`, isMet: value >= minimum };
}
