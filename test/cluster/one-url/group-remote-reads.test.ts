/**
 * Consumer groups read partitions their coordinator holds no replica of (issue 21:
 * every node answers every request; the replication factor below the cluster's size).
 * One topic of three partitions at replication factor 1 on three nodes, so the group's
 * coordinator holds at most one of them; the others are read at the nodes that hold
 * them (/internal/v1/read):
 *   - one member, joined and polling through a node that is not the coordinator, gets
 *     every record of every partition exactly once, in order;
 *   - its long-poll wakes on an append to a partition held by another node (the poll
 *     waits far longer than the test lets the request live, so only a wake answers it);
 *   - a member starting at `latest` gets only records appended after it joined;
 *   - the group's offsets show the real high watermark and lag of every partition, and a
 *     reset to latest, to an offset and to earliest uses the holders' ranges (not the
 *     coordinator's empty logs of those partitions).
 * One cluster of three real nodes; every loop and request is bounded.
 */
import t from 'tap';
import { OFFSETS_TOPIC, offsetsPartitionOf } from '../../../src/broker/groups/offsets-records.js';
import { startCluster, type TopicView } from '../../helpers/cluster.js';
import { produce, requestJson } from '../../helpers/http.js';
import { replicatedTopic, servedBy } from './support.js';

t.setTimeout(90_000);

const TOPIC = 'spread';
const GROUP = 'spread-readers';
const PARTITIONS = [0, 1, 2];
const RECORDS_PER_PARTITION = 5;
const POLLS_MAX = 30;

interface PolledRecord {
  topic: string;
  partition: number;
  offset: number;
  value: unknown;
}

interface PollAnswer {
  pollId: number;
  assignment: Array<{ topic: string; partitions: number[] }>;
  records: PolledRecord[];
}

interface OffsetsAnswer {
  offsets: Array<{ topic: string; partition: number; offset: number | null; logEndOffset: number; lag: number | null }>;
}

