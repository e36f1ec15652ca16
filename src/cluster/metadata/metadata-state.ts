/**
 * The shapes of what the cluster's metadata holds: a node's state, a topic's state, and
 * a read-only view of the whole. MetadataImage (metadata-image.ts) builds them from the
 * log; the snapshot text (metadata-snapshot.ts) writes a view out. Their own file, so
 * the image and its snapshot form do not import each other.
 */
import type { ApiKeySpec, NodeRegistration, PartitionAssignment, TopicSpec } from './records.js';

export interface NodeState {
  readonly registration: NodeRegistration;
  /** A fenced node stopped heartbeating: it leads nothing and is in no ISR but as its last member. */
  readonly isFenced: boolean;
}

export interface TopicState {
  readonly spec: TopicSpec;
  /** Indexed by partition number: partitions[p].partition === p. */
  readonly partitions: readonly PartitionAssignment[];
}

/** The metadata of one moment, as the image exposes it for reading. */
export interface MetadataView {
  readonly clusterId: string | null;
  /** The first producer id not yet given to any node. */
  readonly nextProducerId: number;
  readonly nodes: ReadonlyMap<number, NodeState>;
  readonly topics: ReadonlyMap<string, TopicState>;
  /** API keys by id. */
  readonly apiKeys: ReadonlyMap<string, ApiKeySpec>;
}
