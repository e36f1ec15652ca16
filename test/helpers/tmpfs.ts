/**
 * A real small disk for tests of a full filesystem: a tmpfs mounted on a fresh
 * directory (CI runs as root; without root the test fails loudly, it never skips),
 * unmounted at teardown. Pass the test's `t`; register anything that holds files
 * open on the mount (a child node, an open log) after the mount, so tap tears it
 * down first.
 */
import type { Test } from 'tap';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MIB = 1024 * 1024;

/** Mounts a tmpfs of `sizeMiB` at `directory` (made if missing); unmounted at teardown. */
export function mountTmpfs(t: Test, directory: string, sizeMiB: number): void {
  if (process.getuid?.() !== 0) throw new Error('this test mounts a tmpfs and must run as root (CI does); not skipping');
  fs.mkdirSync(directory, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', directory]);
  t.teardown(() => {
    execFileSync('umount', ['-l', directory]);
  });
}

/** A fresh directory with a tmpfs of `sizeMiB` (default 20) mounted on it. */
export function smallDisk(t: Test, sizeMiB = 20): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-small-disk-'));
  t.teardown(() => fs.rmSync(root, { recursive: true, force: true }));
  mountTmpfs(t, root, sizeMiB);
  return root;
}

/** Bytes an unprivileged writer may still use on the filesystem of `directory`. */
export function freeBytes(directory: string): number {
  const stats = fs.statfsSync(directory);
  return stats.bavail * stats.bsize;
}

/** Writes `<directory>/filler`, leaving about `leaveBytes` free on its filesystem; returns its path. */
export function fillTo(directory: string, leaveBytes: number): string {
  const filler = path.join(directory, 'filler');
  const size = Math.max(0, freeBytes(directory) - leaveBytes);
  const chunk = Buffer.alloc(MIB, 7);
  const fd = fs.openSync(filler, 'w');
  try {
    for (let written = 0; written < size;) {
      written += fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - written));
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}
