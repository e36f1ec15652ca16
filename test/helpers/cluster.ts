/**
 * A Runnel cluster of real child processes on loopback ports, for cluster tests:
 *
 *   const cluster = await startCluster(t, { nodes: 3 });
 *   await cluster.waitFor(async () => (await cluster.clusterStatus()).controller, 10_000, 'a controller');
 *   const leader = await cluster.leaderOf('orders', 0);   // node id, or null
 *   await cluster.kill(leader!);        // SIGKILL
 *   await cluster.start(leader!);       // the same data directory and port
 *   cluster.isolate(2); ...; cluster.heal(2);
 *   cluster.pause(3); ...; cluster.resume(3);   // SIGSTOP / SIGCONT: frozen, sockets open
 *
 * Every node gets fixed ports (allocated before any node starts) and a --peers list in
 * which its own entry is its real URL (what it advertises to clients) and every other
 * node's entry is a fault proxy (helpers/fault-proxy.ts) from this node to that one:
 *
 *   node 1: --peers 1@http://127.0.0.1:<port 1>,2@<proxy 1->2>,3@<proxy 1->3>
 *
 * So all node-to-node traffic passes through a proxy that belongs to one ordered pair,
 * and cutting a node off from the others (isolate) blocks every proxy into and out of
 * it, while the test process still reaches every node directly. With isProxied: false
 * the lists hold the real URLs and isolate() is refused.
 *
 * Nodes start with short timeouts so fault rounds stay fast (FAST_CLUSTER_ARGS; pass
 * `args` to override them, the last occurrence of a flag wins). Everything is bounded:
 * each request has a deadline, waitFor has one, and every child is SIGKILLed at the
 * test's teardown if it still runs (child-node.ts).
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startNode, type ChildNode, type ExitStatus } from './child-node.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { requestJson, requestOk } from './http.js';

/** Short session, lag and election timeouts: a dead node is fenced in 1.5 s. */
export const FAST_CLUSTER_ARGS: readonly string[] = [
  '--node-session-timeout-ms', '1500',
  '--replica-lag-time-max-ms', '3000',
  '--raft-election-timeout-ms', '500',
];

/** output() cuts longer log lines (stack traces in pino lines) to this. */
const LOG_LINE_CHARACTERS_MAX = 400;
/** Tries of a node start whose port is in use for a moment. */
const START_ATTEMPTS = 5;

export interface StartClusterOptions {
  /** Node count; ids are 1..nodes. Default 3. */
  nodes?: number;
  /** Extra environment of every node. */
  env?: Record<string, string | undefined>;
  /** Extra `serve` flags of every node, after FAST_CLUSTER_ARGS and the cluster's own. */
  args?: string[];
  /** Extra `serve` flags of one node (its --rack, say), after `args`. */
  nodeArgs?: (nodeId: number) => string[];
  /** The product's default timeouts instead of FAST_CLUSTER_ARGS (what a user runs). Default false. */
  isDefaultSettings?: boolean;
  /** Node-to-node traffic through fault proxies. Default true. */
  isProxied?: boolean;
  /** Sets RUNNEL_CLUSTER_SECRET on every node. */
  clusterSecret?: string;
  /** Deadline of each node's start (listening and ready). Default 60 000 ms: a bound for a loaded machine, not a speed claim. */
  startTimeoutMs?: number;
  /** Where the data directories go: <dataRoot>/node-<id>. Default: a new temp directory, removed after the nodes stop. */
  dataRoot?: string;
  /**
   * Nodes startCluster leaves down (they are in every --peers list and vote in the
   * metadata quorum, but never ran): start them later with start(). The others must
   * still be a majority, or none becomes ready. Default none.
   */
  downAtStart?: number[];
}

export interface ClusterMember {
  nodeId: number;
  port: number;
  /** The node's real URL: what it advertises to clients. */
  url: string;
  dataDir: string;
  /** The running incarnation, undefined while the node is down. */
  child: ChildNode | undefined;
  /** Every incarnation so far, oldest first (for their logs). */
  incarnations: ChildNode[];
}

/** GET /v1/cluster, as the contract describes it. */
export interface ClusterDescription {
  clusterId: string;
  controller: number | null;
  nodes: Array<{ nodeId: number; url: string; rack: string | null; state: 'online' | 'fenced' | 'unknown' }>;
  metadata: { leaderId: number | null; epoch: number; highWatermark: number; logEndOffset: number; appliedOffset: number };
}

