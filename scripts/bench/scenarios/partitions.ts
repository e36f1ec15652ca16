/**
 * Scenario `partitions`: what a node costs per partition while idle and at start-up.
 * For 1, 1,000 and 20,000 partitions (1 and 1,000 with --quick) a node of its own
 * starts on a fresh data directory, gets topics totalling that many partitions
 * (10,000 per topic at most) and one record in each, and then:
 *
 *   - idle: open file descriptors (/proc/<pid>/fd) against the empty node's, per
 *     partition, runnel_log_files_open and RSS (/proc/<pid>/status VmRSS), also
 *     against the empty node's per partition (idle - empty) / partitions;
 *   - SIGTERM, then start on the same directory: time from spawn to GET
 *     /health/ready 200, RSS, descriptors and the `recovery` object ready answers;
 *   - one more record in each partition, SIGKILL, start again: the same.
 *
 * Data directories go under /dev/shm when it exists, or under
 * RUNNEL_BENCH_PARTITIONS_DIR (data-dirs.ts); the report names the filesystem. Every wait is
 * bounded: a start 5 minutes, a request 5 minutes, a stop 2 minutes.
 */
import { readFile, readdir } from 'node:fs/promises';
import { sleep } from '../child.js';
import { filesystemOf, makeDataDir, parentDirectory, removeDataDir } from '../data-dirs.js';
import { checkProduceAnswer, RunnelHttp } from '../runnel-http.js';
import { startRunnel, type RunnelNode } from '../runnel-node.js';
import type { BenchContext, RecoverySummary, ResultRow, Scenario, StartupResources } from '../scenario.js';

const FULL_COUNTS = [1, 1_000, 20_000] as const;
const QUICK_COUNTS = [1, 1_000] as const;
/** The node's per-topic maximum. */
const PARTITIONS_PER_TOPIC_MAX = 10_000;
const READY_TIMEOUT_MS = 5 * 60_000;
const REQUEST_TIMEOUT_MS = 5 * 60_000;
const STOP_GRACE_MS = 2 * 60_000;
/** After the produce, before the idle reading: in-flight work settles. */
const IDLE_SETTLE_MS = 1_000;
function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

async function openFileCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (match === null) throw new Error(`/proc/${pid}/status has no VmRSS line`);
  return Number(match[1]) * 1024;
}

async function logFilesOpen(http: RunnelHttp): Promise<number | null> {
  const response = await http.pool.request({ method: 'GET', path: '/metrics' });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`GET /metrics: HTTP ${response.statusCode}: ${text.slice(0, 300)}`);
  const match = /^runnel_log_files_open(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return match === null ? null : Number(match[1]);
}

async function readyRecovery(http: RunnelHttp): Promise<RecoverySummary | null> {
  const answer = await http.json<{ recovery?: RecoverySummary }>('GET', '/health/ready');
  return answer.recovery ?? null;
}

function requirePid(node: RunnelNode): number {
  if (node.pid === undefined) throw new Error('the node has no pid');
  return node.pid;
}

/** Topic sizes totalling `count`, none above the per-topic maximum. */
function topicSizes(count: number): number[] {
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= PARTITIONS_PER_TOPIC_MAX) sizes.push(Math.min(left, PARTITIONS_PER_TOPIC_MAX));
  return sizes;
}

/** One request per topic with one record for each of its partitions. */
async function produceOneEach(http: RunnelHttp, topics: Array<{ name: string; partitions: number }>): Promise<void> {
  for (const topic of topics) {
    const records = Array.from({ length: topic.partitions }, (_, partition) => ({ partition, value: 'x' }));
    const text = await http.text('POST', `/v1/topics/${encodeURIComponent(topic.name)}/records`, JSON.stringify({ records }));
    checkProduceAnswer(text, topic.partitions, `produce to ${topic.name}`);
  }
}

interface Restart {
  node: RunnelNode;
  http: RunnelHttp;
  readyMs: number;
  rssBytes: number;
  openFiles: number;
  recovery: RecoverySummary | null;
}

async function restart(dataDir: string): Promise<Restart> {
  const node = await startRunnel({ dataDir, readyTimeoutMs: READY_TIMEOUT_MS });
  const http = new RunnelHttp(node.origin, 2, REQUEST_TIMEOUT_MS);
  const pid = requirePid(node);
  // Read at once: what the node holds when it has just become ready.
  const [rss, openFiles] = [await rssBytes(pid), await openFileCount(pid)];
  return { node, http, readyMs: node.readyMs, rssBytes: rss, openFiles, recovery: await readyRecovery(http) };
}

/** The live node and client of one measurement, so the caller can always stop them. */
interface Live {
  node?: RunnelNode;
  http?: RunnelHttp;
}

async function closeLive(live: Live): Promise<void> {
  await live.http?.close();
  live.http = undefined;
  await live.node?.stop(STOP_GRACE_MS);
  live.node = undefined;
}

