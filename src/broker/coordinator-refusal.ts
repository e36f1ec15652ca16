/**
 * Why a node may not serve a group now, for every kind of group whose coordinator is the
 * leader of the group's partition of an internal topic (consumer groups and
 * __consumer_offsets, share groups and __share_group_state).
 */
import { RunnelError } from '../errors.js';

export interface CoordinatorTopic {
  /** "group", "share group": for messages. */
  groupWhat: string;
  /** "offsets topic", "share-group state topic". */
  topicWhat: string;
  topic: string;
}

/**
 * 503 NOT_READY while the topic is being made (`state` undefined), 503 NOT_LEADER naming
 * the coordinator (or none); undefined when `nodeId` leads the group's partition.
 */
export function notCoordinatorError(
  of: CoordinatorTopic, groupId: string, state: { partition: number; leader: number; leaderEpoch: number } | undefined,
  nodeId: number, nodeUrl: (nodeId: number) => string | null,
): RunnelError | undefined {
  if (state === undefined) {
    return new RunnelError('NOT_READY', `the cluster is creating its ${of.topicWhat} (${of.topic}); ${of.groupWhat} '${groupId}' has no coordinator yet, retry shortly`);
  }
  if (state.leader === nodeId) return undefined;
  const leaderId = state.leader < 0 ? null : state.leader;
  const leaderUrl = leaderId === null ? null : nodeUrl(leaderId);
  return new RunnelError('NOT_LEADER', leaderId === null
    ? `${of.groupWhat} '${groupId}' has no coordinator right now (partition ${state.partition} of ${of.topic} has no leader); retry shortly`
    : `node ${leaderId} coordinates ${of.groupWhat} '${groupId}' (it leads partition ${state.partition} of ${of.topic}), not node ${nodeId}`,
  { leaderId, leaderUrl, leaderEpoch: leaderId === null ? null : state.leaderEpoch });
}
