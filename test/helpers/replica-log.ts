/**
 * Reads one replica of a partition straight from a stopped node's data directory, for
 * the cluster tests that compare replicas and look for acknowledged records:
 *
 *   const replica = readReplicaLog(cluster.member(2).dataDir, 'orders', 0, highWatermark);
 *   replica.problems        // what is wrong with this replica on its own (empty when fine)
 *   replica.batches         // every batch below the high watermark, as stored (CRC checked)
 *   replica.records.get(7)  // { value, leaderEpoch } of the record at offset 7
 *   sameBatches(a, b)       // undefined, or where two replicas first differ
 *
 * The node must be stopped (or never write the partition again): the log is opened
 * read-only in effect, through the storage layer's own PartitionLog, and closed
 * without touching its files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_LOG_CONFIG } from '../../src/storage/log-config.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { decodeRecords } from '../../src/record/decode.js';
import { readBatchHeader } from '../../src/record/header.js';
import { batchPositions } from '../record/helpers.js';

export interface ReplicaRecord {
  /** The value's bytes as UTF-8 ('null' for a tombstone). */
  value: string;
  /** Its batch's partitionLeaderEpoch. */
  leaderEpoch: number;
}

export interface ReplicaLog {
  /** Every batch below the high watermark, whole, oldest first. */
  batches: Buffer[];
  /** offset -> record, below the high watermark. */
  records: Map<number, ReplicaRecord>;
  logStartOffset: number;
  logEndOffset: number;
  /** The high watermark the log's checkpoint holds (after a clean stop: the last one). */
  checkpointHighWatermark: number;
  /** What is wrong with this replica on its own: no directory, a gap, an epoch going back. */
  problems: string[];
}

/** Reads `<dataDir>/logs/<topic>-<partition>` from logStartOffset up to `highWatermark`, whole batches. */
export function readReplicaLog(dataDir: string, topic: string, partition: number, highWatermark: number): ReplicaLog {
  const content: ReplicaLog = { batches: [], records: new Map(), logStartOffset: 0, logEndOffset: 0, checkpointHighWatermark: 0, problems: [] };
  const directory = path.join(dataDir, 'logs', `${topic}-${partition}`);
  if (!fs.existsSync(directory)) {
    content.problems.push(`no log directory ${directory}`);
    return content;
  }
  const log = PartitionLog.open(directory, DEFAULT_LOG_CONFIG);
  try {
    content.logStartOffset = log.logStartOffset;
    content.logEndOffset = log.logEndOffset;
    content.checkpointHighWatermark = log.highWatermark;
    if (log.logEndOffset < highWatermark) {
      content.problems.push(`logEndOffset ${log.logEndOffset} is below the highWatermark ${highWatermark}`);
      return content;
    }
    let offset = log.logStartOffset;
    let previousEpoch = -1;
    for (let readCount = 0; offset < highWatermark; readCount++) {
      if (readCount > 100_000) throw new Error(`${directory}: still at offset ${offset} of ${highWatermark} after ${readCount} reads`);
      const data = log.read(offset, 1024 * 1024, highWatermark);
      if (data === null) {
        content.problems.push(`nothing to read at offset ${offset}, below the highWatermark ${highWatermark}`);
        break;
      }
      for (const position of batchPositions(data)) {
        const header = readBatchHeader(data, position);
        if (header.baseOffset !== offset) content.problems.push(`a batch starts at ${header.baseOffset}, expected ${offset}`);
        if (header.partitionLeaderEpoch < previousEpoch) {
          content.problems.push(`the batch at ${header.baseOffset} has leader epoch ${header.partitionLeaderEpoch} after epoch ${previousEpoch}`);
        }
        previousEpoch = header.partitionLeaderEpoch;
        content.batches.push(Buffer.from(data.subarray(position, position + header.sizeBytes)));
        for (const record of decodeRecords(data, position)) {
          content.records.set(record.offset, {
            value: record.value === null ? 'null' : record.value.toString('utf8'),
            leaderEpoch: header.partitionLeaderEpoch,
          });
        }
        offset = header.lastOffset + 1;
      }
    }
    return content;
  } finally {
    log.closeAbruptly();
  }
}

/** undefined when both hold the same batches byte for byte; else the first batch that differs. */
export function sameBatches(a: readonly Buffer[], b: readonly Buffer[]): string | undefined {
  const count = Math.max(a.length, b.length);
  const describe = (batch: Buffer | undefined): string => {
    if (batch === undefined) return 'none';
    const header = readBatchHeader(batch, 0);
    return `offsets ${header.baseOffset}..${header.lastOffset} epoch ${header.partitionLeaderEpoch} crc ${header.crc} ${header.sizeBytes} B`;
  };
  for (let index = 0; index < count; index++) {
    if (a[index] === undefined || b[index] === undefined || !a[index].equals(b[index])) {
      return `batch ${index}: ${describe(a[index])} vs ${describe(b[index])}`;
    }
  }
  return undefined;
}
