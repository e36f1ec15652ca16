/**
 * Share groups in a three-node cluster of real processes (README "Share groups
 * (queues)"; broker/share/share-placement.ts): the leader of a group's
 * __share_group_state partition coordinates it, any node answers its calls (handing
 * them over), and its state is replicated with acks=all, so a coordinator SIGKILLed
 * mid-work loses nothing:
 *
 * - the first call makes __share_group_state (replicated on the three nodes); a node
 *   that does not coordinate the group answers through the coordinator;
 * - two consumers, each through another node, acquire; some records are accepted,
 *   some still held under a long lock when the coordinator is killed;
 * - the new leader of the state partition rebuilds the group: the held records come
 *   back at once with deliveryCount 2, no accepted record is delivered again, and
 *   consumers working through the survivors accept every record exactly once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { SHARE_STATE_TOPIC, shareStatePartitionOf } from '../../src/broker/share/share-state-records.js';
import { startCluster, type TopicView } from '../helpers/cluster.js';
import { produce, requestJson } from '../helpers/http.js';

const TOPIC = 'jobs';
const GROUP = 'job-workers';
const PARTITION_COUNT = 2;
const RECORDS_PER_PARTITION = 10;
const NODE_IDS = [1, 2, 3];

interface AcquiredRecord {
  topic: string;
  partition: number;
  offset: number;
  value: { partition: number; index: number };
  deliveryCount: number;
}

const idOf = (record: { partition: number; offset: number }): string => `${record.partition}:${record.offset}`;

void t.test('a share-group coordinator SIGKILLed mid-work: held records come back with their delivery counted, accepted ones never again', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  const created = await requestJson(`${cluster.url(1)}/v1/topics`, { body: { name: TOPIC, partitions: PARTITION_COUNT, replicationFactor: 3 }, timeoutMs: 20_000 });
  t.equal(created.status, 201, `topic created: ${JSON.stringify(created.body).slice(0, 200)}`);

  // The first share call makes the state topic (503 NOT_READY while it is being made).
  const configs = { 'share.auto.offset.reset': 'earliest', 'share.record.lock.duration.ms': '600000' };
  await cluster.waitFor(async () => {
    const answer = await requestJson(`${cluster.url(1)}/v1/share-groups/${GROUP}`, { method: 'PATCH', body: { configs }, timeoutMs: 10_000 }).catch(() => undefined);
    return answer?.status === 200;
  }, 30_000, 'the group configured (the state topic made)');
  const stateTopic = await cluster.waitFor(async () => {
    const view = await requestJson<TopicView>(`${cluster.url(1)}/v1/topics/${SHARE_STATE_TOPIC}`, { timeoutMs: 3_000 });
    return view.status === 200 && view.body.partitions.every((partition) => partition.leader !== null && partition.isr.length === 3) ? view.body : undefined;
  }, 20_000, `${SHARE_STATE_TOPIC} with three in-sync replicas per partition`);
  t.equal(stateTopic.partitions.length, 10, `${SHARE_STATE_TOPIC} has 10 partitions, replicated on every node`);

  const coordinator = await cluster.waitFor(() => cluster.leaderOf(SHARE_STATE_TOPIC, shareStatePartitionOf(GROUP)), 10_000, 'the coordinator');
  const [viaA, viaB] = NODE_IDS.filter((nodeId) => nodeId !== coordinator);
  const described = await requestJson<{ configs: Record<string, string> }>(`${cluster.url(viaA)}/v1/share-groups/${GROUP}`);
  t.equal(described.status, 200, `node ${viaA}, which does not coordinate the group, answers`);
  t.equal(described.headers['runnel-served-by'], String(coordinator), 'through the coordinator');
  t.equal(described.body.configs['share.auto.offset.reset'], 'earliest', 'with the configs set through node 1');

  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    await produce(cluster.url(viaA), TOPIC, Array.from({ length: RECORDS_PER_PARTITION }, (_, index) => ({ value: { partition, index } })), { partition, timeoutMs: 20_000 });
  }

  const acquire = async (nodeId: number, consumerId: string, maxRecords: number): Promise<AcquiredRecord[] | undefined> => {
    const url = `${cluster.url(nodeId)}/v1/share-groups/${GROUP}/records?topics=${TOPIC}&consumerId=${consumerId}&maxRecords=${maxRecords}&waitMs=1000`;
    const answer = await requestJson<{ records: AcquiredRecord[] }>(url, { timeoutMs: 15_000 }).catch(() => undefined);
    return answer?.status === 200 ? answer.body.records : undefined;
  };
  const accept = async (nodeId: number, consumerId: string, records: AcquiredRecord[]): Promise<boolean> => {
    const acknowledgements = records.map((record) => ({ topic: TOPIC, partition: record.partition, offsets: [record.offset], type: 'accept' }));
    const answer = await requestJson<{ results: Array<{ records: Array<{ errorCode: string | null }> }> }>(`${cluster.url(nodeId)}/v1/share-groups/${GROUP}/acknowledgements`, {
      method: 'POST', body: { consumerId, acknowledgements }, timeoutMs: 15_000,
    }).catch(() => undefined);
    return answer?.status === 200 && answer.body.results.every((result) => result.records.every((record) => record.errorCode === null));
  };

  // Before the kill: a acquires 6 through one node and accepts 4; b acquires 4 through the other and accepts none.
  const first = await acquire(viaA, 'a', 6);
  t.equal(first?.length, 6, `consumer a acquired 6 records through node ${viaA}`);
  const second = await acquire(viaB, 'b', 4);
  t.equal(second?.length, 4, `consumer b acquired 4 others through node ${viaB}`);
  const acceptedBefore = first!.slice(0, 4);
  t.ok(await accept(viaA, 'a', acceptedBefore), 'consumer a accepted 4 of them');
  const held = new Set([...first!.slice(4), ...second!].map(idOf));
  t.equal(new Set([...first!, ...second!].map(idOf)).size, 10, 'no record was handed to both');

  const listed = await requestJson<{ groups: Array<{ groupId: string; acquired: number }> }>(`${cluster.url(viaB)}/v1/share-groups`);
  t.match(listed.body.groups.find((group) => group.groupId === GROUP), { acquired: 6 }, `node ${viaB} lists the group (gathered from its coordinator) with 6 records held`);

  await cluster.kill(coordinator);

  // After the kill: consumers work through the survivors (retrying while the state partition gets a new leader).
  const accepted = new Map<string, number>(acceptedBefore.map((record) => [idOf(record), 1]));
  const redelivered = new Map<string, number>();
  let again = 0;
  const deadlineMs = Date.now() + 60_000;
  for (let round = 0; round < 500 && Date.now() < deadlineMs && accepted.size < PARTITION_COUNT * RECORDS_PER_PARTITION; round++) {
    const via = round % 2 === 0 ? viaA : viaB;
    const consumerId = `after-${via}`;
    const records = await acquire(via, consumerId, 5);
    if (records === undefined) await sleep(200); // The state partition has no new leader yet.
    if (records === undefined || records.length === 0) continue;
    for (const record of records) {
      if (accepted.has(idOf(record))) again += 1;
      if (held.has(idOf(record))) redelivered.set(idOf(record), record.deliveryCount);
    }
    if (await accept(via, consumerId, records)) for (const record of records) accepted.set(idOf(record), (accepted.get(idOf(record)) ?? 0) + 1);
  }
  t.equal(again, 0, 'no record accepted before (or after) the kill was delivered again');
  t.equal(accepted.size, PARTITION_COUNT * RECORDS_PER_PARTITION, 'every record was accepted');
  t.ok([...accepted.values()].every((count) => count === 1), 'each exactly once');
  t.same([...redelivered.keys()].sort(), [...held].sort(), 'every record held at the kill was delivered again (its lock did not have to run out)');
  t.ok([...redelivered.values()].every((count) => count === 2), 'with deliveryCount 2');

  const successor = await cluster.leaderOf(SHARE_STATE_TOPIC, shareStatePartitionOf(GROUP), viaA);
  t.not(successor, coordinator, `node ${successor} coordinates the group now`);
  const after = await requestJson<{ partitions: Array<{ lag: number | null; acquired: number }> }>(`${cluster.url(viaA)}/v1/share-groups/${GROUP}`);
  t.same(after.body.partitions.map((partition) => [partition.lag, partition.acquired]), [[0, 0], [0, 0]], 'the group has nothing left to do');

  // A partition the coordinator holds no replica of is read at a node that does.
  const solo = await requestJson<TopicView>(`${cluster.url(viaA)}/v1/topics`, { body: { name: `${TOPIC}.solo`, partitions: 2, replicationFactor: 1 }, timeoutMs: 20_000 });
  t.equal(solo.status, 201, 'a topic of one replica per partition created');
  t.ok(solo.body.partitions.some((partition) => partition.leader !== successor), `a partition of it lives on a node other than the coordinator (leaders ${solo.body.partitions.map((partition) => partition.leader).join(', ')})`);
  for (let partition = 0; partition < 2; partition++) await produce(cluster.url(viaA), `${TOPIC}.solo`, [{ value: { partition, index: 0 } }], { partition, timeoutMs: 20_000 });
  const fromBoth = new Set<number>();
  await cluster.waitFor(async () => {
    const url = `${cluster.url(viaB)}/v1/share-groups/${GROUP}/records?topics=${TOPIC}.solo&consumerId=d&maxRecords=10&waitMs=1000`;
    const answer = await requestJson<{ records: AcquiredRecord[] }>(url, { timeoutMs: 15_000 }).catch(() => undefined);
    for (const record of answer?.status === 200 ? answer.body.records : []) fromBoth.add(record.partition);
    return fromBoth.size === 2;
  }, 20_000, 'both partitions read');
  t.same([...fromBoth].sort(), [0, 1], 'the coordinator acquired the records of both partitions');

  // The dead-letter topic works on the cluster too: a record rejected through one node lands there, read through the other.
  const dead = await requestJson(`${cluster.url(viaA)}/v1/topics`, { body: { name: `${TOPIC}.dead`, partitions: 1, replicationFactor: 2 }, timeoutMs: 20_000 });
  t.equal(dead.status, 201, `dead-letter topic created: ${JSON.stringify(dead.body).slice(0, 200)}`);
  const patched = await requestJson(`${cluster.url(viaB)}/v1/share-groups/${GROUP}`, { method: 'PATCH', body: { configs: { 'share.dead.letter.topic': `${TOPIC}.dead` } }, timeoutMs: 15_000 });
  t.equal(patched.status, 200, 'share.dead.letter.topic set through a node');
  await produce(cluster.url(viaA), TOPIC, [{ value: { partition: 0, index: RECORDS_PER_PARTITION } }], { partition: 0, timeoutMs: 20_000 });
  const late = await cluster.waitFor(async () => (await acquire(viaB, 'c', 1))?.[0], 15_000, 'the new record acquired');
  const rejected = await requestJson<{ results: Array<{ records: Array<{ errorCode: string | null }> }> }>(`${cluster.url(viaB)}/v1/share-groups/${GROUP}/acknowledgements`, {
    method: 'POST', body: { consumerId: 'c', acknowledgements: [{ topic: TOPIC, partition: late.partition, offsets: [late.offset], type: 'reject' }] }, timeoutMs: 15_000,
  });
  t.equal(rejected.body.results[0]?.records[0]?.errorCode, null, 'rejected');
  const letters = await requestJson<{ records: Array<{ value: unknown; headers: Record<string, string> }> }>(`${cluster.url(viaA)}/v1/topics/${TOPIC}.dead/partitions/0/records?offset=earliest&waitMs=5000`, { timeoutMs: 15_000 });
  t.match(letters.body.records, [{ value: late.value, headers: { 'runnel.dlq.offset': String(late.offset), 'runnel.dlq.reason': 'rejected', 'runnel.dlq.group': GROUP } }], 'its dead letter is there');
});
