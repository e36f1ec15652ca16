/**
 * The checks a record's contents pass before MetadataImage applies it. A failure is a
 * broken invariant (a corrupt log or a controller bug), so each is an assert whose
 * message names the record and the values that disagree.
 */
import { assert } from '../../util/assert.js';
import type { NodeRegistration, PartitionAssignment, TopicSpec } from './records.js';

export interface NodeLookup {
  isNodeRegistered(nodeId: number): boolean;
  /** Registered and not fenced. */
  isNodeLive(nodeId: number): boolean;
}

export function checkNodeRegistration(node: NodeRegistration): void {
  assert(isNodeId(node.nodeId), () => `register-node: node id ${node.nodeId} is not a non-negative integer`);
  assert(isText(node.url), () => `register-node: node ${node.nodeId} has no URL`);
  assert(isText(node.incarnationId), () => `register-node: node ${node.nodeId} has no incarnation id`);
  assert(node.rack === undefined || isRack(node.rack), () => `register-node: node ${node.nodeId} has rack ${JSON.stringify(node.rack)}, not 1-64 characters of [A-Za-z0-9._-]`);
}

/** A rack id (--rack): 1-64 characters of letters, digits, '.', '_' and '-'. */
export const rackPattern = /^[A-Za-z0-9._-]{1,64}$/;

export function isRack(value: unknown): value is string {
  return typeof value === 'string' && rackPattern.test(value);
}

export function checkTopicSpec(spec: TopicSpec): void {
  assert(isText(spec.name), 'create-topic: the topic has no name');
  assert(isText(spec.topicId), () => `create-topic: topic '${spec.name}' has no topic id`);
  assert(Number.isInteger(spec.replicationFactor) && spec.replicationFactor >= 1, () => `create-topic: topic '${spec.name}' has replication factor ${spec.replicationFactor}`);
  assert(Number.isFinite(spec.createdAtMs), () => `create-topic: topic '${spec.name}' has createdAtMs ${spec.createdAtMs}`);
  assert(
    spec.configs !== null && typeof spec.configs === 'object' && Object.values(spec.configs).every((value) => typeof value === 'string'),
    () => `create-topic: a config value of '${spec.name}' is not text`,
  );
}

/**
 * The invariants of one partition's assignment: replicas are distinct registered nodes,
 * as many as the replication factor; the ISR is a non-empty subset of them; the leader
 * is -1 (offline) or a live ISR member; a fenced node stays in an ISR only as its last
 * member (KRaft keeps the last in-sync copy rather than an empty ISR).
 */
export function checkAssignment(what: string, assignment: PartitionAssignment, replicationFactor: number, nodes: NodeLookup): void {
  const { replicas, isr, leader } = assignment;
  assert(Number.isInteger(assignment.partition) && assignment.partition >= 0, () => `${what}: partition ${assignment.partition}`);
  assert(isEpoch(assignment.leaderEpoch) && isEpoch(assignment.partitionEpoch), () => `${what}: epochs ${assignment.leaderEpoch}/${assignment.partitionEpoch} are not non-negative integers`);
  assert(replicas.length === replicationFactor, () => `${what}: ${replicas.length} replicas [${replicas}] for replication factor ${replicationFactor}`);
  assert(new Set(replicas).size === replicas.length, () => `${what}: replicas [${replicas}] repeat a node`);
  for (const nodeId of replicas) assert(nodes.isNodeRegistered(nodeId), () => `${what}: replica ${nodeId} is not a registered node`);
  assert(isr.length > 0, () => `${what}: the ISR is empty`);
  assert(new Set(isr).size === isr.length, () => `${what}: ISR [${isr}] repeats a node`);
  for (const nodeId of isr) assert(replicas.includes(nodeId), () => `${what}: ISR member ${nodeId} is not a replica [${replicas}]`);
  if (isr.length > 1) {
    for (const nodeId of isr) assert(nodes.isNodeLive(nodeId), () => `${what}: fenced node ${nodeId} is in ISR [${isr}]`);
  }
  if (leader !== -1) {
    assert(isr.includes(leader), () => `${what}: leader ${leader} is not in ISR [${isr}]`);
    assert(nodes.isNodeLive(leader), () => `${what}: leader ${leader} is fenced`);
  }
}

function isNodeId(value: number): boolean {
  return Number.isInteger(value) && value >= 0;
}

function isEpoch(value: number): boolean {
  return Number.isInteger(value) && value >= 0;
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}
