/**
 * The two ways stored or received bytes fail to be a batch Runnel can read: corrupt
 * bytes, and a sound batch in a compression Runnel does not implement. Both carry
 * Kafka's error code, so a caller can answer with it.
 */

/** Bytes that are not a sound batch: torn, overwritten, or never a batch at all. */
export class CorruptBatchError extends Error {
  override name = 'CorruptBatchError';
  /** Kafka's name for this error (CorruptRecordException). */
  readonly code = 'CORRUPT_MESSAGE';
}

/** A sound batch whose records are compressed, which Runnel neither writes nor reads. */
export class UnsupportedCompressionError extends Error {
  override name = 'UnsupportedCompressionError';
  readonly code = 'UNSUPPORTED_COMPRESSION_TYPE';
  constructor(readonly compression: number) {
    super(`record batch uses compression codec ${compression}; Runnel reads only uncompressed batches`);
  }
}

/** A sound batch a producer may not send: transactional or control, LogAppendTime, or a field its format bits forbid. */
export class InvalidBatchError extends Error {
  override name = 'InvalidBatchError';
  /** Kafka's name for this error (InvalidRecordException). */
  readonly code = 'INVALID_RECORD';
}
