/**
 * Test support for the controller: an image that commits what ControllerLogic
 * decides (as the quorum would, one decision at a time), a seeded PRNG, and the
 * invariants every committed image keeps.
 */
import { ControllerLogic } from '../../../src/cluster/controller/controller-logic.js';
import { MetadataImage } from '../../../src/cluster/metadata/metadata-image.js';
import type { MetadataRecord } from '../../../src/cluster/metadata/records.js';

/** mulberry32: a small seeded PRNG, so a failing seed replays exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

export const SESSION_TIMEOUT_MS = 10_000;

export class ClusterModel {
  readonly image = new MetadataImage();
  logic: ControllerLogic;
  nowMs = 1_000_000;

  constructor(readonly voterIds: number[], readonly random: () => number = seededRandom(1)) {
    this.logic = this.newController();
  }

  newController(): ControllerLogic {
    this.logic = new ControllerLogic({ voterIds: this.voterIds, sessionTimeoutMs: SESSION_TIMEOUT_MS, random: this.random });
    return this.logic;
  }

  /** Applies the records as one committed entry; returns them for inspection. */
  commit(records: MetadataRecord[]): MetadataRecord[] {
    if (records.length > 0) this.image.apply(records);
    return records;
  }

  /** A started cluster: activated, every voter registered by its first heartbeat. */
  static started(voterIds: number[], random?: () => number): ClusterModel {
    const model = new ClusterModel(voterIds, random);
    model.commit(model.logic.activate(model.image, model.nowMs));
    for (const nodeId of voterIds) model.heartbeat(nodeId);
    return model;
  }

  heartbeat(nodeId: number, incarnationId = `inc-${nodeId}`): MetadataRecord[] {
    return this.commit(this.logic.heartbeat(this.image, { nodeId, url: `http://h${nodeId}:8080`, incarnationId }, this.nowMs));
  }

  tick(): MetadataRecord[] {
    return this.commit(this.logic.tick(this.image, this.nowMs));
  }

  createTopic(name: string, partitions: number, replicationFactor: number, configs: Record<string, string> = {}): MetadataRecord[] {
    return this.commit(this.logic.createTopic(this.image, { name, partitions, replicationFactor, configs }, this.nowMs));
  }

  /** Time passes while these nodes keep heartbeating (every second) and the controller ticks. */
  advance(durationMs: number, heartbeatingNodeIds: number[] = []): void {
    const endMs = this.nowMs + durationMs;
    while (this.nowMs < endMs) {
      this.nowMs = Math.min(endMs, this.nowMs + 1_000);
      for (const nodeId of heartbeatingNodeIds) this.heartbeat(nodeId);
      this.tick();
    }
  }
}

/**
 * The invariants of a committed image (and, given the previous one, of its history):
 * the leader is -1 or an ISR member; the ISR is a non-empty subset of the replicas; a
 * fenced node leads nothing and is in no ISR of more than one; replicas are distinct;
 * epochs of a partition (same topic id) never go back.
 */
export function invariantViolations(image: MetadataImage, previous?: MetadataImage): string[] {
  const violations: string[] = [];
  for (const { spec, assignment } of image.allPartitions()) {
    const where = `${spec.name}-${assignment.partition}`;
    const { replicas, isr, leader } = assignment;
    if (leader !== -1 && !isr.includes(leader)) violations.push(`${where}: leader ${leader} not in ISR [${isr}]`);
    if (isr.length === 0) violations.push(`${where}: empty ISR`);
    if (!isr.every((member) => replicas.includes(member))) violations.push(`${where}: ISR [${isr}] not within replicas [${replicas}]`);
    if (new Set(replicas).size !== replicas.length) violations.push(`${where}: replicas [${replicas}] repeat a node`);
    if (replicas.length !== spec.replicationFactor) violations.push(`${where}: ${replicas.length} replicas for factor ${spec.replicationFactor}`);
    if (leader !== -1 && !image.isNodeLive(leader)) violations.push(`${where}: fenced node ${leader} leads`);
    if (isr.length > 1) {
      for (const member of isr) if (!image.isNodeLive(member)) violations.push(`${where}: fenced node ${member} in ISR [${isr}]`);
    }
    const before = previous?.topic(spec.name);
    const old = before?.spec.topicId === spec.topicId ? before.partitions[assignment.partition] : undefined;
    if (old !== undefined) {
      if (assignment.leaderEpoch < old.leaderEpoch) violations.push(`${where}: leader epoch ${old.leaderEpoch} -> ${assignment.leaderEpoch}`);
      if (assignment.partitionEpoch < old.partitionEpoch) violations.push(`${where}: partition epoch ${old.partitionEpoch} -> ${assignment.partitionEpoch}`);
      if (assignment.leader !== old.leader && assignment.leaderEpoch <= old.leaderEpoch) violations.push(`${where}: leader ${old.leader} -> ${assignment.leader} without a new leader epoch`);
    }
  }
  return violations;
}
