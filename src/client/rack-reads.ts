/**
 * Rack-aware reads (Kafka's client.rack, KIP-392): a client given a `rack` reads each
 * partition from an in-sync replica on a node of its own rack, when the partition has
 * one, instead of from the leader; writes, group and admin requests still go where
 * they go today. A zone-local read costs no cross-zone traffic and spreads readers
 * over the replicas.
 *
 * - The nodes' racks come from GET /v1/cluster, each partition's ISR and leader from
 *   GET /v1/topics/{t} (the metadata refresh the transport already does for leaders).
 *   Both are read again once older than METADATA_MAX_AGE_MS: in the background while
 *   a rack replica is known, before the read when nothing is known yet.
 * - A read goes to the partition's leader when the leader is in the client's rack
 *   (nothing to gain), else to a rack ISR member (partitions spread over them).
 * - A rack replica that fails a read (no connection, timeout: suspect like any node,
 *   routing.ts; or an answer 5xx) is left for the rest of that call, and for
 *   SUSPECT_MS for later reads: the read falls back to the leader.
 */
import type { Exchange } from './exchange.js';
import { partitionLeaderKey, remember, SUSPECT_MS, type Routing } from './routing.js';

/** A rack id, as nodes take it (--rack): 1-64 characters of letters, digits, '.', '_' and '-'. */
const RACK_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
/** Metadata (racks, ISRs) older than this is read again (Kafka's metadata.max.age.ms is 5 min; ISRs move faster). */
export const METADATA_MAX_AGE_MS = 10_000;
/** After a metadata read that failed, the next try waits this long (reads meanwhile go to the leader). */
const METADATA_RETRY_MS = 1_000;
/** Most partitions whose ISR is remembered (the oldest is forgotten first). */
const REMEMBERED_PARTITIONS_MAX = 10_000;
/** Most topics whose metadata age is remembered. */
const REMEMBERED_TOPICS_MAX = 1_000;

/** A node as GET /v1/cluster lists it. */
export interface RackNode {
  nodeId: number;
  url: string;
  rack?: string | null;
}

/** A partition as GET /v1/topics/{t} lists it. */
export interface RackPartition {
  partition: number;
  leader?: number | null;
  isr?: number[];
}

/** How the metadata is read: each resolves once the read is over, whatever came of it. */
export interface RackSources {
  /** GET /v1/cluster's nodes (undefined when no node answered). */
  cluster(): Promise<RackNode[] | undefined>;
  /** GET /v1/topics/{t}: the transport learns the leaders and hands the partitions to learnTopic. */
  topic(topic: string): Promise<void>;
}

export function checkRack(rack: string): string {
  if (!RACK_PATTERN.test(rack)) throw new TypeError(`expected rack to be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', got ${JSON.stringify(rack)}`);
  return rack;
}

export class RackReads {
  /** Each node's URL and rack, by node id. */
  private nodes = new Map<number, { url: string; rack: string | null }>();
  /** Until when metadata is fresh (the cluster's under '', each topic's under its name). */
  private readonly freshUntilMs = new Map<string, number>();
  /** Leader and ISR of each partition, by Target key. */
  private readonly partitions = new Map<string, { partition: number; leader: number | null; isr: readonly number[] }>();
  /** Rack replicas that answered a read with a 5xx: left until then (ms since the epoch). */
  private readonly failedUntilMs = new Map<number, number>();
  /** Metadata reads in flight, by topic. */
  private readonly refreshing = new Map<string, Promise<void>>();

  constructor(
    readonly rack: string,
    private readonly routing: Routing,
    private readonly sources: RackSources,
    private readonly now: () => number = Date.now,
  ) {
    checkRack(rack);
  }

  /**
   * The rack replica a read of the partition goes to, or undefined (the leader serves
   * it). Reads the metadata first when none is known about the topic; refreshes stale
   * metadata in the background.
   */
  async replicaFor(topic: string, key: string): Promise<number | undefined> {
    if (!this.isFresh('') || !this.isFresh(topic)) {
      const refresh = this.sharedRefresh(topic);
      if (!this.freshUntilMs.has('') || !this.freshUntilMs.has(topic)) await refresh;
    }
    return this.pick(key);
  }

  /** GET /v1/topics/{t} was read (by this class or by the transport's leader lookups). */
  learnTopic(topic: string, partitions: readonly RackPartition[]): void {
    for (const { partition, leader, isr } of partitions) {
      remember(this.partitions, partitionLeaderKey(topic, partition), { partition, leader: leader ?? null, isr: isr ?? [] }, REMEMBERED_PARTITIONS_MAX);
    }
    remember(this.freshUntilMs, topic, this.now() + METADATA_MAX_AGE_MS, REMEMBERED_TOPICS_MAX);
  }

  /**
   * An attempt failed at a node (an answer 5xx, or none: then routing suspects it). When
   * it was the call's rack replica, the call's next attempts go to the leader, and later
   * reads leave that replica for SUSPECT_MS.
   */
  onFailure(exchange: Exchange, index: number, isAnswer: boolean): void {
    if (exchange.rackNode !== index) return;
    exchange.isRackRead = false;
    exchange.rackNode = undefined;
    if (isAnswer) this.failedUntilMs.set(index, this.now() + SUSPECT_MS);
  }

  private pick(key: string): number | undefined {
    const assignment = this.partitions.get(key);
    if (assignment === undefined) return undefined;
    const inRack: number[] = [];
    for (const nodeId of assignment.isr) {
      const node = this.nodes.get(nodeId);
      if (node?.rack !== this.rack) continue;
      // The leader in the client's rack: the leader serves the read, as without a rack.
      if (nodeId === assignment.leader) return undefined;
      const index = this.routing.indexOf(node.url);
      if (!this.routing.isSuspect(index) && !this.hasFailed(index)) inRack.push(index);
    }
    return inRack.length === 0 ? undefined : inRack[assignment.partition % inRack.length];
  }

  private hasFailed(index: number): boolean {
    const untilMs = this.failedUntilMs.get(index);
    if (untilMs === undefined) return false;
    if (untilMs > this.now()) return true;
    this.failedUntilMs.delete(index);
    return false;
  }

  private isFresh(name: string): boolean {
    return (this.freshUntilMs.get(name) ?? Number.NEGATIVE_INFINITY) > this.now();
  }

  /** Reads what is stale (the nodes' racks, the topic's ISRs), one read at a time per topic. */
  private sharedRefresh(topic: string): Promise<void> {
    let running = this.refreshing.get(topic);
    if (running === undefined) {
      running = this.refresh(topic).finally(() => this.refreshing.delete(topic));
      this.refreshing.set(topic, running);
    }
    return running;
  }

  private async refresh(topic: string): Promise<void> {
    if (!this.isFresh('')) {
      const nodes = await this.sources.cluster();
      if (nodes !== undefined) this.nodes = new Map(nodes.map((node) => [node.nodeId, { url: node.url, rack: node.rack ?? null }]));
      this.freshUntilMs.set('', this.now() + (nodes === undefined ? METADATA_RETRY_MS : METADATA_MAX_AGE_MS));
    }
    if (!this.isFresh(topic)) {
      await this.sources.topic(topic);
      // Not learnt (no node answered): reads go to the leader until the next try.
      if (!this.isFresh(topic)) remember(this.freshUntilMs, topic, this.now() + METADATA_RETRY_MS, REMEMBERED_TOPICS_MAX);
    }
  }
}
