/**
 * Internal topics: written by the broker only. __consumer_offsets holds the group
 * coordinators' commits (broker/groups/offsets-log.ts); a record produced to it by a
 * user would move a group's offsets behind its coordinator's back, and altering or
 * deleting it would lose every group's offsets. Reading it is allowed (as in Kafka,
 * where consuming __consumer_offsets is how offsets are inspected).
 * The refusal is 400 INVALID_REQUEST, on every node and a single node too, so the
 * name stays reserved for the cluster's own topic.
 */
import { RunnelError } from '../errors.js';
import { OFFSETS_TOPIC } from '../cluster/active-controller.js';

export function isInternalTopic(name: string): boolean {
  return name === OFFSETS_TOPIC;
}

/** Throws 400 INVALID_REQUEST when `action` (produce, alter, delete, create) targets an internal topic. */
export function refuseInternalTopic(name: string, action: 'produce to' | 'alter' | 'delete' | 'create'): void {
  if (!isInternalTopic(name)) return;
  const done = { 'produce to': 'produced to', alter: 'altered', delete: 'deleted', create: 'created' }[action];
  throw new RunnelError('INVALID_REQUEST', `'${name}' is an internal topic: only group coordinators write it, so it cannot be ${done} (commit offsets with POST /v1/groups/{group}/offsets; reading it is allowed)`);
}
