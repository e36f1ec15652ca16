/**
 * The shape an assignment has in replies and requests: `[{topic, partitions}]`, and
 * the conversion from and to the partition keys the groups keep in sets and maps.
 */
import { partitionKey, partitionsByTopic, type PartitionKey } from '../../util/partition-key.js';

export interface TopicAssignment {
  topic: string;
  partitions: number[];
}

/** `[{topic, partitions:[...]}]`, topics and partitions sorted: the shape replies carry. */
export function toTopicAssignments(keys: Iterable<PartitionKey>): TopicAssignment[] {
  const byTopic = partitionsByTopic(keys);
  return [...byTopic.keys()].sort().map((topic) => ({ topic, partitions: byTopic.get(topic)! }));
}

export function fromTopicAssignments(assignments: TopicAssignment[]): PartitionKey[] {
  const keys: PartitionKey[] = [];
  for (const { topic, partitions } of assignments) for (const partition of partitions) keys.push(partitionKey(topic, partition));
  return keys;
}
