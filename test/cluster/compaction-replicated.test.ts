/**
 * Compaction on a replicated topic, three real nodes: keyed overwrites and tombstones
 * to a compacted topic with replication factor 3 while one follower is down; the
 * leader cleans; the follower comes back behind the cleaned part and catches up across
 * its gaps; every replica cleans its own copy (its cleaner checkpoint moves); then each
 * node, reading its own log (Runnel-Served-By), gives the same latest value per key
 * and the same live keys, every record at the offset it was written at. After the
 * leader is killed, the new leader answers the same, and a write through it reaches
 * the other replica. The controller makes __consumer_offsets compacted too.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { requestJson } from '../helpers/http.js';
import { OFFSETS_TOPIC } from '../../src/broker/groups/offsets-records.js';

t.setTimeout(180_000);

const TOPIC = 'prices';
const KEYS = Array.from({ length: 12 }, (_, i) => `item-${i}`);
const ROUNDS = 12;

interface Fetched { offset: number; key: string; value: unknown }
interface FetchBody { records: Fetched[]; nextOffset: number; highWatermark: number }

/** Every record of partition 0 as node `nodeId` serves it from its own log; undefined when another node served it (not in sync yet). */
async function readOwnLog(cluster: Cluster, nodeId: number): Promise<Fetched[] | undefined> {
  const records: Fetched[] = [];
  let offset = 0;
  for (let fetches = 0; fetches < 200; fetches++) {
    const response = await requestJson<FetchBody>(`${cluster.url(nodeId)}/v1/topics/${TOPIC}/partitions/0/records?offset=${offset}&maxRecords=50`, { timeoutMs: 5_000 });
    if (response.status !== 200 || response.headers['runnel-served-by'] !== String(nodeId)) return undefined;
    records.push(...response.body.records);
    if (response.body.nextOffset >= response.body.highWatermark || response.body.records.length === 0) return records;
    offset = response.body.nextOffset;
  }
  return undefined;
}

function liveValues(records: ReadonlyArray<{ key: string; value: unknown }>): Array<[string, unknown]> {
  const latest = new Map<string, unknown>();
  for (const record of records) latest.set(record.key, record.value);
  return [...latest].filter(([, value]) => value !== null).sort(([a], [b]) => a.localeCompare(b));
}

/** The first offset the node's cleaner has not cleaned yet in partition 0 (0: it never cleaned it). */
function cleanedTo(cluster: Cluster, nodeId: number): number {
  const file = path.join(cluster.member(nodeId).dataDir, 'logs', `${TOPIC}-0`, 'cleaner-offset-checkpoint');
  try {
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { firstDirtyOffset: number }).firstDirtyOffset;
  } catch {
    return 0;
  }
}

