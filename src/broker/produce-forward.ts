/**
 * A cluster: a request to a topic may hold records of partitions other nodes lead; each
 * such leader gets its share (POST /internal/v1/produce) and answers its records'
 * offsets. Every share carries the request's Idempotency-Key, or one made for this
 * request, and the leader stamps it into the batches (produce-sequences.ts). So a share
 * that fails on the way (its leader died, moved or froze; the answer was lost) is sent
 * again, to the partition's leader as metadata names it now, or appended here when this
 * node leads it now, until the forward deadline: what an earlier attempt wrote is found
 * in the log and answered, never written twice.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { ProduceRequest, RecordOffset } from './produce-request.js';
import type { ForwardedProduce, Replication } from './replication.js';
import type { Topic } from './topic-state.js';

/** Sends a share to the node that leads its partitions (this node appends it itself). */
export type SendShare = (leaderId: number, share: ForwardedProduce, timeoutMs: number) => Promise<RecordOffset[]>;

/** Answers a share may be sent again after: the records were not written, or were written under the key. */
const RETRIABLE = new Set(['NOT_LEADER', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'NOT_READY']);
const BACKOFF_MS_MIN = 50;
const BACKOFF_MS_MAX = 1_000;

/**
 * Sends `share` (every record names its partition; the share holds the key) to
 * `leaderId`, then to whoever leads each partition after a retriable failure; resolves
 * with the records' offsets in order. `currentTopic` reads the topic as metadata has it now.
 */
export async function forwardShare(currentTopic: () => Topic, leaderId: number, share: ForwardedProduce, send: SendShare): Promise<RecordOffset[]> {
  const deadlineMs = Date.now() + limits.forwardProduceTimeoutMs;
  const offsets: RecordOffset[] = new Array(share.records.length);
  let pending = share.records.map((_, index) => index);
  let leaderOf = (_index: number): number => leaderId;
  for (let attempt = 0; ; attempt++) {
    const failed: number[] = [];
    let lastError: unknown;
    await Promise.all([...groupBy(pending, leaderOf)].map(async ([leader, members]) => {
      const remainingMs = deadlineMs - Date.now();
      try {
        if (leader < 0) throw new RunnelError('NOT_LEADER', `partition ${share.records[members[0]].partition} of topic '${share.topic}' has no leader right now`);
        const answer = await send(leader, { ...share, records: members.map((index) => share.records[index]) }, Math.min(remainingMs, limits.forwardAttemptTimeoutMs));
        for (let i = 0; i < members.length; i++) offsets[members[i]] = answer[i];
      } catch (error) {
        if (!(error instanceof RunnelError && RETRIABLE.has(error.code))) throw error;
        lastError = error;
        failed.push(...members);
      }
    }));
    if (failed.length === 0) return offsets;
    const delayMs = Math.min(BACKOFF_MS_MAX, BACKOFF_MS_MIN * 2 ** attempt);
    if (Date.now() + delayMs >= deadlineMs) throw lastError;
    await sleep(delayMs);
    const topic = currentTopic();
    leaderOf = (index) => topic.partitions[share.records[index].partition ?? -1]?.leader ?? -1;
    pending = failed;
  }
}

function groupBy(indexes: number[], leaderOf: (index: number) => number): Map<number, number[]> {
  const groups = new Map<number, number[]>();
  for (const index of indexes) {
    const leader = leaderOf(index);
    let members = groups.get(leader);
    if (members === undefined) groups.set(leader, (members = []));
    members.push(index);
  }
  return groups;
}

/**
 * A cluster: records for partitions led elsewhere go to their leaders (a request to the
 * topic may hold keys of every partition). Only the topic-level endpoint does this; a
 * request for one partition, or one already forwarded, gets NOT_LEADER. Takes those
 * partitions out of byPartition and returns their records by leader.
 */
export function takeForwards(topic: Topic, request: ProduceRequest, replication: Replication, byPartition: Map<number, number[]>): Map<number, number[]> {
  const forwards = new Map<number, number[]>();
  if (!replication.isClustered || request.partition !== undefined || request.isForwarded === true) return forwards;
  for (const [partition, members] of byPartition) {
    const leader = topic.partitions[partition].leader;
    if (leader === replication.nodeId || leader < 0) continue;
    byPartition.delete(partition);
    let forwarded = forwards.get(leader);
    if (forwarded === undefined) forwards.set(leader, (forwarded = []));
    for (const index of members) forwarded.push(index);
  }
  return forwards;
}
