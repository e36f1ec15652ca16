/**
 * Open files bounded by design: every segment file (log, offset index, time index) is
 * a CachedFile, opened when first used and closed again by a node-wide LRU once more
 * than `capacity` are open. An idle partition holds no descriptor at all, so the
 * number of partitions a node can hold is not bounded by `ulimit -n` (Kafka keeps
 * every segment open and needs the limit raised instead).
 *
 * A descriptor is only valid until the next file is opened through the cache (that
 * may evict it), so callers that hold one across other file operations pin it:
 * pinned files are never evicted, and a cache whose files are all pinned grows past
 * its capacity for that moment rather than close one in use.
 */
import fs from 'node:fs';
import { assert } from '../util/assert.js';

export class FileCache {
  /** Open files, least recently used first (a Map keeps insertion order). */
  private readonly open = new Map<CachedFile, true>();
  /** Files closed to make room, since start (runnel_log_files_evicted_total). */
  evictions = 0;

  constructor(readonly capacity: number) {
    assert(capacity >= 1, () => `file cache capacity ${capacity} must be at least 1`);
  }

  /** A cache that never closes a file (tests and tools that open a few logs). */
  static unbounded(): FileCache {
    return new FileCache(Number.POSITIVE_INFINITY);
  }

  get openCount(): number {
    return this.open.size;
  }

  /** @internal A file is about to be opened: close the least recently used ones past capacity. */
  makeRoom(): void {
    if (this.open.size < this.capacity) return;
    for (const file of this.open.keys()) {
      if (this.open.size < this.capacity) return;
      if (file.evict()) this.evictions += 1;
    }
  }

  /** @internal */
  touch(file: CachedFile): void {
    this.open.delete(file);
    this.open.set(file, true);
  }

  /** @internal */
  forget(file: CachedFile): void {
    this.open.delete(file);
  }
}

export class CachedFile {
  #fd: number | undefined;
  #pins = 0;
  #isClosed = false;

  private constructor(readonly path: string, private readonly cache: FileCache) {}

  /** Opens an existing file, or creates it empty when `isCreated`; it stays open until evicted or closed. */
  static open(path: string, cache: FileCache, options: { isCreated?: boolean } = {}): CachedFile {
    const file = new CachedFile(path, cache);
    file.openNow(options.isCreated === true ? fs.constants.O_RDWR | fs.constants.O_CREAT : fs.constants.O_RDWR);
    return file;
  }

  get isOpen(): boolean {
    return this.#fd !== undefined;
  }

  /** The descriptor, reopened if it was evicted. Valid until the next file is opened through the cache, unless pinned. */
  fd(): number {
    if (this.#fd === undefined) return this.openNow(fs.constants.O_RDWR);
    this.cache.touch(this);
    return this.#fd;
  }

  /** Runs `use` with the descriptor held open: nothing evicts it meanwhile. */
  withFd<T>(use: (fd: number) => T): T {
    const fd = this.fd();
    this.#pins += 1;
    try {
      return use(fd);
    } finally {
      this.#pins -= 1;
    }
  }

  /** For an asynchronous use (fsync): the descriptor, pinned until unpin(). */
  pin(): number {
    const fd = this.fd();
    this.#pins += 1;
    return fd;
  }

  unpin(): void {
    this.#pins -= 1;
  }

  /** @internal Closes the descriptor to make room; false while pinned. */
  evict(): boolean {
    if (this.#pins > 0 || this.#fd === undefined) return false;
    fs.closeSync(this.#fd);
    this.#fd = undefined;
    this.cache.forget(this);
    return true;
  }

  /** Closes the file for good (pinned or not: the owner is done with it). */
  close(): void {
    this.#isClosed = true;
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    this.cache.forget(this);
    fs.closeSync(fd);
  }

  private openNow(flags: number): number {
    assert(!this.#isClosed, () => `file ${this.path} is closed`);
    this.cache.makeRoom();
    const fd = fs.openSync(this.path, flags);
    this.#fd = fd;
    this.cache.touch(this);
    return fd;
  }
}

/**
 * Opens (or creates) an index file of fixed-size entries and loads them whole into a
 * buffer with room to grow (at least `minEntries`). A torn tail (a partial entry) is
 * cut off; the caller decides whether the rest is sound. The file stays in the cache.
 */
export function loadEntriesFile(path: string, files: FileCache, entryBytes: number, minEntries: number): { file: CachedFile; entries: Buffer; entryCount: number } {
  const file = CachedFile.open(path, files, { isCreated: true });
  try {
    return file.withFd((fd) => {
      const sizeBytes = fs.fstatSync(fd).size;
      const entryCount = Math.floor(sizeBytes / entryBytes);
      const entries = Buffer.alloc(Math.max(minEntries, entryCount * 2) * entryBytes);
      if (entryCount > 0) fs.readSync(fd, entries, 0, entryCount * entryBytes, 0);
      if (sizeBytes !== entryCount * entryBytes) fs.ftruncateSync(fd, entryCount * entryBytes);
      return { file, entries, entryCount };
    });
  } catch (error) {
    file.close();
    throw error;
  }
}
