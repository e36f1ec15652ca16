/**
 * Starts redis-server (when it is on PATH) as a child process on a free loopback
 * port with a temporary working directory, for the Redis Streams comparison:
 * without persistence (--save '' --appendonly no) or with an fsync per write
 * (--appendonly yes --appendfsync always). Waits for PING, stops with SIGTERM.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ChildHandle, findOnPath, freePort, sleep } from './child.js';
import { RespClient } from './resp.js';

export const REDIS_INSTALL_HINT = 'sudo apt-get install -y redis-server';
const READY_TIMEOUT_MS = 10_000;

export interface RedisNode {
  port: number;
  /** redis-server's process, for its CPU time. */
  pid: number | undefined;
  version: string;
  stop(): Promise<void>;
}

export function findRedisServer(): Promise<string | undefined> {
  return findOnPath('redis-server');
}

export async function startRedis(executable: string, isFsyncAlways: boolean): Promise<RedisNode> {
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'runnel-bench-redis-'));
  const port = await freePort();
  const persistence = isFsyncAlways ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
  const child = ChildHandle.spawn('redis-server', executable, [
    '--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'yes', '--save', '', ...persistence,
    '--dir', workDir, '--daemonize', 'no', '--loglevel', 'warning',
  ]);
  const stop = async (): Promise<void> => {
    await child.stop();
    await rm(workDir, { recursive: true, force: true, maxRetries: 3 });
  };
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (!child.hasExited && performance.now() < deadline) {
    try {
      const client = await RespClient.connect(port);
      try {
        const info = await client.command('INFO', 'server');
        const version = /redis_version:(\S+)/.exec(Buffer.isBuffer(info) ? info.toString('utf8') : String(info))?.[1] ?? 'unknown';
        return { port, pid: child.pid, version, stop };
      } finally {
        await client.close();
      }
    } catch {
      await sleep(50);
    }
  }
  const problem = child.describe();
  await stop();
  throw new Error(`redis-server did not start: ${problem}`);
}
