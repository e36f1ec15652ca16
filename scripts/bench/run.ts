/**
 * `npm run bench -- [--quick] [--only a,b] [--json path]`: runs the selected scenarios
 * over real HTTP against one Runnel node started as a child process (the built CLI,
 * a free loopback port, a temporary data directory), measures Redis Streams the same
 * way when redis-server is on PATH, starts a three-node cluster of its own for each
 * of the cluster, follower-read and failover scenarios and nodes of its own for the
 * partitions and flat-cost scenarios, prints a table on stdout (the partitions rows in
 * a second one, "start-up and resources"; progress goes to stderr) and writes every
 * row as JSON to bench-results/<ISO date>.json. Each throughput row carries the
 * server's CPU time per record (server-cpu.ts).
 *
 * Not a test: nothing here asserts timings, and `npm test` never runs it. Every load
 * loop is bounded in count and time (see options.ts); a failing scenario is reported
 * and the others still run; the exit code is 1 when one failed.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { killAllChildrenNow } from './child.js';
import { removeDataDirsNow } from './data-dirs.js';
import { parseOptions, settingsFor, usage, type BenchOptions, type ScenarioName } from './options.js';
import { formatNotes, formatResultsTable, formatStartupTable, formatTargets } from './report.js';
import { RunnelHttp } from './runnel-http.js';
import { cpuProfileDir, isCpuProfileWanted, startRunnel, type RunnelNode } from './runnel-node.js';
import type { BenchContext, ResultRow, Scenario } from './scenario.js';
import { clusterScenario } from './scenarios/cluster.js';
import { compactionScenario } from './scenarios/compaction.js';
import { failoverScenario } from './scenarios/failover.js';
import { endToEndScenario } from './scenarios/end-to-end.js';
import { fetchBinaryScenario, fetchScenario } from './scenarios/fetch.js';
import { flatCostScenario } from './scenarios/flat-cost.js';
import { followerReadScenario } from './scenarios/follower-read.js';
import { groupScenario } from './scenarios/group.js';
import { partitionsScenario } from './scenarios/partitions.js';
import { produceFsyncScenario } from './scenarios/produce-fsync.js';
import { produceLatencyScenario } from './scenarios/produce-latency.js';
import { produceBinaryScenario, produceScenario } from './scenarios/produce.js';
import { redisScenario } from './scenarios/redis.js';
import { shareScenario } from './scenarios/share.js';
import { evaluateTargets } from './targets.js';

const SCENARIOS: Record<ScenarioName, Scenario> = {
  produce: produceScenario,
  'produce-binary': produceBinaryScenario,
  'produce-fsync': produceFsyncScenario,
  fetch: fetchScenario,
  'fetch-binary': fetchBinaryScenario,
  'produce-latency': produceLatencyScenario,
  'end-to-end': endToEndScenario,
  group: groupScenario,
  share: shareScenario,
  redis: redisScenario,
  cluster: clusterScenario,
  'follower-read': followerReadScenario,
  failover: failoverScenario,
  partitions: partitionsScenario,
  'flat-cost': flatCostScenario,
  compaction: compactionScenario,
};

/** Connections to the node: the highest concurrency of any row (8) plus the end-to-end consumer's long-poll. */
const RUNNEL_CONNECTIONS = 16;

/** dist/scripts/bench/run.js -> the repository root. */
const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

interface ScenarioFailure {
  scenario: ScenarioName;
  message: string;
}

/**
 * How long each scenario took and the machine's 1-minute load average around it:
 * on a shared machine a load well above what the benchmark itself makes (about the
 * CPU count) means something else competed for the CPUs and the rows are noisy.
 */
interface ScenarioTiming {
  scenario: ScenarioName;
  seconds: number;
  loadAverageStart: number;
  loadAverageEnd: number;
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

function gitCommit(): string | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim();
    const isDirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim() !== '';
    return isDirty ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return undefined;
  }
}

function environment(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpuModel: cpus[0]?.model ?? 'unknown',
    cpuCount: cpus.length,
    memoryBytes: os.totalmem(),
    runnelCommit: gitCommit(),
    // The load generator, the Runnel node and redis-server share this machine's CPUs.
    note: 'client, Runnel node and redis-server run on the same machine over loopback',
  };
}

/** Pairs each Runnel row with the Redis row of the same compareKey. */
function fillRedisRatios(rows: ResultRow[]): void {
  const redisByKey = new Map<string, ResultRow>();
  for (const row of rows) if (row.system === 'redis' && row.compareKey !== undefined) redisByKey.set(row.compareKey, row);
  for (const row of rows) {
    if (row.system !== 'runnel' || row.compareKey === undefined) continue;
    const peer = redisByKey.get(row.compareKey);
    if (peer !== undefined && peer.recordsPerSecond > 0) row.vsRedis = row.recordsPerSecond / peer.recordsPerSecond;
  }
}

