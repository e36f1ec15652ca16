/**
 * What the one-URL cluster tests (issue 21: every node answers every request) share:
 *
 *   const topic = await replicatedTopic(cluster, 'reads', { configs: { 'min.insync.replicas': 2 } });
 *   const roles = await partitionRoles(cluster, 'reads', 0);      // { leader, followers }
 *   const load = startLoad(cluster, 'reads', 0, 'kill');           // acks=all, until stop()
 *   const stream = await openStream(t, `${url}/v1/...`, { accept: 'text/event-stream' });
 *   servedBy(response.headers)                                      // Runnel-Served-By
 *
 * Everything is bounded: the load sends at most LOAD_SENDS_MAX requests, each with the
 * client's deadline; a stream's headers must come within 5 s and every wait on its body
 * has a deadline; streams and their agents are closed at the test's teardown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { Agent, request } from 'undici';
import { Runnel } from '../../../src/index.js';
import type { Cluster } from '../../helpers/cluster.js';
import { BodyReader } from '../../helpers/body-reader.js';
import { createTopic } from '../../helpers/http.js';
import { describeViews, fullIsrs, topicViews } from '../../helpers/topic-views.js';

/** The response header naming the node whose log served a read, the leader(s) of a produce, a group's coordinator. */
export const SERVED_BY = 'runnel-served-by';

