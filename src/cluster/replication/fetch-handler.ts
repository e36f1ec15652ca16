/**
 * The leader side of a replica fetch (Kafka's Partition.fetchRecords for a follower,
 * and its DelayedFetch).
 *
 * Per partition, in Kafka's order: the partition exists and this node leads it; the
 * follower's currentLeaderEpoch is the leader's (older: FENCED_LEADER_EPOCH, newer:
 * UNKNOWN_LEADER_EPOCH); the fetching node is a replica; the fetchOffset is not below
 * logStartOffset; KIP-320's divergence check against lastFetchedEpoch; then the
 * fetchOffset counts as the follower's logEndOffset and the bytes from it are read up
 * to the log end (followers read past the high watermark). A damaged stored batch
 * answers CORRUPT_LOG for its partition alone.
 *
 * When no partition has anything to say (no bytes, no error, no divergence, no high
 * watermark moved by this fetch) the request is parked until one of its partitions gets new bytes or a new high watermark,
 * leadership changes, maxWaitMs passes or the caller goes away; then it is read again.
 */
import { RunnelError } from '../../errors.js';
import { limits } from '../../limits.js';
import type { PartitionLeader } from './partition-leader.js';
import { logOffsetsOf, type ReplicaPartition } from './replica-partition.js';
import type {
  ReplicaFetchError, ReplicaFetchPartitionRequest, ReplicaFetchPartitionResponse, ReplicaFetchRequest, ReplicaFetchResponseHeader,
} from './wire.js';

export interface FetchHandlerContext {
  lookup(topic: string, partition: number): ReplicaPartition | undefined;
  /** The current leadership of `partition` on this node, if it leads it. */
  leaderOf(partition: ReplicaPartition): PartitionLeader | undefined;
}

export interface FetchAnswer {
  header: ReplicaFetchResponseHeader;
  body: Buffer[];
}

interface ReadResult extends FetchAnswer {
  /** True when the answer says something: bytes, an error, a divergence or a new high watermark. */
  hasNews: boolean;
  leaders: PartitionLeader[];
}

export async function handleReplicaFetch(context: FetchHandlerContext, request: ReplicaFetchRequest, signal: AbortSignal): Promise<FetchAnswer> {
  const maxWaitMs = Math.min(Math.max(request.maxWaitMs, 0), limits.fetchWaitMsMax);
  const maxBytes = Math.min(Math.max(request.maxBytes, 1), limits.fetchBytesMax);
  const first = readPartitions(context, request, maxBytes);
  if (first.hasNews || maxWaitMs === 0 || first.leaders.length === 0 || signal.aborted) return { header: first.header, body: first.body };
  await parkUntilNews(first.leaders, maxWaitMs, signal);
  const { header, body } = readPartitions(context, request, maxBytes);
  return { header, body };
}

function readPartitions(context: FetchHandlerContext, request: ReplicaFetchRequest, maxBytes: number): ReadResult {
  const partitions: ReplicaFetchPartitionResponse[] = [];
  const body: Buffer[] = [];
  const leaders: PartitionLeader[] = [];
  let remainingBytes = maxBytes;
  let hasNews = false;
  for (const wanted of request.partitions) {
    const partition = context.lookup(wanted.topic, wanted.partition);
    const leader = partition === undefined ? undefined : context.leaderOf(partition);
    const refusal = partition === undefined ? 'UNKNOWN_PARTITION' : leader === undefined ? 'NOT_LEADER' : refusalOf(leader, wanted, request.replicaId);
    if (refusal !== undefined || partition === undefined || leader === undefined) {
      partitions.push(errorAnswer(wanted, refusal ?? 'NOT_LEADER', partition));
      hasNews = true;
      continue;
    }
    const { log } = partition;
    if (wanted.lastFetchedEpoch >= 0) {
      // KIP-320: the follower's last epoch must end, here, no earlier than where it
      // fetches from; otherwise its suffix from there on is not the leader's.
      const epochEnd = log.epochCache.endOffsetFor(wanted.lastFetchedEpoch, log.logEndOffset);
      if (epochEnd.epoch < wanted.lastFetchedEpoch || epochEnd.endOffset < wanted.fetchOffset) {
        partitions.push({ ...offsetsOf(wanted, partition), divergingEpoch: epochEnd, byteLength: 0 });
        hasNews = true;
        continue;
      }
    }
    if (wanted.fetchOffset > log.logEndOffset) {
      partitions.push(errorAnswer(wanted, 'OFFSET_OUT_OF_RANGE', partition));
      hasNews = true;
      continue;
    }
    const highWatermarkBefore = log.highWatermark;
    leader.onFollowerFetch(request.replicaId, wanted.fetchOffset);
    leaders.push(leader);
    // This very fetch moved the high watermark (it came from the last ISR member to
    // catch up): the follower learns it now rather than after maxWaitMs.
    if (log.highWatermark > highWatermarkBefore) hasNews = true;
    const bytes = remainingBytes > 0 ? readOrDamaged(partition, wanted.fetchOffset, remainingBytes) : null;
    if (bytes === 'CORRUPT_LOG') {
      partitions.push(errorAnswer(wanted, bytes, partition));
      hasNews = true;
      continue;
    }
    const byteLength = bytes?.length ?? 0;
    if (bytes !== null && byteLength > 0) {
      body.push(bytes);
      remainingBytes -= byteLength;
      hasNews = true;
    }
    partitions.push({ ...offsetsOf(wanted, partition), byteLength });
  }
  return { header: { partitions }, body, hasNews, leaders };
}

