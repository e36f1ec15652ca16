/**
 * Failover: three nodes with the DEFAULT settings (session timeout, lag time, election
 * timeout), a proxy on every link (each node reaches each other node, and the benchmark
 * reaches each node, through its own TCP proxy), and one acks=all producer per
 * partition of a 6-partition topic (RF 3, min.insync.replicas 2) running the whole time.
 *
 * For each fault kind — SIGKILL of a leader (then a restart), SIGSTOP (then SIGCONT),
 * a network cut isolating it from the other nodes and from the benchmark (then healed)
 * — and each try, with every partition on its preferred leader and a full ISR first:
 * - recovery: from the fault to the first acknowledged acks=all produce, sent after
 *   the fault, on each partition the faulted node led; the try counts the slowest;
 * - stall: the longest time, from the fault to a second after recovery, in which a
 *   partition the faulted node did NOT lead acknowledged nothing.
 * A producer behaves as a careful client: it sends to the leader it knows, follows
 * NOT_LEADER's leaderId, and learns leader changes from metadata it asks every node for
 * every 100 ms (newest leader epoch wins), giving up a request to a node that no longer
 * leads; a request times out after 5 s.
 *
 * Then a steady phase with no fault (RUNNEL_BENCH_FAILOVER_STEADY_S seconds, 20 by
 * default): leader changes and ISR changes seen, and metadata entries written, which
 * should all be zero. Every loop is bounded in count and time.
 */
