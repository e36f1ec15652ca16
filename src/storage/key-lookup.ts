/**
 * The latest committed record of one key of a compacted partition: the key index
 * (key-index.ts) gives an offset, the batch holding it is read (its CRC checked, as
 * every read does) and the record's key compared with the one asked for.
 *
 * A record whose key differs means two keys share a 64-bit fingerprint (key-table.ts):
 * the answer then comes from a scan of the partition up to its high watermark, in reads
 * of SCAN_READ_BYTES with the event loop given back between them. For n keys in a
 * partition the chance that any two share a fingerprint is about n²/2^65 (one in 37
 * million for a million keys), so the scan is the rare path, never the usual one.
 * What the index cannot tell apart without reading on every append: when two live keys
 * share a fingerprint and the one written last is then deleted, its tombstone removes
 * the shared entry and the other key reads as absent until the index is rebuilt (the
 * next start). Same odds; Kafka's cleaner takes a like risk with its 128-bit hashes.
 */
import { assert } from '../util/assert.js';
import { readBatchHeader } from '../record/header.js';
import { forEachRecord } from './cleaner/batch-records.js';
import type { PartitionLog } from './partition-log.js';

const SCAN_READ_BYTES = 1 << 20;

export type KeyRead =
  /** `batch` is the whole stored batch holding the record at `offset`. */
  | { kind: 'found'; offset: number; batch: Buffer }
  /** No committed record has this key, or its latest is a tombstone. */
  | { kind: 'absent' }
  /** The index left keys out for want of memory and does not hold this one: it may exist. */
  | { kind: 'unknown' };

/** The latest record of `key` below the high watermark. */
export async function readLatestRecord(log: PartitionLog, key: Buffer): Promise<KeyRead> {
  const index = log.keyIndex;
  assert(index !== undefined, () => `log ${log.directory} is not compacted: it has no key index`);
  const offset = index.offsetOf(key);
  if (offset < 0) return index.isComplete ? { kind: 'absent' } : { kind: 'unknown' };
  const found = recordAt(log, offset);
  if (found !== undefined && found.key.equals(key)) return found.isTombstone ? { kind: 'absent' } : { kind: 'found', offset, batch: found.batch };
  // Another key with the same fingerprint: the log itself says which record is this key's latest.
  const latest = await scanForKey(log, key);
  if (latest < 0) return { kind: 'absent' };
  const record = recordAt(log, latest);
  return record === undefined || record.isTombstone ? { kind: 'absent' } : { kind: 'found', offset: latest, batch: record.batch };
}

/** The batch holding `offset` (below the high watermark) and that record's key, or undefined when no record has that offset. */
function recordAt(log: PartitionLog, offset: number): { batch: Buffer; key: Buffer; isTombstone: boolean } | undefined {
  if (offset < log.logStartOffset || offset >= log.highWatermark) return undefined;
  const data = log.read(offset, 1, log.highWatermark, 1);
  if (data === null) return undefined;
  const header = readBatchHeader(data, 0);
  const batch = data.subarray(0, header.sizeBytes);
  let found: { batch: Buffer; key: Buffer; isTombstone: boolean } | undefined;
  forEachRecord(batch, 0, header, (record) => {
    if (record.offset === offset && record.key !== null) found = { batch, key: record.key, isTombstone: record.isTombstone };
  });
  return found;
}

/** The offset of the latest record of `key` (-1 when none, or when it is a tombstone), reading the whole committed log. */
async function scanForKey(log: PartitionLog, key: Buffer): Promise<number> {
  let latest = -1;
  let next = log.logStartOffset;
  while (next < log.highWatermark) {
    const data = log.read(next, SCAN_READ_BYTES, log.highWatermark);
    if (data === null) break;
    for (let position = 0; position < data.length;) {
      const header = readBatchHeader(data, position);
      forEachRecord(data, position, header, (record) => {
        if (record.offset >= next && record.key !== null && record.key.equals(key)) latest = record.isTombstone ? -1 : record.offset;
      });
      next = Math.max(next, header.lastOffset + 1);
      position += header.sizeBytes;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  return latest;
}
