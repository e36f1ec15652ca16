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
}

export const DEFAULT_LOG_CONFIG: LogConfig = {
  segmentBytes: 1024 * 1024 * 1024,
  segmentMs: 7 * 24 * 60 * 60 * 1000,
  indexIntervalBytes: 4096,
  retentionMs: 7 * 24 * 60 * 60 * 1000,
  retentionBytes: -1,
  flushMessages: Number.MAX_SAFE_INTEGER,
  flushMs: Number.MAX_SAFE_INTEGER,
};
