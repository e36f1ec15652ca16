/**
 * Internal topics: written by the broker only. __consumer_offsets holds the group
 * coordinators' commits (broker/groups/offsets-log.ts), __share_group_state the share
 * groups' state (broker/share/share-state-log.ts); a record produced to it by a
 * user would move a group's offsets behind its coordinator's back, and altering or
 * deleting it would lose every group's offsets. Reading it is allowed (as in Kafka,
 * where consuming __consumer_offsets is how offsets are inspected).
 * The refusal is 400 INVALID_REQUEST, on every node and a single node too, so the
 * name stays reserved for the cluster's own topic.
 */
import { RunnelError } from '../errors.js';
import { OFFSETS_TOPIC } from '../cluster/active-controller.js';

/** Share groups' state (broker/share/share-state-log.ts); named here so share/ may import this file. */
export const SHARE_STATE_TOPIC = '__share_group_state';

export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC || name === SHARE_STATE_TOPIC;
}

/** Throws 400 INVALID_REQUEST when `action` (produce, alter, delete, create) targets an internal topic. */
export function refuseInternalTopic(name: string, action: 'produce to' | 'alter' | 'delete' | 'create'): void {
  if (!isInternalTopic(name)) return;
  const done = { 'produce to': 'produced to', alter: 'altered', delete: 'deleted', create: 'created' }[action];
  throw new RunnelError('INVALID_REQUEST', `'${name}' is an internal topic: only the broker writes it, so it cannot be ${done} (offsets are committed with POST /v1/groups/{group}/offsets, share groups acknowledge with POST /v1/share-groups/{group}/acknowledgements; reading it is allowed)`);
}
