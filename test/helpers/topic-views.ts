/**
 * What every running node of a test cluster (helpers/cluster.ts) says about one topic,
 * and the conditions cluster tests wait for on it:
 *
 *   const views = await topicViews(cluster, 'orders');      // node id -> view, or why none
 *   await cluster.waitFor(() => fullIsrs(cluster, 'orders', 4), 10_000, 'full ISRs');
 *   const highWatermarks = await cluster.waitFor(() => settledHighWatermarks(cluster, 'orders', 4), 20_000);
 *   describeViews(views)                                      // one line per node, for failure messages
 *
 * Paused nodes are not asked (they would not answer before the request's deadline);
 * their absence makes every condition here false, as a node that does not answer does.
 */
import type { Cluster, TopicView } from './cluster.js';
import { requestJson } from './http.js';

/** Every running, unpaused node's GET /v1/topics/{topic}, or the reason it gave none. */
export async function topicViews(cluster: Cluster, topic: string, timeoutMs = 3_000): Promise<Map<number, TopicView | string>> {
  const views = new Map<number, TopicView | string>();
  await Promise.all(cluster.runningIds().map(async (nodeId) => {
    if (cluster.isPaused(nodeId)) {
      views.set(nodeId, 'paused');
      return;
    }
    try {
      const response = await requestJson<TopicView>(`${cluster.url(nodeId)}/v1/topics/${encodeURIComponent(topic)}`, { timeoutMs });
      views.set(nodeId, response.status === 200 ? response.body : `HTTP ${response.status} ${JSON.stringify(response.body).slice(0, 200)}`);
    } catch (error) {
      views.set(nodeId, (error as Error).message);
    }
  }));
  return views;
}

/** One line per node: each partition's leader, epoch, ISR, high watermark and log end. */
export function describeViews(views: Map<number, TopicView | string>): string {
  return [...views].map(([nodeId, view]) => typeof view === 'string'
    ? `node ${nodeId}: ${view}`
    : `node ${nodeId}: ` + view.partitions.map((p) => `p${p.partition} leader ${p.leader} epoch ${p.leaderEpoch} isr [${p.isr}] hw ${p.highWatermark} leo ${p.logEndOffset}`).join('; ')).join('\n');
}

/** The members of a cluster, sorted, as an ISR lists them when it is full. */
function allNodeIds(cluster: Cluster): string {
  return cluster.members.map((member) => member.nodeId).sort((a, b) => a - b).join();
}

function isFull(isr: readonly number[], all: string): boolean {
  return [...isr].sort((a, b) => a - b).join() === all;
}

/**
 * True once every node of the cluster runs, answers, and sees every one of the topic's
 * `partitionCount` partitions with a running leader they all name and a full ISR.
 */
export async function fullIsrs(cluster: Cluster, topic: string, partitionCount: number): Promise<boolean> {
  const views = await topicViews(cluster, topic);
  if (views.size !== cluster.members.length) return false;
  const all = allNodeIds(cluster);
  const leaders = new Map<number, number>();
  for (const view of views.values()) {
    if (typeof view === 'string' || view.partitions.length !== partitionCount) return false;
    for (const partition of view.partitions) {
      if (partition.leader === null || !cluster.isRunning(partition.leader) || !isFull(partition.isr, all)) return false;
      const seen = leaders.get(partition.partition);
      if (seen !== undefined && seen !== partition.leader) return false;
      leaders.set(partition.partition, partition.leader);
    }
  }
  return true;
}

/**
 * Partition -> highWatermark once every node sees full ISRs and, for every partition,
 * one highWatermark equal to its logEndOffset (nothing left to replicate); else undefined.
 */
export async function settledHighWatermarks(cluster: Cluster, topic: string, partitionCount: number): Promise<number[] | undefined> {
  const views = await topicViews(cluster, topic);
  if (views.size !== cluster.members.length) return undefined;
  const all = allNodeIds(cluster);
  const highWatermarks = new Array<number | undefined>(partitionCount).fill(undefined);
  for (const view of views.values()) {
    if (typeof view === 'string' || view.partitions.length !== partitionCount) return undefined;
    for (const partition of view.partitions) {
      if (partition.leader === null || !isFull(partition.isr, all)) return undefined;
      if (partition.highWatermark !== partition.logEndOffset) return undefined;
      const seen = highWatermarks[partition.partition];
      if (seen !== undefined && seen !== partition.highWatermark) return undefined;
      highWatermarks[partition.partition] = partition.highWatermark;
    }
  }
  return highWatermarks.every((value) => value !== undefined) ? (highWatermarks as number[]) : undefined;
}
