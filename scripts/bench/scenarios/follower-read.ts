/**
 * Follower read: end-to-end latency of an acks=all record read through the partition's
 * leader and through a follower, side by side (KIP-392, fetch from follower).
 *
 * Three nodes (child processes, default settings, no proxies), a one-partition topic
 * with replicationFactor 3 and min.insync.replicas 2. One producer sends single 100 B
 * records to the leader with acks=all, each when the previous one is acknowledged, with
 * its send time (performance.now() of this process) inside the value. Two readers
 * long-poll GET .../records?offset=N&waitMs=1000 in a loop, one on the leader and one
 * on a follower. Latency = the time a reader has the answer - the send time in the
 * record; the first tenth of the records is warm-up and not counted. A follower reads
 * up to its own high watermark, which it learns from the leader's answers to its
 * replica fetches, so its latency is the leader's plus that hand-over.
 *
 * The rows: the producer's send -> ack, the leader reader's and the follower reader's
 * latency; the notes carry p50 / p99 / max and the ratio follower p99 / leader p99
 * (target: within 2x, see targets.ts). Each answer's Runnel-Served-By header is counted,
 * so a follower that handed its reads to another node shows in the notes.
 *
 * Bounded: at most 2,000 records (500 with --quick) and 30 s (10 s) of producing, then
 * at most 5 s for the readers to see the last record.
 */
