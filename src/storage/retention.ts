/**
 * Retention (Kafka's deleteOldSegments with its retention.ms and retention.bytes
 * breaches): which whole segments of a log go, oldest first. Only segments wholly
 * below the high watermark go, so no reader loses a record it could not yet see, and
 * the active segment stays unless it has expired and is the last one left, when it is
 * rolled first, as Kafka does.
 */
import type { LocalLog } from './local-log.js';
import type { LogSegment } from './segment.js';

/**
 * Deletes segments whose newest record is older than retention.ms, then while the log
 * minus its oldest segment is still at least retention.bytes. `roll` rolls the log the
 * way its owner does (scheduling the rolled segment's fsync). Returns the count deleted.
 */
export function deleteRetainedSegments(log: LocalLog, highWatermark: number, nowMs: number, roll: (nowMs: number) => void): number {
  const { retentionMs, retentionBytes, isDeleted } = log.config;
  let deleted = 0;
  // cleanup.policy=compact alone: segments never go by age or size, the cleaner keeps them small.
  if (!isDeleted) return 0;
  if (retentionMs >= 0) {
    while (log.segments.length > 1 && isDeletable(log, log.segments[0], highWatermark) &&
           log.segments[0].maxTimestampMs < nowMs - retentionMs) {
      log.deleteOldestSegment();
      deleted += 1;
    }
    // Rolling is checked after the older segments went (it used to be checked first, and
    // only for a lone segment, so a log whose records had all expired kept its active
    // segment until the next pass). As in Kafka, the active segment is rolled and deleted
    // when it is the last one left and has expired too.
    const active = log.activeSegment;
    if (log.segments.length === 1 && !active.isEmpty && active.maxTimestampMs < nowMs - retentionMs &&
        active.nextOffset <= highWatermark) {
      roll(nowMs);
      log.deleteOldestSegment();
      deleted += 1;
    }
  }
  if (retentionBytes >= 0) {
    let size = log.sizeBytes;
    while (log.segments.length > 1 && isDeletable(log, log.segments[0], highWatermark) && size - log.segments[0].sizeBytes >= retentionBytes) {
      size -= log.segments[0].sizeBytes;
      log.deleteOldestSegment();
      deleted += 1;
    }
  }
  return deleted;
}

function isDeletable(log: LocalLog, segment: LogSegment, highWatermark: number): boolean {
  return segment !== log.activeSegment && segment.nextOffset <= highWatermark;
}
