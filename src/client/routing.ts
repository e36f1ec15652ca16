/**
 * Routing: which node a request goes to, as Kafka's client keeps its Metadata (a leader
 * per partition, a coordinator per group) and its NetworkClient's node states.
 *
 * - Leaders are learnt from NOT_LEADER answers (`leaderUrl`) and from metadata refreshes
 *   (GET /v1/topics/{t} on another node): a partition's requests go to its leader, a
 *   group's to its coordinator, everything else to the current node.
 * - A node that timed out or whose connection failed is suspect for SUSPECT_MS (Kafka's
 *   client disconnects a node whose request timed out and refreshes its metadata):
 *   the current node moves off it, and a request whose leader is suspect waits for
 *   metadata from another node to name a new leader, until the suspicion ends. A
 *   frozen or cut-off leader thus costs the cluster's failover time, not the fault's
 *   length; a node that was only slow is tried again once its suspicion ends.
 */
import { partitionKey } from '../util/partition-key.js';

export interface NodeUrl {
  /** scheme://host:port */
  origin: string;
  /** A path prefix in front of /v1 (a reverse proxy's), without a trailing slash. */
  prefix: string;
  /** As given, normalised: origin + prefix. */
  href: string;
}

/** How long a node that timed out or failed a connection is avoided. */
export const SUSPECT_MS = 3_000;
/** Most partitions and groups whose leader is remembered (the oldest is forgotten first). */
const REMEMBERED_LEADERS_MAX = 10_000;
/** Most topics whose partition leaders are remembered from metadata refreshes. */
const REMEMBERED_TOPICS_MAX = 1_000;

