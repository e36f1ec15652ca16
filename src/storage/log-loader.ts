/**
 * Loading a partition log from its directory, Kafka's LogLoader: the segments on
 * disk, the offsets the log resumes with, and recovery after a crash.
 *
 * A clean shutdown is recorded in partition.checkpoint and the next open trusts the
 * files. Otherwise every segment from the recovery point (the offset below which
 * everything was fsynced) is re-validated batch by batch and truncated at the first
 * bad one; the segments after a truncation are garbage and deleted. The leader-epoch
 * checkpoint is then brought in line with what the log holds.
 *
 * A read that found a damaged batch leaves the checkpoint unclean with the recovery
 * point at the damaged segment (see PartitionLog), so that segment and the later ones
 * are re-validated here and cut at the damage, as Kafka's recovery cuts at the first
 * invalid batch. Every cut, after a crash or a clean stop, is told to `onWarning`.
 */
import type { FileCache } from './file-cache.js';
import fs from 'node:fs';
import path from 'node:path';
import type { LeaderEpochCache } from './leader-epoch-checkpoint.js';
import type { LogConfig } from './log-config.js';
import type { StorageWarning } from './log-damage.js';
import { readCheckpoint } from './partition-checkpoint.js';
import { completeInterruptedSwaps } from './cleaner/segment-swap.js';
import { hasCleanerCheckpoint } from './cleaner/cleaner-checkpoint.js';
import { LogSegment, segmentFileName, type EpochCheck, type SegmentOptions, type SegmentRecovery } from './segment.js';

export interface RecoveryReport {
  isCleanShutdown: boolean;
  recoveredSegments: number;
  truncatedBytes: number;
}

/** What a partition log resumes with. */
export interface LoadedLog {
  segments: LogSegment[];
  recovery: RecoveryReport;
  logStartOffset: number;
  recoveryPoint: number;
  highWatermark: number;
  /** The log has been compacted: offsets may have gaps (SegmentOptions.allowsGaps). */
  allowsGaps: boolean;
}

/**
 * Opens (and where needed recovers) the segments in `directory`. `persistedLogStartOffset`
 * is the logStartOffset the caller kept; the first segment may start lower.
 */
export function loadLog(
  directory: string,
  config: LogConfig,
  epochCache: LeaderEpochCache,
  persistedLogStartOffset: number,
  nowMs: number,
  files?: FileCache,
  onWarning?: (warning: StorageWarning) => void,
): LoadedLog {
  const checkpoint = readCheckpoint(directory);
  const isClean = checkpoint?.isCleanShutdown === true;
  const checkpointRecoveryPoint = checkpoint?.recoveryPoint ?? 0;
  const recovery: RecoveryReport = { isCleanShutdown: isClean, recoveredSegments: 0, truncatedBytes: 0 };
  const allowsGaps = hasCleanerCheckpoint(directory);
  const options: SegmentOptions = { indexIntervalBytes: config.indexIntervalBytes, files, allowsGaps };
  const recoveryPoint = isClean ? Number.MAX_SAFE_INTEGER : checkpointRecoveryPoint;
  const { segments, epochStarts } = loadSegments(directory, listSegmentFiles(directory), recoveryPoint, epochCache, options, recovery, onWarning);
  const isNew = segments.length === 0 && checkpoint === undefined;
  if (segments.length === 0) {
    segments.push(LogSegment.create(directory, persistedLogStartOffset, options, nowMs));
  }
  const activeSegment = segments[segments.length - 1];
  const logEndOffset = activeSegment.nextOffset;
  rebuildEpochCacheIfNeeded(epochCache, segments, epochStarts);
  const logStartOffset = Math.min(Math.max(persistedLogStartOffset, segments[0].baseOffset), logEndOffset);
  // A new partition (no segment file yet) has nothing to make durable.
  if ((!isClean && !isNew) || recovery.truncatedBytes > 0) {
    // What recovery validated (or cut) is made durable before it counts as recovered.
    // That is every segment holding offsets at or past the old recovery point (the ones
    // recovered), including one that starts below it: its tail may be in the page cache only.
    for (const segment of segments) if (segment.nextOffset > checkpointRecoveryPoint || segment === activeSegment) segment.flushSync();
  }
  const checkpointHighWatermark = checkpoint?.highWatermark ?? 0;
  const highWatermark = Math.min(Math.max(checkpointHighWatermark, logStartOffset), logEndOffset);
  return { segments, recovery, logStartOffset, recoveryPoint: logEndOffset, highWatermark, allowsGaps };
}

