/**
 * The per-node partition cap in a cluster: a topic create or partition add is refused
 * whole (400 TOO_MANY_PARTITIONS) when a node it places replicas on would then hold
 * more than the cap, before anything is committed, so no node is asked to open more
 * logs than its open-file limit allows.
 */
import { RunnelError } from '../../errors.js';
import type { MetadataImage } from '../metadata/metadata-image.js';
import type { MetadataRecord } from '../metadata/records.js';

export function checkPartitionsPerNode(image: MetadataImage, records: readonly MetadataRecord[], partitionsPerNodeMax: number): void {
  const adding = new Map<number, number>();
  for (const record of records) {
    if (record.type !== 'create-topic' && record.type !== 'add-partitions') continue;
    for (const assignment of record.partitions) {
      for (const nodeId of assignment.replicas) adding.set(nodeId, (adding.get(nodeId) ?? 0) + 1);
    }
  }
  if (adding.size === 0) return;
  const held = new Map<number, number>();
  for (const { assignment } of image.allPartitions()) {
    for (const nodeId of assignment.replicas) held.set(nodeId, (held.get(nodeId) ?? 0) + 1);
  }
  for (const [nodeId, count] of adding) {
    const current = held.get(nodeId) ?? 0;
    if (current + count > partitionsPerNodeMax) {
      throw new RunnelError('TOO_MANY_PARTITIONS', `node ${nodeId} holds ${current} partitions and takes at most ${partitionsPerNodeMax} (--max-partitions, and the open-file limit); ${count} more placed on it do not fit`, {
        nodeId, partitions: current, partitionsMax: partitionsPerNodeMax,
      });
    }
  }
}
