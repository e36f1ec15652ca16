/**
 * Partition choice for produced records, compatible with Kafka's Java client: a keyed
 * record goes to toPositive(murmur2(keyBytes)) % partitionCount, so the same key lands
 * on the same partition in Kafka and in Runnel. Records without a key or an explicit
 * partition spread over partitions one produce request at a time (sticky per batch),
 * which keeps a request's keyless records in one batch, like KIP-480's sticky
 * partitioner, without the per-record round-robin that splits every request.
 */
import { assert } from '../util/assert.js';
import { murmur2, toPositive } from '../util/murmur2.js';

function assertPartitionCount(partitionCount: number): void {
  assert(
    Number.isInteger(partitionCount) && partitionCount >= 1,
    () => `partition count must be a positive integer, got ${partitionCount}`,
  );
}

/** The partition Kafka's default partitioner picks for a record with these key bytes. */
export function partitionForKey(keyBytes: Uint8Array, partitionCount: number): number {
  assertPartitionCount(partitionCount);
  return toPositive(murmur2(keyBytes)) % partitionCount;
}

/**
 * Round-robin over partitions, one step per produce request. The broker keeps one per
 * topic and calls next() once for a request's keyless records; every such record of
 * that request then goes to the returned partition. The starting point is random so
 * that many short-lived brokers or tests do not all pile onto partition 0.
 */
export class StickyPartitioner {
  private counter: number;

  constructor(startCounter: number = Math.floor(Math.random() * 0x7fffffff)) {
    assert(Number.isInteger(startCounter), () => `start counter must be an integer, got ${startCounter}`);
    this.counter = startCounter | 0;
  }

  /** The partition for the next batch of keyless records. */
  next(partitionCount: number): number {
    assertPartitionCount(partitionCount);
    const partition = toPositive(this.counter) % partitionCount;
    // Wrap as an int32, like the Java counter, so the sequence never loses precision.
    this.counter = (this.counter + 1) | 0;
    return partition;
  }
}
