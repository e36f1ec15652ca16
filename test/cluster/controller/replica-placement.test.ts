/**
 * Replica placement (Kafka's rack-unaware assignment, simplified): replicas of a
 * partition are distinct nodes, leaders spread so no node leads more than one
 * partition more than another, and adding partitions continues the rotation.
 */
import t from 'tap';
import { placeReplicas } from '../../../src/cluster/controller/replica-placement.js';

void t.test('every placement: distinct replicas, leaders within one of each other', async (t) => {
  let failure: string | null = null;
  for (let nodeCount = 1; nodeCount <= 6 && failure === null; nodeCount++) {
    const nodeIds = Array.from({ length: nodeCount }, (_, index) => 10 - index * 2);
    for (let replicationFactor = 1; replicationFactor <= nodeCount; replicationFactor++) {
      for (let startIndex = 0; startIndex < nodeCount; startIndex++) {
        for (const partitionCount of [1, nodeCount, 2 * nodeCount + 1]) {
          const placements = placeReplicas({ nodeIds, replicationFactor, firstPartition: 0, partitionCount, startIndex });
          const leads = new Map(nodeIds.map((nodeId) => [nodeId, 0]));
          for (const replicas of placements) {
            leads.set(replicas[0], (leads.get(replicas[0]) ?? 0) + 1);
            if (new Set(replicas).size !== replicationFactor || !replicas.every((nodeId) => nodeIds.includes(nodeId))) failure = `replicas [${replicas}] of ${nodeCount} nodes, factor ${replicationFactor}`;
          }
          const counts = [...leads.values()];
          if (Math.max(...counts) - Math.min(...counts) > 1) failure = `leaders [${counts}] for ${partitionCount} partitions on ${nodeCount} nodes`;
        }
      }
    }
  }
  t.equal(failure, null);
});

void t.test('nodes are taken in ascending order, rotated by start + partition', async (t) => {
  t.same(placeReplicas({ nodeIds: [3, 1, 2], replicationFactor: 2, firstPartition: 0, partitionCount: 4, startIndex: 1 }), [[2, 3], [3, 1], [1, 2], [2, 3]]);
  t.same(placeReplicas({ nodeIds: [3, 1, 2], replicationFactor: 2, firstPartition: 4, partitionCount: 2, startIndex: 1 }), [[3, 1], [1, 2]], 'partitions 4 and 5 continue');
});

void t.test('an impossible placement is a caller bug', async (t) => {
  t.throws(() => placeReplicas({ nodeIds: [1, 2], replicationFactor: 3, firstPartition: 0, partitionCount: 1, startIndex: 0 }), { name: 'InvariantError' });
  t.throws(() => placeReplicas({ nodeIds: [1, 1], replicationFactor: 1, firstPartition: 0, partitionCount: 1, startIndex: 0 }), { name: 'InvariantError' });
});
