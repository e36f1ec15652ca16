/**
 * The metadata image as snapshot text (the state machine's part of a Raft snapshot):
 * JSON with a fixed key order, nodes by id, topics by name and config keys sorted, so
 * two equal images give byte-equal snapshots on every node.
 *
 * Reading turns the text back into the records that rebuild the image (register and
 * fence the nodes, create the topics with their current assignments, add the API
 * keys), so a snapshot passes the same checks as the log it stands for.
 */
import { assert } from '../../util/assert.js';
import { normalApiKey } from './api-keys.js';
import type { MetadataView, TopicState } from './metadata-state.js';
import type { ApiKeySpec, MetadataRecord, PartitionAssignment } from './records.js';

/** Bumped when the layout changes; a reader refuses a version it does not know. */
export const metadataSnapshotVersion = 1;

interface SnapshotNode {
  nodeId: number;
  url: string;
  incarnationId: string;
  isFenced: boolean;
}

interface SnapshotTopic {
  name: string;
  topicId: string;
  replicationFactor: number;
  createdAtMs: number;
  configs: Record<string, string>;
  partitions: PartitionAssignment[];
}

interface SnapshotBody {
  version: number;
  clusterId: string | null;
  /** Absent in snapshots written before producer ids existed: 0. */
  nextProducerId?: number;
  nodes: SnapshotNode[];
  topics: SnapshotTopic[];
  /** Absent in snapshots written before the cluster kept API keys: none. By key id. */
  apiKeys?: ApiKeySpec[];
}

export function imageToSnapshot(image: MetadataView): string {
  const nodes = [...image.nodes.values()]
    .sort((a, b) => a.registration.nodeId - b.registration.nodeId)
    .map(({ registration, isFenced }): SnapshotNode => ({
      nodeId: registration.nodeId,
      url: registration.url,
      incarnationId: registration.incarnationId,
      isFenced,
    }));
  const topics = [...image.topics.keys()].sort().map((name): SnapshotTopic => {
    const { spec, partitions } = image.topics.get(name) as TopicState;
    return {
      name: spec.name,
      topicId: spec.topicId,
      replicationFactor: spec.replicationFactor,
      createdAtMs: spec.createdAtMs,
      configs: Object.fromEntries(Object.entries(spec.configs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      partitions: partitions.map((assignment) => ({
        partition: assignment.partition,
        replicas: [...assignment.replicas],
        isr: [...assignment.isr],
        leader: assignment.leader,
        leaderEpoch: assignment.leaderEpoch,
        partitionEpoch: assignment.partitionEpoch,
      })),
    };
  });
  const apiKeys = [...image.apiKeys.keys()].sort().map((keyId) => normalApiKey(image.apiKeys.get(keyId) as ApiKeySpec));
  const body: SnapshotBody = { version: metadataSnapshotVersion, clusterId: image.clusterId, nextProducerId: image.nextProducerId, nodes, topics, apiKeys };
  return JSON.stringify(body);
}

/** The records that rebuild the image a snapshot describes. */
export function imageFromSnapshot(text: string): MetadataRecord[] {
  let body: SnapshotBody;
  try {
    body = JSON.parse(text) as SnapshotBody;
  } catch (error) {
    assert(false, `metadata snapshot is not JSON: ${(error as Error).message}`);
  }
  assert(body !== null && typeof body === 'object', 'metadata snapshot is not a JSON object');
  assert(body.version === metadataSnapshotVersion, () => `metadata snapshot version ${body.version} is not ${metadataSnapshotVersion}`);
  assert(Array.isArray(body.nodes) && Array.isArray(body.topics), 'metadata snapshot lacks its nodes or topics');
  const records: MetadataRecord[] = [];
  if (body.clusterId !== null) records.push({ type: 'cluster-id', clusterId: body.clusterId });
  if ((body.nextProducerId ?? 0) > 0) records.push({ type: 'producer-ids', nodeId: -1, nextProducerId: body.nextProducerId as number });
  for (const node of body.nodes) {
    records.push({ type: 'register-node', node: { nodeId: node.nodeId, url: node.url, incarnationId: node.incarnationId } });
    if (node.isFenced) records.push({ type: 'fence-node', nodeId: node.nodeId });
  }
  for (const topic of body.topics) {
    assert(Array.isArray(topic.partitions), () => `metadata snapshot: topic '${topic.name}' lacks its partitions`);
    records.push({
      type: 'create-topic',
      topic: {
        name: topic.name,
        topicId: topic.topicId,
        replicationFactor: topic.replicationFactor,
        configs: topic.configs,
        createdAtMs: topic.createdAtMs,
      },
      partitions: topic.partitions,
    });
  }
  assert(body.apiKeys === undefined || Array.isArray(body.apiKeys), 'metadata snapshot: apiKeys is not an array');
  for (const key of body.apiKeys ?? []) records.push({ type: 'api-key', key });
  return records;
}