import { sleep } from '../child.js';
import { Histogram } from '../histogram.js';
import { timestampedValueOfSize } from '../payload.js';
import { startRunnelCluster, type RunnelCluster } from '../runnel-cluster.js';
import { checkProduceAnswer, RunnelHttp } from '../runnel-http.js';
import { benchTopicName, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';

const ONLINE_TIMEOUT_MS = 30_000;
const ONLINE_POLL_MS = 100;
const NODE_COUNT = 3;
const MIN_INSYNC_REPLICAS = '2';
const VALUE_BYTES = 100;
const WAIT_MS = 1_000;
/** After the producer is done, how long the readers may take to see the last record. */
const DRAIN_MS_MAX = 5_000;
/** The partition has a leader, a full ISR and a follower that serves reads within this, or the scenario fails. */
const SETTLE_TIMEOUT_MS = 30_000;
/** A reader that gets a 503 (no in-sync replica at that moment) asks again after this. */
const RETRY_PAUSE_MS = 50;

const LABEL_PRODUCE = 'follower-read: produce acks=all 100 B x1 (send -> ack)';
const LABEL_LEADER = 'follower-read: read via leader (send -> long-poll answer)';
const LABEL_FOLLOWER = 'follower-read: read via follower (send -> long-poll answer)';

interface PartitionView {
  partition: number;
  leader: number | null;
  replicas: number[];
  isr: number[];
}

interface FetchAnswer {
  records: Array<{ offset: number; value: { sentAtMs?: number } }>;
  nextOffset: number;
}

function bounds(context: BenchContext): { records: number; timeMaxMs: number } {
  return context.options.isQuick ? { records: 500, timeMaxMs: 10_000 } : { records: 2_000, timeMaxMs: 30_000 };
}

/** One reader: its node, what it saw and who served it. */
class Reader {
  readonly histogram = new Histogram();
  readonly servedBy = new Map<string, number>();
  received = 0;
  unavailable = 0;

  constructor(readonly role: 'leader' | 'follower', readonly nodeId: number, readonly http: RunnelHttp) {}

  /** Long-polls from offset 0 until it has `target()` records or `isOver()`; counts records at offsets >= `warmup`. */
  async run(topic: string, warmup: number, target: () => number, isOver: () => boolean, signal: AbortSignal): Promise<void> {
    let offset = 0;
    while (offset < target() && !isOver() && !signal.aborted) {
      const path = `/v1/topics/${topic}/partitions/0/records?offset=${offset}&waitMs=${WAIT_MS}&maxRecords=1000`;
      const response = await this.http.pool.request({ method: 'GET', path, headers: { accept: 'application/json' }, signal });
      const text = await response.body.text();
      const receivedAt = performance.now();
      if (response.statusCode === 503) {
        this.unavailable += 1;
        await sleep(RETRY_PAUSE_MS);
        continue;
      }
      if (response.statusCode !== 200) throw new Error(`${this.role} node ${this.nodeId}: GET ${path}: HTTP ${response.statusCode}: ${text.slice(0, 500)}`);
      const answer = JSON.parse(text) as FetchAnswer;
      for (const record of answer.records) {
        if (record.offset !== offset) throw new Error(`${this.role} node ${this.nodeId}: expected offset ${offset}, got ${record.offset}`);
        const sentAtMs = record.value?.sentAtMs;
        if (typeof sentAtMs !== 'number') throw new Error(`record ${record.offset} lost its sentAtMs: ${JSON.stringify(record).slice(0, 300)}`);
        if (record.offset >= warmup) this.histogram.recordMs(receivedAt - sentAtMs);
        offset += 1;
      }
      if (answer.records.length > 0) {
        const header = response.headers['runnel-served-by'];
        const servedBy = (Array.isArray(header) ? header.join(',') : header) ?? '(no header)';
        this.servedBy.set(servedBy, (this.servedBy.get(servedBy) ?? 0) + answer.records.length);
      }
      this.received = offset;
    }
  }

  note(): string {
    const { p50Ms, p99Ms, maxMs } = this.histogram.summary();
    const served = [...this.servedBy].map(([by, count]) => `${count} records served by ${by}`).join(', ');
    return `node ${this.nodeId} (the ${this.role}): p50 ${p50Ms.toFixed(3)} ms, p99 ${p99Ms.toFixed(3)} ms, max ${maxMs.toFixed(3)} ms; ` +
      `${this.received} records read (${served || 'none'})${this.unavailable > 0 ? `; ${this.unavailable} answers were 503` : ''}`;
  }
}

async function partitionView(http: RunnelHttp, topic: string): Promise<PartitionView | undefined> {
  const view = await http.json<{ partitions: PartitionView[] }>('GET', `/v1/topics/${encodeURIComponent(topic)}`);
  return view.partitions.find((each) => each.partition === 0);
}

/**
 * The leader and a follower once the leader sees every replica in sync and the follower
 * answers a read of the partition from its own replica (GET .../offsets: 200, served by itself).
 */
async function settle(byNode: Map<number, RunnelHttp>, topic: string): Promise<{ leader: number; follower: number }> {
  const deadline = performance.now() + SETTLE_TIMEOUT_MS;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    try {
      const seen = await partitionView(byNode.get(1)!, topic);
      const leader = seen?.leader;
      const own = leader == null ? undefined : await partitionView(byNode.get(leader)!, topic);
      if (leader != null && own?.leader === leader && own.isr.length === NODE_COUNT) {
        const follower = own.replicas.find((nodeId) => nodeId !== leader)!;
        const response = await byNode.get(follower)!.pool.request({ method: 'GET', path: `/v1/topics/${topic}/partitions/0/offsets`, headers: { accept: 'application/json' } });
        const text = await response.body.text();
        // Served from its own replica (a build without Runnel-Served-By: any 200), not handed to the leader.
        const servedBy = response.headers['runnel-served-by'];
        if (response.statusCode === 200 && (servedBy === undefined || servedBy === String(follower))) return { leader, follower };
        last = `follower ${follower} answers GET .../offsets with ${response.statusCode}${servedBy === undefined ? '' : ` (served by ${String(servedBy)})`}: ${text.slice(0, 200)}`;
      } else {
        last = `leader ${leader} says ${JSON.stringify(own ?? seen)}`;
      }
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(100);
  }
  throw new Error(`${topic}: no leader with a full ISR and a follower serving reads within ${SETTLE_TIMEOUT_MS} ms (${last.slice(0, 300)})`);
}

function latencyRow(label: string, histogram: Histogram, elapsedMs: number, params: Record<string, number | string>, notes: string[]): ResultRow {
  return {
    scenario: 'follower-read',
    system: 'runnel',
    label,
    params: { nodes: NODE_COUNT, replicationFactor: NODE_COUNT, minInsyncReplicas: MIN_INSYNC_REPLICAS, valueBytes: VALUE_BYTES, waitMs: WAIT_MS, ...params },
    records: histogram.count,
    elapsedMs,
    recordsPerSecond: elapsedMs > 0 ? histogram.count / (elapsedMs / 1000) : 0,
    megabytesPerSecond: null,
    latency: histogram.summary(),
    notes,
  };
}

async function measure(context: BenchContext, byNode: Map<number, RunnelHttp>, topic: string): Promise<ResultRow[]> {
  const { leader, follower } = await settle(byNode, topic);
  context.log(`    leader node ${leader}, follower reader on node ${follower}`);
  const { records: total, timeMaxMs } = bounds(context);
  const warmup = Math.floor(total / 10);
  const producePath = `/v1/topics/${topic}/partitions/0/records?acks=all`;
  const acks = new Histogram();
  const readers = [new Reader('leader', leader, byNode.get(leader)!), new Reader('follower', follower, byNode.get(follower)!)];
  const stop = new AbortController();
  let sent = 0;
  let producerDoneAt = Number.POSITIVE_INFINITY;
  const startedAt = performance.now();
  const deadline = startedAt + timeMaxMs;

  const produce = async (): Promise<void> => {
    try {
      while (sent < total && performance.now() < deadline && !stop.signal.aborted) {
        const sentAt = performance.now();
        const body = Buffer.from('{"records":[{"value":' + timestampedValueOfSize(sentAt, VALUE_BYTES) + '}],"valueFormat":"json"}');
        const answer = await byNode.get(leader)!.text('POST', producePath, body);
        if (sent === 0) checkProduceAnswer(answer, 1, LABEL_PRODUCE);
        if (sent >= warmup) acks.recordMs(performance.now() - sentAt);
        sent += 1;
      }
    } finally {
      producerDoneAt = performance.now();
    }
  };
  const isOver = (): boolean => performance.now() >= Math.min(deadline, producerDoneAt) + DRAIN_MS_MAX;
  const target = (): number => (producerDoneAt === Number.POSITIVE_INFINITY ? total : sent);

  // Whichever side fails first stops the others; the first failure is the one reported.
  let failure: unknown;
  let hasFailed = false;
  const guard = (work: Promise<void>): Promise<void> => work.catch((error: unknown) => {
    if (!hasFailed) failure = error;
    hasFailed = true;
    stop.abort();
  });
  try {
    await Promise.all([...readers.map((reader) => guard(reader.run(topic, warmup, target, isOver, stop.signal))), guard(produce())]);
  } finally {
    stop.abort();
  }
  if (hasFailed) throw failure;
  const elapsedMs = performance.now() - startedAt;
  const [leaderReader, followerReader] = readers;
  const ratio = followerReader.histogram.quantileMs(0.99) / leaderReader.histogram.quantileMs(0.99);
  const ratioNote = `follower p99 / leader p99 = ${ratio.toFixed(2)}x (target: within 2x)`;
  const common = `${sent} sent one at a time (acks=all) to node ${leader}; first ${warmup} not counted`;
  const rows = [
    latencyRow(LABEL_PRODUCE, acks, elapsedMs, { role: 'produce', nodeId: leader }, [common]),
    latencyRow(LABEL_LEADER, leaderReader.histogram, elapsedMs, { role: 'leader', nodeId: leader }, [leaderReader.note()]),
    latencyRow(LABEL_FOLLOWER, followerReader.histogram, elapsedMs, { role: 'follower', nodeId: follower, followerToLeaderP99: ratio }, [followerReader.note(), ratioNote]),
  ];
  if (sent < total) rows[0].notes!.push(`time limit reached after ${sent} of ${total} records`);
  for (const reader of readers) context.log(`    ${reader.note()}`);
  context.log(`    ${ratioNote}`);
  return rows;
}

/** Ready nodes may not be registered yet: a topic with RF=NODE_COUNT needs every node online at the controller. */
async function waitForOnlineNodes(http: RunnelHttp): Promise<void> {
  const deadlineMs = performance.now() + ONLINE_TIMEOUT_MS;
  while (performance.now() < deadlineMs) {
    const status = await http.json<{ nodes: Array<{ state: string }> }>('GET', '/v1/cluster').catch(() => undefined);
    if (status !== undefined && status.nodes.filter((node) => node.state === 'online').length >= NODE_COUNT) return;
    await sleep(ONLINE_POLL_MS);
  }
  throw new Error(`the cluster did not list ${NODE_COUNT} online nodes within ${ONLINE_TIMEOUT_MS} ms`);
}

export const followerReadScenario: Scenario = {
  name: 'follower-read',
  description: `${NODE_COUNT} nodes, RF=${NODE_COUNT}: end-to-end latency of single acks=all records read by a long-poll (waitMs=${WAIT_MS}) on the leader and on a follower`,
  async run(context) {
    if (![LABEL_PRODUCE, LABEL_LEADER, LABEL_FOLLOWER].some((label) => context.isRowWanted(label))) return { rows: [] };
    let cluster: RunnelCluster | undefined;
    const byNode = new Map<number, RunnelHttp>();
    try {
      cluster = await startRunnelCluster(NODE_COUNT);
      context.log(`  cluster of ${NODE_COUNT} (default settings): ${cluster.nodes.map((node) => `${node.nodeId}@${node.origin}`).join(', ')}`);
      for (const node of cluster.nodes) byNode.set(node.nodeId, new RunnelHttp(node.origin, 4));
      await waitForOnlineNodes(byNode.get(1)!);
      const topic = benchTopicName('follower-read');
      await byNode.get(1)!.json('POST', '/v1/topics', {
        name: topic, partitions: 1, replicationFactor: NODE_COUNT, configs: { 'min.insync.replicas': MIN_INSYNC_REPLICAS },
      }, 201);
      const rows = await measure(context, byNode, topic);
      return { rows: rows.filter((row) => context.isRowWanted(row.label)) };
    } finally {
      await Promise.all([...byNode.values()].map((http) => http.close()));
      await cluster?.stop();
    }
  },
};
