/**
 * Starts a Runnel node as a child process on a free loopback port with a temporary
 * data directory, waits until GET /health/ready answers 200, and stops it (SIGTERM,
 * SIGKILL after a deadline) and removes the directory at the end.
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
  stop(): Promise<void>;
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

export async function startRunnel(): Promise<RunnelNode> {
  const cliPath = runnelCliPath();
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm run bench does)`);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-'));
  let lastProblem = '';
  // The port is free when we ask; another process could take it before the node
  // binds it, so a node that exits during start is retried on a new port.
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const profileFlags = isCpuProfileWanted() ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir()}`] : [];
    const child = ChildHandle.spawn('runnel', process.execPath, [
      ...profileFlags, cliPath, 'serve', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn',
    ]);
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (!child.hasExited && performance.now() < deadline) {
      if (await isReady(origin)) {
        return {
          origin,
          dataDir,
          pid: child.pid,
          stop: async () => {
            await child.stop();
            await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
          },
        };
      }
      await sleep(READY_POLL_MS);
    }
    lastProblem = child.hasExited
      ? child.describe()
      : `runnel did not answer GET /health/ready with 200 within ${READY_TIMEOUT_MS} ms; ${child.describe()}`;
    await child.stop();
  }
  await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
  throw new Error(`could not start a Runnel node after ${START_ATTEMPTS} attempts: ${lastProblem}`);
}