/**
 * Opens the segments in order, recovering each one that may hold offsets at or past
 * `recoveryPoint`, and stops at the first one that had to be cut (by recovery, or by
 * open() finding a torn tail even after a clean shutdown): later ones go. Every cut is
 * counted in the report and told to `onWarning`.
 */
function loadSegments(
  directory: string,
  baseOffsets: readonly number[],
  recoveryPoint: number,
  epochCache: LeaderEpochCache,
  options: SegmentOptions,
  recovery: RecoveryReport,
  onWarning: ((warning: StorageWarning) => void) | undefined,
): { segments: LogSegment[]; epochStarts: SegmentRecovery['epochStarts'] } {
  const segments: LogSegment[] = [];
  const epochStarts: SegmentRecovery['epochStarts'] = [];
  const isEpochPlausible: EpochCheck = epochCache.isEmpty
    ? () => true
    : (epoch: number, baseOffset: number) => epoch === epochCache.epochForOffset(baseOffset);
  for (let i = 0; i < baseOffsets.length; i++) {
    const baseOffset = baseOffsets[i];
    const nextBase = baseOffsets[i + 1] ?? Number.MAX_SAFE_INTEGER;
    const mustRecover = nextBase > recoveryPoint;
    const segment = LogSegment.open(directory, baseOffset, options);
    const expectedBase = segments.length === 0 ? baseOffset : segments[segments.length - 1].nextOffset;
    // Compaction leaves gaps between segments (a cleaned segment may end below the next
    // one's base, or be gone): in a compacted log only an overlap is garbage.
    if (mustRecover && (options.allowsGaps === true ? baseOffset < expectedBase : baseOffset !== expectedBase)) {
      // A gap or overlap after a truncated segment: this and every later segment is garbage.
      for (const stale of baseOffsets.slice(i)) deleteSegmentFiles(directory, stale);
      segment.delete();
      break;
    }
    let truncatedBytes = segment.truncatedBytesOnOpen;
    if (mustRecover) {
      const result = segment.recover(isEpochPlausible);
      // open() may already have cut a torn tail; counting only this pass reported 0 bytes
      // lost and relied on the gap check above to drop the later segments, uncounted.
      truncatedBytes += result.truncatedBytes;
      recovery.recoveredSegments += 1;
      epochStarts.push(...result.epochStarts);
    }
    recovery.truncatedBytes += truncatedBytes;
    const cut = truncatedBytes > 0 ? describeCut(segment, truncatedBytes) : undefined;
    if (segment.isEmpty && segments.length > 0) {
      segment.delete();
    } else {
      segments.push(segment);
    }
    if (cut !== undefined) {
      let laterBytes = 0;
      for (const stale of baseOffsets.slice(i + 1)) {
        laterBytes += fs.statSync(path.join(directory, segmentFileName(stale, '.log'))).size;
        deleteSegmentFiles(directory, stale);
      }
      recovery.truncatedBytes += laterBytes;
      onWarning?.(truncationWarning(cut, baseOffsets.slice(i + 1), laterBytes));
      break;
    }
  }
  return { segments, epochStarts };
}

interface Cut {
  segmentFile: string;
  position: number;
  fromOffset: number;
  bytes: number;
  batchOffsets?: { baseOffset: number; lastOffset: number };
  problem: string;
}