function defaultJsonPath(startedAt: Date): string {
  // ISO 8601 with the colons and the dot made file-name safe: 2025-01-31T12-34-56Z.
  const stamp = startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  return path.join(REPO_ROOT, 'bench-results', `${stamp}.json`);
}

async function main(options: BenchOptions): Promise<number> {
  const settings = settingsFor(options);
  const startedAt = new Date();
  let node: RunnelNode | undefined;
  let http: RunnelHttp | undefined;
  let starting: Promise<RunnelHttp> | undefined;

  const onSignal = (signal: NodeJS.Signals): void => {
    log(`\n${signal}: stopping child processes`);
    killAllChildrenNow();
    if (node !== undefined) rmSync(node.dataDir, { recursive: true, force: true });
    removeDataDirsNow();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const context: BenchContext = {
    options,
    settings,
    log,
    isRowWanted: (label) => options.match === undefined || label.includes(options.match),
    runnel() {
      starting ??= (async () => {
        node = await startRunnel();
        log(`runnel node ${node.origin} (pid ${node.pid}, data ${node.dataDir})${isCpuProfileWanted() ? `, CPU profile into ${cpuProfileDir()}` : ''}`);
        http = new RunnelHttp(node.origin, RUNNEL_CONNECTIONS, undefined, node.pid === undefined ? [] : [node.pid]);
        return http;
      })();
      return starting;
    },
  };

  const rows: ResultRow[] = [];
  const skipped: string[] = [];
  const failures: ScenarioFailure[] = [];
  const timings: ScenarioTiming[] = [];
  log(`runnel bench (${options.isQuick ? 'quick' : 'full'}): ${options.only.join(', ')}`);
  try {
    for (const name of options.only) {
      const scenario = SCENARIOS[name];
      log(`${name}: ${scenario.description}`);
      const scenarioStartedAt = performance.now();
      const loadAverageStart = os.loadavg()[0];
      try {
        const outcome = await scenario.run(context);
        rows.push(...outcome.rows);
        for (const line of outcome.skipped ?? []) {
          skipped.push(line);
          log(`  skipped: ${line}`);
        }
      } catch (error) {
        const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
        failures.push({ scenario: name, message });
        log(`  FAILED: ${message}`);
      }
      const timing = { scenario: name, seconds: (performance.now() - scenarioStartedAt) / 1000, loadAverageStart, loadAverageEnd: os.loadavg()[0] };
      timings.push(timing);
      log(`  (${timing.seconds.toFixed(1)} s; load average ${timing.loadAverageStart.toFixed(2)} -> ${timing.loadAverageEnd.toFixed(2)})`);
    }
  } finally {
    await http?.close();
    await node?.stop();
  }

  fillRedisRatios(rows);
  const targets = evaluateTargets(rows);
  const jsonPath = options.jsonPath === undefined ? defaultJsonPath(startedAt) : path.resolve(options.jsonPath);
  await mkdir(path.dirname(jsonPath), { recursive: true });
  const finishedAt = new Date();
  await writeFile(jsonPath, JSON.stringify({
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    options,
    settings,
    environment: environment(),
    rows,
    targets,
    skipped,
    failures,
    timings,
  }, null, 2) + '\n');

  const throughputRows = rows.filter((row) => row.startup === undefined);
  const startupRows = rows.filter((row) => row.startup !== undefined);
  const out: string[] = [];
  if (throughputRows.length > 0 || startupRows.length === 0) out.push('', formatResultsTable(throughputRows));
  if (startupRows.length > 0) out.push('', 'start-up and resources:', formatStartupTable(startupRows));
  const notes = formatNotes(rows);
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  out.push('', formatTargets(targets));
  if (skipped.length > 0) out.push('', ...skipped.map((line) => `skipped: ${line}`));
  for (const failure of failures) out.push('', `FAILED ${failure.scenario}: ${failure.message.split('\n')[0]}`);
  out.push(
    '',
    `rec/s and MB/s count record values (10^6 B per MB); latencies are per request (per record for end-to-end); vs Redis = Runnel rec/s / Redis Streams rec/s of the same shape.`,
    `srv us/rec = the server's CPU time (utime + stime from /proc, every node of a cluster summed) over the row's measured window, per record, in microseconds.`,
    `${os.cpus().length} CPUs shared by the client, the Runnel node and redis-server; JSON: ${path.relative(process.cwd(), jsonPath) || jsonPath}`,
  );
  process.stdout.write(out.join('\n') + '\n');
  return failures.length > 0 ? 1 : 0;
}

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  log((error as Error).message);
  process.exit(2);
}
if (options.isHelp) {
  process.stdout.write(usage + '\n');
  process.exit(0);
}
main(options).then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    killAllChildrenNow();
    process.exit(1);
  },
);
