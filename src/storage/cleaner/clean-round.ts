/**
 * One cleaning round of one partition log (Kafka's Cleaner.clean): which part of the
 * log may be cleaned, the key → latest offset map of its dirty part, and the rewrite
 * of every closed segment up to where the map reaches.
 *
 *  - Cleanable: closed segments (never the active one), wholly below the high
 *    watermark and the recovery point (fsynced), and older than min.compaction.lag.ms
 *    (by their largest timestamp). The dirty part starts at the cleaner checkpoint.
 *  - The map holds what fits its memory: when the dirty part has more keys, the round
 *    stops there and the next round goes on from that offset.
 *  - A record survives unless the map holds a higher offset for its key; a tombstone
 *    also goes once it was below the checkpoint (cleaned once) and its segment was last
 *    written more than delete.retention.ms ago (Kafka's pre-KIP-534 delete horizon; a
 *    cleaned segment keeps the original's modification time). Keyless records stay.
 *  - Every segment is read in bounded chunks through the IoPacer, each batch checked
 *    (CRC) before anything of it is kept, so damage is never laundered into a new CRC.
 */
import fs from 'node:fs';
import { scanBatches } from '../../record/scanner.js';
import type { BatchHeader } from '../../record/header.js';
import { validateStoredBatch } from '../../record/validate.js';
import type { LocalLog } from '../local-log.js';
import type { LogSegment } from '../segment.js';
import { forEachRecord, rebuildBatch } from './batch-records.js';
import type { IoPacer } from './io-pacer.js';
import type { OffsetMap } from './offset-map.js';
import { cleanedPath, crashPoint, swapInCleaned } from './segment-swap.js';

const CHUNK_BYTES = 64 * 1024;

/** What a log offers the cleaner now. */
export interface Cleanable {
  /** The cleaner checkpoint (or the log start when higher): where the dirty part begins. */
  firstDirtyOffset: number;
  /** The first offset the cleaner may not touch: the end of the last cleanable segment. */
  firstUncleanableOffset: number;
  /** Closed segments wholly below firstUncleanableOffset, oldest first. */
  segments: LogSegment[];
  cleanBytes: number;
  dirtyBytes: number;
  /** dirtyBytes / (cleanBytes + dirtyBytes); 0 when nothing is cleanable. */
  dirtyRatio: number;
  /** True when a dirty segment is older than max.compaction.lag.ms: it must be cleaned now. */
  isOverdue: boolean;
}

/** Where the segment ends: the next segment's base offset (a cleaned segment may end in a gap). */
function segmentEnd(segments: readonly LogSegment[], index: number): number {
  return index + 1 < segments.length ? segments[index + 1].baseOffset : segments[index].nextOffset;
}

export function findCleanable(log: LocalLog, bounds: { checkpoint: number; logStartOffset: number; highWatermark: number; recoveryPoint: number }, nowMs: number): Cleanable {
  const { config, segments } = log;
  const firstDirtyOffset = Math.max(bounds.checkpoint, bounds.logStartOffset);
  let limit = Math.min(log.activeSegment.baseOffset, bounds.highWatermark, bounds.recoveryPoint);
  const cleanable: LogSegment[] = [];
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let isOverdue = false;
  let firstUncleanableOffset = segments[0].baseOffset;
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i];
    const end = segmentEnd(segments, i);
    const isTooYoung = config.minCompactionLagMs > 0 && segment.maxTimestampMs > nowMs - config.minCompactionLagMs;
    if (end > limit || isTooYoung) {
      limit = segment.baseOffset;
      break;
    }
    cleanable.push(segment);
    firstUncleanableOffset = end;
    if (end <= firstDirtyOffset) {
      cleanBytes += segment.sizeBytes;
    } else {
      dirtyBytes += segment.sizeBytes;
      if (segment.maxTimestampMs >= 0 && segment.maxTimestampMs < nowMs - config.maxCompactionLagMs) isOverdue = true;
    }
  }
  const total = cleanBytes + dirtyBytes;
  return {
    firstDirtyOffset, firstUncleanableOffset, segments: cleanable, cleanBytes, dirtyBytes,
    dirtyRatio: total === 0 ? 0 : dirtyBytes / total, isOverdue,
  };
}

/**
 * Walks the batches of `segment` from its start in chunks of about CHUNK_BYTES, through
 * the pacer. `visit` gets each checked batch; returning false stops the walk.
 */
