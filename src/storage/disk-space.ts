/**
 * DiskSpace: the free space of the filesystem holding the data directory, against a
 * floor below which the node refuses new records (507 DISK_FULL) before the disk is
 * truly full, so recovery-point checkpoints, leader-epoch files, index entries and
 * SQLite (offsets, idempotency answers) always find room.
 *
 * Cost on the produce hot path: none beyond reading a boolean. statfs(2) runs on the
 * thread pool every `refreshIntervalMs` (and at once after a write met ENOSPC); between
 * refreshes each append subtracts its bytes from the last reading, so a burst cannot
 * run far past the floor before the next reading. Space freed by retention, a deleted
 * topic or the operator shows at the next refresh, and produce resumes by itself.
 *
 * Concurrency: one per node, on the event loop; the timer is unref'd and stopped by close().
 */
import fs from 'node:fs';

/** The default floor: 1% of the filesystem, at most 256 MiB. */
export const DISK_FREE_MIN_FRACTION = 0.01;
export const DISK_FREE_MIN_BYTES_CAP = 256 * 1024 * 1024;

export interface DiskSpaceOptions {
  /** Refuse new records at or below this many free bytes; undefined: 1% of the filesystem, at most 256 MiB. 0: only when a write fails. */
  freeMinBytes?: number;
  /** How often statfs is asked. Default 1000 ms. */
  refreshIntervalMs?: number;
  /** A failed statfs (the directory vanished, an I/O error): reported, the last reading kept. */
  onError?: (error: unknown, context: string) => void;
}

export class DiskSpace {
  /** Free bytes for an unprivileged writer (statfs bavail), minus what was appended since. */
  freeBytes = Number.POSITIVE_INFINITY;
  /** Size of the filesystem, bytes. */
  totalBytes = 0;
  /** Produce requests refused for the floor or a full disk since start (runnel_disk_full_refusals_total). */
  refusedCount = 0;
  /** True from a write that met ENOSPC until the next reading. */
  private isWriteFailed = false;
  private timer: NodeJS.Timeout | undefined;
  private isRefreshing = false;
  /** Readings started so far; only one started after a failed write clears it. */
  private readingCount = 0;
  private failedAtReading = -1;

  constructor(readonly directory: string, private readonly options: DiskSpaceOptions = {}) {}

  /** The floor in bytes (the setting, or 1% of the filesystem capped at 256 MiB). */
  get freeMinBytes(): number {
    return this.options.freeMinBytes ?? Math.min(Math.floor(this.totalBytes * DISK_FREE_MIN_FRACTION), DISK_FREE_MIN_BYTES_CAP);
  }

  /** True while new records are refused: free space at or below the floor, or a write just failed for space. */
  get isFull(): boolean {
    return this.isWriteFailed || this.freeBytes <= this.freeMinBytes;
  }

  /** Reads the filesystem now, synchronously (at start, before the first request). */
  refreshNow(): void {
    try {
      this.take(fs.statfsSync(this.directory), ++this.readingCount);
    } catch (error) {
      this.options.onError?.(error, `statfs of ${this.directory}`);
    }
  }

  /** Starts the periodic reading. */
  start(): void {
    if (this.timer !== undefined) return;
    this.refreshNow();
    this.timer = setInterval(() => this.refresh(), this.options.refreshIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Appended bytes come off the last reading until the next one. */
  onWritten(bytes: number): void {
    this.freeBytes -= bytes;
  }

  /** A write met ENOSPC/EDQUOT: refuse at once, and read the filesystem again soon. */
  onDiskFull(): void {
    this.isWriteFailed = true;
    this.failedAtReading = this.readingCount;
    this.refresh();
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private refresh(): void {
    if (this.isRefreshing) return;
    this.isRefreshing = true;
    const reading = ++this.readingCount;
    fs.statfs(this.directory, (error, stats) => {
      this.isRefreshing = false;
      if (error !== null) this.options.onError?.(error, `statfs of ${this.directory}`);
      else this.take(stats, reading);
    });
  }

  private take(stats: fs.StatsFs, reading: number): void {
    this.totalBytes = stats.blocks * stats.bsize;
    this.freeBytes = stats.bavail * stats.bsize;
    // A reading begun before the failed write does not know of it.
    if (reading > this.failedAtReading) this.isWriteFailed = false;
  }
}
