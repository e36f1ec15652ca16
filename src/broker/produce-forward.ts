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
import { LeaderUnreachableError, type ForwardedProduce, type Replication } from './replication.js';
import type { Topic } from './topic-state.js';

/** Sends a share to the node that leads its partitions (this node appends it itself); aborted when its leader changes. */
export type SendShare = (leaderId: number, share: ForwardedProduce, timeoutMs: number, signal: AbortSignal) => Promise<RecordOffset[]>;

/** Answers a share may be sent again after: the records were not written, or were written under the key. */
const RETRIABLE = new Set(['NOT_LEADER', 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'NOT_READY']);
const BACKOFF_MS_MIN = 50;
const BACKOFF_MS_MAX = 1_000;
/** How often an attempt checks whether metadata moved its partitions to another leader. */
const LEADER_CHECK_MS = 100;

/**
 * Sends `share` (every record names its partition; the share holds the key) to
 * `leaderId`, then to whoever leads each partition after a retriable failure; resolves
 * with the records' offsets in order. `currentTopic` reads the topic as metadata has it
 * now. An attempt ends early when metadata names another leader for one of its
 * partitions (a frozen or cut-off leader is left as soon as it is replaced); a leader
 * that metadata still names but that has not answered for forwardUnreachableMs is given
 * up on, and the request gets NOT_LEADER naming it.
 */
export async function forwardShare(currentTopic: () => Topic, leaderId: number, share: ForwardedProduce, send: SendShare): Promise<RecordOffset[]> {
  const deadlineMs = Date.now() + limits.forwardProduceTimeoutMs;
  const offsets: RecordOffset[] = new Array(share.records.length);
  const unreachableSinceMs = new Map<number, number>();
  let pending = share.records.map((_, index) => index);
  let leaderOf = (_index: number): number => leaderId;
  for (let attempt = 0; ; attempt++) {
    const failed: number[] = [];
    let lastError: unknown;
    let isLeaderChanged = false;
    await Promise.all([...groupBy(pending, leaderOf)].map(async ([leader, members]) => {
      try {
        if (leader < 0) throw new RunnelError('NOT_LEADER', `partition ${share.records[members[0]].partition} of topic '${share.topic}' has no leader right now`, { leaderId: null, leaderUrl: null, leaderEpoch: null });
        const part = { ...share, records: members.map((index) => share.records[index]) };
        const answer = await sendWhileLeader(currentTopic, leader, part, send, deadlineMs - Date.now());
        for (let i = 0; i < members.length; i++) offsets[members[i]] = answer[i];
        unreachableSinceMs.delete(leader);
      } catch (error) {
        if (!(error instanceof RunnelError && RETRIABLE.has(error.code))) throw error;
        if (error instanceof LeaderUnreachableError) {
          const sinceMs = unreachableSinceMs.get(leader) ?? Date.now();
          unreachableSinceMs.set(leader, sinceMs);
          // Still named by metadata and silent for a while: the answer names it (a client may reach it where this node cannot).
          if (Date.now() - sinceMs >= limits.forwardUnreachableMs && isLeaderOfAny(currentTopic(), share, members, leader)) throw error;
        }
        if (error instanceof LeaderMovedError) isLeaderChanged = true;
        lastError = error;
        failed.push(...members);
      }
    }));
    if (failed.length === 0) return offsets;
    const delayMs = isLeaderChanged ? 0 : Math.min(BACKOFF_MS_MAX, BACKOFF_MS_MIN * 2 ** attempt);
    if (Date.now() + delayMs >= deadlineMs) throw lastError;
    if (delayMs > 0) await sleep(delayMs);
    const topic = currentTopic();
    leaderOf = (index) => topic.partitions[share.records[index].partition ?? -1]?.leader ?? -1;
    pending = failed;
  }
}

/** An attempt given up because metadata moved one of its partitions to another leader: sent again at once. */
class LeaderMovedError extends RunnelError {
  constructor(leaderId: number) {
    super('NOT_LEADER', `node ${leaderId} no longer leads every partition of this share`);
  }
}

/** One attempt at `leader`, aborted (LeaderMovedError) once metadata names another leader for one of its partitions. */
async function sendWhileLeader(currentTopic: () => Topic, leader: number, part: ForwardedProduce, send: SendShare, timeoutMs: number): Promise<RecordOffset[]> {
  const controller = new AbortController();
  const members = part.records.map((_, index) => index);
  const watch = setInterval(() => {
    if (!isLeaderOfAll(currentTopic(), part, members, leader)) controller.abort();
  }, LEADER_CHECK_MS);
  try {
    return await send(leader, part, Math.max(1, timeoutMs), controller.signal);
  } catch (error) {
    if (controller.signal.aborted) throw new LeaderMovedError(leader);
    throw error;
  } finally {
    clearInterval(watch);
  }
}

function isLeaderOfAll(topic: Topic, share: ForwardedProduce, members: number[], leader: number): boolean {
  return members.every((index) => topic.partitions[share.records[index].partition ?? -1]?.leader === leader);
}

function isLeaderOfAny(topic: Topic, share: ForwardedProduce, members: number[], leader: number): boolean {
  return members.some((index) => topic.partitions[share.records[index].partition ?? -1]?.leader === leader);
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
 * topic may hold keys of every partition; one to a partition's path goes whole to its
 * leader). A request already forwarded gets NOT_LEADER instead. Takes those partitions
 * out of byPartition and returns their records by leader.
 */
export function takeForwards(topic: Topic, request: ProduceRequest, replication: Replication, byPartition: Map<number, number[]>): Map<number, number[]> {
  const forwards = new Map<number, number[]>();
  if (!replication.isClustered || request.isForwarded === true) return forwards;
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
