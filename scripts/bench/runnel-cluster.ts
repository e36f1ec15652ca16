/**
 * Starts a Runnel cluster for the benchmark: N nodes as child processes (the built
 * CLI) on free loopback ports, each with its own temporary data directory and the same
 * --peers list (node i at http://127.0.0.1:<port i>), waits until every node answers
 * GET /health/ready with 200, and stops them (SIGTERM, SIGKILL after a deadline) and
 * removes the directories at the end. No proxies: nodes talk to each other directly.
 *
 * A node can be SIGKILLed and started again on its data directory and port, or frozen
 * (SIGSTOP) and resumed (the failover rows). `peersOf` gives each node its own --peers
 * list (the failover scenario puts a proxy on every link); by default every node gets
 * the real URLs. Every child is remembered by child.ts, so an interrupted run kills it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { ChildHandle, sleep } from './child.js';
import { runnelCliPath } from './runnel-node.js';

const READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 50;

export interface ClusterNode {
  nodeId: number;
  origin: string;
  port: number;
  dataDir: string;
  /** The running process; undefined after kill() until start(). */
  child: ChildHandle | undefined;
}

export interface RunnelCluster {
  nodes: ClusterNode[];
  node(nodeId: number): ClusterNode;
  /** SIGKILL; resolves once the process is gone. */
  kill(nodeId: number): Promise<void>;
  /** SIGSTOP (frozen: no answer, no timer) and SIGCONT. */
  pause(nodeId: number): void;
  resume(nodeId: number): void;
  /** Starts a stopped node again (same data directory and port); resolves once it is ready. */
  start(nodeId: number): Promise<void>;
  /** Stops every node and removes the data directories. */
  stop(): Promise<void>;
}

async function isReady(origin: string): Promise<boolean> {
  try {
    const response = await request(`${origin}/health/ready`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    await response.body.dump();
    return response.statusCode === 200;
  } catch {
    return false;
  }
}

/** True once `origin` lists `count` nodes, every one online (registered with the controller, not fenced). */
async function isEveryNodeOnline(origin: string, count: number): Promise<boolean> {
  try {
    const response = await request(`${origin}/v1/cluster`, { headersTimeout: 1_000, bodyTimeout: 1_000 });
    const body = await response.body.json() as { nodes?: Array<{ state?: string }> };
    return response.statusCode === 200 && body.nodes?.length === count && body.nodes.every((node) => node.state === 'online');
  } catch {
    return false;
  }
}

function listenOn(port: number): Promise<net.Server | undefined> {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

/** The lower end of the kernel's ephemeral port range (Linux; the IANA default elsewhere). */
function ephemeralPortLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 11_000) return low;
  } catch {
    // Not Linux.
  }
  return 49_152;
}

/**
 * `count` distinct free ports below the kernel's ephemeral range, held open until
 * released: no proxy, outgoing connection or other process's listen(0) on a busy
 * machine takes a node's port between now and its (re)start.
 */
async function reservePorts(count: number): Promise<{ ports: number[]; release: () => Promise<void> }> {
  const servers: net.Server[] = [];
  const high = ephemeralPortLow();
  for (let attempt = 0; servers.length < count && attempt < count * 50; attempt++) {
    const server = await listenOn(10_000 + Math.floor(Math.random() * (high - 10_000)));
    if (server !== undefined) servers.push(server);
  }
  if (servers.length < count) throw new Error(`could not find ${count} free ports below ${high}`);
  return {
    ports: servers.map((server) => (server.address() as net.AddressInfo).port),
    release: () => Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())))).then(() => undefined),
  };
}

/**
 * `args` are extra `serve` flags for every node (e.g. the session timeout). Nodes are
 * started together: none is ready before a majority of the metadata quorum is up.
 */
export interface StartClusterOptions {
  /** Each node's --peers list, from the nodes (ports known, not started); default the real URLs for all. */
  peersOf?: (nodes: readonly ClusterNode[]) => Promise<Map<number, string>>;
}

