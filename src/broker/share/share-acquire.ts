/**
 * Acquiring records of one share-partition from its log (here or at a replica,
 * share-source.ts): reads from the first
 * available record (SharePartition.firstAvailableOffset), writes the read records as
 * JSON once (json-writer.ts, as fetch does) noting where each begins, lets the
 * SharePartition choose which to hand out, and returns those records' JSON with the
 * acquisition's fields (deliveryCount, lockExpiresAtMs, acquisitionId) added. Reads go
 * on past records held by others until enough are acquired, the high watermark is
 * reached, or the share-partition holds as many records in flight as it may.
 */
import { JsonBuffer } from '../../record/json-buffer.js';
import { writeRecords } from '../../record/json-writer.js';
import type { Acquisition, SharePartition } from './share-partition.js';
import type { RecordSource } from './share-source.js';

/** Read rounds per partition per acquire at most (each reads up to the records still wanted). */
const READ_ROUNDS_MAX = 16;

export interface AcquiredRecords {
  topic: string;
  partition: number;
  /** One JSON object per acquired record, in offset order. */
  records: Buffer[];
  acquisitions: Acquisition[];
  /** Bytes of stored batches read. */
  bytesRead: number;
}

export interface AcquireLimits {
  consumer: string;
  recordsMax: number;
  bytesMax: number;
  nowMs: number;
}

/** Acquires up to the limits from the partition's log; null when nothing was acquired. */
export async function acquireFromLog(source: RecordSource, at: { topic: string; partition: number }, share: SharePartition, wanted: AcquireLimits): Promise<AcquiredRecords | null> {
  share.advanceLogStart(source.logStartOffset);
  const { highWatermark } = source;
  if (!share.hasAvailable(wanted.nowMs, highWatermark)) return null;
  const result: AcquiredRecords = { topic: at.topic, partition: at.partition, records: [], acquisitions: [], bytesRead: 0 };
  let from = Math.max(share.firstAvailableOffset(wanted.nowMs), source.logStartOffset);
  for (let round = 0; round < READ_ROUNDS_MAX && from < highWatermark; round++) {
    const recordsLeft = wanted.recordsMax - result.acquisitions.length;
    const bytesLeft = wanted.bytesMax - result.bytesRead;
    if (recordsLeft <= 0 || bytesLeft <= 0) break;
    const batches = await source.read(from, bytesLeft, recordsLeft);
    if (batches === null) break;
    const out = new JsonBuffer(2 * batches.length + 256);
    const starts: Array<{ offset: number; at: number }> = [];
    const style = { separator: '', topic: at.topic, before: (offset: number): string => { starts.push({ offset, at: out.length }); return ''; } };
    const { nextOffset } = writeRecords(out, batches, at.partition, from, recordsLeft, style);
    const written = out.toBuffer();
    // The share-partition as it is now (another call may have acquired meanwhile): acquire() skips what is not available.
    const acquired = share.acquire(wanted.consumer, starts.map((start) => start.offset), recordsLeft, wanted.nowMs);
    if (acquired.length > 0) result.bytesRead += batches.length;
    let index = 0;
    for (const acquisition of acquired) {
      while (starts[index].offset !== acquisition.offset) index += 1;
      const end = index + 1 < starts.length ? starts[index + 1].at : written.length;
      // The record's object without its closing brace, then the acquisition's fields.
      const tail = `,"deliveryCount":${acquisition.deliveryCount},"lockExpiresAtMs":${acquisition.lockExpiresAtMs},"acquisitionId":${acquisition.acquisitionId}}`;
      result.records.push(Buffer.concat([written.subarray(starts[index].at, end - 1), Buffer.from(tail, 'latin1')]));
      result.acquisitions.push(acquisition);
    }
    if (nextOffset <= from) break;
    from = nextOffset;
    if (!share.hasAvailable(wanted.nowMs, highWatermark)) break;
  }
  return result.acquisitions.length === 0 ? null : result;
}
