/**
 * The names and shapes around a LogSegment (segment.ts): file names, options, what a
 * recovery found and cut, and reading a batch's offsets where recovery cut.
 */
import type { FileCache } from './file-cache.js';
import { readBatchHeader } from '../record/header.js';
import { BATCH_HEADER_BYTES } from '../record/layout.js';
import { readFully } from '../record/scanner.js';

export function segmentFileName(baseOffset: number, suffix: '.log' | '.index' | '.timeindex'): string {
  return String(baseOffset).padStart(20, '0') + suffix;
}

export interface SegmentOptions {
  indexIntervalBytes: number;
  /**
   * The log has been compacted (it has a cleaner-offset-checkpoint): batches may hold
   * fewer records than their offset span and may skip offsets. Otherwise offsets must
   * be contiguous, and a batch that skips some is damage.
   */
  allowsGaps?: boolean;
  /** The node's open-file LRU (file-cache.ts); unbounded when not given. */
  files?: FileCache;
}

/** What recovery of one segment found. */
export interface SegmentRecovery {
  validBatchCount: number;
  truncatedBytes: number;
  /** (epoch, first offset) for each change of leader epoch seen, in log order. */
  epochStarts: Array<{ epoch: number; startOffset: number }>;
}

/** What the last truncation by recover() removed, for the warn line that reports it. */
export interface SegmentCut {
  /** Byte position the file was cut at; the first offset removed is the segment's nextOffset after the cut. */
  position: number;
  bytes: number;
  /** Offsets of the first batch removed, when its header could still be read. */
  batchOffsets?: { baseOffset: number; lastOffset: number };
  /** Why the batch there was refused (CRC, framing, offsets, leader epoch; or a torn tail). */
  problem: string;
}

/** Decides whether a batch's leader epoch is believable during recovery. */
export type EpochCheck = (epoch: number, baseOffset: number) => boolean;

/** The offsets of the batch header at `position` of the log file `fd`, if one can be read there. */
export function batchOffsetsAt(fd: number, position: number): SegmentCut['batchOffsets'] {
  const header = Buffer.alloc(BATCH_HEADER_BYTES);
  if (readFully(fd, header, header.length, position) < header.length) return undefined;
  try {
    const { baseOffset, lastOffset } = readBatchHeader(header, 0);
    return { baseOffset, lastOffset };
  } catch {
    return undefined; // Garbage where a header should be: the offsets are unknown.
  }
}