void t.test('a compacted topic with three replicas: each cleans its own copy, all agree on the latest value per key, before and after failover', async (t) => {
  // Cleaner: 200 ms between looks. Segments roll at 1 KiB: each produce below fills one.
  const cluster = await startCluster(t, { nodes: 3, args: ['--cleaner-backoff-ms', '200'] });
  const { controller } = await cluster.waitForOnline(30_000);
  const created = await requestJson(`${cluster.url(controller!)}/v1/topics`, {
    body: { name: TOPIC, partitions: 1, replicationFactor: 3, configs: { 'cleanup.policy': 'compact', 'segment.bytes': 1024, 'min.cleanable.dirty.ratio': 0.01, 'delete.retention.ms': 0 } },
    timeoutMs: 20_000,
  });
  t.equal(created.status, 201, 'a compacted topic with replication factor 3 is created');
  const offsetsTopic = await cluster.waitFor(async () => {
    const answer = await requestJson<{ effectiveConfigs: Record<string, string> }>(`${cluster.url(controller!)}/v1/topics/${OFFSETS_TOPIC}`, { timeoutMs: 3_000 });
    return answer.status === 200 ? answer.body : undefined;
  }, 20_000, `the controller made ${OFFSETS_TOPIC}`);
  t.equal(offsetsTopic.effectiveConfigs['cleanup.policy'], 'compact', `${OFFSETS_TOPIC} is compacted`);
  const view = await cluster.waitFor(async () => {
    const described = await cluster.describeTopic(TOPIC).catch(() => undefined);
    const partition = described?.partitions[0];
    return partition !== undefined && partition.leader !== null && partition.isr.length === 3 ? partition : undefined;
  }, 20_000, `${TOPIC}-0 with a leader and three in-sync replicas`);
  const leader = view.leader!;
  const [lagging, other] = view.replicas.filter((id) => id !== leader);
  await cluster.kill(lagging);

  // Every key overwritten each round; in the last round two keys are deleted.
  const written = new Map<number, { key: string; value: unknown }>();
  for (let round = 0; round < ROUNDS; round++) {
    const records = KEYS.map((key, i) => ({ key, value: round === ROUNDS - 1 && i < 2 ? null : { round, key, pad: 'p'.repeat(40) } }));
    const produced = await requestJson<{ offsets: Array<{ offset: number }> }>(`${cluster.url(leader)}/v1/topics/${TOPIC}/partitions/0/records`, { body: { records }, timeoutMs: 20_000 });
    t.equal(produced.status, 200, `round ${round} written`);
    produced.body.offsets.forEach(({ offset }, i) => written.set(offset, records[i]));
  }
  const expected = liveValues([...written.values()]);
  t.equal(expected.length, KEYS.length - 2, 'the model: every key but the two deleted');

  const leaderCleaned = await cluster.waitFor(async () => {
    const records = await readOwnLog(cluster, leader);
    return records !== undefined && records.length < written.size / 2 ? records : undefined;
  }, 60_000, `the leader (node ${leader}) cleaned its log`);
  t.ok(leaderCleaned.length < written.size / 2, `the leader cleaned: ${leaderCleaned.length} of ${written.size} records left`);

  // The lagging follower starts from nothing, behind everything the leader cleaned.
  await cluster.start(lagging);
  for (const nodeId of [leader, other, lagging]) {
    const records = await cluster.waitFor(async () => {
      const own = await readOwnLog(cluster, nodeId);
      return own !== undefined && own.length < written.size / 2 && cleanedTo(cluster, nodeId) > 0 ? own : undefined;
    }, 60_000, `node ${nodeId} serves its own cleaned copy`);
    const role = nodeId === leader ? 'leader' : nodeId === lagging ? 'follower that was behind the cleaned part' : 'follower';
    t.ok(cleanedTo(cluster, nodeId) > 0, `node ${nodeId} (${role}) cleaned its own copy (cleaner checkpoint at ${cleanedTo(cluster, nodeId)})`);
    t.same(liveValues(records), expected, `node ${nodeId} (${role}): the latest value of every live key`);
    t.ok(records.every((record, i) => i === 0 || record.offset > records[i - 1].offset), `node ${nodeId}: offsets rise`);
    t.ok(records.every((record) => JSON.stringify(written.get(record.offset)) === JSON.stringify({ key: record.key, value: record.value })), `node ${nodeId}: every record is the one written at its offset`);
  }

  await cluster.kill(leader);
  const newLeader = await cluster.waitFor(async () => {
    const partition = (await cluster.describeTopic(TOPIC, other).catch(() => undefined))?.partitions[0];
    return partition?.leader !== undefined && partition.leader !== null && partition.leader !== leader ? partition.leader : undefined;
  }, 30_000, 'a new leader');
  const afterFailover = await cluster.waitFor(() => readOwnLog(cluster, newLeader), 20_000, `node ${newLeader} serves reads as leader`);
  t.same(liveValues(afterFailover), expected, `the new leader (node ${newLeader}) answers the same latest values`);

  // A write through the new leader reaches the other replica, whose log has gaps of its own.
  const update = { key: KEYS[5], value: { round: ROUNDS, key: KEYS[5] } };
  const produced = await requestJson<{ offsets: Array<{ offset: number }> }>(`${cluster.url(newLeader)}/v1/topics/${TOPIC}/partitions/0/records`, { body: { records: [update] }, timeoutMs: 20_000 });
  t.equal(produced.status, 200, 'a write after failover');
  written.set(produced.body.offsets[0].offset, update);
  const survivor = [other, lagging].find((id) => id !== newLeader)!;
  const latest = liveValues([...written.values()]);
  const survivorRecords = await cluster.waitFor(async () => {
    const own = await readOwnLog(cluster, survivor);
    return own !== undefined && JSON.stringify(liveValues(own)) === JSON.stringify(latest) ? own : undefined;
  }, 30_000, `node ${survivor} replicated the write from the new leader`);
  t.same(liveValues(survivorRecords), latest, `node ${survivor} agrees with the new leader`);
});
