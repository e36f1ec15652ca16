/**
 * Shared pieces of the tests that read record batches: walking a buffer of
 * concatenated batches (a read or fetch answer) the way the broker does, with the
 * batch sizes the format declares.
 */
import { batchSizeAt } from '../../src/record/header.js';

/**
 * Yields the position of each whole batch in a buffer of concatenated batches and
 * stops before a trailing partial one, as Kafka's log input streams do. It checks
 * lengths only; validate or decode each batch before trusting it.
 */
export function* batchPositions(buf: Buffer, position = 0): Generator<number, void, undefined> {
  let next = position;
  while (true) {
    const sizeBytes = batchSizeAt(buf, next);
    if (sizeBytes < 0 || sizeBytes > buf.length - next) return;
    yield next;
    next += sizeBytes;
  }
}
