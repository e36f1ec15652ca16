/**
 * `runnel bench produce|consume`: a small bounded run, its table and its JSON.
 */
import t from 'tap';
import { describeResult, runnel, startTestNode } from './support.js';

void t.test('bench produce and consume report throughput and latency percentiles', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[]) => runnel(t, ['--url', server.url, ...args], { timeoutMs: 30_000 });

  const produced = await cli(['bench', 'produce', '--topic', 'bench', '--records', '3000', '--record-size', '200', '--batch', '100', '--concurrency', '2', '--partitions', '2']);
  t.equal(produced.code, 0, describeResult(produced));
  t.match(produced.stdout, /│ bench\s+│ records │ records\/s │ MB\/s │ p50 ms │ p99 ms │ p999 ms │/);
  t.match(produced.stdout, /│ produce │ 3,000\s+│ [\d,]+\s+│ [\d.]+\s+│ [\d.]+\s+│ [\d.]+\s+│ [\d.]+\s+│/);
  t.equal(produced.stderr, '', 'no progress bar when stderr is not a terminal');

  const described = JSON.parse((await cli(['topic', 'describe', 'bench', '-o', 'json'])).stdout);
  t.equal(described.partitions.length, 2, 'created with --partitions');
  t.equal(described.partitions.reduce((sum: number, partition: { highWatermark: number }) => sum + partition.highWatermark, 0), 3000);

  const consumed = await cli(['bench', 'consume', '--topic', 'bench', '--records', '5000', '--record-size', '200', '--batch', '500', '-o', 'json']);
  t.equal(consumed.code, 0, describeResult(consumed));
  const result = JSON.parse(consumed.stdout);
  t.equal(result.bench, 'consume');
  t.equal(result.records, 5000, 'reads --records');
  t.equal(result.bytes, 5000 * 200);
  t.ok(result.recordsPerSecond > 0);
  t.ok(result.latencyMs.p50 > 0 && result.latencyMs.p50 <= result.latencyMs.p99 && result.latencyMs.p99 <= result.latencyMs.p999);
  t.match(consumed.stderr, /holds 3000 records; producing 2000 more first/);
});
