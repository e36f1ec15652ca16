/**
 * The per-partition settings the storage layer obeys, with Kafka's meanings. The
 * broker maps topic configs (retention.ms, segment.bytes, ...) onto this shape.
 */
export interface LogConfig {
  /** segment.bytes: roll to a new segment before the active one would exceed this. */
  segmentBytes: number;
  /** segment.ms: roll once the active segment is older than this. */
  segmentMs: number;
  /** index.interval.bytes: bytes of log between two sparse index entries. */
  indexIntervalBytes: number;
  /** retention.ms: delete segments whose newest record is older; -1 keeps forever. */
  retentionMs: number;
  /** retention.bytes: delete the oldest segments while the log is larger; -1 is no limit. */
  retentionBytes: number;
  /** flush.messages: fsync once this many messages are not yet durable. */
  flushMessages: number;
  /** flush.ms: fsync when the oldest non-durable message is older than this. */
  flushMs: number;
  /** cleanup.policy holds 'compact': the cleaner keeps the latest record of every key. */
  isCompacted: boolean;
  /** cleanup.policy holds 'delete': retention.ms and retention.bytes delete old segments. */
  isDeleted: boolean;
  /** min.cleanable.dirty.ratio: clean once dirty bytes / (clean + dirty bytes) reaches this. */
  minCleanableDirtyRatio: number;
  /** min.compaction.lag.ms: records younger than this are not cleaned. */
  minCompactionLagMs: number;
  /** max.compaction.lag.ms: a segment whose records are older is cleaned whatever the ratio. */
  maxCompactionLagMs: number;
  /** delete.retention.ms: a tombstone is kept this long after its segment was first cleaned. */
  deleteRetentionMs: number;
}

export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  flushMessages: Number.MAX_SAFE_INTEGER,
  flushMs: Number.MAX_SAFE_INTEGER,
  isCompacted: false,
  isDeleted: true,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxCompactionLagMs: Number.MAX_SAFE_INTEGER,
  deleteRetentionMs: 24 * 60 * 60 * 1000,
};