import os from 'node:os';
import { Pool } from 'undici';
import { sleep } from '../child.js';
import { Histogram } from '../histogram.js';
import { jsonValueOfSize } from '../payload.js';
import { startRunnelCluster, type ClusterNode, type RunnelCluster } from '../runnel-cluster.js';
import { produceBody, RunnelHttp } from '../runnel-http.js';
import { benchTopicName, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { startTcpProxy, type TcpProxy } from '../tcp-proxy.js';

const NODE_COUNT = 3;
const PARTITIONS = 6;
const MIN_INSYNC_REPLICAS = '2';
const FAULT_KINDS = ['sigkill', 'sigstop', 'cut'] as const;
const TRIES = 5;
/** Each produce's deadline (a request to a node that stops leading is given up sooner, see Producers). */
const REQUEST_TIMEOUT_MS = 5_000;
const RETRY_PAUSE_MS = 20;
/** The producers ask each node who leads what this often, each answer within METADATA_TIMEOUT_MS. */
const LEADER_POLL_MS = 100;
const METADATA_TIMEOUT_MS = 500;
const RECORDS_PER_REQUEST = 10;
/** Every partition has its preferred leader and a full ISR within this before a try, or the scenario fails. */
const SETTLE_TIMEOUT_MS = 60_000;
/** Longest a try may wait for the faulted partitions to take writes again. */
const RECOVERY_TIMEOUT_MS = 30_000;
/** Measured on after recovery (the other partitions' stall window ends here). */
const AFTER_RECOVERY_MS = 1_000;
const STEADY_SECONDS_DEFAULT = 20;
const STEADY_SAMPLE_MS = 250;
/** The benchmark's own id on the proxy map (nodes are 1..3). */
const BENCH = 0;

type FaultKind = (typeof FAULT_KINDS)[number];

interface PartitionView {
  partition: number;
  leader: number | null;
  leaderEpoch: number;
  replicas: number[];
  isr: number[];
}

interface Ack {
  sentAt: number;
  ackAt: number;
}

/** One proxy per ordered pair (from, to), the benchmark being `BENCH`. */
class Links {
  readonly proxies = new Map<string, TcpProxy>();

  async create(nodes: readonly ClusterNode[]): Promise<Map<number, string>> {
    for (const from of [BENCH, ...nodes.map((node) => node.nodeId)]) {
      for (const to of nodes) {
        if (from !== to.nodeId) this.proxies.set(`${from}>${to.nodeId}`, await startTcpProxy(to.port));
      }
    }
    return new Map(nodes.map((self) => [self.nodeId, nodes.map((other) =>
      `${other.nodeId}@${other.nodeId === self.nodeId ? other.origin : this.url(self.nodeId, other.nodeId)}`).join(',')]));
  }

  url(from: number, to: number): string {
    return this.proxies.get(`${from}>${to}`)!.url;
  }

  /** Cuts every link into and out of `nodeId` (heal: let them pass again). */
  isolate(nodeId: number, isCut: boolean): void {
    for (const [key, proxy] of this.proxies) {
      const [from, to] = key.split('>').map(Number);
      if (from !== nodeId && to !== nodeId) continue;
      if (isCut) proxy.block();
      else proxy.unblock();
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
  }
}

/**
 * One acks=all producer per partition, through the benchmark's proxies, and what they
 * know of the leaders: each node is asked every LEADER_POLL_MS (as a client refreshes
 * metadata) and the answer with the newest leader epoch wins; a producer whose request
 * is in flight to a node that no longer leads gives it up and follows the new leader.
 */
class Producers {
  readonly acks: Ack[][] = Array.from({ length: PARTITIONS }, () => []);
  private readonly pools = new Map<number, Pool>();
  private readonly loops: Array<Promise<void>> = [];
  private readonly leaders: Array<{ leader: number; leaderEpoch: number }>;
  private readonly inFlight: Array<{ target: number; abort: AbortController } | undefined> = [];
  private isStopped = false;
  private readonly body = produceBody(jsonValueOfSize(100), RECORDS_PER_REQUEST);

  constructor(links: Links, private readonly topic: string, view: readonly PartitionView[]) {
    for (let nodeId = 1; nodeId <= NODE_COUNT; nodeId++) {
      this.pools.set(nodeId, new Pool(links.url(BENCH, nodeId), {
        connections: PARTITIONS + 2, pipelining: 1, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS,
      }));
    }
    this.leaders = view.map((partition) => ({ leader: partition.leader ?? 1, leaderEpoch: partition.leaderEpoch }));
  }

  start(): void {
    for (let partition = 0; partition < PARTITIONS; partition++) this.loops.push(this.run(partition));
    for (let nodeId = 1; nodeId <= NODE_COUNT; nodeId++) this.loops.push(this.watch(nodeId));
  }

  clear(): void {
    for (const list of this.acks) list.length = 0;
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    for (const request of this.inFlight) request?.abort.abort();
    await Promise.all(this.loops);
    await Promise.all([...this.pools.values()].map((pool) => pool.destroy()));
  }

  private learn(partition: number, leader: number, leaderEpoch: number): void {
    const known = this.leaders[partition];
    if (leaderEpoch < known.leaderEpoch || (leaderEpoch === known.leaderEpoch && leader === known.leader)) return;
    this.leaders[partition] = { leader, leaderEpoch };
    const request = this.inFlight[partition];
    if (request !== undefined && request.target !== leader) request.abort.abort();
  }

  private async watch(nodeId: number): Promise<void> {
    while (!this.isStopped) {
      try {
        const response = await this.pools.get(nodeId)!.request({
          method: 'GET', path: `/v1/topics/${this.topic}`, headersTimeout: METADATA_TIMEOUT_MS, bodyTimeout: METADATA_TIMEOUT_MS,
        });
        const text = await response.body.text();
        if (response.statusCode === 200) {
          for (const partition of (JSON.parse(text) as { partitions: PartitionView[] }).partitions) {
            if (partition.leader !== null && partition.leader >= 1) this.learn(partition.partition, partition.leader, partition.leaderEpoch);
          }
        }
      } catch {
        // Down, frozen or cut off: ask again later.
      }
      await sleep(LEADER_POLL_MS);
    }
  }

  private async run(partition: number): Promise<void> {
    let target = this.leaders[partition].leader;
    while (!this.isStopped) {
      const sentAt = performance.now();
      const answer = await this.send(target, partition);
      if (answer === 'ok') {
        this.acks[partition].push({ sentAt, ackAt: performance.now() });
        continue;
      }
      if (typeof answer === 'number' && answer !== target) {
        target = answer;
        continue;
      }
      if (answer !== 'aborted') await sleep(RETRY_PAUSE_MS);
      target = this.leaders[partition].leader;
    }
  }

  /** 'ok', the leader a NOT_LEADER names, 'aborted' (the leader moved) or 'failed'. */
  private async send(nodeId: number, partition: number): Promise<'ok' | number | 'failed' | 'aborted'> {
    const abort = new AbortController();
    this.inFlight[partition] = { target: nodeId, abort };
    try {
      const response = await this.pools.get(nodeId)!.request({
        method: 'POST', path: `/v1/topics/${this.topic}/partitions/${partition}/records?acks=all`, body: this.body,
        headers: { 'content-type': 'application/json' }, signal: abort.signal,
      });
      const text = await response.body.text();
      if (response.statusCode === 200) return 'ok';
      const error = (JSON.parse(text) as { error?: { code?: string; leaderId?: number | null } }).error;
      return error?.code === 'NOT_LEADER' && typeof error.leaderId === 'number' ? error.leaderId : 'failed';
    } catch {
      return abort.signal.aborted ? 'aborted' : 'failed';
    } finally {
      this.inFlight[partition] = undefined;
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The longest time within [from, to] in which no ack arrived. */
function longestGap(acks: readonly Ack[], from: number, to: number): number {
  let last = from;
  let longest = 0;
  for (const { ackAt } of acks) {
    if (ackAt < from || ackAt > to) continue;
    longest = Math.max(longest, ackAt - last);
    last = ackAt;
  }
  return Math.max(longest, to - last);
}

class FailoverRun {
  readonly admin = new Map<number, RunnelHttp>();

  /** Set once the partitions settled (the producers start from that view). */
  producers!: Producers;

  constructor(readonly context: BenchContext, readonly cluster: RunnelCluster, readonly links: Links, readonly topic: string) {
    for (const node of cluster.nodes) this.admin.set(node.nodeId, new RunnelHttp(node.origin, 2, 5_000));
  }

  async view(nodeId: number): Promise<PartitionView[]> {
    return (await this.admin.get(nodeId)!.json<{ partitions: PartitionView[] }>('GET', `/v1/topics/${this.topic}`)).partitions;
  }

  /** Every node sees every partition on its preferred leader with a full ISR. */
  async settle(): Promise<PartitionView[]> {
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    let last = '';
    while (performance.now() < deadline) {
      try {
        const views = await Promise.all(this.cluster.nodes.map((node) => this.view(node.nodeId)));
        const isSettled = views.every((view) => view.length === PARTITIONS && view.every((partition) =>
          partition.leader === partition.replicas[0] && partition.isr.length === NODE_COUNT && partition.leader === views[0][partition.partition].leader));
        if (isSettled) return views[0];
        last = JSON.stringify(views[0].map((partition) => [partition.leader, partition.isr]));
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(200);
    }
    throw new Error(`${this.topic}: partitions not on their preferred leaders with a full ISR within ${SETTLE_TIMEOUT_MS} ms (${last.slice(0, 300)})`);
  }

  async controller(): Promise<number | null> {
    return (await this.admin.get(1)!.json<{ controller: number | null }>('GET', '/v1/cluster')).controller;
  }

  async fault(kind: FaultKind, nodeId: number): Promise<void> {
    if (kind === 'sigkill') await this.cluster.kill(nodeId);
    else if (kind === 'sigstop') this.cluster.pause(nodeId);
    else this.links.isolate(nodeId, true);
  }

  async heal(kind: FaultKind, nodeId: number): Promise<void> {
    if (kind === 'sigkill') await this.cluster.start(nodeId);
    else if (kind === 'sigstop') this.cluster.resume(nodeId);
    else this.links.isolate(nodeId, false);
  }

  /** One try: recovery of the victim's partitions and the longest stall of the others, in ms. */
  async tryOnce(kind: FaultKind, victim: number): Promise<{ recoveryMs: number; stallMs: number; wasController: boolean }> {
    const view = await this.settle();
    const wasController = (await this.controller()) === victim;
    const faulted = view.filter((partition) => partition.leader === victim).map((partition) => partition.partition);
    const others = view.filter((partition) => partition.leader !== victim).map((partition) => partition.partition);
    this.producers.clear();
    await sleep(500);
    const faultAt = performance.now();
    await this.fault(kind, victim);
    try {
      const firstAck = (partition: number): number | undefined => this.producers.acks[partition].find((ack) => ack.sentAt >= faultAt)?.ackAt;
      const deadline = faultAt + RECOVERY_TIMEOUT_MS;
      while (faulted.some((partition) => firstAck(partition) === undefined)) {
        if (performance.now() > deadline) throw new Error(`${kind} of node ${victim}: partitions [${faulted}] took no acks=all write within ${RECOVERY_TIMEOUT_MS} ms`);
        await sleep(10);
      }
      const recoveryMs = Math.max(...faulted.map((partition) => firstAck(partition)! - faultAt));
      await sleep(AFTER_RECOVERY_MS);
      const windowEnd = performance.now();
      const stallMs = Math.max(0, ...others.map((partition) => longestGap(this.producers.acks[partition], faultAt, windowEnd)));
      return { recoveryMs, stallMs, wasController };
    } finally {
      await this.heal(kind, victim);
    }
  }

  async measureKind(kind: FaultKind, kindIndex: number): Promise<ResultRow[]> {
    const recoveries: number[] = [];
    const stalls: number[] = [];
    const recoveryHistogram = new Histogram();
    const stallHistogram = new Histogram();
    for (let attempt = 0; attempt < TRIES; attempt++) {
      const victim = ((attempt + kindIndex) % NODE_COUNT) + 1;
      const { recoveryMs, stallMs, wasController } = await this.tryOnce(kind, victim);
      recoveries.push(recoveryMs);
      stalls.push(stallMs);
      recoveryHistogram.recordMs(recoveryMs);
      stallHistogram.recordMs(stallMs);
      this.context.log(`    ${kind} try ${attempt + 1}: node ${victim}${wasController ? ' (the controller)' : ''}: ` +
        `its partitions took acks=all writes after ${recoveryMs.toFixed(0)} ms; the others stalled ${stallMs.toFixed(0)} ms at most`);
    }
    const summary = (values: number[]): string => `median ${median(values).toFixed(0)} ms, max ${Math.max(...values).toFixed(0)} ms (${values.map((value) => value.toFixed(0)).join(', ')})`;
    const row = (what: string, values: number[], histogram: Histogram): ResultRow => ({
      scenario: 'failover',
      system: 'runnel',
      label: `failover ${kind}: ${what}`,
      params: { nodes: NODE_COUNT, partitions: PARTITIONS, minInsyncReplicas: MIN_INSYNC_REPLICAS, tries: TRIES, kind },
      records: values.length,
      elapsedMs: values.reduce((sum, value) => sum + value, 0),
      // Not a throughput: the table shows '-' and the JSON null.
      recordsPerSecond: Number.NaN,
      megabytesPerSecond: null,
      latency: histogram.summary(),
      notes: [summary(values)],
    });
    return [
      row('leader\'s partitions to first acks=all ok', recoveries, recoveryHistogram),
      row('longest stall of other partitions', stalls, stallHistogram),
    ];
  }

  /**
   * No fault for `seconds`: leader and ISR changes seen (each logged with the time and
   * the machine's load average), nodes fenced, controller changes, metadata entries written.
   */
  async steady(seconds: number): Promise<ResultRow> {
    await this.settle();
    const clusterView = (): Promise<{ controller: number | null; nodes: Array<{ nodeId: number; state: string }>; metadata: { logEndOffset: number } }> =>
      this.admin.get(1)!.json('GET', '/v1/cluster');
    const first = await clusterView();
    this.producers.clear();
    let previous = await this.view(1);
    let previousCluster = first;
    let lastController = first.controller;
    const counts = { leaderChanges: 0, isrChanges: 0, fenced: 0, controllerChanges: 0 };
    const startedAt = performance.now();
    const event = (what: string): void => this.context.log(`      ${((performance.now() - startedAt) / 1000).toFixed(1)} s: ${what} (load average ${os.loadavg()[0].toFixed(1)})`);
    while (performance.now() - startedAt < seconds * 1000) {
      await sleep(STEADY_SAMPLE_MS);
      const [current, cluster] = await Promise.all([this.view(1), clusterView()]);
      for (const partition of current) {
        const before = previous[partition.partition];
        if (before.leaderEpoch !== partition.leaderEpoch) {
          counts.leaderChanges += 1;
          event(`partition ${partition.partition}: leader ${before.leader} -> ${partition.leader}`);
        }
        if (before.isr.join(',') !== partition.isr.join(',')) {
          counts.isrChanges += 1;
          event(`partition ${partition.partition}: ISR [${before.isr}] -> [${partition.isr}]`);
        }
      }
      for (const node of cluster.nodes) {
        if (node.state === 'fenced' && previousCluster.nodes.find((each) => each.nodeId === node.nodeId)?.state !== 'fenced') {
          counts.fenced += 1;
          event(`node ${node.nodeId} fenced`);
        }
      }
      if (cluster.controller !== null && cluster.controller !== lastController) {
        counts.controllerChanges += 1;
        event(`controller ${lastController} -> ${cluster.controller}`);
        lastController = cluster.controller;
      }
      previous = current;
      previousCluster = cluster;
    }
    const elapsedMs = performance.now() - startedAt;
    const entries = previousCluster.metadata.logEndOffset - first.metadata.logEndOffset;
    const acked = this.producers.acks.reduce((sum, list) => sum + list.length, 0) * RECORDS_PER_REQUEST;
    const note = `steady ${(elapsedMs / 1000).toFixed(0)} s, no fault, ${acked} records acked (acks=all): ` +
      `${counts.leaderChanges} leader changes, ${counts.isrChanges} ISR changes, ${counts.fenced} nodes fenced, ` +
      `${counts.controllerChanges} controller changes, ${entries} metadata entries written`;
    this.context.log(`    ${note}`);
    return {
      scenario: 'failover', system: 'runnel', label: 'failover steady: no fault, acks=all load',
      params: { nodes: NODE_COUNT, partitions: PARTITIONS, seconds, ...counts, metadataEntries: entries },
      records: acked, elapsedMs, recordsPerSecond: acked / (elapsedMs / 1000), megabytesPerSecond: null, latency: null, notes: [note],
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.admin.values()].map((http) => http.close()));
  }
}

export const failoverScenario: Scenario = {
  name: 'failover',
  description: `${NODE_COUNT} nodes, default settings, proxies on every link: SIGKILL, SIGSTOP and a network cut of a leader under acks=all load; ` +
    `time to the first acks=all write on its partitions, the longest stall of the others (${TRIES} tries each), then a steady run with no fault`,
  async run(context) {
    const links = new Links();
    let cluster: RunnelCluster | undefined;
    let producers: Producers | undefined;
    let run: FailoverRun | undefined;
    const rows: ResultRow[] = [];
    try {
      cluster = await startRunnelCluster(NODE_COUNT, [], { peersOf: (nodes) => links.create(nodes) });
      context.log(`  cluster of ${NODE_COUNT} (default settings): ${cluster.nodes.map((node) => `${node.nodeId}@${node.origin}`).join(', ')}`);
      const topic = benchTopicName('failover');
      const creator = new RunnelHttp(cluster.nodes[0].origin, 1);
      try {
        await creator.json('POST', '/v1/topics', {
          name: topic, partitions: PARTITIONS, replicationFactor: NODE_COUNT, configs: { 'min.insync.replicas': MIN_INSYNC_REPLICAS },
        }, 201);
      } finally {
        await creator.close();
      }
      run = new FailoverRun(context, cluster, links, topic);
      producers = new Producers(links, topic, await run.settle());
      run.producers = producers;
      producers.start();
      for (const [index, kind] of FAULT_KINDS.entries()) {
        if (!context.isRowWanted(`failover ${kind}`)) continue;
        context.log(`  failover ${kind} (${TRIES} tries)`);
        rows.push(...await run.measureKind(kind, index));
      }
      const steadySeconds = Number(process.env.RUNNEL_BENCH_FAILOVER_STEADY_S ?? STEADY_SECONDS_DEFAULT);
      if (context.isRowWanted('failover steady') && steadySeconds > 0) rows.push(await run.steady(steadySeconds));
    } finally {
      await producers?.stop();
      await run?.close();
      await cluster?.stop();
      await links.close();
    }
    return { rows };
  },
};
