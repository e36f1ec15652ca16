/**
 * Reads of committed data never stop while a partition's leader fails (issue 21, KIP-392
 * over HTTP): a follower serves them from its own log, up to its high watermark.
 *
 * One cluster of three real nodes (node-to-node traffic through fault proxies) serves a
 * topic of one partition, replicationFactor 3, min.insync.replicas 2. Three rounds, one
 * per way a leader fails: SIGKILL, SIGSTOP and a network cut (the leader cut off from
 * both other nodes; the test still reaches every node). In each round:
 *   - the project's client produces acks=all through every node's URL;
 *   - a reader fetches the partition from a follower every 50 ms, from where its last
 *     answer ended (so only committed offsets), before, during and after the fault;
 *   - the leader fails; the round goes on until another node leads and more records
 *     are acknowledged, then the load stops and the failed node comes back.
 * What a user relies on:
 *   - not one of the reader's requests fails (no 503, no 416, no timeout);
 *   - the reader read every acknowledged record, at its offset, with its value, and its
 *     offsets are consecutive (nothing skipped, nothing twice);
 *   - once the cluster has settled, every record the reader read is on every node at the
 *     same offset with the same value: nothing read above the high watermark ever
 *     disappeared in the failover.
 * Every loop is bounded in count and time; no timing is asserted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { startCluster, type Cluster } from '../../helpers/cluster.js';
import { fetchAll, requestJson, type FetchResponse } from '../../helpers/http.js';
import { settledHighWatermarks } from '../../helpers/topic-views.js';
import { lastAckedOffset, newLeader, partitionRoles, replicatedTopic, servedBy, startLoad, waitForFullIsrs } from './support.js';

t.setTimeout(150_000);

const TOPIC = 'reads';
const READ_INTERVAL_MS = 50;
/** Reads per round at most (a round takes seconds: far fewer). */
const READS_MAX = 2_000;
/** Records acknowledged after the new leader took over, before a round's load stops. */
const ACKS_AFTER_FAILOVER = 10;

type Fault = 'kill' | 'pause' | 'cut';

interface Reader {
  /** offset -> value of every record read. */
  readonly read: Map<number, string>;
  readCount: number;
  failedReads: string[];
  /** Where the next read starts. */
  nextOffset: number;
  /** Which node each answer names in Runnel-Served-By, counted. */
  servedBy: Map<string, number>;
  stop(): Promise<void>;
}

