/**
 * Consumer groups in a three-node cluster of real processes (DESIGN.md, Cluster;
 * broker/groups/offsets-log.ts): the coordinator of a group is the leader of its
 * __consumer_offsets partition, and commits are records there, so a coordinator
 * SIGKILLed loses no acknowledged commit.
 *
 * - the controller creates __consumer_offsets once the three nodes are alive;
 * - a group consumer that starts on a node that does not coordinate the group is served
 *   by the coordinator through it (the node hands the calls over), consumes and commits; the other replicas apply
 *   the commit (GET /v1/groups lists the group there);
 * - the coordinator is SIGKILLed: another node takes its partition over and answers
 *   GET /v1/groups/{g}/offsets with every commit acknowledged before the kill;
 * - the consumer finds the new coordinator, joins again (its member is unknown there)
 *   and resumes each partition exactly at its committed offset: nothing skipped.
 */
import t from 'tap';
import { Runnel } from '../../src/index.js';
import { OFFSETS_TOPIC, offsetsPartitionOf } from '../../src/broker/groups/offsets-records.js';
import type { ConsumedRecord } from '../../src/client/group-consumer.js';
import { startCluster, type TopicView } from '../helpers/cluster.js';
import { requestJson } from '../helpers/http.js';

const TOPIC = 'payments';
const GROUP = 'ledger-writers';
const PARTITION_COUNT = 2;
const RECORDS_PER_PARTITION = 12;
const CONSUMED_BEFORE_KILL = 10;
const NODE_IDS = [1, 2, 3];

interface OffsetsView {
  offsets: Array<{ topic: string; partition: number; offset: number | null }>;
}

/** Partition -> committed offset, as a node answers GET /v1/groups/{g}/offsets (undefined unless 200). */
async function committedOn(url: string): Promise<Map<number, number> | undefined> {
  const answer = await requestJson<OffsetsView>(`${url}/v1/groups/${GROUP}/offsets?topic=${TOPIC}`, { timeoutMs: 3_000 }).catch(() => undefined);
  if (answer?.status !== 200) return undefined;
  return new Map(answer.body.offsets.filter((view) => view.offset !== null).map((view) => [view.partition, view.offset as number]));
}

