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