async function walkSegment(segment: LogSegment, pacer: IoPacer, visit: (buffer: Buffer, position: number, header: BatchHeader) => boolean): Promise<void> {
  const fd = fs.openSync(segment.logPath, 'r');
  try {
    const size = segment.sizeBytes;
    let position = 0;
    let isStopped = false;
    while (position < size && !isStopped) {
      const chunkStart = position;
      const end = scanBatches(fd, position, size, ({ position: at, header, buffer, bufferPosition }) => {
        if (at - chunkStart >= CHUNK_BYTES) return false;
        const problem = validateStoredBatch(buffer, bufferPosition);
        if (problem !== null) throw new Error(`segment ${segment.logPath}: the batch at byte ${at} is damaged: ${problem}`);
        if (!visit(buffer, bufferPosition, header)) {
          isStopped = true;
          return false;
        }
        return true;
      }, CHUNK_BYTES);
      if (end.isTorn) throw new Error(`segment ${segment.logPath}: the batch framing at byte ${end.validEndPosition} is broken`);
      position = isStopped ? size : end.validEndPosition;
      await pacer.spend(position - chunkStart);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Fills `map` with the latest offset of every key in [firstDirtyOffset, limit), as far
 * as it has room. Returns the first offset not mapped (limit when everything fit).
 */
export async function buildOffsetMap(cleanable: Cleanable, map: OffsetMap, pacer: IoPacer): Promise<number> {
  map.clear();
  const { firstDirtyOffset: from, firstUncleanableOffset: limit } = cleanable;
  let endOffset = limit;
  for (const segment of cleanable.segments) {
    if (segment.nextOffset <= from) continue;
    let isFull = false;
    await walkSegment(segment, pacer, (buffer, position, header) => {
      if (header.lastOffset < from) return true;
      forEachRecord(buffer, position, header, (record) => {
        if (isFull || record.key === null || record.offset < from || record.offset >= limit) return;
        if (!map.tryPut(record.key, record.offset)) {
          isFull = true;
          endOffset = record.offset;
        }
      });
      return !isFull;
    });
    if (isFull) break;
  }
  return endOffset;
}

export interface SegmentCleaning {
  /** Bytes before and after; equal when nothing was removed (the segment is left as it was). */
  bytesBefore: number;
  bytesAfter: number;
  recordsRemoved: number;
}

export interface SegmentCleaningInput {
  log: LocalLog;
  segment: LogSegment;
  map: OffsetMap;
  /** The checkpoint before this round: tombstones below it were cleaned once already. */
  cleanedOnceBelow: number;
  pacer: IoPacer;
  nowMs: number;
}

/**
 * Rewrites one closed segment keeping only the records that must survive, then swaps
 * the result in (segment-swap.ts) if the segment is still the log's and unchanged. A
 * segment that loses nothing is left alone; one that loses everything is dropped from
 * the log, unless it is the first (it keeps the log's start).
 */
export async function cleanSegment(input: SegmentCleaningInput): Promise<SegmentCleaning> {
  const { log, segment, map, cleanedOnceBelow, pacer, nowMs } = input;
  const bytesBefore = segment.sizeBytes;
  const modifiedMs = fs.statSync(segment.logPath).mtimeMs;
  const tombstonesExpire = modifiedMs < nowMs - log.config.deleteRetentionMs;
  const target = cleanedPath(log.directory, segment.baseOffset);
  let out: number | undefined = fs.openSync(target, 'w');
  let bytesAfter = 0;
  let recordsRemoved = 0;
  let isSwapped = false;
  try {
    const write = (bytes: Buffer): void => {
      for (let done = 0; done < bytes.length;) done += fs.writeSync(out!, bytes, done, bytes.length - done, bytesAfter + done);
      bytesAfter += bytes.length;
    };
    await walkSegment(segment, pacer, (buffer, position, header) => {
      const kept: Array<{ start: number; end: number }> = [];
      forEachRecord(buffer, position, header, (record) => {
        const isSuperseded = record.key !== null && map.get(record.key) > record.offset;
        const isExpiredTombstone = record.key !== null && record.isTombstone && record.offset < cleanedOnceBelow && tombstonesExpire;
        if (isSuperseded || isExpiredTombstone) recordsRemoved += 1;
        else kept.push({ start: record.start, end: record.end });
      });
      if (kept.length === header.recordCount) write(buffer.subarray(position, position + header.sizeBytes));
      else if (kept.length > 0) write(rebuildBatch(buffer, position, kept));
      return true;
    });
    if (recordsRemoved === 0) return { bytesBefore, bytesAfter: bytesBefore, recordsRemoved };
    const toSync = out;
    // On the thread pool: an fsync of a whole segment must not hold up the event loop.
    await new Promise<void>((resolve, reject) => fs.fsync(toSync, (error) => (error === null ? resolve() : reject(error))));
    fs.closeSync(out);
    out = undefined;
    fs.utimesSync(target, new Date(modifiedMs), new Date(modifiedMs));
    crashPoint();
    pacer.throwIfAborted();
    // The log may have changed while this segment was read (retention, truncation): then the copy is stale.
    if (log.isClosed || !log.segments.includes(segment) || segment.sizeBytes !== bytesBefore || segment === log.activeSegment) {
      return { bytesBefore, bytesAfter: bytesBefore, recordsRemoved: 0 };
    }
    const isFirst = log.segments[0] === segment;
    segment.close();
    swapInCleaned(log.directory, segment.baseOffset);
    isSwapped = true;
    if (bytesAfter === 0 && !isFirst) {
      fs.rmSync(segment.logPath, { force: true });
      log.replaceSegment(segment, null);
    } else {
      log.replaceSegment(segment, log.openSegment(segment.baseOffset));
    }
    return { bytesBefore, bytesAfter, recordsRemoved };
  } finally {
    // Closed once only: a descriptor number closed twice may by then be another file's.
    if (out !== undefined) fs.closeSync(out);
    if (!isSwapped) fs.rmSync(target, { force: true });
  }
}
