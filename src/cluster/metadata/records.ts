/**
 * Metadata records: the entries of the metadata log (KIP-631's records, in JSON). The
 * active controller is the only writer; every node applies them, in log order, to its
 * MetadataImage and its SQLite view. A record is a fact that happened, never a
 * request: applying the same log always gives the same image.
 *
 * One Raft entry holds one array of records (a controller decision that must happen
 * together, such as a topic and its partitions, commits as one).
 */
import type { Operation, ResourceType } from '../../api/key-schemas.js';

export interface NodeRegistration {
  nodeId: number;
  /** The URL the node advertises for clients (NOT_LEADER names it). */
  url: string;
  /** Random per process start: a new one means the node restarted. */
  incarnationId: string;
}

export interface PartitionAssignment {
  partition: number;
  /** Preferred order: replicas[0] is the preferred leader. */
  replicas: number[];
  isr: number[];
  /** -1 when no in-sync replica is alive (the partition is offline). */
  leader: number;
  leaderEpoch: number;
  /** Bumped by every change of leader or ISR (KIP-497's partition epoch); an ISR change names the one it saw. */
  partitionEpoch: number;
}

export interface TopicSpec {
  name: string;
  topicId: string;
  replicationFactor: number;
  /** The topic's own configs (Kafka names, values as text). */
  configs: Record<string, string>;
  createdAtMs: number;
}

/** A grant of an API key (as src/broker/access-control.ts checks it). */
export interface ApiKeyGrant {
  resource: ResourceType;
  name?: string;
  prefix?: string;
  operations: Operation[];
}

/** An API key as the cluster keeps it: never its secret, only the secret's SHA-256 (hex). */
export interface ApiKeySpec {
  keyId: string;
  name: string;
  secretSha256: string;
  grants: ApiKeyGrant[];
  createdAtMs: number;
}

export type MetadataRecord =
  /** Written once, by the first controller: every node reports this cluster id. */
  | { type: 'cluster-id'; clusterId: string }
  | { type: 'register-node'; node: NodeRegistration }
  /** The node stopped heartbeating: it leads nothing and leaves every ISR (unless it is the last member). */
  | { type: 'fence-node'; nodeId: number }
  /** KIP-730: node `nodeId` was given the producer ids from the previous nextProducerId up to this one (exclusive). */
  | { type: 'producer-ids'; nodeId: number; nextProducerId: number }
  | { type: 'unfence-node'; nodeId: number }
  | { type: 'create-topic'; topic: TopicSpec; partitions: PartitionAssignment[] }
  | { type: 'delete-topic'; name: string; topicId: string }
  | { type: 'add-partitions'; name: string; partitions: PartitionAssignment[] }
  | { type: 'set-topic-configs'; name: string; configs: Record<string, string> }
  | { type: 'partition-change'; topic: string; partition: number; leader: number; leaderEpoch: number; isr: number[]; partitionEpoch: number }
  /** An API key made on some node: it works on every node that applied this (as KRaft keeps SCRAM credentials). */
  | { type: 'api-key'; key: ApiKeySpec }
  | { type: 'api-key-removed'; keyId: string };

export type MetadataRecordType = MetadataRecord['type'];
