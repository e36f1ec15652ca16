/**
 * Partition leadership and ISR decisions, as partition-change records (KIP-497's
 * partition epoch, KIP-101's leader epoch). Every change bumps the partition epoch; a
 * change of leader, to another node or to -1 (offline), also bumps the leader epoch,
 * so replicas truncate at the boundary and a deposed leader's requests are refused.
 */
import type { MetadataRecord, PartitionAssignment } from '../metadata/records.js';

export type PartitionChangeRecord = Extract<MetadataRecord, { type: 'partition-change' }>;

export function partitionChange(topic: string, current: PartitionAssignment, next: { leader: number; isr: readonly number[] }): PartitionChangeRecord {
  return {
    type: 'partition-change',
    topic,
    partition: current.partition,
    leader: next.leader,
    leaderEpoch: next.leader === current.leader ? current.leaderEpoch : current.leaderEpoch + 1,
    isr: [...next.isr],
    partitionEpoch: current.partitionEpoch + 1,
  };
}

/**
 * The partition after these nodes are fenced, or null when it does not change.
 *
 * Each fenced node leaves the ISR unless it is the last member: KRaft keeps the last
 * in-sync copy, so the partition goes offline and comes back when that node returns,
 * rather than having an ISR nobody can be elected from. If the leader was fenced, the
 * new leader is the first replica (preferred order) in the new ISR that is alive; with
 * none, the partition goes offline (leader -1), unless the topic allows unclean
 * election: then the first alive replica leads even from outside the ISR, and the ISR
 * becomes just it (the records only the old ISR had are given up).
 */
export function electLeaderAfterFencing(
  topic: string,
  current: PartitionAssignment,
  fencedNodeIds: readonly number[],
  isAlive: (nodeId: number) => boolean,
  isUncleanElectionEnabled: boolean,
): PartitionChangeRecord | null {
  let isr = [...current.isr];
  for (const nodeId of fencedNodeIds) {
    if (isr.length > 1 && isr.includes(nodeId)) isr = isr.filter((member) => member !== nodeId);
  }
  let leader = current.leader;
  if (leader !== -1 && !isAlive(leader)) {
    leader = current.replicas.find((nodeId) => isr.includes(nodeId) && isAlive(nodeId)) ?? -1;
    if (leader === -1 && isUncleanElectionEnabled) {
      leader = current.replicas.find(isAlive) ?? -1;
      if (leader !== -1) isr = [leader];
    }
  }
  const isSameIsr = isr.length === current.isr.length && isr.every((member, index) => member === current.isr[index]);
  if (leader === current.leader && isSameIsr) return null;
  return partitionChange(topic, current, { leader, isr });
}