export function servedBy(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers[SERVED_BY];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Creates `name` (replicationFactor 3 unless said) and waits until every running node
 * sees each partition with a running leader and every replica in its ISR.
 */
export async function replicatedTopic(
  cluster: Cluster,
  name: string,
  options: { partitions?: number; replicationFactor?: number; configs?: Record<string, string | number> } = {},
): Promise<void> {
  const partitions = options.partitions ?? 1;
  await createTopic(cluster.url(cluster.runningIds()[0]), name, { partitions, replicationFactor: options.replicationFactor ?? 3, configs: options.configs, timeoutMs: 20_000 });
  await waitForInSync(cluster, name, partitions);
}

/** True once every running node sees every partition with a running leader they all name and every replica in the ISR. */
async function isInSync(cluster: Cluster, topic: string, partitions: number): Promise<boolean> {
  const views = await topicViews(cluster, topic);
  const leaders = new Map<number, number | null>();
  for (const view of views.values()) {
    if (typeof view === 'string' || view.partitions.length !== partitions) return false;
    for (const partition of view.partitions) {
      if (partition.leader === null || !cluster.isRunning(partition.leader) || partition.isr.length !== partition.replicas.length) return false;
      if ((leaders.get(partition.partition) ?? partition.leader) !== partition.leader) return false;
      leaders.set(partition.partition, partition.leader);
    }
  }
  return views.size > 0;
}

async function waitOrDescribe(cluster: Cluster, topic: string, condition: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  try {
    await cluster.waitFor(condition, timeoutMs, what);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${describeViews(await topicViews(cluster, topic))}`);
  }
}

/** Every running node sees every partition of `topic` with a live leader and every replica in sync (bounded). */
export function waitForInSync(cluster: Cluster, topic: string, partitions: number, timeoutMs = 20_000): Promise<void> {
  return waitOrDescribe(cluster, topic, () => isInSync(cluster, topic, partitions), `every replica of ${topic} in sync`, timeoutMs);
}

/** Every node of the cluster runs and sees every partition of `topic` with a live leader and a full ISR (bounded). */
export function waitForFullIsrs(cluster: Cluster, topic: string, partitions: number, timeoutMs = 20_000): Promise<void> {
  return waitOrDescribe(cluster, topic, () => fullIsrs(cluster, topic, partitions), `full ISRs of ${topic}`, timeoutMs);
}

/** The partition's leader (as every node names it once ISRs are full) and its followers, ascending. */
export async function partitionRoles(cluster: Cluster, topic: string, partition: number): Promise<{ leader: number; followers: number[] }> {
  const view = await cluster.describeTopic(topic);
  const found = view.partitions.find((each) => each.partition === partition);
  if (found?.leader === null || found === undefined) throw new Error(`${topic}-${partition} has no leader: ${JSON.stringify(view).slice(0, 300)}`);
  return { leader: found.leader, followers: found.replicas.filter((nodeId) => nodeId !== found.leader).sort((a, b) => a - b) };
}

/** A view's leader for the partition once it is a node other than `not` (else undefined), as `viaNodeId` sees it. */
export async function newLeader(cluster: Cluster, topic: string, partition: number, not: number, viaNodeId: number): Promise<number | undefined> {
  const leader = await cluster.leaderOf(topic, partition, viaNodeId);
  return leader !== null && leader !== not ? leader : undefined;
}

/** Requests the load sends at most (it normally stops long before, when told). */
const LOAD_SENDS_MAX = 5_000;
/** The client's deadline per send, its own retries included. */
const LOAD_SEND_TIMEOUT_MS = 8_000;

export interface Load {
  /** offset -> value of every acknowledged record. */
  readonly acked: Map<number, string>;
  readonly failedSendCount: number;
  /** The first few send failures. */
  readonly errors: string[];
  /** Stops sending, waits for the send in flight, closes the client. */
  stop(): Promise<void>;
}

/**
 * acks=all produce load on one partition, through the project's client given every
 * node's URL (its default retries: each send has its own Idempotency-Key), two records
 * a send with unique string values `<label>-<n>`, one send in flight, 20 ms apart.
 */
export function startLoad(cluster: Cluster, topic: string, partition: number, label: string): Load {
  const runnel = new Runnel({ urls: cluster.urls(), timeoutMs: LOAD_SEND_TIMEOUT_MS });
  const acked = new Map<number, string>();
  const errors: string[] = [];
  let failedSendCount = 0;
  let isStopped = false;
  let sequence = 0;
  const loop = (async () => {
    for (let send = 0; send < LOAD_SENDS_MAX && !isStopped; send++) {
      const values = [`${label}-${sequence++}`, `${label}-${sequence++}`];
      try {
        const answer = await runnel.send({ topic, partition, acks: 'all', records: values.map((value) => ({ value })) });
        answer.offsets.forEach((entry, index) => acked.set(entry.offset, values[index]));
      } catch (error) {
        failedSendCount += 1;
        if (errors.length < 5) errors.push(String((error as Error).message ?? error).slice(0, 200));
        await sleep(50);
      }
      await sleep(20);
    }
  })();
  return {
    acked,
    get failedSendCount() {
      return failedSendCount;
    },
    errors,
    stop: async () => {
      isStopped = true;
      await loop;
      await runnel.close();
    },
  };
}

/** The highest acknowledged offset, or -1. */
export function lastAckedOffset(load: Load): number {
  return Math.max(-1, ...load.acked.keys());
}

export interface OpenStream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  reader: BodyReader;
  close: () => Promise<void>;
}

/** GET `url` as a live stream on its own Agent; closed at teardown if still open. */
export async function openStream(t: { teardown: (fn: () => unknown) => void }, url: string, headers: Record<string, string>): Promise<OpenStream> {
  const agent = new Agent();
  const controller = new AbortController();
  const close = async (): Promise<void> => {
    controller.abort();
    await agent.destroy().catch(() => undefined);
  };
  t.teardown(close);
  // The status line and headers come at once (before any record); the body has no deadline here, its waits do.
  const headersTimer = setTimeout(() => controller.abort(new Error(`no answer headers within 5 s from ${url}`)), 5_000);
  try {
    const response = await request(url, { headers, dispatcher: agent, signal: controller.signal });
    return { status: response.statusCode, headers: response.headers, reader: new BodyReader(response.body), close };
  } finally {
    clearTimeout(headersTimer);
  }
}

/** What a stream delivered, from its body so far. */
export interface Delivered {
  /** Offsets in the order they arrived. */
  offsets: number[];
  values: Map<number, string>;
  errors: string[];
}

export function sseDelivered(stream: OpenStream): Delivered {
  const delivered: Delivered = { offsets: [], values: new Map(), errors: [] };
  for (const event of stream.reader.sseEvents()) {
    if (event.event === 'record') {
      const record = JSON.parse(event.data ?? 'null') as { offset: number; value: unknown };
      if (String(record.offset) !== event.id) delivered.errors.push(`event id ${event.id} carries offset ${record.offset}`);
      delivered.offsets.push(Number(event.id));
      delivered.values.set(record.offset, String(record.value));
    } else if (event.event !== undefined) {
      delivered.errors.push(`event: ${event.event} ${event.data ?? ''}`.slice(0, 300));
    }
  }
  return delivered;
}

export function ndjsonDelivered(stream: OpenStream): Delivered {
  const delivered: Delivered = { offsets: [], values: new Map(), errors: [] };
  for (const line of stream.reader.ndjsonLines()) {
    if (line?.error !== undefined || typeof line?.offset !== 'number') {
      delivered.errors.push(JSON.stringify(line).slice(0, 300));
      continue;
    }
    delivered.offsets.push(line.offset);
    delivered.values.set(line.offset, String(line.value));
  }
  return delivered;
}

/** A stream under test: its name in messages, and how to read what it delivered. */
export interface WatchedStream {
  name: string;
  stream: OpenStream;
  deliveredOf: (stream: OpenStream) => Delivered;
}

/** Records acknowledged before the leader is killed, and again after another node took over. */
const ACKS_AROUND_KILL = 20;

/**
 * The failover the stream tests put streams through: acks=all load on partition 0 of
 * `topic` (startLoad), the leader SIGKILLed once ACKS_AROUND_KILL records are acknowledged,
 * then ACKS_AROUND_KILL more once `viaNodeId` names another leader; then each stream must
 * have delivered every offset from 0 to the last acknowledged one exactly once, in order,
 * each acknowledged record with its value, no error event, and still be open.
 */
export async function checkStreamsAcrossLeaderKill(
  t: Test, cluster: Cluster, topic: string, leader: number, viaNodeId: number, streams: WatchedStream[],
): Promise<void> {
  const load = startLoad(cluster, topic, 0, topic);
  let next: number | undefined;
  try {
    await cluster.waitFor(() => load.acked.size >= ACKS_AROUND_KILL, 15_000, `${ACKS_AROUND_KILL} records acknowledged before the kill`);
    await cluster.kill(leader);
    next = await cluster.waitFor(() => newLeader(cluster, topic, 0, leader, viaNodeId), 20_000, `a leader other than node ${leader}`);
    const ackedAtFailover = load.acked.size;
    await cluster.waitFor(() => load.acked.size >= ackedAtFailover + ACKS_AROUND_KILL, 20_000, `${ACKS_AROUND_KILL} more records acknowledged after node ${next} took over`);
  } finally {
    await load.stop();
  }
  const lastAcked = lastAckedOffset(load);
  t.comment(`node ${leader} led and was killed, node ${next} took over; ${load.acked.size} records acknowledged up to offset ${lastAcked}, ${load.failedSendCount} sends failed ${JSON.stringify(load.errors.slice(0, 2))}`);

  for (const { name, stream, deliveredOf } of streams) {
    await stream.reader.waitFor(() => {
      const delivered = deliveredOf(stream);
      return delivered.errors.length > 0 || (delivered.offsets.at(-1) ?? -1) >= lastAcked;
    }, `the ${name} to reach offset ${lastAcked}`, 15_000).catch((error: Error) => t.fail(error.message));
    const delivered = deliveredOf(stream);
    t.same(delivered.errors, [], `${name}: no error event`);
    const expected = Array.from({ length: delivered.offsets.length }, (_, index) => index);
    t.same(delivered.offsets, expected, `${name}: offsets 0..${delivered.offsets.length - 1}, each once, in order`);
    const missed = [...load.acked].filter(([offset, value]) => delivered.values.get(offset) !== value);
    t.same(missed.slice(0, 10), [], `${name}: every acknowledged record at its offset with its value (${missed.length} not)`);
    t.notOk(stream.reader.isEnded, `${name}: the stream is still open`);
    await stream.close();
  }
}
