/**
 * The targets of the throughput-over-HTTP issue: the server's CPU per record and the
 * ratio to Redis Streams for JSON and record-batch produce and fetch, record-batch
 * produce of 1 KiB records, flat cost at scale (fetch position, partitions written,
 * RSS per idle partition) and the replicated record-batch produce. Each throughput
 * and CPU figure is read off the fastest row of its shape, the row the ratio to Redis
 * is judged on too, so a slow row cannot pass one target and a fast one the other.
 */
import { rssBytesPerPartition, type ResultRow } from './scenario.js';
import { best, integer, notMeasured, runnelRows, throughputTarget, type TargetResult } from './target-helpers.js';

const RECORD_BATCH_MEDIA_TYPE = 'application/vnd.runnel.record-batch';

function fastest(rows: ResultRow[]): ResultRow | undefined {
  return best(rows, (row) => row.recordsPerSecond);
}

/** The server's CPU microseconds per record of the fastest of `candidates`, at most `maximum`. */
function cpuTarget(name: string, goal: string, candidates: ResultRow[], maximum: number): TargetResult {
  const row = fastest(candidates);
  const micros = row?.serverCpu?.microsPerRecord;
  if (row === undefined || micros === undefined || micros === null) return notMeasured(name, goal);
  return { name, goal, actual: `${micros.toFixed(3)} us/record (${row.label})`, isMet: micros <= maximum };
}

/** The fastest of `candidates` over its Redis peer (same compareKey), at least `minimum`. */
function redisRatioTarget(name: string, goal: string, candidates: ResultRow[], minimum: number): TargetResult {
  const row = fastest(candidates);
  if (row?.vsRedis === undefined) return notMeasured(name, goal);
  return { name, goal, actual: `${row.vsRedis.toFixed(2)}x (${row.label})`, isMet: row.vsRedis >= minimum };
}

/**
 * The lowest ratio over the pairs (one per media type) of `numerator` rows / `denominator`
 * rows in records/s: every pair must reach `minimum`. Each pair is shown with its rows'
 * records/s (the labels are in the table above).
 */
function pairRatioTarget(name: string, goal: string, pairs: Array<[ResultRow | undefined, ResultRow | undefined]>, minimum: number): TargetResult {
  const measured = pairs.filter((pair): pair is [ResultRow, ResultRow] => pair[0] !== undefined && pair[1] !== undefined && pair[1].recordsPerSecond > 0);
  if (measured.length === 0) return notMeasured(name, goal);
  const ratios = measured.map(([numerator, denominator]) => ({ ratio: numerator.recordsPerSecond / denominator.recordsPerSecond, numerator, denominator }));
  const worst = ratios.reduce((low, each) => (each.ratio < low.ratio ? each : low));
  const text = ratios.map(({ ratio, numerator, denominator }) =>
    `${ratio.toFixed(2)} ${isBinary(numerator) ? 'record batches' : 'JSON'} (${integer(numerator.recordsPerSecond)} / ${integer(denominator.recordsPerSecond)} rec/s)`).join('; ');
  return { name, goal, actual: text, isMet: worst.ratio >= minimum };
}

function isBinary(row: ResultRow): boolean {
  return row.params.mediaType === RECORD_BATCH_MEDIA_TYPE;
}

function flatFetchPairs(rows: ResultRow[]): Array<[ResultRow | undefined, ResultRow | undefined]> {
  const fetches = runnelRows(rows, (row) => row.scenario === 'flat-cost' && row.params.kind === 'fetch-position');
  return [false, true].map((binary) => {
    const ofWire = fetches.filter((row) => isBinary(row) === binary);
    return [ofWire.find((row) => row.params.position === 'offset 0'), ofWire.find((row) => row.params.position === 'tail')];
  });
}

function spreadPairs(rows: ResultRow[]): Array<[ResultRow | undefined, ResultRow | undefined]> {
  const spread = runnelRows(rows, (row) => row.scenario === 'flat-cost' && row.params.kind === 'produce-spread');
  return [false, true].map((binary) => {
    const ofWire = spread.filter((row) => isBinary(row) === binary);
    return [ofWire.find((row) => row.params.partitions === 1000), ofWire.find((row) => row.params.partitions === 4)];
  });
}

function clusterBinaryPair(rows: ResultRow[]): Array<[ResultRow | undefined, ResultRow | undefined]> {
  const binaryAll = runnelRows(rows, (row) => row.scenario === 'cluster' && isBinary(row) && row.params.acks === 'all');
  return [[binaryAll.find((row) => row.params.replicationFactor === 3), binaryAll.find((row) => row.params.replicationFactor === 1)]];
}

/** The partitions row with the most partitions: the fixed cost of an idle node spread the thinnest. */
function rssPerPartitionTarget(rows: ResultRow[]): TargetResult {
  const name = 'RSS per idle partition';
  const goal = 'reported';
  const row = best(runnelRows(rows, (each) => each.startup !== undefined), (each) => each.startup!.partitions);
  if (row?.startup === undefined) return notMeasured(name, goal);
  return { name, goal, actual: `${(rssBytesPerPartition(row.startup) / 1e3).toFixed(1)} kB (${row.label})`, isMet: true };
}

export function evaluateCostTargets(rows: ResultRow[]): TargetResult[] {
  const produce100x1000 = (binary: boolean): ResultRow[] => runnelRows(rows, (row) =>
    (row.scenario === 'produce' || row.scenario === 'produce-binary') && isBinary(row) === binary && row.params.valueBytes === 100 && row.params.batchSize === 1000);
  const fetch100 = (binary: boolean): ResultRow[] => runnelRows(rows, (row) => (row.scenario === 'fetch' || row.scenario === 'fetch-binary') && isBinary(row) === binary);
  const binaryProduce1KiB = runnelRows(rows, (row) => row.scenario === 'produce-binary' && row.params.valueBytes === 1024);
  return [
    cpuTarget('JSON produce 100 B x1000: server CPU', '<= 0.8 us/record', produce100x1000(false), 0.8),
    redisRatioTarget('JSON produce 100 B x1000 vs Redis XADD', '>= 2x, same run', produce100x1000(false), 2),
    cpuTarget('JSON fetch 100 B: server CPU', '<= 0.6 us/record', fetch100(false), 0.6),
    redisRatioTarget('JSON fetch 100 B vs Redis XRANGE', '>= 1.5x, same run', fetch100(false), 1.5),
    cpuTarget('record-batch produce 100 B x1000: server CPU', '<= 0.15 us/record', produce100x1000(true), 0.15),
    redisRatioTarget('record-batch produce 100 B x1000 vs Redis XADD', '>= 5x, same run', produce100x1000(true), 5),
    cpuTarget('record-batch fetch 100 B: server CPU', '<= 0.15 us/record', fetch100(true), 0.15),
    redisRatioTarget('record-batch fetch 100 B vs Redis XRANGE', '>= 5x, same run', fetch100(true), 5),
    throughputTarget('record-batch produce 1 KiB records', '>= 400 MB/s', binaryProduce1KiB, 400, 'MB/s'),
    pairRatioTarget('fetch at offset 0 of a large partition vs its tail', "within 10%: >= 0.90 of the tail's rec/s", flatFetchPairs(rows), 0.9),
    pairRatioTarget('produce over 1,000 partitions vs over 4', '>= 0.80 of the rec/s', spreadPairs(rows), 0.8),
    rssPerPartitionTarget(rows),
    pairRatioTarget('RF 3 acks=all record-batch produce vs single node', '>= 0.50 of the rec/s', clusterBinaryPair(rows), 0.5),
  ];
}
