/**
 * Where a share group's coordinator reads a partition's records: its own log when it
 * leads the partition or holds an in-sync replica of it (KIP-392, as a fetch and a
 * consumer group's poll do), else an in-sync replica over /internal/v1/read, the
 * leader first (member-poll.ts reads the same way). A replica that does not answer is
 * skipped; when none answers, the partition is left out of this acquisition and read
 * again at the next one.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { Replication } from '../replication.js';
import type { PartitionState } from '../topic-state.js';

export interface RecordSource {
  /** The partition's range where it is read (a remote replica's as it answered). */
  logStartOffset: number;
  highWatermark: number;
  /** Whole committed batches from the one holding `from`, or null when none is there. */
  read(from: number, bytesMax: number, recordsMax: number): Promise<Buffer | null>;
  /** Whether the records come from this node's log (a long-poll then waits on its appends). */
  isLocal: boolean;
}

/** Reads this node's replica up to its high watermark. */
export function localSource(state: PartitionState): RecordSource {
  const { log } = state;
  const highWatermark = log.highWatermark;
  return {
    logStartOffset: log.logStartOffset,
    highWatermark,
    read: async (from, bytesMax, recordsMax) => log.read(from, bytesMax, highWatermark, recordsMax),
    isLocal: true,
  };
}

/** This node's log when it may serve the partition, else the first in-sync replica that answers; null when none can. */
export async function sourceOf(replication: Replication, state: PartitionState): Promise<RecordSource | null> {
  let nodeIds: number[];
  try {
    const route = replication.readRoute(state, false);
    if (route.kind === 'local') return localSource(state);
    nodeIds = route.nodeIds;
  } catch {
    return null; // No leader right now: read again at the next acquisition.
  }
  for (const nodeId of nodeIds) {
    try {
      const range = await replication.remoteOffsets(nodeId, { topic: state.topic, partition: state.partition }, limits.remoteReadTimeoutMs);
      return remoteSource(replication, state, nodeId, range);
    } catch {
      continue; // Not reachable, or no longer a replica: the next one.
    }
  }
  return null;
}

function remoteSource(replication: Replication, state: PartitionState, nodeId: number, range: { logStartOffset: number; highWatermark: number }): RecordSource {
  return {
    logStartOffset: range.logStartOffset,
    highWatermark: range.highWatermark,
    read: async (from, bytesMax, recordsMax) => {
      const request = { topic: state.topic, partition: state.partition, offset: from, reset: 'none' as const, maxRecords: recordsMax, maxBytes: bytesMax, waitMs: 0 };
      try {
        const answer = await replication.readRemote(nodeId, request, limits.remoteReadTimeoutMs);
        return answer.startOffset === from ? answer.batches : null;
      } catch (error) {
        // A damaged log is the caller's error; anything else (gone below the log start
        // since the range was asked, the replica unreachable) is read again next time.
        if (error instanceof RunnelError && error.code === 'CORRUPT_LOG') throw error;
        return null;
      }
    },
    isLocal: false,
  };
}