/** One partition of GET /v1/topics/{t}. */
export interface PartitionView {
  partition: number;
  leader: number | null;
  leaderUrl: string | null;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
}

export interface TopicView {
  name: string;
  partitions: PartitionView[];
  configs?: Record<string, string>;
}

/** What every running node says about the cluster (an error text for a node that did not answer). */
export interface ClusterStatus {
  /** The controller every answering node names, when they agree; else null. */
  controller: number | null;
  /** The clusterId every answering node names, when they agree; else null. */
  clusterId: string | null;
  byNode: Map<number, ClusterDescription | string>;
}

export interface Cluster {
  readonly members: ClusterMember[];
  readonly isProxied: boolean;
  member(nodeId: number): ClusterMember;
  /** The node's real URL. */
  url(nodeId: number): string;
  /** Real URLs of every node, running or not. */
  urls(): string[];
  /** Ids of the nodes running now. */
  runningIds(): number[];
  isRunning(nodeId: number): boolean;
  isIsolated(nodeId: number): boolean;
  /** Between pause() and resume() (or the node's end). */
  isPaused(nodeId: number): boolean;
  /** The proxy node `from` uses to reach node `to`. */
  proxy(from: number, to: number): FaultProxy;
  /** SIGKILL (a paused node too); resolves once the process is gone. */
  kill(nodeId: number): Promise<ExitStatus>;
  /** SIGTERM (graceful; a paused node gets SIGCONT first); rejects if the node does not exit within timeoutMs (it is then SIGKILLed). */
  stop(nodeId: number, timeoutMs?: number): Promise<ExitStatus>;
  /** Starts a node that is down on its data directory and port; resolves once it is ready. */
  start(nodeId: number): Promise<ChildNode>;
  /** stop() if it runs, then start(). */
  restart(nodeId: number): Promise<ChildNode>;
  /** Cuts the node off from every other node (both directions) until heal(). */
  isolate(nodeId: number): void;
  heal(nodeId: number): void;
  healAll(): void;
  /**
   * SIGSTOP: the node freezes as a stopped VM or a long GC pause does: its sockets stay
   * open and connections are accepted by the kernel, but nothing answers until resume().
   */
  pause(nodeId: number): void;
  /** SIGCONT to a paused node. */
  resume(nodeId: number): void;
  /** GET /v1/cluster on every running node. */
  clusterStatus(): Promise<ClusterStatus>;
  /**
   * Waits until every running node names the same controller and clusterId and lists
   * every running node as online (so a topic may use all of them); returns that status.
   */
  waitForOnline(timeoutMs?: number): Promise<ClusterStatus>;
  /** GET /v1/topics/{topic} on one node (default: the first running, not isolated). */
  describeTopic(topic: string, viaNodeId?: number): Promise<TopicView>;
  /** The partition's leader as one node sees it (default: the first running, not isolated). */
  leaderOf(topic: string, partition: number, viaNodeId?: number): Promise<number | null>;
  /**
   * Calls `predicate` every intervalMs until it returns a value other than undefined,
   * null or false, and returns that value. Throws after timeoutMs, naming `what` and the
   * last value or error the predicate gave.
   */
  waitFor<T>(predicate: () => Promise<T> | T, timeoutMs: number, what?: string, intervalMs?: number): Promise<NonNullable<T>>;
  /** The last `count` lines of every incarnation of the node, for failure messages. */
  output(nodeId: number, count?: number): string;
  /** Writes every incarnation's whole stdout and stderr to <directory>/node-<id>.<incarnation>.log; returns the paths. */
  writeLogs(directory: string): string[];
  /** SIGTERM to every running node, in parallel; their exit statuses by node id. */
  stopAll(timeoutMs?: number): Promise<Map<number, ExitStatus>>;
}

/** What startCluster needs of a tap test. */
interface TestLike {
  teardown: (fn: () => unknown) => void;
}

/** Where the kernel picks ports for `listen(0)` and outgoing connections (Linux; a common default elsewhere). */
function ephemeralPortRange(): { low: number; high: number } {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low <= high) return { low, high };
  } catch {
    // Not Linux: assume the IANA range.
  }
  return { low: 49152, high: 65535 };
}

async function listenOn(port: number): Promise<net.Server | undefined> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/**
 * Reserves `count` free ports for nodes that must keep their port across restarts:
 * held open until release(), so nothing started meanwhile (the proxies) gets one.
 * They are picked below the kernel's ephemeral range, so no `listen(0)` and no outgoing
 * connection of any process takes a node's port while the node is down between a kill
 * and its restart.
 */
