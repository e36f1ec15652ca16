/**
 * Three replication "nodes" in one test process, talking real HTTP on 127.0.0.1: each a
 * small Fastify app with the replica fetch route, a ReplicaManager and a real
 * PartitionLog in its own directory. A tiny in-test controller stands in for the
 * metadata quorum: it holds the partition's metadata, applies AlterPartition requests
 * (checking leaderEpoch and partitionEpoch as KIP-497 does) and elections, and hands the
 * result to every running node through onLeadershipChange.
 *
 * Everything here is bounded in time, and the teardown closes every manager, app and log.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Test } from 'tap';
import { ReplicaManager } from '../../../src/cluster/replication/replica-manager.js';
import type { ReplicaPartition } from '../../../src/cluster/replication/replica-partition.js';
import { RunnelError } from '../../../src/errors.js';
import { registerReplicationRoutes } from '../../../src/http/routes/internal-replication.js';
import { PartitionLog } from '../../../src/storage/partition-log.js';
import { decodeRecords } from '../../../src/record/decode.js';
import { encodeBatch } from '../../../src/record/encode.js';
import { readBatchHeader } from '../../../src/record/header.js';
import { testConfig } from '../../storage/helpers.js';

export const TOPIC = 'orders';

/** The URL each test node advertises to clients (NOT_LEADER names it); never the one peers use. */
export function advertisedUrl(nodeId: number): string {
  return `http://node-${nodeId}.advertised.invalid:8080`;
}

export interface Metadata {
  leader: number;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
  partitionEpoch: number;
}

export class TestPartition implements ReplicaPartition {
  readonly topic = TOPIC;
  leader = -1;
  leaderEpoch = -1;
  replicas: number[] = [];
  isr: number[] = [];
  partitionEpoch = -1;
  readersNotified = 0;

  constructor(readonly partition: number, readonly log: PartitionLog) {}

  notifyReaders(): void {
    this.readersNotified += 1;
  }
}

export interface TestNode {
  readonly nodeId: number;
  /** Partition 0's log directory. */
  readonly directory: string;
  /** Partition 0. */
  readonly partition: TestPartition;
  readonly partitions: TestPartition[];
  /** Present while the node runs. */
  app: FastifyInstance | undefined;
  manager: ReplicaManager | undefined;
  url: string | undefined;
  errors: string[];
  /** Replica fetches this node answered: who asked, for which partitions. */
  fetchRequests: Array<{ replicaId: number; partitions: number[] }>;
}

export interface ClusterOptions {
  nodeIds?: number[];
  replicaLagTimeMaxMs?: number;
  /** The leaders' follower silence limit (default: the product's). */
  followerFetchSilenceMaxMs?: number;
  fetchMaxWaitMs?: number;
  fetchMaxBytes?: number;
  partitionCount?: number;
  /** Leader of each partition at the start (default: the first node for all). */
  initialLeaders?: number[];
}