void t.test('a group reads, waits on and resets partitions its coordinator holds no replica of', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await cluster.waitFor(async () => {
    const answer = await requestJson<TopicView>(`${cluster.url(1)}/v1/topics/${OFFSETS_TOPIC}`, { timeoutMs: 3_000 });
    return answer.status === 200 && answer.body.partitions.every((partition) => partition.leader !== null);
  }, 20_000, `${OFFSETS_TOPIC} with a leader per partition`);
  await replicatedTopic(cluster, TOPIC, { partitions: PARTITIONS.length, replicationFactor: 1 });
  const view = await cluster.describeTopic(TOPIC);
  const holder = new Map(view.partitions.map((partition) => [partition.partition, partition.leader!]));
  const coordinator = await cluster.waitFor(() => cluster.leaderOf(OFFSETS_TOPIC, offsetsPartitionOf(GROUP)), 10_000, 'the coordinator');
  const remote = PARTITIONS.filter((partition) => holder.get(partition) !== coordinator);
  t.ok(remote.length >= 2, `node ${coordinator} coordinates the group and holds no replica of partitions ${remote.join(', ')} (holders ${JSON.stringify([...holder])})`);
  const entry = cluster.url(cluster.runningIds().find((nodeId) => nodeId !== coordinator)!);

  for (const partition of PARTITIONS) {
    for (let index = 0; index < RECORDS_PER_PARTITION; index++) {
      await produce(entry, TOPIC, [{ value: `p${partition}-${index}` }], { partition, acks: 'all' });
    }
  }

  const join = async (group: string, autoOffsetReset: string): Promise<string> => {
    const joined = await requestJson<{ memberId: string }>(`${entry}/v1/groups/${group}/members`, {
      body: { topics: [TOPIC], autoOffsetReset, sessionTimeoutMs: 30_000 }, timeoutMs: 20_000,
    });
    t.equal(joined.status, 201, `joined ${group}: ${JSON.stringify(joined.body).slice(0, 200)}`);
    return joined.body.memberId;
  };
  const poll = (group: string, memberId: string, query: string, timeoutMs = 10_000) =>
    requestJson<PollAnswer>(`${entry}/v1/groups/${group}/members/${memberId}/records?${query}`, { timeoutMs });

  const memberId = await join(GROUP, 'earliest');

  await t.test('one member gets every record of every partition exactly once, in order', async (t) => {
    const seen: PolledRecord[] = [];
    let ack: number | undefined;
    for (let round = 0; round < POLLS_MAX && seen.length < PARTITIONS.length * RECORDS_PER_PARTITION; round++) {
      const answer = await poll(GROUP, memberId, `waitMs=1000&autoCommit=true${ack === undefined ? '' : `&ack=${ack}`}`);
      t.equal(answer.status, 200, `poll ${round}: ${JSON.stringify(answer.body).slice(0, 200)}`);
      if (answer.status !== 200) return;
      t.equal(servedBy(answer.headers), String(coordinator), 'the coordinator served the poll');
      ack = answer.body.pollId;
      seen.push(...answer.body.records);
    }
    for (const partition of PARTITIONS) {
      const got = seen.filter((record) => record.partition === partition).map((record) => [record.offset, record.value]);
      const expected = Array.from({ length: RECORDS_PER_PARTITION }, (_, index) => [index, `p${partition}-${index}`]);
      t.same(got, expected, `partition ${partition} (held by node ${holder.get(partition)}): every record once, in order`);
    }
    // The next poll commits what the last one delivered (autoCommit) and finds nothing new.
    const last = await poll(GROUP, memberId, `waitMs=0&autoCommit=true&ack=${ack}`);
    t.same(last.body.records, [], 'nothing more to read');
  });

  await t.test('a long-poll wakes on an append to a partition another node holds', async (t) => {
    const partition = remote[0];
    const polling = poll(GROUP, memberId, 'waitMs=30000', 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const [appended] = await produce(entry, TOPIC, [{ value: 'woken' }], { partition, acks: 'all' });
    const answer = await polling;
    t.equal(answer.status, 200, `the poll answered (not its 10 s deadline): ${JSON.stringify(answer.body).slice(0, 200)}`);
    t.same(answer.body.records.map((record) => [record.partition, record.offset, record.value]), [[partition, appended.offset, 'woken']], 'with the appended record');
  });

  await t.test('a member starting at latest gets only what is appended after it joined', async (t) => {
    const group = `${GROUP}-latest`;
    const latest = await join(group, 'latest');
    const first = await poll(group, latest, 'waitMs=0');
    t.same(first.body.records, [], 'nothing at first: it starts at each partition\'s end');
    for (const partition of remote) await produce(entry, TOPIC, [{ value: `new-${partition}` }], { partition, acks: 'all' });
    const got: PolledRecord[] = [];
    for (let round = 0; round < POLLS_MAX && got.length < remote.length; round++) {
      got.push(...(await poll(group, latest, 'waitMs=1000')).body.records);
    }
    t.same(got.map((record) => record.value).sort(), remote.map((partition) => `new-${partition}`).sort(), 'exactly the records appended after the join');
  });

  await t.test('offsets show the holders\' high watermarks; resets use their ranges', async (t) => {
    const ends = new Map<number, number>();
    for (const partition of PARTITIONS) {
      const offsets = await requestJson<{ highWatermark: number }>(`${cluster.url(holder.get(partition)!)}/v1/topics/${TOPIC}/partitions/${partition}/offsets`);
      ends.set(partition, offsets.body.highWatermark);
    }
    const shown = await requestJson<OffsetsAnswer>(`${entry}/v1/groups/${GROUP}/offsets?topic=${TOPIC}`);
    t.equal(shown.status, 200);
    for (const offset of shown.body.offsets) {
      t.equal(offset.logEndOffset, ends.get(offset.partition), `partition ${offset.partition}: the log end is its holder's high watermark`);
      t.equal(offset.lag, offset.offset === null ? null : ends.get(offset.partition)! - offset.offset, `partition ${offset.partition}: lag from it`);
    }
    const left = await requestJson(`${entry}/v1/groups/${GROUP}/members/${memberId}`, { method: 'DELETE' });
    t.ok(left.status < 300, `the member left (${left.status})`);
    const reset = async (to: unknown): Promise<Map<number, number>> => {
      const answer = await requestJson<{ offsets: Array<{ partition: number; offset: number }> }>(`${entry}/v1/groups/${GROUP}/offsets/reset`, { body: { topic: TOPIC, to } });
      t.equal(answer.status, 200, `reset to ${JSON.stringify(to)}: ${JSON.stringify(answer.body).slice(0, 200)}`);
      return new Map(answer.body.offsets.map((offset) => [offset.partition, offset.offset]));
    };
    t.same(await reset('latest'), ends, 'to latest: each partition\'s end');
    t.same(await reset({ offset: 3 }), new Map(PARTITIONS.map((partition) => [partition, 3])), 'to offset 3: 3 everywhere (within every range)');
    t.same(await reset('earliest'), new Map(PARTITIONS.map((partition) => [partition, 0])), 'to earliest: 0');
  });
});
