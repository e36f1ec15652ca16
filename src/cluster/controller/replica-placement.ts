/**
 * Replica placement for new partitions: Kafka's rack-unaware assignment, simplified.
 * Partition p's replicas are the live nodes (ascending) rotated by (start + p), first
 * replicationFactor of them; replicas[0] is the preferred leader. Consecutive
 * partitions therefore start on consecutive nodes, so leaders spread evenly (3 nodes, 6
 * partitions: each leads 2), and a random start keeps the first partition of every
 * topic from landing on the same node. A partition never has two replicas on one node
 * because replicationFactor <= the number of nodes.
 */
import { assert } from '../../util/assert.js';

export interface PlacementInput {
  /** Live node ids; order does not matter (they are sorted). */
  nodeIds: readonly number[];
  replicationFactor: number;
  /** The number of the first partition to place (0 for a new topic, the current count when adding). */
  firstPartition: number;
  partitionCount: number;
  /** The rotation of the first partition, in [0, nodeIds.length): chosen at random by the caller. */
  startIndex: number;
}

/** One replica list per partition, from firstPartition on. */
export function placeReplicas(input: PlacementInput): number[][] {
  const nodeIds = [...input.nodeIds].sort((a, b) => a - b);
  const nodeCount = nodeIds.length;
  assert(
    input.replicationFactor >= 1 && input.replicationFactor <= nodeCount,
    () => `replication factor ${input.replicationFactor} cannot be placed on ${nodeCount} nodes`,
  );
  assert(new Set(nodeIds).size === nodeCount, () => `node ids [${nodeIds}] repeat a node`);
  const placements: number[][] = [];
  for (let index = 0; index < input.partitionCount; index++) {
    const rotation = input.startIndex + input.firstPartition + index;
    const replicas: number[] = [];
    for (let replica = 0; replica < input.replicationFactor; replica++) replicas.push(nodeIds[(rotation + replica) % nodeCount]);
    placements.push(replicas);
  }
  return placements;
}
