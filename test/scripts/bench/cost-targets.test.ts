/**
 * The benchmark's cost targets read the right rows: CPU per record and the ratio to
 * Redis off the fastest row of a shape, flat-cost pairs per media type (the worst
 * pair decides), and "not measured" (never "met") when a row is missing.
 */
import t from 'tap';
import { evaluateCostTargets } from '../../../scripts/bench/cost-targets.js';
import type { ResultRow } from '../../../scripts/bench/scenario.js';

const BATCHES = 'application/vnd.runnel.record-batch';

function row(fields: Partial<ResultRow> & Pick<ResultRow, 'scenario' | 'label' | 'params' | 'recordsPerSecond'>): ResultRow {
  return { system: 'runnel', records: 1, elapsedMs: 1, megabytesPerSecond: null, latency: null, ...fields };
}

function byName(rows: ResultRow[], name: string) {
  const found = evaluateCostTargets(rows).find((target) => target.name === name);
  if (found === undefined) throw new Error(`no target ${name}`);
  return found;
}

void t.test('CPU per record and the ratio to Redis are judged on the fastest row of the shape', async (t) => {
  const rows = [
    row({ scenario: 'produce', label: 'produce 100 B x1000 c1', params: { valueBytes: 100, batchSize: 1000, mediaType: 'application/json' }, recordsPerSecond: 100, vsRedis: 3, serverCpu: { processes: 1, cpuMs: 1, microsPerRecord: 0.5 } }),
    row({ scenario: 'produce', label: 'produce 100 B x1000 c8', params: { valueBytes: 100, batchSize: 1000, mediaType: 'application/json' }, recordsPerSecond: 200, vsRedis: 1.5, serverCpu: { processes: 1, cpuMs: 1, microsPerRecord: 0.9 } }),
    row({ scenario: 'produce-binary', label: 'produce-binary 100 B x1000 c8', params: { valueBytes: 100, batchSize: 1000, mediaType: BATCHES }, recordsPerSecond: 900, vsRedis: 6, serverCpu: { processes: 1, cpuMs: 1, microsPerRecord: 0.1 } }),
  ];
  const cpu = byName(rows, 'JSON produce 100 B x1000: server CPU');
  t.equal(cpu.isMet, false, 'the c8 row (0.9 us) decides, not the slower c1 row');
  t.match(cpu.actual, /0\.900 us\/record \(produce 100 B x1000 c8\)/);
  t.equal(byName(rows, 'JSON produce 100 B x1000 vs Redis XADD').isMet, false);
  t.equal(byName(rows, 'record-batch produce 100 B x1000: server CPU').isMet, true, 'record-batch rows are told apart by media type');
  t.equal(byName(rows, 'record-batch produce 100 B x1000 vs Redis XADD').isMet, true);
  t.equal(byName(rows, 'JSON fetch 100 B: server CPU').isMet, null, 'no fetch row: not measured');
});

void t.test('flat cost: every media type pair must reach the ratio; a missing pair is not measured', async (t) => {
  const spread = (partitions: number, mediaType: string, recordsPerSecond: number) => row({
    scenario: 'flat-cost', label: `spread ${partitions} ${mediaType}`, params: { kind: 'produce-spread', partitions, mediaType }, recordsPerSecond,
  });
  const name = 'produce over 1,000 partitions vs over 4';
  t.equal(byName([spread(4, 'application/json', 100), spread(1000, 'application/json', 85)], name).isMet, true);
  t.equal(byName([spread(4, 'application/json', 100), spread(1000, 'application/json', 85), spread(4, BATCHES, 100), spread(1000, BATCHES, 70)], name).isMet, false, 'the worse pair decides');
  t.equal(byName([spread(4, 'application/json', 100)], name).isMet, null);

  const fetchAt = (position: string, recordsPerSecond: number) => row({
    scenario: 'flat-cost', label: `fetch ${position}`, params: { kind: 'fetch-position', position, mediaType: BATCHES }, recordsPerSecond,
  });
  t.equal(byName([fetchAt('offset 0', 91), fetchAt('tail', 100)], 'fetch at offset 0 of a large partition vs its tail').isMet, true);
  t.equal(byName([fetchAt('offset 0', 89), fetchAt('tail', 100)], 'fetch at offset 0 of a large partition vs its tail').isMet, false);

  const cluster = (replicationFactor: number, recordsPerSecond: number) => row({
    scenario: 'cluster', label: `RF${replicationFactor}`, params: { replicationFactor, acks: 'all', mediaType: BATCHES }, recordsPerSecond,
  });
  t.equal(byName([cluster(3, 49), cluster(1, 100)], 'RF 3 acks=all record-batch produce vs single node').isMet, false);
  t.equal(byName([cluster(3, 50), cluster(1, 100)], 'RF 3 acks=all record-batch produce vs single node').isMet, true);
});