/** The next record, or a failure after timeoutMs (a consumer that waits for good must not hang the test). */
async function nextWithin(iterator: AsyncIterator<ConsumedRecord>, timeoutMs: number, what: string): Promise<ConsumedRecord> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no record within ${timeoutMs} ms: ${what}`)), timeoutMs);
  });
  try {
    const result = await Promise.race([iterator.next(), deadline]);
    if (result.done === true) throw new Error(`the consumer ended: ${what}`);
    return result.value;
  } finally {
    clearTimeout(timer);
  }
}

void t.test('a group coordinator SIGKILLed loses no acknowledged commit; the consumer resumes at the committed offsets', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);

  const offsetsTopic = await cluster.waitFor(async () => {
    const answer = await requestJson<TopicView>(`${cluster.url(1)}/v1/topics/${OFFSETS_TOPIC}`, { timeoutMs: 3_000 });
    return answer.status === 200 && answer.body.partitions.every((partition) => partition.leader !== null && partition.isr.length === 3) ? answer.body : undefined;
  }, 20_000, `${OFFSETS_TOPIC} with a leader and three in-sync replicas per partition`);
  t.equal(offsetsTopic.partitions.length, 10, `the controller created ${OFFSETS_TOPIC} with 10 partitions`);

  const created = await requestJson(`${cluster.url(1)}/v1/topics`, { body: { name: TOPIC, partitions: PARTITION_COUNT, replicationFactor: 3 }, timeoutMs: 20_000 });
  t.equal(created.status, 201, `topic created: ${JSON.stringify(created.body).slice(0, 200)}`);
  await cluster.waitFor(async () => {
    for (const nodeId of NODE_IDS) {
      const view = await cluster.describeTopic(TOPIC, nodeId).catch(() => undefined);
      if (view === undefined || !view.partitions.every((partition) => partition.leader !== null && partition.isr.length === 3)) return false;
    }
    return true;
  }, 15_000, `every node to know ${TOPIC} with full ISRs`);

  const coordinator = await cluster.waitFor(() => cluster.leaderOf(OFFSETS_TOPIC, offsetsPartitionOf(GROUP)), 10_000, 'the coordinator');
  const elsewhere = NODE_IDS.find((nodeId) => nodeId !== coordinator)!;
  const handed = await requestJson(`${cluster.url(elsewhere)}/v1/groups/${GROUP}/offsets`);
  t.not(handed.status, 503, `node ${elsewhere}, which does not coordinate the group, answers anyway (${handed.status})`);
  t.equal(handed.headers['runnel-served-by'], String(coordinator), 'having handed the request to the coordinator');

  // Retries enough to ride out a failover (fencing the dead node takes its session timeout).
  const runnel = new Runnel({ urls: [cluster.url(elsewhere)], retries: 40, timeoutMs: 30_000 });
  t.teardown(() => runnel.close());
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    const records = Array.from({ length: RECORDS_PER_PARTITION }, (_, index) => ({ value: { partition, index } }));
    await runnel.send({ topic: TOPIC, partition, records });
  }

  // One record per poll: when the coordinator dies the consumer holds no prefetched
  // records, so what it reads next comes from the new coordinator's positions.
  const consumer = runnel.consumer({ group: GROUP, topics: [TOPIC], autoOffsetReset: 'earliest', maxRecords: 1, waitMs: 500 });
  const iterator = consumer[Symbol.asyncIterator]();
  const before: ConsumedRecord[] = [];
  for (let i = 0; i < CONSUMED_BEFORE_KILL; i++) before.push(await nextWithin(iterator, 15_000, `record ${i} before the kill`));
  const firstMember = consumer.memberId;
  await consumer.commit();
  // The last record yielded is the loop body's until it asks for the next one: not processed, not committed.
  const acknowledged = new Map<number, number>();
  for (const record of before.slice(0, -1)) acknowledged.set(record.partition, Math.max(acknowledged.get(record.partition) ?? 0, record.offset + 1));
  const onCoordinator = await committedOn(cluster.url(coordinator));
  t.same(onCoordinator, acknowledged, `the coordinator (node ${coordinator}) answers the acknowledged commit ${JSON.stringify([...acknowledged])}`);
  const listed = await cluster.waitFor(async () => {
    const answer = await requestJson<{ groups: Array<{ groupId: string }> }>(`${cluster.url(elsewhere)}/v1/groups`);
    return answer.body.groups.some((group) => group.groupId === GROUP);
  }, 10_000, `node ${elsewhere} to list the group from its replica of ${OFFSETS_TOPIC}`);
  t.ok(listed, `node ${elsewhere} lists the group: it applied the replicated commit`);

  await cluster.kill(coordinator);
  const survivor = NODE_IDS.find((nodeId) => nodeId !== coordinator)!;
  const successor = await cluster.waitFor(async () => {
    const leader = await cluster.leaderOf(OFFSETS_TOPIC, offsetsPartitionOf(GROUP), survivor).catch(() => null);
    return leader !== null && leader !== coordinator ? leader : undefined;
  }, 20_000, `a new leader of ${OFFSETS_TOPIC}-${offsetsPartitionOf(GROUP)}`);
  const afterKill = await cluster.waitFor(() => committedOn(cluster.url(successor)), 10_000, `node ${successor} to answer the group's offsets`);
  t.same(afterKill, acknowledged, `node ${successor} took over and has every commit acknowledged before the kill`);

  // The consumer carries on: its member is unknown at the new coordinator, it joins
  // again and reads each partition from the committed offset on.
  const firstAfter = new Map<number, number>();
  const seen = new Map<number, Set<number>>();
  for (const record of before.slice(0, -1)) {
    if (!seen.has(record.partition)) seen.set(record.partition, new Set());
    seen.get(record.partition)!.add(record.offset);
  }
  const isComplete = (): boolean => [...Array(PARTITION_COUNT).keys()].every((partition) => (seen.get(partition)?.size ?? 0) === RECORDS_PER_PARTITION);
  for (let i = 0; i < 4 * RECORDS_PER_PARTITION && !isComplete(); i++) {
    const record = await nextWithin(iterator, 30_000, `record ${i} after the kill`);
    if (!firstAfter.has(record.partition)) firstAfter.set(record.partition, record.offset);
    if (!seen.has(record.partition)) seen.set(record.partition, new Set());
    seen.get(record.partition)!.add(record.offset);
  }
  t.not(consumer.memberId, firstMember, 'the consumer joined again at the new coordinator');
  for (let partition = 0; partition < PARTITION_COUNT; partition++) {
    t.equal(firstAfter.get(partition), acknowledged.get(partition) ?? 0, `partition ${partition}: resumed at the committed offset ${acknowledged.get(partition) ?? 0}`);
    t.equal(seen.get(partition)?.size, RECORDS_PER_PARTITION, `partition ${partition}: every record was delivered, none skipped`);
  }
  await consumer.close();
  const final = await committedOn(cluster.url(successor));
  t.ok(final !== undefined && [...Array(PARTITION_COUNT).keys()].every((partition) => (final.get(partition) ?? -1) >= RECORDS_PER_PARTITION - 1),
    `the consumer's later commits went to the new coordinator: ${JSON.stringify([...(final ?? [])])}`);
});
