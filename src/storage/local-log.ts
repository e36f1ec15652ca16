/**
 * LocalLog: the segments of one partition on this node, oldest first, the last one
 * active (Kafka's LocalLog). It appends to the active segment, rolls to a new one,
 * reads whole batches across segments, finds offsets by time, truncates and drops
 * the oldest segment. It knows nothing of high watermarks, leader epochs or fsync
 * policy: PartitionLog passes the bounds in and decides when to roll and flush.
 *
 * Concurrency: owned by one PartitionLog on the event loop.
 */
import type { FileCache } from './file-cache.js';
import type { BatchHeader } from '../record/header.js';
import { decodeRecords } from '../record/decode.js';
import type { LogConfig } from './log-config.js';
import { LogSegment, type SegmentOptions } from './segment.js';

/** Relative offsets in the offset index are u32: a segment rolls before its span reaches that. */
const SEGMENT_OFFSET_SPAN_MAX = 0xfffffff0;

export class LocalLog {
  isClosed = false;
  /** Compacted once (see SegmentOptions.allowsGaps); segments opened or made from now on allow gaps. */
  allowsGaps = false;

  constructor(
    readonly directory: string,
    public config: LogConfig,
    public segments: LogSegment[],
    /** The node's open-file LRU, for the segments this log makes. */
    private readonly files?: FileCache,
  ) {}

  get logEndOffset(): number {
    return this.activeSegment.nextOffset;
  }

