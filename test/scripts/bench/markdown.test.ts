/** The README's Performance table is rendered from a run's JSON (scripts/bench/markdown.ts). */
import t from 'tap';
import { markdownOf } from '../../../scripts/bench/markdown.js';
import type { ResultRow } from '../../../scripts/bench/scenario.js';

const row = (overrides: Partial<ResultRow>): ResultRow => ({
  scenario: 'produce', system: 'runnel', label: 'produce 100 B x1000 c8', params: {}, records: 1_000_000, elapsedMs: 2_000,
  recordsPerSecond: 500_000, megabytesPerSecond: 50, latency: { p50Ms: 1.234, p99Ms: 12.5, p999Ms: 20, count: 100 } as ResultRow['latency'], ...overrides,
});

void t.test('every throughput row with its Redis ratio and server CPU, then the targets', async (t) => {
  const text = markdownOf({
    startedAt: '2026-12-05T10:00:00Z',
    rows: [
      row({ vsRedis: 1.25, serverCpu: { processes: 1, cpuMs: 1500, microsPerRecord: 1.5 } as ResultRow['serverCpu'] }),
      row({ system: 'redis', recordsPerSecond: 400_000 }),
      row({ label: 'start-up', startup: {} as ResultRow['startup'] }),
    ],
    targets: [
      { name: 'JSON produce CPU', goal: '<= 0.8 us/record', actual: '1.50 us/record', isMet: false },
      { name: 'fetch', goal: '>= 1', actual: 'not measured', isMet: null },
    ],
    skipped: ['redis rows: redis-server not found'],
  });
  const lines = text.split('\n');
  t.equal(lines[0], '| scenario | rec/s | MB/s | p50 ms | p99 ms | vs Redis | srv us/rec |');
  t.equal(lines[2], '| produce 100 B x1000 c8 | 500,000 | 50.0 | 1.23 | 12.5 | 1.25x | 1.50 |');
  t.equal(lines[3], '| produce 100 B x1000 c8 (Redis) | 400,000 | 50.0 | 1.23 | 12.5 | - | - |');
  t.notOk(text.includes('start-up'), 'start-up rows have a table of their own in the bench output');
  t.ok(lines.includes('| JSON produce CPU | <= 0.8 us/record | 1.50 us/record | **missed** |'));
  t.ok(lines.includes('| fetch | >= 1 | not measured | not measured |'));
  t.ok(lines.includes('Skipped: redis rows: redis-server not found'));
});