/** Fetches from `url` every READ_INTERVAL_MS, each from where the last answer ended. */
function startReader(url: string): Reader {
  let isStopped = false;
  const reader: Reader = {
    read: new Map(),
    readCount: 0,
    failedReads: [],
    nextOffset: 0,
    servedBy: new Map(),
    stop: async () => {
      isStopped = true;
      await loop;
    },
  };
  const loop = (async () => {
    for (let count = 0; count < READS_MAX && !isStopped; count++) {
      const at = reader.nextOffset;
      try {
        const answer = await requestJson<FetchResponse>(`${url}/v1/topics/${TOPIC}/partitions/0/records?offset=${at}&maxRecords=500`, { timeoutMs: 5_000 });
        if (answer.status !== 200) {
          reader.failedReads.push(`offset ${at}: HTTP ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
        } else {
          reader.readCount += 1;
          const node = servedBy(answer.headers) ?? 'none';
          reader.servedBy.set(node, (reader.servedBy.get(node) ?? 0) + 1);
          let expected = at;
          for (const record of answer.body.records) {
            if (record.offset !== expected) reader.failedReads.push(`offset ${at}: the answer holds offset ${record.offset} where ${expected} was due`);
            reader.read.set(record.offset, String(record.value));
            expected = record.offset + 1;
          }
          reader.nextOffset = Math.max(at, answer.body.nextOffset);
        }
      } catch (error) {
        reader.failedReads.push(`offset ${at}: ${(error as Error).message}`);
      }
      await sleep(READ_INTERVAL_MS);
    }
  })();
  return reader;
}

async function injectFault(cluster: Cluster, fault: Fault, nodeId: number): Promise<void> {
  if (fault === 'kill') await cluster.kill(nodeId);
  else if (fault === 'pause') cluster.pause(nodeId);
  else cluster.isolate(nodeId);
}

async function recover(cluster: Cluster, fault: Fault, nodeId: number): Promise<void> {
  if (fault === 'kill') await cluster.start(nodeId);
  else if (fault === 'pause') cluster.resume(nodeId);
  else cluster.heal(nodeId);
}

async function round(t: Test, cluster: Cluster, fault: Fault): Promise<void> {
  await waitForFullIsrs(cluster, TOPIC, 1);
  const { leader, followers } = await partitionRoles(cluster, TOPIC, 0);
  const follower = followers[0];
  const load = startLoad(cluster, TOPIC, 0, fault);
  const reader = startReader(cluster.url(follower));
  let isRecovered = false;
  try {
    await cluster.waitFor(() => reader.read.size >= 10, 10_000, `node ${follower} to serve a first few records`);
    await injectFault(cluster, fault, leader);
    const readsAtFault = reader.readCount;
    const next = await cluster.waitFor(() => newLeader(cluster, TOPIC, 0, leader, follower), 20_000, `a leader other than node ${leader}, as node ${follower} sees it`);
    const ackedAtFailover = load.acked.size;
    await cluster.waitFor(() => load.acked.size >= ackedAtFailover + ACKS_AFTER_FAILOVER, 20_000, `${ACKS_AFTER_FAILOVER} more records acknowledged after node ${next} took over`);
    await load.stop();
    const lastAcked = lastAckedOffset(load);
    await cluster.waitFor(() => reader.nextOffset > lastAcked, 10_000, `the reader on node ${follower} to reach offset ${lastAcked}`);
    await reader.stop();
    t.comment(`${fault}: node ${leader} led, node ${next} took over; node ${follower} answered ${reader.readCount} reads (${reader.readCount - readsAtFault} after the fault), ` +
      `served by ${JSON.stringify(Object.fromEntries(reader.servedBy))}; ${load.acked.size} records acknowledged, ${load.failedSendCount} sends failed ${JSON.stringify(load.errors.slice(0, 2))}`);

    t.same(reader.failedReads.slice(0, 10), [], `${fault}: every read on follower node ${follower} answered 200 with consecutive offsets (${reader.failedReads.length} failed)`);
    t.ok(reader.readCount > readsAtFault, `${fault}: node ${follower} answered reads after the fault`);
    const missed = [...load.acked].filter(([offset, value]) => reader.read.get(offset) !== value);
    t.same(missed.slice(0, 10), [], `${fault}: the reader read every acknowledged record at its offset (${missed.length} not)`);

    await recover(cluster, fault, leader);
    isRecovered = true;
    const [highWatermark] = await cluster.waitFor(() => settledHighWatermarks(cluster, TOPIC, 1), 30_000, `${TOPIC} settled on every node after the ${fault}`);
    t.ok(highWatermark > lastAcked, `${fault}: the high watermark ${highWatermark} is past every acknowledged offset`);
    for (const nodeId of cluster.runningIds()) {
      const { records } = await fetchAll(cluster.url(nodeId), TOPIC, 0, { timeoutMs: 20_000 });
      const onNode = new Map(records.map((record) => [record.offset, String(record.value)]));
      const lost = [...reader.read].filter(([offset, value]) => onNode.get(offset) !== value)
        .map(([offset, value]) => `${offset}: read ${value}, now ${onNode.get(offset) ?? 'nothing'}`);
      t.same(lost.slice(0, 10), [], `${fault}: node ${nodeId} holds every record the reader read, at the same offset (${lost.length} not)`);
    }
  } finally {
    await load.stop();
    await reader.stop();
    if (!isRecovered) await recover(cluster, fault, leader).catch(() => undefined);
  }
}

void t.test('a follower serves committed reads without a failure while the leader is killed, paused or cut off', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await replicatedTopic(cluster, TOPIC, { configs: { 'min.insync.replicas': 2 } });
  for (const fault of ['kill', 'pause', 'cut'] as const) {
    await t.test(`the leader ${fault === 'kill' ? 'SIGKILLed' : fault === 'pause' ? 'SIGSTOPped' : 'cut off'}`, (t) => round(t, cluster, fault));
  }
});