  get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1];
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  /** From now on offsets may have gaps: in every segment, and in those made or opened later. */
  allowGaps(): void {
    this.allowsGaps = true;
    for (const segment of this.segments) segment.allowGaps();
  }

  /** Appends a batch the partition log has checked to the active segment. */
  append(batch: Buffer, header: BatchHeader): void {
    this.activeSegment.append(batch, header);
  }

  /** True when the batch must go to a new segment: the active one is full, old, or out of offset span. */
  shouldRoll(header: BatchHeader, nowMs: number): boolean {
    const active = this.activeSegment;
    if (active.isEmpty) return false;
    const isFull = active.sizeBytes + header.sizeBytes > this.config.segmentBytes;
    const isOld = nowMs - active.createdAtMs > this.config.segmentMs;
    const isOffsetSpanFull = header.lastOffset - active.baseOffset > SEGMENT_OFFSET_SPAN_MAX;
    return isFull || isOld || isOffsetSpanFull;
  }

  /** Starts a new active segment at logEndOffset; returns the one it replaced and the new one. */
  roll(nowMs: number): { rolled: LogSegment; next: LogSegment } {
    const rolled = this.activeSegment;
    // The new segment first: if it cannot be made (out of file descriptors, disk full)
    // the active one stays active and untouched, and the append that wanted the roll fails.
    const next = LogSegment.create(this.directory, rolled.nextOffset, this.segmentOptions(), nowMs);
    rolled.onBecomeInactive();
    this.segments.push(next);
    return { rolled, next };
  }

  /**
   * Reads whole batches from the one holding `startOffset`, up to maxBytes (the first
   * batch whole in any case), never past the batch holding `lastWanted` nor past
   * `maxOffset`. Null when nothing is there.
   */
  read(startOffset: number, maxBytes: number, maxOffset: number, lastWanted: number): Buffer | null {
    const index = this.segmentIndexFor(startOffset);
    for (let i = index; i < this.segments.length; i++) {
      const segment = this.segments[i];
      // Batches never straddle the high watermark or lastWanted's batch end: whole batches only.
      const highWatermarkPosition = maxOffset >= segment.nextOffset ? segment.sizeBytes : segment.positionOf(maxOffset).position;
      const wantedPosition = lastWanted >= segment.nextOffset ? segment.sizeBytes : segment.endPositionOf(lastWanted);
      const data = segment.read(Math.max(startOffset, segment.baseOffset), maxBytes, Math.min(highWatermarkPosition, wantedPosition));
      if (data !== null) return data;
      if (maxOffset <= segment.nextOffset) break;
    }
    return null;
  }

  /** Index of the last segment whose baseOffset is at or below `offset`. */
  private segmentIndexFor(offset: number): number {
    let low = 0;
    let high = this.segments.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.segments[middle].baseOffset <= offset) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** Base offset of the oldest segment holding a record at or after timestampMs (the log end when none). */
  firstOffsetSince(timestampMs: number): number {
    const segment = this.segments.find((candidate) => candidate.maxTimestampMs >= timestampMs || candidate === this.activeSegment);
    return segment?.baseOffset ?? this.logEndOffset;
  }

  /**
   * The first offset in [startOffset, endOffset) whose record timestamp is at or after
   * `timestampMs`; null when there is none.
   */
  offsetForTimestamp(timestampMs: number, startOffset: number, endOffset: number): { offset: number; timestampMs: number } | null {
    for (const segment of this.segments) {
      if (segment.maxTimestampMs < timestampMs) continue;
      const entry = segment.timeIndex.lookupBefore(timestampMs);
      const { position } = segment.positionOf(Math.max(entry?.offset ?? segment.baseOffset, startOffset));
      let found: { offset: number; timestampMs: number } | null = null;
      segment.scan(position, ({ header, buffer, bufferPosition }) => {
        if (header.baseOffset >= endOffset) return false;
        if (header.maxTimestamp < timestampMs) return true;
        for (const record of decodeRecords(buffer.subarray(bufferPosition, bufferPosition + header.sizeBytes))) {
          if (record.offset >= startOffset && record.offset < endOffset && record.timestampMs >= timestampMs) {
            found = { offset: record.offset, timestampMs: record.timestampMs };
            return false;
          }
        }
        return true;
      });
      if (found !== null) return found;
    }
    return null;
  }

  /** Removes every batch from the one holding `offset` onwards, whole segments first. */
  truncateTo(offset: number): void {
    while (this.segments.length > 1 && this.activeSegment.baseOffset >= offset) {
      const removed = this.segments.pop();
      removed?.delete();
    }
    this.activeSegment.truncateTo(offset);
  }

  private segmentOptions(): SegmentOptions {
    return { indexIntervalBytes: this.config.indexIntervalBytes, files: this.files, allowsGaps: this.allowsGaps };
  }

  /** Deletes every segment and starts again with an empty one at `offset`. */
  truncateFullyAndStartAt(offset: number, nowMs: number): void {
    // Old segments go first (one may have this very base offset). A crash before the new
    // one exists leaves an empty directory: the replica fetches, is out of range, and
    // comes back here.
    for (const segment of this.segments) segment.delete();
    this.segments = [LogSegment.create(this.directory, offset, this.segmentOptions(), nowMs)];
  }

  /**
   * Puts `replacement` where `segment` was (the cleaner swapped its log file; see
   * cleaner/segment-swap.ts), or removes it from the list when null.
   */
  replaceSegment(segment: LogSegment, replacement: LogSegment | null): void {
    const index = this.segments.indexOf(segment);
    if (index < 0) return;
    if (replacement === null) this.segments.splice(index, 1);
    else this.segments[index] = replacement;
  }

  /** Opens the segment at `baseOffset` from its files (indexes rebuilt when missing). */
  openSegment(baseOffset: number): LogSegment {
    return LogSegment.open(this.directory, baseOffset, this.segmentOptions());
  }

  deleteOldestSegment(): void {
    const oldest = this.segments.shift();
    oldest?.delete();
  }

  /** fsyncs and closes every segment (a clean shutdown). */
  close(): void {
    this.isClosed = true;
    for (const segment of this.segments) {
      segment.flushSync();
      segment.close();
    }
  }

  /** Closes every segment without an fsync: what a crash leaves. */
  closeAbruptly(): void {
    this.isClosed = true;
    for (const segment of this.segments) segment.close();
  }
}
