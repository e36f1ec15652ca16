/**
 * Data directories of the nodes a scenario starts for itself where the filesystem
 * matters (partitions, flat-cost): under RUNNEL_BENCH_PARTITIONS_DIR when set, else
 * /dev/shm when it exists (creating partitions is metadata-bound: about 1 ms each on
 * a disk, much less on tmpfs; a large partition is read from memory, not the disk),
 * else the temp directory. On tmpfs a directory holds memory, so every live one is
 * remembered and an interrupted run removes them too.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const DEFAULT_PARENT_DIR = '/dev/shm';
const liveDataDirs = new Set<string>();

/** Where the data directories go: RUNNEL_BENCH_PARTITIONS_DIR, else /dev/shm when present, else the temp dir. */
export function parentDirectory(): string {
  const chosen = process.env.RUNNEL_BENCH_PARTITIONS_DIR;
  if (chosen !== undefined && chosen !== '') return chosen;
  return existsSync(DEFAULT_PARENT_DIR) ? DEFAULT_PARENT_DIR : os.tmpdir();
}

/** The type of the filesystem holding `directory` (the longest mount point above it in /proc/self/mounts). */
export async function filesystemOf(directory: string): Promise<string> {
  try {
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    let best = { mountPoint: '', type: 'unknown' };
    for (const line of mounts.split('\n')) {
      const [, mountPoint, type] = line.split(' ');
      if (mountPoint === undefined || type === undefined) continue;
      const isAbove = directory === mountPoint || directory.startsWith(mountPoint.endsWith('/') ? mountPoint : mountPoint + '/');
      if (isAbove && mountPoint.length >= best.mountPoint.length) best = { mountPoint, type };
    }
    return `${best.type} (${directory})`;
  } catch {
    return `unknown (${directory})`;
  }
}

/** A new directory under parentDirectory(), remembered until removeDataDir. */
export async function makeDataDir(prefix: string): Promise<string> {
  const dataDir = await mkdtemp(path.join(parentDirectory(), prefix));
  liveDataDirs.add(dataDir);
  return dataDir;
}

export async function removeDataDir(dataDir: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
  liveDataDirs.delete(dataDir);
}

/** For run.ts's SIGINT/SIGTERM handler, after the nodes are killed. */
export function removeDataDirsNow(): void {
  for (const dataDir of liveDataDirs) rmSync(dataDir, { recursive: true, force: true });
  liveDataDirs.clear();
}