/**
 * The bytes from fetchOffset to the log end; CORRUPT_LOG when a damaged batch is on the
 * way (the log reported it): this partition answers the error and the follower retries
 * it later, while the others in the request are served.
 */
function readOrDamaged(partition: ReplicaPartition, fetchOffset: number, maxBytes: number): Buffer | null | 'CORRUPT_LOG' {
  try {
    return partition.log.read(fetchOffset, maxBytes, partition.log.logEndOffset);
  } catch (error) {
    if (error instanceof RunnelError && error.code === 'CORRUPT_LOG') return 'CORRUPT_LOG';
    throw error;
  }
}

function refusalOf(leader: PartitionLeader, wanted: ReplicaFetchPartitionRequest, replicaId: number): ReplicaFetchError | undefined {
  if (wanted.currentLeaderEpoch < leader.leaderEpoch) return 'FENCED_LEADER_EPOCH';
  if (wanted.currentLeaderEpoch > leader.leaderEpoch) return 'UNKNOWN_LEADER_EPOCH';
  if (replicaId === leader.state.leaderId || !leader.state.replicas.includes(replicaId)) return 'NOT_REPLICA';
  // Below logStartOffset (retention moved it): the follower must start over from the
  // leader's logStartOffset; checked before divergence so it is not mistaken for one.
  if (wanted.fetchOffset < leader.partition.log.logStartOffset) return 'OFFSET_OUT_OF_RANGE';
  return undefined;
}

function offsetsOf(wanted: ReplicaFetchPartitionRequest, partition: ReplicaPartition): Omit<ReplicaFetchPartitionResponse, 'byteLength'> {
  return { topic: wanted.topic, partition: wanted.partition, ...logOffsetsOf(partition) };
}

function errorAnswer(wanted: ReplicaFetchPartitionRequest, error: ReplicaFetchError, partition: ReplicaPartition | undefined): ReplicaFetchPartitionResponse {
  if (partition === undefined) {
    return { topic: wanted.topic, partition: wanted.partition, error, highWatermark: -1, logStartOffset: -1, logEndOffset: -1, byteLength: 0 };
  }
  return { ...offsetsOf(wanted, partition), error, byteLength: 0 };
}

/** Resolves when any leader wakes its parked fetches, at maxWaitMs, or when `signal` aborts. */
function parkUntilNews(leaders: readonly PartitionLeader[], maxWaitMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const unparks: Array<() => void> = [];
    let isDone = false;
    const finish = (): void => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      for (const unpark of unparks) unpark();
      resolve();
    };
    const timer = setTimeout(finish, maxWaitMs);
    signal.addEventListener('abort', finish, { once: true });
    for (const leader of leaders) {
      // A leader that already resigned wakes us at once.
      if (isDone) break;
      unparks.push(leader.park(finish));
    }
  });
}