export async function reservePorts(count: number): Promise<{ ports: number[]; release: () => Promise<void> }> {
  const servers: net.Server[] = [];
  const { low } = ephemeralPortRange();
  const rangeLow = 10_000;
  const rangeHigh = Math.max(rangeLow + 1_000, Math.min(low, 65_536));
  for (let attempt = 0; servers.length < count && attempt < count * 50; attempt++) {
    const candidate = rangeLow + Math.floor(Math.random() * (rangeHigh - rangeLow));
    const server = await listenOn(candidate);
    if (server !== undefined) servers.push(server);
  }
  // Fall back to any free port (still held until release).
  while (servers.length < count) {
    const server = await listenOn(0);
    if (server === undefined) throw new Error('reservePorts: could not listen on 127.0.0.1');
    servers.push(server);
  }
  return {
    ports: servers.map((server) => (server.address() as net.AddressInfo).port),
    release: async () => {
      await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
    },
  };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function startCluster(t: TestLike, options: StartClusterOptions = {}): Promise<Cluster> {
  const nodeCount = options.nodes ?? 3;
  const isProxied = options.isProxied ?? true;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  if (!Number.isInteger(nodeCount) || nodeCount < 1) throw new TypeError(`startCluster: expected nodes >= 1, got ${nodeCount}`);
  const dataRoot = options.dataRoot ?? fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-cluster-'));
  const ids = Array.from({ length: nodeCount }, (_, index) => index + 1);
  const reservation = await reservePorts(nodeCount);
  const ports = reservation.ports;
  const members: ClusterMember[] = ids.map((nodeId, index) => ({
    nodeId,
    port: ports[index],
    url: `http://127.0.0.1:${ports[index]}`,
    dataDir: path.join(dataRoot, `node-${nodeId}`),
    child: undefined,
    incarnations: [],
  }));
  if (options.dataRoot === undefined) {
    // Removed once every node is gone: a node still writing (its cleaner, a flush) would
    // make the removal fail, and a failing teardown would leave the others undone.
    t.teardown(async () => {
      await Promise.all(members.flatMap((member) => member.incarnations.map((child) => child.kill())));
      fs.rmSync(dataRoot, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    });
  }
  const memberOf = (nodeId: number): ClusterMember => {
    const found = members.find((member) => member.nodeId === nodeId);
    if (found === undefined) throw new RangeError(`no node ${nodeId} in this cluster of ${nodeCount}`);
    return found;
  };

  // proxies.get(`${from}>${to}`): how `from` reaches `to`.
  // The proxies listen on port 0 while the node ports are still held, so none gets one.
  const proxies = new Map<string, FaultProxy>();
  try {
    if (isProxied) {
      for (const from of members) {
        for (const to of members) {
          if (from === to) continue;
          proxies.set(`${from.nodeId}>${to.nodeId}`, await startFaultProxy(t, to.url, { requestCountMax: 200 }));
        }
      }
    }
  } finally {
    await reservation.release();
  }
  const proxy = (from: number, to: number): FaultProxy => {
    const found = proxies.get(`${from}>${to}`);
    if (found === undefined) throw new RangeError(`no proxy from node ${from} to node ${to}${isProxied ? '' : ' (the cluster is not proxied)'}`);
    return found;
  };
  const peersOf = (nodeId: number): string =>
    members.map((member) => `${member.nodeId}@${member.nodeId === nodeId || !isProxied ? member.url : proxy(nodeId, member.nodeId).url}`).join(',');

  const isolated = new Set<number>();
  /** Nodes SIGSTOPped and not yet SIGCONTed (a node leaves the set when its incarnation ends). */
  const paused = new Set<number>();
  /** A proxy is blocked while either end is isolated. */
  const applyBlocks = (): void => {
    for (const [key, each] of proxies) {
      const [from, to] = key.split('>').map(Number);
      const shouldBlock = isolated.has(from) || isolated.has(to);
      if (shouldBlock && !each.isBlocked) each.block();
      else if (!shouldBlock && each.isBlocked) each.unblock();
    }
  };

  const env = {
    // Without tap's NODE_OPTIONS hooks (process info, V8 coverage) a node starts a third
    // faster on a busy machine, and fault rounds restart nodes often. Pass NODE_OPTIONS in
    // `env` to put them back.
    NODE_OPTIONS: undefined,
    ...options.env,
    ...(options.clusterSecret === undefined ? {} : { RUNNEL_CLUSTER_SECRET: options.clusterSecret }),
  };
  const start = async (nodeId: number): Promise<ChildNode> => {
    const member = memberOf(nodeId);
    if (member.child?.isRunning() === true) throw new Error(`node ${nodeId} is already running (pid ${member.child.pid})`);
    const startOnce = (): Promise<ChildNode> => startNode({
      dataDir: member.dataDir,
      port: member.port,
      t,
      env,
      startTimeoutMs,
      args: ['--node-id', String(nodeId), '--peers', peersOf(nodeId), ...(options.isDefaultSettings === true ? [] : FAST_CLUSTER_ARGS), ...(options.args ?? []), ...(options.nodeArgs?.(nodeId) ?? [])],
    });
    let child: ChildNode | undefined;
    // The port must stay the node's (the other nodes' peers lists name it); another
    // process may hold it for a moment, so an EADDRINUSE start is tried again, briefly.
    for (let attempt = 1; child === undefined; attempt++) {
      try {
        child = await startOnce();
      } catch (error) {
        if (attempt >= START_ATTEMPTS || !String(error).includes('EADDRINUSE')) throw error;
        await sleep(300);
      }
    }
    member.child = child;
    member.incarnations.push(child);
    void child.exited.then(() => {
      if (member.child === child) paused.delete(nodeId);
    });
    return child;
  };

  const runningChild = (nodeId: number): ChildNode | undefined => {
    const child = memberOf(nodeId).child;
    return child?.isRunning() === true ? child : undefined;
  };
  const runningIds = (): number[] => ids.filter((nodeId) => runningChild(nodeId) !== undefined);
  const defaultVia = (): number => {
    const candidates = runningIds();
    const reachable = candidates.find((nodeId) => !isolated.has(nodeId) && !paused.has(nodeId));
    const via = reachable ?? candidates[0];
    if (via === undefined) throw new Error('no node of the cluster is running');
    return via;
  };

  const describeTopic = async (topic: string, viaNodeId = defaultVia()): Promise<TopicView> =>
    (await requestOk<TopicView>(`${memberOf(viaNodeId).url}/v1/topics/${encodeURIComponent(topic)}`, { timeoutMs: 5_000 })).body;

  const cluster: Cluster = {
    members,
    isProxied,
    member: memberOf,
    url: (nodeId) => memberOf(nodeId).url,
    urls: () => members.map((member) => member.url),
    runningIds,
    isRunning: (nodeId) => runningChild(nodeId) !== undefined,
    isIsolated: (nodeId) => isolated.has(nodeId),
    isPaused: (nodeId) => paused.has(nodeId) && runningChild(nodeId) !== undefined,
    proxy,
    kill: async (nodeId) => {
      const child = memberOf(nodeId).child;
      return child === undefined ? { code: null, signal: null } : child.kill();
    },
    stop: async (nodeId, timeoutMs) => {
      const child = memberOf(nodeId).child;
      if (child === undefined) return { code: null, signal: null };
      if (paused.delete(nodeId) && child.isRunning()) child.process.kill('SIGCONT');
      return child.stop('SIGTERM', timeoutMs);
    },
    start,
    restart: async (nodeId) => {
      await cluster.stop(nodeId);
      return start(nodeId);
    },
    isolate: (nodeId) => {
      if (!isProxied) throw new Error('isolate() needs a proxied cluster');
      memberOf(nodeId);
      isolated.add(nodeId);
      applyBlocks();
    },
    heal: (nodeId) => {
      isolated.delete(nodeId);
      applyBlocks();
    },
    healAll: () => {
      isolated.clear();
      applyBlocks();
    },
    pause: (nodeId) => {
      const child = runningChild(nodeId);
      if (child === undefined) throw new Error(`node ${nodeId} is not running: nothing to pause`);
      paused.add(nodeId);
      child.process.kill('SIGSTOP');
    },
    resume: (nodeId) => {
      const child = runningChild(nodeId);
      if (!paused.delete(nodeId) || child === undefined) return;
      child.process.kill('SIGCONT');
    },
    clusterStatus: async () => {
      const byNode = new Map<number, ClusterDescription | string>();
      await Promise.all(runningIds().map(async (nodeId) => {
        try {
          const response = await requestJson<ClusterDescription>(`${memberOf(nodeId).url}/v1/cluster`, { timeoutMs: 3_000 });
          byNode.set(nodeId, response.status === 200 ? response.body : `HTTP ${response.status} ${JSON.stringify(response.body)}`);
        } catch (error) {
          byNode.set(nodeId, describeError(error));
        }
      }));
      const answers = [...byNode.values()].filter((answer): answer is ClusterDescription => typeof answer === 'object');
      const agreed = <T>(pick: (answer: ClusterDescription) => T): T | null => {
        if (answers.length === 0 || answers.length < byNode.size) return null;
        const first = pick(answers[0]);
        return answers.every((answer) => pick(answer) === first) ? first : null;
      };
      return { controller: agreed((answer) => answer.controller), clusterId: agreed((answer) => answer.clusterId), byNode };
    },
    waitForOnline: (timeoutMs = 20_000) => cluster.waitFor(async () => {
      const status = await cluster.clusterStatus();
      const running = runningIds();
      const isSettled = status.controller !== null && status.clusterId !== null && [...status.byNode.values()].every((answer) =>
        typeof answer === 'object' && running.every((nodeId) => answer.nodes.some((node) => node.nodeId === nodeId && node.state === 'online')));
      return isSettled ? status : undefined;
    }, timeoutMs, 'one controller, one clusterId, and every running node online in every running node\'s view'),
    describeTopic,
    leaderOf: async (topic, partition, viaNodeId) => {
      const view = await describeTopic(topic, viaNodeId);
      const found = view.partitions.find((each) => each.partition === partition);
      if (found === undefined) throw new Error(`topic ${topic} has no partition ${partition}: ${JSON.stringify(view).slice(0, 300)}`);
      return found.leader;
    },
    waitFor: async <T>(predicate: () => Promise<T> | T, timeoutMs: number, what = 'the condition', intervalMs = 100): Promise<NonNullable<T>> => {
      const deadlineMs = Date.now() + timeoutMs;
      let last = 'not tried yet';
      for (let attempt = 0; ; attempt++) {
        try {
          const value = await predicate();
          if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>;
          last = `got ${JSON.stringify(value)}`;
        } catch (error) {
          last = describeError(error);
        }
        if (Date.now() >= deadlineMs) throw new Error(`waited ${timeoutMs} ms (${attempt + 1} tries) for ${what}; last: ${last.slice(0, 1_000)}`);
        await sleep(Math.min(intervalMs, Math.max(0, deadlineMs - Date.now())));
      }
    },
    output: (nodeId, count = 40) => memberOf(nodeId).incarnations.map((child, index) => {
      const tail = (lines: string[]): string => lines.slice(-count).map((line) => (line.length > LOG_LINE_CHARACTERS_MAX ? `${line.slice(0, LOG_LINE_CHARACTERS_MAX)}…` : line)).join('\n');
      return `--- node ${nodeId}, incarnation ${index + 1} (pid ${child.pid}) ---\nstdout:\n${tail(child.stdoutLines)}\nstderr:\n${tail(child.stderrLines)}`;
    }).join('\n'),
    writeLogs: (directory) => {
      fs.mkdirSync(directory, { recursive: true });
      const paths: string[] = [];
      for (const member of members) {
        member.incarnations.forEach((child, index) => {
          const file = path.join(directory, `node-${member.nodeId}.${index + 1}.log`);
          fs.writeFileSync(file, [...child.stdoutLines, '--- stderr ---', ...child.stderrLines].join('\n') + '\n');
          paths.push(file);
        });
      }
      return paths;
    },
    stopAll: async (timeoutMs) => {
      const statuses = new Map<number, ExitStatus>();
      await Promise.all(runningIds().map(async (nodeId) => {
        statuses.set(nodeId, await cluster.stop(nodeId, timeoutMs));
      }));
      return statuses;
    },
  };

  // All at once: a node is ready only once the metadata quorum (a majority) is up.
  const downAtStart = new Set(options.downAtStart ?? []);
  for (const nodeId of downAtStart) memberOf(nodeId);
  const started = await Promise.allSettled(ids.filter((nodeId) => !downAtStart.has(nodeId)).map((nodeId) => start(nodeId)));
  const failed = started.findIndex((result) => result.status === 'rejected');
  if (failed !== -1) {
    await Promise.all(runningIds().map((nodeId) => cluster.kill(nodeId)));
    throw (started[failed] as PromiseRejectedResult).reason;
  }
  return cluster;
}
