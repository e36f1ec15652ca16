/**
 * A topic-partition as one string, `topic:partition`, for sets and maps. Topic names
 * never contain ':' (they are [a-zA-Z0-9._-]), so the key is unambiguous.
 */
export type PartitionKey = string;

export function partitionKey(topic: string, partition: number): PartitionKey {
  return topic + ':' + partition;
}

export function parsePartitionKey(key: PartitionKey): { topic: string; partition: number } {
  const colon = key.lastIndexOf(':');
  return { topic: key.slice(0, colon), partition: Number(key.slice(colon + 1)) };
}

export interface TopicAssignment {
  topic: string;
  partitions: number[];
}

/** `[{topic, partitions:[...]}]`, topics and partitions sorted: the shape replies carry. */
export function toTopicAssignments(keys: Iterable<PartitionKey>): TopicAssignment[] {
  const byTopic = new Map<string, number[]>();
  for (const key of keys) {
    const { topic, partition } = parsePartitionKey(key);
    let partitions = byTopic.get(topic);
    if (partitions === undefined) byTopic.set(topic, (partitions = []));
    partitions.push(partition);
  }
  return [...byTopic.keys()].sort().map((topic) => ({ topic, partitions: byTopic.get(topic)!.sort((a, b) => a - b) }));
}

export function fromTopicAssignments(assignments: TopicAssignment[]): PartitionKey[] {
  const keys: PartitionKey[] = [];
  for (const { topic, partitions } of assignments) for (const partition of partitions) keys.push(partitionKey(topic, partition));
  return keys;
}
