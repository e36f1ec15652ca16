/**
 * The broker's Replication in a cluster: leadership checks against the metadata the
 * node applied, the high watermark and acks=all from the replica manager.
 */
import type { ClusterHost, ClusterNode } from '../cluster/cluster-node.js';
import type { Replication } from './replication.js';
import type { PartitionState, TopicManager } from './topic-manager.js';

export class ClusterReplication implements Replication {
  readonly isClustered = true;

  constructor(private readonly cluster: ClusterNode) {}

  get nodeId(): number {
    return this.cluster.nodeId;
  }

  nodeUrl(nodeId: number): string | null {
    return this.cluster.nodeUrl(nodeId);
  }

  onAppend(state: PartitionState): void {
    this.cluster.replicas.onAppend(state);
  }

  waitForHighWatermark(state: PartitionState, lastOffset: number, minInsyncReplicas: number, timeoutMs: number): Promise<void> {
    return this.cluster.replicas.waitForHighWatermark(state, lastOffset, minInsyncReplicas, timeoutMs);
  }
}

/** What the cluster needs of this node's topics. */
export function clusterHostOf(topics: TopicManager): ClusterHost {
  return {
    reconcile: (wanted) => topics.reconcile(wanted),
    lookup: (topic, partition) => topics.find(topic, partition),
  };
}