export async function startRunnelCluster(nodeCount: number, args: string[] = [], options: StartClusterOptions = {}): Promise<RunnelCluster> {
  const cliPath = runnelCliPath();
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run \`npm run build\` first (npm run bench does)`);
  const reservation = await reservePorts(nodeCount);
  const ports = reservation.ports;
  const nodes: ClusterNode[] = [];
  for (let index = 0; index < nodeCount; index++) {
    nodes.push({
      nodeId: index + 1,
      port: ports[index],
      origin: `http://127.0.0.1:${ports[index]}`,
      dataDir: await mkdtemp(path.join(os.tmpdir(), `runnel-bench-node-${index + 1}-`)),
      child: undefined,
    });
  }
  const realPeers = nodes.map((node) => `${node.nodeId}@${node.origin}`).join(',');
  let peersByNode = new Map<number, string>();
  try {
    // The proxies listen on port 0 while the node ports are still held.
    if (options.peersOf !== undefined) peersByNode = await options.peersOf(nodes);
  } finally {
    await reservation.release();
  }
  const nodeOf = (nodeId: number): ClusterNode => {
    const found = nodes.find((node) => node.nodeId === nodeId);
    if (found === undefined) throw new Error(`no node ${nodeId} in the benchmark cluster`);
    return found;
  };

  const spawnNode = (node: ClusterNode): void => {
    node.child = ChildHandle.spawn(`runnel node ${node.nodeId}`, process.execPath, [
      cliPath, 'serve', '--host', '127.0.0.1', '--port', String(node.port), '--data-dir', node.dataDir,
      '--node-id', String(node.nodeId), '--peers', peersByNode.get(node.nodeId) ?? realPeers, '--log-level', 'warn', ...args,
    ]);
  };
  const waitReady = async (node: ClusterNode): Promise<void> => {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (performance.now() < deadline) {
      if (node.child === undefined || node.child.hasExited) throw new Error(`node ${node.nodeId} exited while starting: ${node.child?.describe() ?? 'not started'}`);
      if (await isReady(node.origin)) return;
      await sleep(READY_POLL_MS);
    }
    throw new Error(`node ${node.nodeId} did not answer GET /health/ready with 200 within ${READY_TIMEOUT_MS} ms; ${node.child?.describe() ?? ''}`);
  };
  const stop = async (): Promise<void> => {
    // A frozen node would only take SIGTERM once resumed.
    for (const node of nodes) node.child?.signal('SIGCONT');
    await Promise.all(nodes.map(async (node) => node.child?.stop()));
    await Promise.all(nodes.map((node) => rm(node.dataDir, { recursive: true, force: true, maxRetries: 3 })));
  };

  for (const node of nodes) spawnNode(node);
  try {
    await Promise.all(nodes.map(waitReady));
    // Ready is this node's own view; a replicated topic needs the controller to count every node alive.
    const deadline = performance.now() + READY_TIMEOUT_MS;
    while (!(await isEveryNodeOnline(nodes[0].origin, nodes.length))) {
      if (performance.now() > deadline) throw new Error(`the cluster did not list its ${nodes.length} nodes online within ${READY_TIMEOUT_MS} ms`);
      await sleep(READY_POLL_MS);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    node: nodeOf,
    kill: async (nodeId) => {
      const node = nodeOf(nodeId);
      await node.child?.kill();
      node.child = undefined;
    },
    pause: (nodeId) => nodeOf(nodeId).child?.signal('SIGSTOP'),
    resume: (nodeId) => nodeOf(nodeId).child?.signal('SIGCONT'),
    start: async (nodeId) => {
      const node = nodeOf(nodeId);
      if (node.child !== undefined && !node.child.hasExited) throw new Error(`node ${nodeId} is already running`);
      spawnNode(node);
      await waitReady(node);
    },
    stop,
  };
}
