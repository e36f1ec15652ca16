/**
 * Walks the record batches of a .log file between two byte positions without loading
 * the file: it reads chunks of up to `chunkBytes` and re-reads a batch on its own when
 * it straddles a chunk boundary or is larger than a chunk.
 *
 * Used by recovery (validate every batch), by opening a segment (find the tail after
 * the last index entry) and by reads (find the batch that holds an offset). It stops at
 * the first batch whose length field cannot be right (shorter than a header, or past
 * `endPosition`): that is where a torn write begins.
 */
import fs from 'node:fs';
import { CorruptBatchError } from './errors.js';
import { readBatchHeader, type BatchHeader } from './header.js';
import { BATCH_HEADER_BYTES, BATCH_LENGTH_MIN, BATCH_LENGTH_OFFSET, LOG_OVERHEAD_BYTES } from './layout.js';

export interface ScannedBatch {
  /** Byte position of the batch in the file. */
  position: number;
  header: BatchHeader;
  /** The buffer holding the whole batch at `bufferPosition` (a shared chunk: do not keep it). */
  buffer: Buffer;
  bufferPosition: number;
}

export interface ScanEnd {
  /** Position just after the last whole batch seen. */
  validEndPosition: number;
  /** True when bytes after validEndPosition (before endPosition) could not form a batch. */
  isTorn: boolean;
}

/**
 * Calls `visit` for every whole batch from `startPosition`; `visit` returns false to stop
 * early. Returns where the walk ended.
 */
export function scanBatches(
  fd: number,
  startPosition: number,
  endPosition: number,
  visit: (batch: ScannedBatch) => boolean,
  chunkBytes = 1 << 20,
): ScanEnd {
  let chunk = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(endPosition - startPosition, BATCH_HEADER_BYTES)));
  let chunkStart = startPosition;
  let chunkLength = 0;
  let position = startPosition;
  while (position < endPosition) {
    if (position + BATCH_HEADER_BYTES > endPosition) return { validEndPosition: position, isTorn: true };
    // Make sure the header is in the current chunk.
    if (position + BATCH_HEADER_BYTES > chunkStart + chunkLength) {
      chunkStart = position;
      chunkLength = readFully(fd, chunk, Math.min(chunk.length, endPosition - position), position);
      if (chunkLength < BATCH_HEADER_BYTES) return { validEndPosition: position, isTorn: true };
    }
    const batchLength = chunk.readInt32BE(position - chunkStart + BATCH_LENGTH_OFFSET);
    const sizeBytes = batchLength + LOG_OVERHEAD_BYTES;
    if (batchLength < BATCH_LENGTH_MIN || position + sizeBytes > endPosition) {
      return { validEndPosition: position, isTorn: true };
    }
    // Make sure the whole batch is in the current chunk.
    if (position + sizeBytes > chunkStart + chunkLength) {
      if (sizeBytes > chunk.length) chunk = Buffer.allocUnsafe(sizeBytes);
      chunkStart = position;
      chunkLength = readFully(fd, chunk, Math.min(chunk.length, endPosition - position), position);
      if (chunkLength < sizeBytes) return { validEndPosition: position, isTorn: true };
    }
    const bufferPosition = position - chunkStart;
    let header: BatchHeader;
    try {
      header = readBatchHeader(chunk, bufferPosition);
    } catch (error) {
      // Garbage with a plausible length (a torn write) is where the valid log ends.
      if (error instanceof CorruptBatchError) return { validEndPosition: position, isTorn: true };
      throw error;
    }
    if (!visit({ position, header, buffer: chunk, bufferPosition })) {
      return { validEndPosition: position, isTorn: false };
    }
    position += sizeBytes;
  }
  return { validEndPosition: position, isTorn: false };
}

/** pread until `length` bytes are in or the file ends; returns the count read. */
export function readFully(fd: number, buffer: Buffer, length: number, position: number): number {
  let total = 0;
  while (total < length) {
    const count = fs.readSync(fd, buffer, total, length - total, position + total);
    if (count === 0) break;
    total += count;
  }
  return total;
}