async function measure(context: BenchContext, count: number, dataDir: string, filesystem: string, live: Live): Promise<StartupResources> {
  live.node = await startRunnel({ dataDir, readyTimeoutMs: READY_TIMEOUT_MS });
  live.http = new RunnelHttp(live.node.origin, 2, REQUEST_TIMEOUT_MS);
  const pid = requirePid(live.node);
  const emptyReadyMs = live.node.readyMs;
  const emptyOpenFiles = await openFileCount(pid);
  const emptyRssBytes = await rssBytes(pid);
  const topics = topicSizes(count).map((partitions, index) => ({ name: `bench-partitions-${index}`, partitions }));
  const createStartedAt = performance.now();
  for (const topic of topics) await live.http.createTopic(topic.name, topic.partitions);
  const createMs = performance.now() - createStartedAt;
  await produceOneEach(live.http, topics);
  await sleep(IDLE_SETTLE_MS);
  const idleOpenFiles = await openFileCount(pid);
  const idle = { openFiles: idleOpenFiles, logFilesOpen: await logFilesOpen(live.http), rssBytes: await rssBytes(pid) };
  context.log(`    created in ${Math.round(createMs)} ms; idle: ${idle.openFiles} fds, ${(idle.rssBytes / 1e6).toFixed(0)} MB RSS; SIGTERM`);

  await live.http.close();
  live.http = undefined;
  const stopStartedAt = performance.now();
  const isStopGraceful = await live.node.stop(STOP_GRACE_MS);
  const stopMs = performance.now() - stopStartedAt;
  live.node = undefined;
  const afterStop = await restart(dataDir);
  Object.assign(live, { node: afterStop.node, http: afterStop.http });
  context.log(`    ready after SIGTERM in ${Math.round(afterStop.readyMs)} ms; producing again, then SIGKILL`);

  // A record more in each partition, so the crash leaves segments written since the clean start.
  await produceOneEach(afterStop.http, topics);
  await afterStop.http.close();
  live.http = undefined;
  await afterStop.node.kill();
  live.node = undefined;
  const afterKill = await restart(dataDir);
  Object.assign(live, { node: afterKill.node, http: afterKill.http });
  context.log(`    ready after SIGKILL in ${Math.round(afterKill.readyMs)} ms`);

  return {
    partitions: count,
    filesystem,
    createMs,
    emptyReadyMs,
    emptyOpenFiles,
    emptyRssBytes,
    idle,
    stopMs,
    isStopGraceful,
    afterStop: { readyMs: afterStop.readyMs, rssBytes: afterStop.rssBytes, openFiles: afterStop.openFiles, recovery: afterStop.recovery },
    afterKill: { readyMs: afterKill.readyMs, rssBytes: afterKill.rssBytes, openFiles: afterKill.openFiles, recovery: afterKill.recovery },
  };
}

function notesFor(resources: StartupResources): string[] {
  const notes = [
    `data directory on ${resources.filesystem}`,
    `recovery after SIGTERM: ${JSON.stringify(resources.afterStop.recovery)}`,
    `recovery after kill -9: ${JSON.stringify(resources.afterKill.recovery)}`,
  ];
  if (!resources.isStopGraceful) notes.push(`SIGTERM did not end the node within ${STOP_GRACE_MS / 1000} s; it was SIGKILLed`);
  return notes;
}

async function measureRow(context: BenchContext, count: number, label: string): Promise<ResultRow> {
  const dataDir = await makeDataDir('runnel-bench-partitions-');
  const filesystem = await filesystemOf(parentDirectory());
  const live: Live = {};
  const startedAt = performance.now();
  try {
    const resources = await measure(context, count, dataDir, filesystem, live);
    return {
      scenario: 'partitions',
      system: 'runnel',
      label,
      params: { partitions: count, filesystem },
      records: 2 * count,
      elapsedMs: performance.now() - startedAt,
      // Not a throughput: the report shows these rows in their own table.
      recordsPerSecond: Number.NaN,
      megabytesPerSecond: null,
      latency: null,
      startup: resources,
      notes: notesFor(resources),
    };
  } finally {
    await closeLive(live);
    await removeDataDir(dataDir);
  }
}

export const partitionsScenario: Scenario = {
  name: 'partitions',
  description: 'start-up time, RSS and open files of a node holding 1, 1,000 and 20,000 partitions (1 and 1,000 with --quick)',
  async run(context) {
    const rows: ResultRow[] = [];
    for (const count of context.options.isQuick ? QUICK_COUNTS : FULL_COUNTS) {
      const label = `partitions ${formatCount(count)}`;
      if (!context.isRowWanted(label)) continue;
      context.log(`  ${label}`);
      rows.push(await measureRow(context, count, label));
    }
    return { rows };
  },
};