export function parseNodeUrl(text: string): NodeUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`expected a node URL like http://127.0.0.1:8080, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`expected an http: or https: URL, got ${JSON.stringify(text)}`);
  }
  const prefix = url.pathname.replace(/\/+$/, '');
  return { origin: url.origin, prefix, href: url.origin + prefix };
}

/** What a request is about: the partition or group whose leader serves it, its topic, and whether it is a topic-level produce. */
export interface Target {
  /** 'partition <t>-<p>' or 'group <g>', when the request has one (leadershipKey). */
  key: string | undefined;
  /** The topic named in the path (still encoded), if any. */
  topic: string | undefined;
  /** POST /v1/topics/{t}/records: the node that takes it forwards records to their partitions' leaders. */
  isTopicProduce: boolean;
  /** POST /v1/topics/{t}/partitions/{p}/records: its answer's Runnel-Served-By names the partition's leader (served-by.ts). */
  isPartitionProduce?: boolean;
}

export function targetOf(method: string, path: string): Target {
  const partition = /^\/v1\/topics\/([^/]+)\/partitions\/(\d+)(\/|$)/.exec(path);
  if (partition !== null) {
    const isPartitionProduce = method === 'POST' && /^\/?records\/?$/.test(path.slice(partition[0].length));
    return { key: partitionLeaderKey(partition[1], Number(partition[2])), topic: partition[1], isTopicProduce: false, isPartitionProduce };
  }
  const group = /^\/v1\/groups\/([^/]+)(\/|$)/.exec(path);
  if (group !== null) return { key: `group ${group[1]}`, topic: undefined, isTopicProduce: false };
  const topic = /^\/v1\/topics\/([^/]+)(\/records)?\/?$/.exec(path);
  return { key: undefined, topic: topic?.[1], isTopicProduce: topic?.[2] !== undefined && method === 'POST' };
}

/** The key of a partition's requests (Target.key): 'partition <t>-<p>', the topic as the path spells it. */
export function partitionLeaderKey(topic: string, partition: number): string {
  return 'partition ' + partitionKey(topic, partition);
}

/** Sets a key of a map kept to sizeMax entries (the least recently set is dropped first). */
export function remember<K, V>(map: Map<K, V>, key: K, value: V, sizeMax: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > sizeMax) map.delete(map.keys().next().value as K);
}

export class Routing {
  readonly nodes: NodeUrl[];
  /** The node requests without a known leader go to. */
  current = 0;
  /** Leader (index into nodes) per partition or group. */
  private readonly leaders = new Map<string, number>();
  /** Leaders of each partition of a topic, from the last metadata refresh. */
  private readonly topicLeaders = new Map<string, number[]>();
  /** Until when each suspect node is avoided (ms since the epoch). */
  private readonly suspectUntilMs = new Map<number, number>();

  constructor(urls: readonly string[], private readonly now: () => number = Date.now) {
    if (urls.length === 0) throw new TypeError('expected at least one node URL');
    this.nodes = urls.map(parseNodeUrl);
  }

  /** The node a request goes to now: its leader when known, else the current node. */
  nodeFor(target: Target): number {
    return (target.key === undefined ? undefined : this.leaders.get(target.key)) ?? this.current;
  }

  isSuspect(index: number): boolean {
    const untilMs = this.suspectUntilMs.get(index);
    if (untilMs === undefined) return false;
    if (untilMs > this.now()) return true;
    this.suspectUntilMs.delete(index);
    return false;
  }

  /**
   * True while the request should not be sent yet: its node is suspect (and another is
   * not), or it is a topic-level produce and a suspect node leads a partition of the
   * topic (the node taking it would forward records there and wait).
   */
  isHeldBack(target: Target): boolean {
    if (this.healthyNode() === undefined) return false;
    if (this.isSuspect(this.nodeFor(target))) return true;
    if (!target.isTopicProduce || target.topic === undefined) return false;
    return this.topicLeaders.get(target.topic)?.some((index) => this.isSuspect(index)) ?? false;
  }

  /** The current node, or the next one that is not suspect nor in `except` (undefined when there is none). */
  healthyNode(except?: ReadonlySet<number>): number | undefined {
    for (let step = 0; step < this.nodes.length; step++) {
      const index = (this.current + step) % this.nodes.length;
      if (!this.isSuspect(index) && except?.has(index) !== true) return index;
    }
    return undefined;
  }

  /** The leaders of the topic's partitions at the last metadata refresh (none when never read). */
  leadersOf(topic: string): readonly number[] {
    return this.topicLeaders.get(topic) ?? [];
  }

  markSuspect(index: number): void {
    this.suspectUntilMs.set(index, this.now() + SUSPECT_MS);
    if (this.current === index) this.current = this.healthyNode() ?? index;
  }

  /** An answer came from the node: it is not suspect any more. */
  markAnswered(index: number): void {
    this.suspectUntilMs.delete(index);
  }

  /** The node's index, added to the known nodes if new. */
  indexOf(url: string): number {
    const node = parseNodeUrl(url);
    const index = this.nodes.findIndex((each) => each.href === node.href);
    return index === -1 ? this.nodes.push(node) - 1 : index;
  }

  /** NOT_LEADER named the leader: remembered for the partition or group, else it becomes the current node. */
  follow(leaderUrl: string, key: string | undefined): void {
    const index = this.indexOf(leaderUrl);
    if (key === undefined) this.current = index;
    else remember(this.leaders, key, index, REMEMBERED_LEADERS_MAX);
  }

  /** Forgets the leader remembered for a partition or group (the current node serves it, and names the leader). */
  forget(key: string | undefined): void {
    if (key !== undefined) this.leaders.delete(key);
  }

  /** Metadata from another node: every partition's leader URL (null while it has none). */
  learnTopic(topic: string, partitions: ReadonlyArray<{ partition: number; leaderUrl: string | null }>): void {
    const indexes: number[] = [];
    for (const { partition, leaderUrl } of partitions) {
      const key = partitionLeaderKey(topic, partition);
      if (leaderUrl === null) {
        this.leaders.delete(key);
        continue;
      }
      const index = this.indexOf(leaderUrl);
      indexes.push(index);
      remember(this.leaders, key, index, REMEMBERED_LEADERS_MAX);
    }
    remember(this.topicLeaders, topic, indexes, REMEMBERED_TOPICS_MAX);
  }

  /** Metadata could not be read: what was remembered about the topic is dropped (the current node will name leaders). */
  forgetTopic(topic: string, key: string | undefined): void {
    this.topicLeaders.delete(topic);
    this.forget(key);
  }
}