export class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  /** Per partition. */
  metadatas: Metadata[];
  alterIsrRequests: Array<{ from: number; isr: number[]; isAccepted: boolean }> = [];
  /** While true, AlterPartition fails as if the controller were unreachable. */
  isControllerDown = false;
  private pendingPublishes = new Set<Promise<void>>();

  constructor(private readonly root: string, private readonly options: ClusterOptions) {
    const nodeIds = options.nodeIds ?? [1, 2, 3];
    const partitionCount = options.partitionCount ?? 1;
    this.metadatas = Array.from({ length: partitionCount }, (_, partition) => {
      const leader = options.initialLeaders?.[partition] ?? nodeIds[0];
      return { leader, leaderEpoch: 1, replicas: [...nodeIds], isr: [...nodeIds], partitionEpoch: 1 };
    });
    for (const nodeId of nodeIds) {
      const partitions = Array.from({ length: partitionCount }, (_, partition) =>
        new TestPartition(partition, PartitionLog.open(path.join(root, `node-${nodeId}`, `${TOPIC}-${partition}`), testConfig())));
      this.nodes.set(nodeId, {
        nodeId, directory: partitions[0].log.directory, partition: partitions[0], partitions,
        app: undefined, manager: undefined, url: undefined, errors: [], fetchRequests: [],
      });
    }
  }

  /** Partition 0's metadata. */
  get metadata(): Metadata {
    return this.metadatas[0];
  }

  node(nodeId: number): TestNode {
    const node = this.nodes.get(nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId}`);
    return node;
  }

  log(nodeId: number, partition = 0): PartitionLog {
    return this.node(nodeId).partitions[partition].log;
  }

  manager(nodeId: number): ReplicaManager {
    const manager = this.node(nodeId).manager;
    if (manager === undefined) throw new Error(`node ${nodeId} is stopped`);
    return manager;
  }

  get leaderNode(): TestNode {
    return this.node(this.metadata.leader);
  }

  async startNode(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    if (node.manager !== undefined) return;
    const manager = new ReplicaManager({
      nodeId,
      peerUrl: (peerId) => this.nodes.get(peerId)?.url,
      // What a node advertises to clients, unlike the URL its peers fetch from (a proxy, a container name).
      advertisedUrl: (peerId) => advertisedUrl(peerId),
      clusterSecret: 'test-secret',
      replicaLagTimeMaxMs: this.options.replicaLagTimeMaxMs ?? 10_000,
      followerFetchSilenceMaxMs: this.options.followerFetchSilenceMaxMs,
      fetchMaxWaitMs: this.options.fetchMaxWaitMs ?? 200,
      fetchMaxBytes: this.options.fetchMaxBytes ?? 8 * 1024 * 1024,
      alterIsr: (request) => this.alterIsr(nodeId, request),
      lookup: (topic, partition) => (topic === TOPIC ? node.partitions[partition] : undefined),
      onError: (error, context) => {
        node.errors.push(`${context}: ${error instanceof Error ? error.message : String(error)}`);
      },
    });
    const app = Fastify({ forceCloseConnections: true });
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers['x-runnel-cluster-secret'] !== 'test-secret') await reply.code(401).send({ error: 'no secret' });
    });
    app.addHook('preHandler', async (request) => {
      const body = request.body as { replicaId: number; partitions: Array<{ partition: number }> } | undefined;
      if (node.fetchRequests.length < 10_000 && body?.partitions !== undefined) {
        node.fetchRequests.push({ replicaId: body.replicaId, partitions: body.partitions.map((entry) => entry.partition) });
      }
    });
    registerReplicationRoutes(app, manager);
    node.url = await app.listen({ host: '127.0.0.1', port: 0 });
    node.app = app;
    node.manager = manager;
    this.applyTo(node);
  }

  /** Stops a node as a paused process would look: no fetching, no answers; its log stays. */
  async stopNode(nodeId: number): Promise<void> {
    const node = this.node(nodeId);
    const { manager, app } = node;
    node.manager = undefined;
    node.app = undefined;
    node.url = undefined;
    await manager?.close();
    await app?.close();
  }

  /** The controller elects `leader` (it must be in the ISR), bumping both epochs. */
  elect(leader: number, isr = this.metadata.isr, partition = 0): void {
    const metadata = this.metadatas[partition];
    this.metadatas[partition] = {
      ...metadata,
      leader,
      leaderEpoch: metadata.leaderEpoch + 1,
      partitionEpoch: metadata.partitionEpoch + 1,
      isr: [...isr],
    };
    this.publish();
  }

  /** Appends one batch of `values` on the current leader, as the broker does, and returns its last offset. */
  produce(values: string[], leaderId = this.metadata.leader, partitionIndex = 0): number {
    const partition = this.node(leaderId).partitions[partitionIndex];
    const node = { partition, manager: this.node(leaderId).manager };
    const batch = encodeBatch(values.map((value) => ({ key: null, value: Buffer.from(value), headers: null, timestampMs: 1_700_000_000_000 })), {
      leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string',
    });
    const header = node.partition.log.appendAsLeader(batch, node.partition.leaderEpoch);
    node.manager?.onAppend(node.partition);
    return header.lastOffset;
  }

  /** produce + acks=all. */
  async produceAcked(values: string[], minInsyncReplicas: number, timeoutMs = 5_000, leaderId = this.metadata.leader, partition = 0): Promise<number> {
    const lastOffset = this.produce(values, leaderId, partition);
    await this.manager(leaderId).waitForHighWatermark(this.node(leaderId).partitions[partition], lastOffset, minInsyncReplicas, timeoutMs);
    return lastOffset;
  }

  /** Lets in-flight metadata deliveries land. */
  async settled(): Promise<void> {
    for (let round = 0; round < 10 && this.pendingPublishes.size > 0; round++) await Promise.all([...this.pendingPublishes]);
  }

  async close(): Promise<void> {
    await this.settled();
    for (const nodeId of this.nodes.keys()) await this.stopNode(nodeId);
    for (const node of this.nodes.values()) for (const partition of node.partitions) await partition.log.close();
  }

  private async alterIsr(from: number, request: { partition: number; leaderEpoch: number; partitionEpoch: number; isr: number[] }): Promise<void> {
    // Answers asynchronously, as a real controller does.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.isControllerDown) {
      this.alterIsrRequests.push({ from, isr: [...request.isr], isAccepted: false });
      throw new RunnelError('REQUEST_TIMED_OUT', 'the controller did not answer');
    }
    const metadata = this.metadatas[request.partition];
    const isAccepted = from === metadata.leader && request.leaderEpoch === metadata.leaderEpoch &&
      request.partitionEpoch === metadata.partitionEpoch && request.isr.includes(from);
    this.alterIsrRequests.push({ from, isr: [...request.isr], isAccepted });
    if (!isAccepted) {
      throw new RunnelError(request.leaderEpoch !== metadata.leaderEpoch ? 'FENCED_LEADER_EPOCH' : 'INVALID_UPDATE_VERSION',
        `refused AlterPartition from node ${from}: ${JSON.stringify(request)} against ${JSON.stringify(metadata)}`);
    }
    this.metadatas[request.partition] = { ...metadata, isr: [...request.isr], partitionEpoch: metadata.partitionEpoch + 1 };
    this.publish();
  }

  /** Every running node learns the metadata, each on its own turn of the event loop. */
  private publish(): void {
    for (const node of this.nodes.values()) {
      const delivery = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.applyTo(node));
      this.pendingPublishes.add(delivery);
      void delivery.finally(() => this.pendingPublishes.delete(delivery));
    }
  }

  private applyTo(node: TestNode): void {
    if (node.manager === undefined) return;
    for (const partition of node.partitions) {
      const metadata = this.metadatas[partition.partition];
      partition.leader = metadata.leader;
      partition.leaderEpoch = metadata.leaderEpoch;
      partition.replicas = [...metadata.replicas];
      partition.isr = [...metadata.isr];
      partition.partitionEpoch = metadata.partitionEpoch;
      node.manager.onLeadershipChange(partition);
    }
  }
}

export async function startCluster(t: Test, options: ClusterOptions = {}): Promise<TestCluster> {
  // Not t.testdir(): its removal would run before the logs are closed.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-replication-'));
  const cluster = new TestCluster(root, options);
  t.teardown(async () => {
    await cluster.close();
    fs.rmSync(root, { recursive: true, force: true });
  });
  for (const nodeId of cluster.nodes.keys()) await cluster.startNode(nodeId);
  // With a short lag time the first nodes may shrink the later ones out while they start:
  // begin every test with the whole ISR, as a settled cluster has.
  await until(() => isSettled(cluster), () => describeLogs(cluster));
  await cluster.settled();
  cluster.alterIsrRequests = [];
  // A node started before its leaders had no URL for them yet: that was the start-up.
  for (const node of cluster.nodes.values()) node.errors = [];
  return cluster;
}

/** Every batch of a log, as stored (bytes), read with bounded reads. */
export function allBatchBytes(log: PartitionLog): Buffer {
  const parts: Buffer[] = [];
  let next = log.logStartOffset;
  for (let reads = 0; reads < 100_000 && next < log.logEndOffset; reads++) {
    const data = log.read(next, 1 << 20, log.logEndOffset);
    if (data === null) break;
    parts.push(data);
    let position = 0;
    while (position < data.length) {
      const header = readBatchHeader(data, position);
      next = header.lastOffset + 1;
      position += header.sizeBytes;
    }
  }
  return Buffer.concat(parts);
}

/** The values of a log's records, by offset. */
export function valuesOf(log: PartitionLog): string[] {
  const data = allBatchBytes(log);
  const values: string[] = [];
  let position = 0;
  while (position < data.length) {
    const header = readBatchHeader(data, position);
    for (const record of decodeRecords(data, position)) values[record.offset] = record.value?.toString() ?? '';
    position += header.sizeBytes;
  }
  return values;
}

/** The segment files of a log directory (name -> bytes). */
export function segmentFiles(directory: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (const name of fs.readdirSync(directory).sort()) {
    if (name.endsWith('.log')) files.set(name, fs.readFileSync(path.join(directory, name)));
  }
  return files;
}

/** Polls `check` until true; throws with `what` after `timeoutMs`. */
export async function until(check: () => boolean, what: string | (() => string), timeoutMs = 10_000): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadlineMs) throw new Error(`not true after ${timeoutMs} ms: ${typeof what === 'string' ? what : what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export { setTimeout as sleep } from 'node:timers/promises';

/** True once every running node's log ends where the leader's does, with the same high watermark. */
export function isInSync(cluster: TestCluster, nodeIds = [...cluster.nodes.keys()], partition = 0): boolean {
  const leader = cluster.log(cluster.metadatas[partition].leader, partition);
  return nodeIds.every((nodeId) => {
    const log = cluster.log(nodeId, partition);
    return log.logEndOffset === leader.logEndOffset && log.highWatermark === leader.highWatermark;
  });
}

/** The whole ISR, no change in flight, and every follower has fetched from the leader. */
export function isSettled(cluster: TestCluster): boolean {
  return cluster.metadatas.every((metadata, partition) => {
    const status = cluster.manager(metadata.leader).status().find((entry) => entry.partition === partition);
    return status?.role === 'leader' && status.pendingIsrChange === null && status.isr.length === cluster.nodes.size &&
      status.followers.every((follower) => follower.logEndOffset === status.logEndOffset);
  });
}

export function describeLogs(cluster: TestCluster): string {
  return [...cluster.nodes.values()].map((node) => {
    const { log } = node.partition;
    return `node ${node.nodeId}: logEndOffset ${log.logEndOffset} highWatermark ${log.highWatermark} isr [${node.partition.isr.join(',')}] ` +
      `errors ${JSON.stringify(node.errors.slice(-3))}`;
  }).join('; ') + ` metadata ${JSON.stringify(cluster.metadatas)}`;
}
