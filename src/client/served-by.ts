/**
 * Leaders learnt from answers, with no request of their own: every answer that a
 * partition's log or a group's coordinator served names that node in
 * `Runnel-Served-By: <node id>` (any node takes any request and forwards or hands it to
 * the node that can serve it). The client takes from it:
 *
 * - a produce to a partition path (POST /v1/topics/{t}/partitions/{p}/records): the
 *   partition's leader, which appended the records;
 * - a group's request (/v1/groups/{g}/...): the group's coordinator.
 *
 * Nothing else: a read names the replica whose log served it, which may be a follower
 * (reads come from any in-sync replica), and a topic-level produce names the distinct
 * leaders of its records, which cannot always be told apart per partition.
 *
 * The header holds node ids; their URLs come from GET /v1/cluster, read once when an
 * answer names a node whose URL the client does not know (again at most every
 * CLUSTER_MAX_AGE_MS), and the next request of that partition or group waits for that
 * read. The client goes to the URL a node advertises only when one of the URLs it was
 * given is itself a node's advertised URL: it then talks to the nodes directly, in
 * their address space. A client given other URLs (a load balancer, a reverse proxy, a
 * port mapping) may not reach the advertised ones: it keeps sending every request to
 * the URLs it was given, and the node there forwards or hands the request over.
 */
import type { RackNode } from './rack-reads.js';
import { parseNodeUrl, remember, type Routing, type Target } from './routing.js';

export const SERVED_BY_HEADER = 'runnel-served-by';
/** How long the nodes GET /v1/cluster listed are trusted before an unknown node id makes the client read it again. */
export const CLUSTER_MAX_AGE_MS = 30_000;
/** After a GET /v1/cluster that no node answered, the next try waits this long. */
const CLUSTER_RETRY_MS = 1_000;
/** Most partitions and groups waiting for the URL of their named leader. */
const PENDING_MAX = 10_000;

/** The node ids a Runnel-Served-By value names, in order; none when absent or malformed. */
export function parseServedBy(value: string | string[] | undefined): number[] {
  if (value === undefined) return [];
  const ids: number[] = [];
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const text = part.trim();
    if (!/^\d{1,9}$/.test(text)) return [];
    ids.push(Number(text));
  }
  return ids;
}

/**
 * The leader or coordinator an answer names, if it names one: a partition-path produce
 * (the leader that appended) or a group's request (its coordinator), answered below 500
 * and naming exactly one node.
 */
export function leaderNamed(target: Target, status: number, servedBy: readonly number[]): { key: string; nodeId: number } | undefined {
  if (target.key === undefined || servedBy.length !== 1 || status >= 500) return undefined;
  if (target.isPartitionProduce === true || target.key.startsWith('group ')) return { key: target.key, nodeId: servedBy[0] };
  return undefined;
}

/** The normalised URL (NodeUrl.href) of a URL a node advertises; undefined when it is not one. */
function hrefOf(url: string): string | undefined {
  try {
    return parseNodeUrl(url).href;
  } catch {
    return undefined;
  }
}

/**
 * The advertised URL of each node the client may send requests to: all of them when
 * one of the URLs the client was given is a node's advertised URL, else none.
 */
export function usableUrls(given: ReadonlySet<string>, nodes: readonly RackNode[]): Map<number, string> {
  const urls = new Map<number, string>();
  if (!nodes.some((node) => given.has(hrefOf(node.url) ?? ''))) return urls;
  for (const node of nodes) {
    if (hrefOf(node.url) !== undefined) urls.set(node.nodeId, node.url);
  }
  return urls;
}

export class ServedByLeaders {
  /** The URLs the client was given (NodeUrl.href). */
  private readonly given: ReadonlySet<string>;
  /** The URL of each node requests may go to (usableUrls), from the last GET /v1/cluster. */
  private urls = new Map<number, string>();
  /** Until when the last GET /v1/cluster is trusted: an unknown node id before then is not looked up. */
  private freshUntilMs = Number.NEGATIVE_INFINITY;
  /** Partitions and groups whose leader an answer named while its URL was being looked up. */
  private readonly pending = new Map<string, number>();
  private reading: Promise<RackNode[] | undefined> | undefined;

  constructor(
    private readonly routing: Routing,
    /** GET /v1/cluster's nodes (undefined when no node answered). */
    private readonly source: () => Promise<RackNode[] | undefined>,
    private readonly now: () => number = Date.now,
  ) {
    this.given = new Set(routing.nodes.map((node) => node.href));
  }

  /** An answer came: the leader or coordinator it names becomes where its partition's or group's next request goes. */
  onAnswer(target: Target, status: number, servedBy: string | string[] | undefined): void {
    const named = leaderNamed(target, status, parseServedBy(servedBy));
    if (named === undefined) return;
    const url = this.urls.get(named.nodeId);
    if (url !== undefined) {
      this.routing.follow(url, named.key);
    } else if (this.freshUntilMs <= this.now() || this.reading !== undefined) {
      remember(this.pending, named.key, named.nodeId, PENDING_MAX);
      void this.readCluster();
    }
  }

  /** The cluster read a request of `key` waits for before it is routed (an answer just named its leader), if any. */
  pendingRead(key: string | undefined): Promise<unknown> | undefined {
    return key !== undefined && this.pending.has(key) ? this.reading : undefined;
  }

  /** GET /v1/cluster, one read at a time; learns the nodes' URLs (rack reads use its nodes too). */
  readCluster(): Promise<RackNode[] | undefined> {
    this.reading ??= this.source().catch(() => undefined).then((nodes) => {
      this.reading = undefined;
      this.learnCluster(nodes);
      return nodes;
    });
    return this.reading;
  }

  private learnCluster(nodes: RackNode[] | undefined): void {
    if (nodes !== undefined) this.urls = usableUrls(this.given, nodes);
    this.freshUntilMs = this.now() + (nodes === undefined ? CLUSTER_RETRY_MS : CLUSTER_MAX_AGE_MS);
    for (const [key, nodeId] of this.pending) {
      const url = this.urls.get(nodeId);
      if (url !== undefined) this.routing.follow(url, key);
    }
    this.pending.clear();
  }
}
