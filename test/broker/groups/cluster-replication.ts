/**
 * Node 1 of a pretend cluster for in-process broker tests: appends commit at once (the
 * leader is the whole ISR), so the offsets topic behaves as in a cluster without peers.
 */
import { SingleNodeReplication, type Replication } from '../../../src/broker/replication.js';
import type { PartitionState } from '../../../src/broker/topic-state.js';

export function clusterReplication(): Replication {
  // Whatever else Replication holds comes from the single node's (nothing is forwarded here).
  return Object.assign(Object.create(new SingleNodeReplication(1)) as Replication, {
    nodeId: 1,
    isClustered: true,
    nodeUrl: (nodeId: number) => `http://node-${nodeId}.test:8080`,
    onAppend: (state: PartitionState) => {
      state.log.updateHighWatermark(state.log.logEndOffset);
      state.notifier.notify();
    },
    waitForHighWatermark: async () => undefined,
  });
}
