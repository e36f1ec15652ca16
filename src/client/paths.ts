/** Paths of the public API (v1), with every name encoded once, here. */

export function topicPath(topic: string): string {
  return '/v1/topics/' + encodeURIComponent(topic);
}

export function partitionPath(topic: string, partition: number): string {
  if (!Number.isInteger(partition) || partition < 0) throw new TypeError(`expected a partition number (integer >= 0), got ${partition}`);
  return topicPath(topic) + '/partitions/' + partition;
}

export function groupPath(group: string): string {
  return '/v1/groups/' + encodeURIComponent(group);
}

export function memberPath(group: string, memberId: string): string {
  return groupPath(group) + '/members/' + encodeURIComponent(memberId);
}
