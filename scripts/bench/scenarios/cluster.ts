/**
 * Cluster: three nodes on this machine (child processes, no proxies) beside the
 * shared single node.
 *
 * - Produce throughput to the leader of a one-partition topic with replicationFactor 3
 *   (min.insync.replicas 2), with acks=leader (the leader's append) and acks=all (every
 *   in-sync replica has the records), and the same rows on the single node (RF 1), so
 *   the cost of replication reads off the table. JSON bodies, and record batches
 *   (`-binary` rows, acks=all only: the target is RF 3 acks=all at half the single
 *   node's throughput or more).
 * - Failover: the partition's leader is SIGKILLed; the time until the first acks=all
 *   produce to that partition succeeds, found as a client would (ask a surviving node,
 *   follow NOT_LEADER's leaderId), median of a few tries. Between tries the killed
 *   node is started again and the ISR is full again. A SIGKILLed node is noticed after
 *   the node session timeout, so that setting bounds the result from below.
 *
 * Every loop is bounded in count and time; the nodes and their data go at the end.
 */
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { startRunnelCluster, type RunnelCluster } from '../runnel-cluster.js';
import { checkProduceAnswer, produceBody, RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { JSON_WIRE, RECORD_BATCH_WIRE, type BenchWire } from '../wire.js';
import { sleep } from '../child.js';

const NODE_COUNT = 3;
const REPLICATION_FACTOR = 3;
const MIN_INSYNC_REPLICAS = '2';
/** The product's default (--node-session-timeout-ms), passed explicitly so the row says what it measured. */
const NODE_SESSION_TIMEOUT_MS = 2_000;
const SHAPES: readonly Shape[] = [
  { wire: JSON_WIRE, acks: ['leader', 'all'], valueBytes: 100, batchSize: 1000, concurrency: 8 },
  { wire: JSON_WIRE, acks: ['leader', 'all'], valueBytes: 1024, batchSize: 100, concurrency: 8 },
  { wire: RECORD_BATCH_WIRE, acks: ['all'], valueBytes: 100, batchSize: 1000, concurrency: 8 },
];
/** Connections per node: the highest concurrency plus a few for the failover probes. */
const CONNECTIONS_PER_NODE = 12;
/** A topic's partition has a leader and a full ISR within this, or the scenario fails. */
const SETTLE_TIMEOUT_MS = 30_000;
/** Longest a failover try may take before the scenario gives up. */
const FAILOVER_TIMEOUT_MS = 60_000;
/** Each probe produce during a failover: its own deadline. */
const PROBE_TIMEOUT_MS = 2_000;
const PROBE_PAUSE_MS = 20;

type Acks = 'leader' | 'all';

interface Shape {
  wire: BenchWire;
  acks: readonly Acks[];
  valueBytes: number;
  batchSize: number;
  concurrency: number;
}

interface PartitionView {
  partition: number;
  leader: number | null;
  isr: number[];
}

/** e.g. "cluster RF3 acks=all 100 B x1000 c8", "single-binary RF1 acks=all 100 B x1000 c8". */
export function clusterThroughputLabel(system: 'cluster' | 'single', wire: BenchWire, acks: Acks, valueBytes: number, batchSize: number, concurrency: number): string {
  const replicas = system === 'cluster' ? `RF${REPLICATION_FACTOR}` : 'RF1';
  return `${system}${wire.suffix} ${replicas} acks=${acks} ${sizeLabel(valueBytes)} x${batchSize} c${concurrency}`;
}

/** Every running node's process, for the rows' CPU time (the cluster's cost is all three nodes'). */
function clusterPids(cluster: RunnelCluster): number[] {
  return cluster.nodes.flatMap((node) => (node.child?.pid === undefined ? [] : [node.child.pid]));
}

const FAILOVER_LABEL = `cluster failover: SIGKILL leader -> acks=all ok`;

function failoverTries(context: BenchContext): number {
  return context.options.isQuick ? 3 : 5;
}

class ClusterHttp {
  readonly byNode = new Map<number, RunnelHttp>();

  constructor(readonly cluster: RunnelCluster) {
    for (const node of cluster.nodes) this.byNode.set(node.nodeId, new RunnelHttp(node.origin, CONNECTIONS_PER_NODE));
  }

  http(nodeId: number): RunnelHttp {
    return this.byNode.get(nodeId)!;
  }

  async createTopic(viaNodeId: number, name: string): Promise<void> {
    await this.http(viaNodeId).json('POST', '/v1/topics', {
      name, partitions: 1, replicationFactor: REPLICATION_FACTOR, configs: { 'min.insync.replicas': MIN_INSYNC_REPLICAS },
    }, 201);
  }

  private async partitionView(nodeId: number, topic: string): Promise<PartitionView | undefined> {
    const view = await this.http(nodeId).json<{ partitions: PartitionView[] }>('GET', `/v1/topics/${encodeURIComponent(topic)}`);
    return view.partitions.find((each) => each.partition === 0);
  }

  /**
   * Partition 0's leader once `viaNodeId` sees a leader with every replica in sync and
   * the leader itself agrees (a node learns of a new topic or leader a moment after the
   * controller decides, and answers 404 or NOT_LEADER until then).
   */
  async settledLeader(viaNodeId: number, topic: string): Promise<number> {
    const deadline = performance.now() + SETTLE_TIMEOUT_MS;
    let last = 'no answer yet';
    while (performance.now() < deadline) {
      try {
        const seen = await this.partitionView(viaNodeId, topic);
        const leader = seen?.leader;
        if (leader != null && seen!.isr.length === REPLICATION_FACTOR) {
          const own = await this.partitionView(leader, topic);
          if (own?.leader === leader && own.isr.length === REPLICATION_FACTOR) return leader;
          last = `node ${leader} says ${JSON.stringify(own)}`;
        } else {
          last = `node ${viaNodeId} says ${JSON.stringify(seen)}`;
        }
      } catch (error) {
        last = (error as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`${topic}: no leader with a full ISR within ${SETTLE_TIMEOUT_MS} ms (${last.slice(0, 300)})`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.byNode.values()].map((http) => http.close()));
  }
}

interface RowSpec {
  label: string;
  system: 'cluster' | 'single';
  wire: BenchWire;
  acks: Acks;
  valueBytes: number;
  batchSize: number;
  concurrency: number;
}

/** `serverPids`: the processes whose CPU time the row reads (every node of the cluster, or the single node). */
async function measureRow(context: BenchContext, http: RunnelHttp, topic: string, spec: RowSpec, serverPids: readonly number[]): Promise<ResultRow> {
  const { settings } = context;
  const { wire } = spec;
  const body = wire.produceBody(spec.valueBytes, spec.batchSize);
  const path = `/v1/topics/${topic}/partitions/0/records?acks=${spec.acks}`;
  wire.checkProduceAnswer(await http.text('POST', path, body, 200, wire.mediaType), spec.batchSize, spec.label);
  const recordCountMax = Math.min(settings.rowRecordCountMax, Math.floor(settings.rowValueBytesMax / spec.valueBytes));
  const result = await runClosedLoop({
    concurrency: spec.concurrency,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    maxOperations: Math.max(spec.concurrency, Math.floor(recordCountMax / spec.batchSize)),
    operation: () => http.send('POST', path, body, 200, wire.mediaType),
    serverPids,
  });
  return throughputRow({
    scenario: 'cluster',
    system: 'runnel',
    label: spec.label,
    params: {
      nodes: spec.system === 'cluster' ? NODE_COUNT : 1,
      replicationFactor: spec.system === 'cluster' ? REPLICATION_FACTOR : 1,
      acks: spec.acks,
      valueBytes: spec.valueBytes,
      batchSize: spec.batchSize,
      concurrency: spec.concurrency,
      mediaType: wire.mediaType,
    },
    records: result.operations * spec.batchSize,
    elapsedMs: result.elapsedMs,
    valueBytes: spec.valueBytes,
    latency: result.histogram.summary(),
    cpuWindow: result.serverCpu,
  });
}

/** One acks=all record to partition 0 through `nodeId`: 'ok', the leader it names, or a failure. */
async function probe(nodes: ClusterHttp, nodeId: number, topic: string, body: Buffer): Promise<'ok' | { leaderId: number | null } | 'failed'> {
  try {
    const response = await nodes.http(nodeId).pool.request({
      method: 'POST',
      path: `/v1/topics/${topic}/partitions/0/records?acks=all`,
      body,
      headers: { 'content-type': 'application/json' },
      headersTimeout: PROBE_TIMEOUT_MS,
      bodyTimeout: PROBE_TIMEOUT_MS,
    });
    const text = await response.body.text();
    if (response.statusCode === 200) return 'ok';
    const error = (JSON.parse(text) as { error?: { code?: string; leaderId?: number | null } }).error;
    return error?.code === 'NOT_LEADER' ? { leaderId: error.leaderId ?? null } : 'failed';
  } catch {
    return 'failed';
  }
}

/** SIGKILL the leader, then probe the survivors until an acks=all produce succeeds; ms from the kill. */
async function failoverOnce(cluster: RunnelCluster, nodes: ClusterHttp, topic: string, body: Buffer): Promise<{ ms: number; killed: number; leader: number }> {
  const leader = await nodes.settledLeader(1, topic);
  checkProduceAnswer(await nodes.http(leader).text('POST', `/v1/topics/${topic}/partitions/0/records?acks=all`, body), 1, FAILOVER_LABEL);
  const survivors = cluster.nodes.map((node) => node.nodeId).filter((nodeId) => nodeId !== leader);
  const killedAt = performance.now();
  await cluster.kill(leader);
  let target = survivors[0];
  let turn = 0;
  while (performance.now() - killedAt < FAILOVER_TIMEOUT_MS) {
    const answer = await probe(nodes, target, topic, body);
    if (answer === 'ok') {
      const ms = performance.now() - killedAt;
      await cluster.start(leader);
      return { ms, killed: leader, leader: target };
    }
    if (typeof answer === 'object' && answer.leaderId !== null && survivors.includes(answer.leaderId) && answer.leaderId !== target) {
      target = answer.leaderId;
      continue;
    }
    turn += 1;
    target = survivors[turn % survivors.length];
    await sleep(PROBE_PAUSE_MS);
  }
  await cluster.start(leader);
  throw new Error(`${topic}: no acks=all produce succeeded within ${FAILOVER_TIMEOUT_MS} ms of SIGKILLing leader ${leader}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

async function measureFailover(context: BenchContext, cluster: RunnelCluster, nodes: ClusterHttp): Promise<ResultRow> {
  const topic = benchTopicName('cluster-failover');
  await nodes.createTopic(1, topic);
  const body = produceBody(jsonValueOfSize(100), 1);
  const tries = failoverTries(context);
  const histogram = new Histogram();
  const times: number[] = [];
  const moves: string[] = [];
  for (let attempt = 0; attempt < tries; attempt++) {
    const { ms, killed, leader } = await failoverOnce(cluster, nodes, topic, body);
    histogram.recordMs(ms);
    times.push(ms);
    moves.push(`${killed}->${leader}`);
    context.log(`    try ${attempt + 1}: leader ${killed} killed, node ${leader} took an acks=all produce after ${ms.toFixed(0)} ms`);
  }
  return {
    scenario: 'cluster',
    system: 'runnel',
    label: FAILOVER_LABEL,
    params: { nodes: NODE_COUNT, replicationFactor: REPLICATION_FACTOR, minInsyncReplicas: MIN_INSYNC_REPLICAS, nodeSessionTimeoutMs: NODE_SESSION_TIMEOUT_MS, tries },
    records: tries,
    elapsedMs: times.reduce((sum, value) => sum + value, 0),
    // Not a throughput: the table shows '-' and the JSON null.
    recordsPerSecond: Number.NaN,
    megabytesPerSecond: null,
    latency: histogram.summary(),
    notes: [
      `median ${median(times).toFixed(0)} ms over ${tries} tries (${times.map((value) => value.toFixed(0)).join(', ')} ms; leader moves ${moves.join(', ')}); ` +
      `node session timeout ${NODE_SESSION_TIMEOUT_MS} ms (the default): a SIGKILLed leader is fenced only after it`,
    ],
  };
}

export const clusterScenario: Scenario = {
  name: 'cluster',
  description: `${NODE_COUNT}-node cluster vs one node: produce with acks=leader / acks=all on RF=${REPLICATION_FACTOR}, and failover time after SIGKILLing a leader`,
  async run(context) {
    const specs: RowSpec[] = [];
    for (const { wire, acks: acksList, valueBytes, batchSize, concurrency } of SHAPES) {
      for (const acks of acksList) {
        for (const system of ['single', 'cluster'] as const) {
          const label = clusterThroughputLabel(system, wire, acks, valueBytes, batchSize, concurrency);
          if (context.isRowWanted(label)) specs.push({ label, system, wire, acks, valueBytes, batchSize, concurrency });
        }
      }
    }
    const isFailoverWanted = context.isRowWanted(FAILOVER_LABEL);
    const isClusterNeeded = isFailoverWanted || specs.some((spec) => spec.system === 'cluster');
    const rows: ResultRow[] = [];
    const skipped: string[] = [];
    let cluster: RunnelCluster | undefined;
    let nodes: ClusterHttp | undefined;
    try {
      if (isClusterNeeded) {
        cluster = await startRunnelCluster(NODE_COUNT, ['--node-session-timeout-ms', String(NODE_SESSION_TIMEOUT_MS)]);
        context.log(`  cluster of ${NODE_COUNT}: ${cluster.nodes.map((node) => `${node.nodeId}@${node.origin}`).join(', ')}`);
        nodes = new ClusterHttp(cluster);
      }
      for (const spec of specs) {
        context.log(`  ${spec.label}`);
        const topic = benchTopicName('cluster');
        if (spec.system === 'single') {
          const http = await context.runnel();
          await http.createTopic(topic, 1);
          try {
            rows.push(await measureRow(context, http, topic, spec, http.serverPids));
          } finally {
            await http.deleteTopic(topic);
          }
        } else {
          await nodes!.createTopic(1, topic);
          const leader = await nodes!.settledLeader(1, topic);
          try {
            const row = await measureRow(context, nodes!.http(leader), topic, spec, clusterPids(cluster!));
            row.notes = [`produced to the leader, node ${leader}; min.insync.replicas ${MIN_INSYNC_REPLICAS}`];
            rows.push(row);
          } finally {
            // Through the leader (any node would forward it to the controller).
            await nodes!.http(leader).deleteTopic(topic);
          }
        }
      }
      if (isFailoverWanted) {
        context.log(`  ${FAILOVER_LABEL} (${failoverTries(context)} tries)`);
        try {
          rows.push(await measureFailover(context, cluster!, nodes!));
        } catch (error) {
          // Keep the throughput rows: report the failover as not measured, with the reason.
          const message = error instanceof Error ? error.message : String(error);
          context.log(`  FAILED: ${message}`);
          skipped.push(`${FAILOVER_LABEL}: not measured: ${message.split('\n')[0]}`);
        }
      }
    } finally {
      await nodes?.close();
      await cluster?.stop();
    }
    return { rows, skipped };
  },
};
