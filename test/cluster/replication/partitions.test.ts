/**
 * Several partitions led by different nodes, over real HTTP: each node runs one fetch
 * loop per leader node with all the partitions it follows from it in one request; a
 * small maxBytes is shared fairly; moving one partition's leadership restarts the loops
 * concerned and every log still ends identical to its leader's.
 */
import t from 'tap';
import { allBatchBytes, describeLogs, isInSync, isSettled, startCluster, until } from './cluster-support.js';

const PARTITIONS = [0, 1, 2, 3];

void t.test('one fetch loop per leader carries every partition followed from it; logs end identical', async (t) => {
  // Partitions 0 and 3 are led by node 1, 1 by node 2, 2 by node 3.
  const cluster = await startCluster(t, { partitionCount: 4, initialLeaders: [1, 2, 3, 1], fetchMaxBytes: 2_048, replicaLagTimeMaxMs: 5_000 });
  const writes: Array<Promise<number>> = [];
  for (let i = 0; i < 20; i++) {
    for (const partition of PARTITIONS) {
      const leaderId = cluster.metadatas[partition].leader;
      writes.push(cluster.produceAcked([`p${partition}-${i}:${'v'.repeat(300)}`], 3, 10_000, leaderId, partition));
    }
  }
  await Promise.all(writes);
  t.pass('80 acks=all writes over four partitions and three leaders');
  for (const partition of PARTITIONS) await until(() => isInSync(cluster, undefined, partition), () => describeLogs(cluster));
  for (const partition of PARTITIONS) {
    const leaderBytes = allBatchBytes(cluster.log(cluster.metadatas[partition].leader, partition));
    t.ok([1, 2, 3].every((nodeId) => allBatchBytes(cluster.log(nodeId, partition)).equals(leaderBytes)), `partition ${partition}: all three logs identical`);
  }
  const fromNode3 = cluster.node(1).fetchRequests.filter((request) => request.replicaId === 3);
  t.ok(fromNode3.length > 0 && fromNode3.every((request) => [...request.partitions].sort().join() === '0,3'),
    'node 3 asks node 1 for partitions 0 and 3 in every request');
  t.ok(cluster.node(2).fetchRequests.filter((request) => request.replicaId === 1).every((request) => request.partitions.join() === '1'),
    'and node 1 asks node 2 for partition 1 alone');
  t.ok(new Set(fromNode3.map((request) => request.partitions[0])).size === 2, 'the order rotates, so maxBytes is shared fairly');

  // Partition 3 moves to node 2: node 3's loop for node 1 drops it, its loop for node 2 takes it.
  cluster.elect(2, [1, 2, 3], 3);
  await cluster.settled();
  await until(() => isSettled(cluster), () => describeLogs(cluster));
  const before = cluster.node(1).fetchRequests.length;
  const lastOffset = await cluster.produceAcked(['moved'], 3, 5_000, 2, 3);
  await until(() => isInSync(cluster, undefined, 3), () => describeLogs(cluster));
  t.ok(cluster.node(1).fetchRequests.slice(before).filter((request) => request.replicaId === 3).every((request) => request.partitions.join() === '0'),
    'node 3 no longer asks node 1 for partition 3');
  t.ok(cluster.node(2).fetchRequests.some((request) => request.replicaId === 3 && [...request.partitions].sort().join() === '1,3'),
    'node 3 asks node 2 for partitions 1 and 3 together');
  t.ok(cluster.node(2).fetchRequests.some((request) => request.replicaId === 1 && [...request.partitions].sort().join() === '1,3'),
    'node 1, the old leader, follows partition 3 from node 2');
  const leaderBytes = allBatchBytes(cluster.log(2, 3));
  t.ok([1, 3].every((nodeId) => allBatchBytes(cluster.log(nodeId, 3)).equals(leaderBytes)), 'partition 3 identical after the move');
  t.ok(cluster.log(1, 3).logEndOffset > lastOffset);
  for (const node of cluster.nodes.values()) t.same(node.errors, [], `node ${node.nodeId} reported no errors`);
});
