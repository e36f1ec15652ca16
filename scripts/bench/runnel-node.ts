/**
 * Starts a Runnel node as a child process on a free loopback port with a temporary
 * data directory (or one the caller gives and keeps), waits until GET /health/ready
 * answers 200, and stops it (SIGTERM, SIGKILL after a deadline) and removes the
 * temporary directory at the end.
 *
 * RUNNEL_BENCH_CPU_PROF=1 starts the node under `node --cpu-prof`, writing its
 * profile into bench-results/profiles/ when it exits after SIGTERM (a graceful
 * shutdown; a node killed with SIGKILL writes none). Summarise one with
 * `node dist/scripts/bench/profile-summary.js <file>.cpuprofile`.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { ChildHandle, freePort, sleep } from './child.js';

const READY_TIMEOUT_MS = 20_000;
const READY_POLL_MS = 50;
const START_ATTEMPTS = 3;

export interface RunnelNode {
  origin: string;
  dataDir: string;
  pid: number | undefined;
  /** From spawning the process to the first GET /health/ready 200 (polled every 50 ms). */
  readyMs: number;
  /**
   * SIGTERM, SIGKILL after `graceMs` (10 s by default); removes the data directory
   * unless the caller gave it. True when the node exited on SIGTERM alone.
   */
  stop(graceMs?: number): Promise<boolean>;
  /** SIGKILL, as a crash would end it; the data directory stays. */
  kill(): Promise<void>;
}

/** dist/scripts/bench/runnel-node.js -> dist/src/cli/runnel.js */
export function runnelCliPath(): string {
  return fileURLToPath(new URL('../../src/cli/runnel.js', import.meta.url));
}

/** dist/scripts/bench/runnel-node.js -> <repo>/bench-results/profiles */
export function cpuProfileDir(): string {
  return fileURLToPath(new URL('../../../bench-results/profiles', import.meta.url));
}

export function isCpuProfileWanted(): boolean {
  return process.env.RUNNEL_BENCH_CPU_PROF === '1';
}

async function isReady(origin: string): Promise<boolean> {
  try {
    const response = await request(`${origin}/health/ready`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false;
  }
}

export interface StartRunnelOptions {
  /** Use this data directory and keep it at stop (the caller removes it); a new temporary one otherwise. */
  dataDir?: string;
  /** More `serve` flags, e.g. ['--max-open-log-files', '1000']. */
  extraArgs?: string[];
  /** How long to wait for GET /health/ready 200 on each attempt; 20 s by default. */
  readyTimeoutMs?: number;
}

export async function startRunnel(startOptions: StartRunnelOptions = {}): Promise<RunnelNode> {
  const cliPath = runnelCliPath();
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm run bench does)`);
  const ownsDataDir = startOptions.dataDir === undefined;
  const dataDir = startOptions.dataDir ?? await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-'));
  const readyTimeoutMs = startOptions.readyTimeoutMs ?? READY_TIMEOUT_MS;
  const removeDataDir = async (): Promise<void> => {
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
  };
  let lastProblem = '';
  // The port is free when we ask; another process could take it before the node
  // binds it, so a node that exits during start is retried on a new port.
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const profileFlags = isCpuProfileWanted() ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir()}`] : [];
    const spawnedAt = performance.now();
    const child = ChildHandle.spawn('runnel', process.execPath, [
      ...profileFlags, cliPath, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn',
      ...(startOptions.extraArgs ?? []),
    ]);
    const deadline = spawnedAt + readyTimeoutMs;
    while (!child.hasExited && performance.now() < deadline) {
      if (await isReady(origin)) {
        return {
          origin,
          dataDir,
          pid: child.pid,
          readyMs: performance.now() - spawnedAt,
          stop: async (graceMs) => {
            const isGraceful = await child.stop(graceMs);
            await removeDataDir();
            return isGraceful;
          },
          kill: () => child.kill(),
        };
      }
      await sleep(READY_POLL_MS);
    }
    lastProblem = child.hasExited
      ? child.describe()
      : `runnel did not answer GET /health/ready with 200 within ${readyTimeoutMs} ms; ${child.describe()}`;
    await child.stop();
  }
  await removeDataDir();
  throw new Error(`could not start a Runnel node after ${START_ATTEMPTS} attempts: ${lastProblem}`);
}
