/**
 * LogSegment: one `<baseOffset>.log` file of record batches plus its two sparse
 * indexes. Files are named by the 20-digit base offset, Kafka's layout.
 *
 * Writes: whole batches, appended with one positioned write each (write(2) puts them in
 * the page cache, so a killed process loses nothing written; fsync is the partition
 * log's flush policy). Index entries are added once index.interval.bytes of log have
 * gone by since the last one.
 * Reads: positioned reads of whole batches, bounded by maxBytes; a segment is never
 * read into memory whole. Every batch read is checked (log-damage.ts) before it is
 * served: damage is a LogDamageError, never a broken invariant.
 * Recovery: recover() re-validates every batch (length, magic, CRC, offset continuity,
 * leader epoch), truncates at the first bad one and rebuilds both indexes.
 *
 * Concurrency: owned by one PartitionLog on the event loop; all file I/O here is
 * synchronous so a read never observes a half-applied append or truncation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { assert } from '../util/assert.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';
import { CachedFile, FileCache } from './file-cache.js';
import { readFully, scanBatches } from '../record/scanner.js';
import type { BatchHeader } from '../record/header.js';
import { BATCH_HEADER_BYTES, BATCH_LENGTH_OFFSET, LOG_OVERHEAD_BYTES } from '../record/layout.js';
import { validateBatch, validateStoredBatch } from '../record/validate.js';
import { checkReadBatches, LogDamageError } from './log-damage.js';
import { batchOffsetsAt, segmentFileName, type EpochCheck, type SegmentCut, type SegmentOptions, type SegmentRecovery } from './segment-files.js';

export { segmentFileName, type EpochCheck, type SegmentCut, type SegmentOptions, type SegmentRecovery } from './segment-files.js';

export class LogSegment {
  sizeBytes: number;
  /** The offset the next appended batch gets: lastOffset + 1 of the last batch. */
  nextOffset: number;
  maxTimestampMs = -1;
  /**
   * Bytes open() cut off when it had to recover the segment (torn tail, index that did
   * not fit): a later recover() finds nothing left to cut, so the caller adds these.
   */
  truncatedBytesOnOpen = 0;
  /** Set by recover() when it cut the file: what was removed. */
  lastCut: SegmentCut | undefined;
  private offsetOfMaxTimestamp: number;
  private bytesSinceLastIndexEntry = 0;
  private isClosed = false;

  private constructor(
    readonly directory: string,
    readonly baseOffset: number,
    private readonly file: CachedFile,
    readonly offsetIndex: OffsetIndex,
    readonly timeIndex: TimeIndex,
    private options: SegmentOptions,
    readonly createdAtMs: number,
  ) {
    this.sizeBytes = file.withFd((fd) => fs.fstatSync(fd).size);
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
  }

  /**
   * The log file's descriptor, reopened if the LRU closed it. Valid until another file
   * is opened through the cache: a scan whose callback touches the indexes pins it
   * (this.file.withFd) instead.
   */
  private get fd(): number {
    return this.file.fd();
  }

  get logPath(): string {
    return path.join(this.directory, segmentFileName(this.baseOffset, '.log'));
  }

  /** Creates an empty segment, replacing any leftover files of the same name. */
  static create(directory: string, baseOffset: number, options: SegmentOptions, nowMs: number): LogSegment {
    for (const suffix of ['.log', '.index', '.timeindex'] as const) {
      fs.rmSync(path.join(directory, segmentFileName(baseOffset, suffix)), { force: true });
    }
    return LogSegment.openFiles(directory, baseOffset, options, nowMs);
  }

  /**
   * Opens an existing segment trusting its contents up to the last index entry, and
   * walks only the tail after it to find nextOffset and the largest timestamp. An index
   * that does not fit the log is rebuilt by a full recovery.
   */
  static open(directory: string, baseOffset: number, options: SegmentOptions): LogSegment {
    const logPath = path.join(directory, segmentFileName(baseOffset, '.log'));
    // A missing index file would be created empty here and look consistent: the offset
    // index would stay empty for good, and the largest timestamp would be taken from the
    // tail scan alone (too low, so retention.ms could delete recent records and a search
    // by time could skip them). Like Kafka's LogLoader, rebuild both from the log instead.
    const isIndexMissing = !fs.existsSync(path.join(directory, segmentFileName(baseOffset, '.index'))) ||
      !fs.existsSync(path.join(directory, segmentFileName(baseOffset, '.timeindex')));
    const segment = LogSegment.openFiles(directory, baseOffset, options, fs.statSync(logPath).mtimeMs);
    if (isIndexMissing || !segment.offsetIndex.isConsistentWith(segment.sizeBytes)) {
      segment.truncatedBytesOnOpen = segment.recover(() => true).truncatedBytes;
      return segment;
    }
    const last = segment.offsetIndex.lastEntry();
    const startPosition = last?.position ?? 0;
    const lastTime = segment.timeIndex.lastEntry();
    if (lastTime !== undefined) {
      segment.maxTimestampMs = lastTime.timestampMs;
      segment.offsetOfMaxTimestamp = lastTime.offset;
    }
    const end = segment.file.withFd((fd) => scanBatches(fd, startPosition, segment.sizeBytes, ({ header }) => {
      segment.observeBatch(header);
      return true;
    }));
    // A clean shutdown never leaves a torn tail, so one here means the caller should
    // have asked for recovery; do it rather than serve a broken tail.
    if (end.isTorn || !segment.timeIndex.isConsistentWith(segment.nextOffset)) {
      segment.truncatedBytesOnOpen = segment.recover(() => true).truncatedBytes;
    }
    return segment;
  }

  private static openFiles(directory: string, baseOffset: number, options: SegmentOptions, createdAtMs: number): LogSegment {
    const files = options.files ?? FileCache.unbounded();
    const logPath = path.join(directory, segmentFileName(baseOffset, '.log'));
    const file = CachedFile.open(logPath, files, { isCreated: true });
    let offsetIndex: OffsetIndex | undefined;
    try {
      offsetIndex = OffsetIndex.open(path.join(directory, segmentFileName(baseOffset, '.index')), baseOffset, files);
      const timeIndex = TimeIndex.open(path.join(directory, segmentFileName(baseOffset, '.timeindex')), baseOffset, files);
      return new LogSegment(directory, baseOffset, file, offsetIndex, timeIndex, options, createdAtMs);
    } catch (error) {
      // Out of descriptors (EMFILE) half-way: give back the ones this segment took.
      offsetIndex?.close();
      file.close();
      throw error;
    }
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  /** From now on offsets may have gaps here (the log was compacted, or replicates a compacted leader). */
  allowGaps(): void {
    this.options = { ...this.options, allowsGaps: true };
  }

  /**
   * Appends one batch whose header has already been checked by the partition log.
   * Offsets must continue exactly where the segment ends, or (gaps allowed) after it.
   */
  append(batch: Buffer, header: BatchHeader): void {
    assert(!this.isClosed, () => `segment ${this.logPath} is closed`);
    assert(this.options.allowsGaps === true ? header.baseOffset >= this.nextOffset : header.baseOffset === this.nextOffset, () =>
      `segment ${this.logPath}: batch at offset ${header.baseOffset} does not follow ${this.nextOffset}`);
    assert(batch.length === header.sizeBytes, () =>
      `segment ${this.logPath}: batch of ${batch.length} bytes declares ${header.sizeBytes}`);
    const position = this.sizeBytes;
    const before = { nextOffset: this.nextOffset, maxTimestampMs: this.maxTimestampMs, offsetOfMaxTimestamp: this.offsetOfMaxTimestamp, bytesSinceLastIndexEntry: this.bytesSinceLastIndexEntry };
    try {
      // The log's descriptor is only fetched here: indexBatch may open (and so evict) index files.
      const fd = this.file.fd();
      let written = 0;
      while (written < batch.length) {
        written += fs.writeSync(fd, batch, written, batch.length - written, position + written);
      }
      this.indexBatch(header, position);
    } catch (error) {
      // A full disk (ENOSPC) can stop the write halfway or the index entry after it: the
      // segment goes back to where it was, with no torn bytes left taking space.
      Object.assign(this, before);
      this.offsetIndex.truncateTo(header.baseOffset);
      this.timeIndex.truncateTo(header.baseOffset);
      fs.ftruncateSync(this.file.fd(), position);
      throw error;
    }
    this.sizeBytes += batch.length;
  }

  /** Updates the in-memory summary (next offset, largest timestamp) for a batch. */
  private observeBatch(header: BatchHeader): void {
    this.nextOffset = header.lastOffset + 1;
    if (header.maxTimestamp > this.maxTimestampMs) {
      this.maxTimestampMs = header.maxTimestamp;
      this.offsetOfMaxTimestamp = header.lastOffset;
    }
  }

  private indexBatch(header: BatchHeader, position: number): void {
    this.observeBatch(header);
    if (this.bytesSinceLastIndexEntry > this.options.indexIntervalBytes) {
      this.offsetIndex.append(header.baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestampMs, this.offsetOfMaxTimestamp);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += header.sizeBytes;
  }

  /**
   * Validates every batch from the start, rebuilding both indexes, and truncates the
   * file at the first batch that is torn, fails its CRC, breaks offset continuity or
   * carries an implausible leader epoch.
   */
  recover(isEpochPlausible: EpochCheck): SegmentRecovery {
    this.offsetIndex.reset();
    this.timeIndex.reset();
    this.bytesSinceLastIndexEntry = 0;
    this.nextOffset = this.baseOffset;
    this.maxTimestampMs = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    const epochStarts: SegmentRecovery['epochStarts'] = [];
    let lastEpoch = -1;
    let validBatchCount = 0;
    let isBad = false;
    let problem = 'torn tail: the bytes there cannot form a whole batch';
    // Pinned: indexBatch below opens the index files, which may evict the log's descriptor otherwise.
    const end = this.file.withFd((fd) => scanBatches(fd, 0, this.sizeBytes, ({ position, header, buffer, bufferPosition }) => {
      const batchProblem = (this.options.allowsGaps === true ? validateStoredBatch : validateBatch)(buffer, bufferPosition, this.nextOffset) ??
        (header.partitionLeaderEpoch < lastEpoch || !isEpochPlausible(header.partitionLeaderEpoch, header.baseOffset)
          ? `leader epoch ${header.partitionLeaderEpoch} is not plausible at offset ${header.baseOffset}` : null);
      if (batchProblem !== null) {
        isBad = true;
        problem = batchProblem;
        return false;
      }
      if (header.partitionLeaderEpoch > lastEpoch) {
        lastEpoch = header.partitionLeaderEpoch;
        epochStarts.push({ epoch: lastEpoch, startOffset: header.baseOffset });
      }
      this.indexBatch(header, position);
      validBatchCount += 1;
      return true;
    }));
    const truncatedBytes = this.sizeBytes - end.validEndPosition;
    if (truncatedBytes > 0 || isBad) {
      this.lastCut = { position: end.validEndPosition, bytes: truncatedBytes, batchOffsets: batchOffsetsAt(this.fd, end.validEndPosition), problem };
      fs.ftruncateSync(this.fd, end.validEndPosition);
      this.sizeBytes = end.validEndPosition;
    }
    return { validBatchCount, truncatedBytes, epochStarts };
  }

  /**
   * Byte position of the first batch whose last offset is at or above `offset`, or
   * sizeBytes when no batch in this segment reaches it. Framing that breaks before
   * `offset` is reached (a length or header no batch has) is damage: LogDamageError.
   */
  positionOf(offset: number): { position: number; baseOffset: number } {
    if (offset >= this.nextOffset) return { position: this.sizeBytes, baseOffset: this.nextOffset };
    const start = this.offsetIndex.lookup(offset);
    let found = { position: this.sizeBytes, baseOffset: this.nextOffset };
    const end = scanBatches(this.fd, start.position, this.sizeBytes, ({ position, header }) => {
      if (header.lastOffset < offset) return true;
      found = { position, baseOffset: header.baseOffset };
      return false;
    }, 16 * 1024);
    if (end.isTorn) throw this.damageAt(end.validEndPosition, offset, 'the batch framing (length or header) is broken');
    return found;
  }

  /** Byte position just after the batch holding `offset` (sizeBytes when none holds it). */
  endPositionOf(offset: number): number {
    if (offset >= this.nextOffset) return this.sizeBytes;
    const { position } = this.positionOf(offset);
    const lengthBytes = Buffer.alloc(LOG_OVERHEAD_BYTES);
    if (readFully(this.fd, lengthBytes, LOG_OVERHEAD_BYTES, position) < LOG_OVERHEAD_BYTES) return this.sizeBytes;
    // A length no batch has is left for read() to report as damage.
    const size = lengthBytes.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
    return size < BATCH_HEADER_BYTES ? this.sizeBytes : Math.min(position + size, this.sizeBytes);
  }

  private damageAt(position: number, offset: number, problem: string): LogDamageError {
    return new LogDamageError(this.logPath, position, offset, this.baseOffset, problem);
  }

  /**
   * Reads whole batches starting with the one that holds `startOffset`, up to maxBytes
   * and never past `maxPosition`. The first batch is returned whole even when it is
   * larger than maxBytes, so a consumer always makes progress (KIP-74).
   */
  read(startOffset: number, maxBytes: number, maxPosition: number): Buffer | null {
    const { position } = this.positionOf(startOffset);
    const limit = Math.min(maxPosition, this.sizeBytes);
    if (position >= limit) return null;
    const wanted = Math.min(maxBytes, limit - position);
    let buffer = Buffer.allocUnsafe(Math.max(wanted, LOG_OVERHEAD_BYTES));
    let length = readFully(this.fd, buffer, Math.min(buffer.length, limit - position), position);
    const firstBatchBytes = length < LOG_OVERHEAD_BYTES ? 0 : buffer.readInt32BE(BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
    // A length no batch has would allocate garbage-sized buffers or loop: damage, not a bug.
    if (firstBatchBytes < BATCH_HEADER_BYTES || position + firstBatchBytes > limit) {
      throw this.damageAt(position, startOffset, `the batch length there (${firstBatchBytes} bytes) does not fit the segment`);
    }
    if (firstBatchBytes > length) {
      buffer = Buffer.allocUnsafe(firstBatchBytes);
      length = readFully(this.fd, buffer, firstBatchBytes, position);
      if (length !== firstBatchBytes) throw this.damageAt(position, startOffset, `short read: ${length} of ${firstBatchBytes} bytes`);
      checkReadBatches(buffer, this.logPath, this.baseOffset, position, startOffset, this.options.allowsGaps);
      return buffer;
    }
    // Trim to whole batches.
    let end = 0;
    while (end + LOG_OVERHEAD_BYTES <= length) {
      const size = buffer.readInt32BE(end + BATCH_LENGTH_OFFSET) + LOG_OVERHEAD_BYTES;
      if (size < BATCH_HEADER_BYTES || end + size > length) break;
      end += size;
    }
    // Check data right after reading it: CRC, framing and offsets of every batch served.
    // Sound batches before a damaged one are served; the read that starts at it fails.
    return buffer.subarray(0, checkReadBatches(buffer.subarray(0, end), this.logPath, this.baseOffset, position, startOffset, this.options.allowsGaps));
  }

  /** Walks batches from `position`; see scanBatches. */
  scan(position: number, visit: Parameters<typeof scanBatches>[3]): void {
    this.file.withFd((fd) => scanBatches(fd, position, this.sizeBytes, visit, 64 * 1024));
  }

  /**
   * Removes every batch from the one that holds `offset` onwards. Returns the bytes
   * removed. Callers truncate at batch boundaries (follower truncation, recovery).
   */
  truncateTo(offset: number): number {
    if (offset >= this.nextOffset) return 0;
    const { position, baseOffset } = this.positionOf(offset);
    const removed = this.sizeBytes - position;
    fs.ftruncateSync(this.file.fd(), position);
    this.sizeBytes = position;
    this.offsetIndex.truncateTo(baseOffset);
    this.timeIndex.truncateTo(baseOffset);
    // Recompute the summary of what is left: cheap, it walks from the last index entry.
    this.nextOffset = this.baseOffset;
    this.maxTimestampMs = -1;
    this.offsetOfMaxTimestamp = this.baseOffset;
    const lastTime = this.timeIndex.lastEntry();
    if (lastTime !== undefined) {
      this.maxTimestampMs = lastTime.timestampMs;
      this.offsetOfMaxTimestamp = lastTime.offset;
    }
    const last = this.offsetIndex.lastEntry();
    this.bytesSinceLastIndexEntry = 0;
    this.file.withFd((fd) => scanBatches(fd, last?.position ?? 0, this.sizeBytes, ({ header }) => {
      this.observeBatch(header);
      this.bytesSinceLastIndexEntry += header.sizeBytes;
      return true;
    }));
    return removed;
  }

  /**
   * Called when a newer segment takes over appends: the time index gets a final entry
   * with the largest timestamp, which retention.ms compares with after a restart.
   */
  onBecomeInactive(): void {
    if (this.maxTimestampMs >= 0) this.timeIndex.maybeAppend(this.maxTimestampMs, this.offsetOfMaxTimestamp);
  }

  /** fsyncs the log on the thread pool, so appends continue meanwhile. */
  flush(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    // Pinned while the fsync runs: the LRU must not close (and the kernel reuse) this descriptor meanwhile.
    const fd = this.file.pin();
    return new Promise((resolve, reject) => {
      fs.fsync(fd, (error) => {
        this.file.unpin();
        // A segment deleted by retention while its fsync was queued has nothing left to make durable.
        if (error && !(this.isClosed && error.code === 'EBADF')) reject(error);
        else resolve();
      });
    });
  }

  flushIndexes(): void {
    // A rolled segment's background flush may finish after the segment was closed (log
    // closed or deleted, segment truncated away): its fds are gone, maybe reused by other
    // files, and an EBADF thrown here became an unhandled rejection that ends the process.
    if (this.isClosed) return;
    this.offsetIndex.flush();
    this.timeIndex.flush();
  }

  flushSync(): void {
    fs.fsyncSync(this.file.fd());
    this.flushIndexes();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.file.close();
    this.offsetIndex.close();
    this.timeIndex.close();
  }

  /** Closes and removes the segment's three files. */
  delete(): void {
    this.close();
    for (const suffix of ['.log', '.index', '.timeindex'] as const) {
      fs.rmSync(path.join(this.directory, segmentFileName(this.baseOffset, suffix)), { force: true });
    }
  }
}