function describeCut(segment: LogSegment, bytes: number): Cut {
  const last = segment.lastCut;
  return {
    segmentFile: segmentFileName(segment.baseOffset, '.log'),
    position: last?.position ?? segment.sizeBytes,
    fromOffset: segment.nextOffset,
    bytes,
    batchOffsets: last?.batchOffsets,
    problem: last?.problem ?? 'unknown',
  };
}

/** One warn line per truncation: the segment, the offsets and the bytes removed, and why. */
function truncationWarning(cut: Cut, deletedBaseOffsets: readonly number[], deletedBytes: number): StorageWarning {
  const batch = cut.batchOffsets === undefined ? '' : ` (the first batch removed held offsets ${cut.batchOffsets.baseOffset}..${cut.batchOffsets.lastOffset})`;
  const later = deletedBaseOffsets.length === 0 ? '' :
    `; ${deletedBaseOffsets.length} later segment(s) from offset ${deletedBaseOffsets[0]} on (${deletedBytes} bytes) were deleted`;
  return {
    message: `recovery truncated segment ${cut.segmentFile} at byte position ${cut.position}: removed ${cut.bytes} bytes, ` +
      `every offset from ${cut.fromOffset} on${batch}${later}: ${cut.problem}`,
    details: {
      segment: cut.segmentFile,
      position: cut.position,
      fromOffset: cut.fromOffset,
      ...(cut.batchOffsets === undefined ? {} : { removedBatch: cut.batchOffsets }),
      truncatedBytes: cut.bytes + deletedBytes,
      deletedSegments: deletedBaseOffsets.length,
      problem: cut.problem,
    },
  };
}

function rebuildEpochCacheIfNeeded(
  epochCache: LeaderEpochCache,
  segments: readonly LogSegment[],
  recovered: SegmentRecovery['epochStarts'],
): void {
  const logEndOffset = segments[segments.length - 1].nextOffset;
  if (epochCache.isEmpty && logEndOffset > segments[0].baseOffset) {
    // The checkpoint file was lost: read every batch header once to rebuild it.
    const starts: SegmentRecovery['epochStarts'] = [];
    for (const segment of segments) {
      segment.scan(0, ({ header }) => {
        const last = starts[starts.length - 1];
        if (last === undefined || header.partitionLeaderEpoch > last.epoch) {
          starts.push({ epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset });
        }
        return true;
      });
    }
    epochCache.replace(starts);
  } else if (recovered.length > 0) {
    // Recovery reports the epochs of each recovered segment from its first batch, so
    // epochs the checkpoint already holds come back (assign() asserts on an older one).
    // Every recovered batch matched the checkpoint, so only a newer epoch can be missing.
    for (const entry of recovered) {
      if (entry.epoch > epochCache.latestEpoch()) epochCache.assign(entry.epoch, entry.startOffset);
    }
  }
  // Entries written just before a batch that never reached the log are dropped.
  epochCache.truncateFromEnd(logEndOffset);
}

/** Base offsets of the segments in `directory`, ascending; leftover .tmp files are removed. */
function listSegmentFiles(directory: string): number[] {
  // A cleaning that a crash interrupted is finished or undone first (cleaner/segment-swap.ts).
  completeInterruptedSwaps(directory);
  const baseOffsets: number[] = [];
  for (const name of fs.readdirSync(directory)) {
    if (name.endsWith('.tmp')) {
      fs.rmSync(path.join(directory, name), { force: true });
      continue;
    }
    const match = /^(\d{20})\.log$/.exec(name);
    if (match) baseOffsets.push(Number(match[1]));
  }
  return baseOffsets.sort((a, b) => a - b);
}

function deleteSegmentFiles(directory: string, baseOffset: number): void {
  for (const suffix of ['.log', '.index', '.timeindex'] as const) {
    fs.rmSync(path.join(directory, segmentFileName(baseOffset, suffix)), { force: true });
  }
}
