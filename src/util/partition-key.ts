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

/** Partitions by topic, topics in the order first met, each topic's partitions sorted. */
export function partitionsByTopic(keys: Iterable<PartitionKey>): Map<string, number[]> {
  const byTopic = new Map<string, number[]>();
  for (const key of keys) {
    const { topic, partition } = parsePartitionKey(key);
    let partitions = byTopic.get(topic);
    if (partitions === undefined) byTopic.set(topic, (partitions = []));
    partitions.push(partition);
  }
  for (const partitions of byTopic.values()) partitions.sort((a, b) => a - b);
  return byTopic;
}
