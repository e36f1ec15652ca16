/**
 * Consumers against a real node: group members split a topic's partitions and, when
 * one leaves, the other takes over from the committed offsets with no gap; a lost poll
 * reply is delivered again (ack); a removed member joins again; pause/resume skips
 * and then delivers a partition's records without committing past them; manually
 * assigned consumers read from given offsets and commit standalone.
 */
import t, { type Test } from 'tap';
import { Runnel, type ConsumedRecord, type GroupConsumer } from '../../src/index.js';
import { countingAgent } from '../helpers/counting-agent.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

const DEADLINE_MS = 25_000;

function keyOf(record: ConsumedRecord): string {
  return `${record.topic}/${record.partition}/${record.offset}`;
}

/** Every (topic, partition, offset) of `partitions` partitions with `perPartition` records each. */
function allKeys(topic: string, partitions: number, perPartition: number): string[] {
  const keys: string[] = [];
  for (let partition = 0; partition < partitions; partition++) for (let offset = 0; offset < perPartition; offset++) keys.push(`${topic}/${partition}/${offset}`);
  return keys.sort();
}

/** Checks that a consumer saw each partition's offsets rising by exactly one (no gap, no repeat) after its first. */
function checkContiguous(t: Test, name: string, records: ConsumedRecord[]): void {
  const last = new Map<number, number>();
  let isContiguous = true;
  for (const record of records) {
    const previous = last.get(record.partition);
    if (previous !== undefined && record.offset !== previous + 1) isContiguous = false;
    last.set(record.partition, record.offset);
  }
  t.ok(isContiguous, `${name}: within each partition, offsets rise by one`);
}

/** Runs `for await` over a consumer in the background, collecting records until `until` says stop. */
function consume(consumer: GroupConsumer, records: ConsumedRecord[], until: (record: ConsumedRecord) => boolean, delayMs = 0): Promise<void> {
  return (async () => {
    for await (const record of consumer) {
      records.push(record);
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (until(record)) break;
    }
  })();
}

void t.test('two members split a 4-partition topic; when one leaves the other takes over with no gap', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'orders', partitions: 4 });
  await runnel.send({ topic: 'orders', records: Array.from({ length: 400 }, (_, i) => ({ partition: i % 4, value: i })) });

  const options = { group: 'billing', topics: ['orders'], autoOffsetReset: 'earliest' as const, maxRecords: 10, waitMs: 300, sessionTimeoutMs: 10_000 };
  const first = runnel.consumer({ ...options, clientId: 'first' });
  const second = runnel.consumer({ ...options, clientId: 'second' });
  const fromFirst: ConsumedRecord[] = [];
  const fromSecond: ConsumedRecord[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  const isPastDeadline = (): boolean => Date.now() > deadline;

  // The first member stops (break: its loop ends and it leaves) after 150 records,
  // slowly enough that the second joins and gets its share meanwhile.
  const firstDone = consume(first, fromFirst, () => fromFirst.length >= 150 || isPastDeadline(), 2);
  const seen = new Set<string>();
  const secondDone = consume(second, fromSecond, (record) => {
    seen.add(keyOf(record));
    for (const other of fromFirst) seen.add(keyOf(other));
    return seen.size >= 500 || isPastDeadline();
  });
  await firstDone;
  t.equal(first.memberId, undefined, 'the first member left when its loop ended');
  // Records produced after the first left go to the second too.
  await runnel.send({ topic: 'orders', records: Array.from({ length: 100 }, (_, i) => ({ partition: i % 4, value: 400 + i })) });
  await secondDone;
  t.notOk(isPastDeadline(), 'done before the deadline');

  const firstPartitions = new Set(fromFirst.map((record) => record.partition));
  const secondPartitions = new Set(fromSecond.map((record) => record.partition));
  t.ok(fromSecond.length > 0 && fromFirst.length > 0, 'both members received records');
  t.equal(secondPartitions.size, 4, 'the second ended up reading every partition');
  t.ok(firstPartitions.size >= 1, `the first read partitions ${[...firstPartitions].join(',')}`);

  const union = new Set([...fromFirst, ...fromSecond].map(keyOf));
  t.same([...union].sort(), allKeys('orders', 4, 125), 'together they received every record');
  const counts = new Map<string, number>();
  for (const record of [...fromFirst, ...fromSecond]) counts.set(keyOf(record), (counts.get(keyOf(record)) ?? 0) + 1);
  const duplicates = [...counts].filter(([, count]) => count > 1).map(([key]) => key);
  const lastOfFirst = keyOf(fromFirst[fromFirst.length - 1]);
  t.ok(duplicates.every((key) => key === lastOfFirst), `only the record the first was on when it broke out can come again (${duplicates.join(',') || 'none'})`);
  checkContiguous(t, 'first', fromFirst);
  checkContiguous(t, 'second', fromSecond.filter((record) => keyOf(record) !== lastOfFirst));

  const described = await runnel.groups.describe('billing');
  t.equal(described.state, 'Empty', 'both members have left');
  const lastOfSecond = fromSecond[fromSecond.length - 1];
  t.same(described.offsets.filter((entry) => entry.lag !== 0).map((entry) => `${entry.topic}/${entry.partition}/${entry.offset}`), [keyOf(lastOfSecond)],
    'everything processed was committed: only the record the second broke out on is left');
});

void t.test('a slow loop body keeps its membership with background heartbeats, and hands a revoked partition over only when done', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'slow', partitions: 2 });
  await runnel.send({ topic: 'slow', records: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: i })) });

  // sessionTimeoutMs 1500: the node expects a call every 500 ms and drops the member after 1.5 s of silence.
  const options = { group: 'slowpokes', topics: ['slow'], autoOffsetReset: 'earliest' as const, maxRecords: 20, waitMs: 200, sessionTimeoutMs: 1_500, rebalanceTimeoutMs: 10_000 };
  const busy = runnel.consumer(options);
  const fromBusy: ConsumedRecord[] = [];
  const memberIds = new Set<string>();
  const deadline = Date.now() + DEADLINE_MS;
  let other: GroupConsumer | undefined;
  let otherDone: Promise<void> | undefined;
  const fromOther: ConsumedRecord[] = [];
  for await (const record of busy) {
    fromBusy.push(record);
    memberIds.add(busy.memberId as string);
    if (fromBusy.length === 1) {
      // A newcomer joins while this member holds both partitions and sleeps through three session timeouts.
      other = runnel.consumer(options);
      otherDone = consume(other, fromOther, () => fromBusy.length + fromOther.length >= 20 || Date.now() > deadline);
      await new Promise((resolve) => setTimeout(resolve, 4_500));
    }
    if (fromBusy.length + fromOther.length >= 20 || Date.now() > deadline) break;
  }
  await otherDone;
  t.equal(memberIds.size, 1, 'the busy member kept its membership (heartbeats while the body ran)');
  t.ok(fromBusy.length > 1, 'and went on with its batch after the sleep');
  const all = [...fromBusy, ...fromOther].map(keyOf);
  t.equal(new Set(all).size, 20, 'every record delivered');
  const last = [keyOf(fromBusy[fromBusy.length - 1]), fromOther.length > 0 ? keyOf(fromOther[fromOther.length - 1]) : ''];
  t.ok(all.length - new Set(all).size <= 1 && all.filter((key, index) => all.indexOf(key) !== index).every((key) => last.includes(key)),
    'no record of the revoked partition was delivered twice (only a loop-exit record may come again)');
  await other?.close();
});

void t.test('a poll reply lost on the way is delivered again (ack), so nothing is skipped', async (t) => {
  const server = await startServer(t);
  const proxy = await startFaultProxy(t, server.url);
  const admin = new Runnel({ url: server.url });
  t.teardown(() => admin.close());
  const runnel = new Runnel({ url: proxy.url });
  t.teardown(() => runnel.close());
  await admin.topics.create({ name: 'audit', partitions: 1 });
  await admin.send({ topic: 'audit', records: Array.from({ length: 50 }, (_, i) => ({ value: i })) });

  const consumer = runnel.consumer({ group: 'auditors', topics: ['audit'], autoOffsetReset: 'earliest', maxRecords: 10, waitMs: 300 });
  const values: number[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  for await (const record of consumer) {
    values.push(record.value as number);
    // While the first reply is being processed, arrange for the next one to be lost.
    if (values.length === 1) proxy.dropReply(/^GET \/v1\/groups\/auditors\/members\/[^/]+\/records/);
    if (values.length >= 50 || Date.now() > deadline) break;
  }
  t.equal(proxy.cutCount, 1, 'one poll reply was lost');
  t.same(values, [...Array(50).keys()], 'every record once, in order');
  await consumer.close();
  t.equal((await admin.groups.describe('auditors')).lag, 1, 'the record the loop broke on is not committed');
});

void t.test('a member removed by the node joins again and gets what it had not committed', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'jobs', partitions: 1 });
  await runnel.send({ topic: 'jobs', records: Array.from({ length: 30 }, (_, i) => ({ value: i })) });

  const consumer = runnel.consumer({ group: 'workers', topics: ['jobs'], autoOffsetReset: 'earliest', maxRecords: 10, waitMs: 300 });
  const values: number[] = [];
  const memberIds = new Set<string>();
  const deadline = Date.now() + DEADLINE_MS;
  for await (const record of consumer) {
    values.push(record.value as number);
    memberIds.add(consumer.memberId as string);
    if (values.length === 15) {
      // Someone removes the member (as a session expiry would) while it is mid-batch.
      await requestJson(`${server.url}/v1/groups/workers/members/${encodeURIComponent(consumer.memberId as string)}`, { method: 'DELETE' });
    }
    if (new Set(values).size >= 30 || Date.now() > deadline) break;
  }
  t.equal(memberIds.size, 2, 'it joined again under a new member id');
  t.same([...new Set(values)].sort((a, b) => a - b), [...Array(30).keys()], 'no record was lost');
  // The member finished its batch (10..19) unaware; their commit was refused
  // (UNKNOWN_MEMBER), so the new member starts again at the last committed offset.
  t.same(values.slice(0, 20), [...Array(20).keys()]);
  t.equal(values[20], 10, 'the new member starts at the last committed offset (10)');
  await consumer.close();
});

void t.test('pause() skips a partition without committing past it; resume() delivers the skipped records first', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'mixed', partitions: 2 });
  await runnel.send({ topic: 'mixed', records: Array.from({ length: 40 }, (_, i) => ({ partition: i % 2, value: i })) });

  const consumer = runnel.consumer({ group: 'pausers', topics: ['mixed'], autoOffsetReset: 'earliest', maxRecords: 5, waitMs: 200 });
  const seen: ConsumedRecord[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  let isResumed = false;
  for await (const record of consumer) {
    seen.push(record);
    if (record.partition === 0 && record.offset === 0) consumer.pause([{ topic: 'mixed', partitions: [0] }]);
    const fromOne = seen.filter((entry) => entry.partition === 1).length;
    if (!isResumed && fromOne === 20) {
      t.same(seen.filter((entry) => entry.partition === 0).map((entry) => entry.offset), [0], 'while paused, partition 0 delivered nothing more');
      t.same(consumer.pausedPartitions(), [{ topic: 'mixed', partitions: [0] }]);
      await consumer.commit();
      const offsets = await runnel.groups.offsets('pausers', { topic: 'mixed' });
      t.equal(offsets.offsets.find((entry) => entry.partition === 0)?.offset, 1, 'partition 0 committed only up to what was delivered');
      consumer.resume([{ topic: 'mixed', partitions: [0] }]);
      isResumed = true;
      await runnel.send({ topic: 'mixed', partition: 0, records: [{ value: 'after resume' }] });
    }
    if (seen.filter((entry) => entry.partition === 0).length >= 21 || Date.now() > deadline) break;
  }
  const fromZero = seen.filter((entry) => entry.partition === 0);
  t.same(fromZero.map((entry) => entry.offset), [...Array(21).keys()], 'partition 0: every offset once, in order');
  t.equal(fromZero[20].value, 'after resume');
  await consumer.close();
});

void t.test("commit modes: 'interval' commits processed offsets on a timer, 'manual' only when asked", async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'modes', partitions: 1 });
  await runnel.send({ topic: 'modes', records: Array.from({ length: 10 }, (_, i) => ({ value: i })) });
  const committedOffset = async (group: string): Promise<number | null | undefined> =>
    (await runnel.groups.offsets(group).catch(() => ({ offsets: [] as Array<{ offset: number | null }> }))).offsets[0]?.offset;

  const interval = runnel.consumer({ group: 'timed', topics: ['modes'], autoOffsetReset: 'earliest', commit: 'interval', commitIntervalMs: 100, waitMs: 200 });
  let count = 0;
  for await (const _record of interval) {
    count += 1;
    if (count === 5) {
      // Offsets 0..3 are processed; the interval commits them while this body waits.
      await new Promise((resolve) => setTimeout(resolve, 400));
      t.equal(await committedOffset('timed'), 4, 'the interval committed what was processed');
    }
    if (count === 10) break;
  }
  await interval.close();

  const manual = runnel.consumer({ group: 'by-hand', topics: ['modes'], autoOffsetReset: 'earliest', commit: 'manual', waitMs: 200 });
  count = 0;
  for await (const _record of manual) {
    count += 1;
    if (count === 4) {
      t.equal(await committedOffset('by-hand'), null, 'nothing committed on its own (the partition is listed, with no offset)');
      await manual.commit();
      t.equal(await committedOffset('by-hand'), 3, 'commit() committed the three processed records');
      break;
    }
  }
  t.equal(await committedOffset('by-hand'), 3, 'closing a manual consumer commits nothing more');
});

void t.test('a commit refused with STALE_GENERATION is retried for the partitions the member still owns', async (t) => {
  const server = await startServer(t);
  const agent = countingAgent(t);
  const runnel = new Runnel({ url: server.url, dispatcher: agent });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'shared', partitions: 2 });
  await runnel.send({ topic: 'shared', records: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: i })) });
  const options = { group: 'stale', topics: ['shared'], autoOffsetReset: 'earliest' as const, maxRecords: 20, waitMs: 200 };
  const deadline = Date.now() + DEADLINE_MS;

  // The first member processes all 20 records but commits nothing yet ('manual').
  const first = runnel.consumer({ ...options, commit: 'manual' });
  const fromFirst: ConsumedRecord[] = [];
  const firstDone = consume(first, fromFirst, () => Date.now() > deadline);
  while (fromFirst.length < 20 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  // A second member joins; the first gives one partition up at its next polls, uncommitted.
  const second = runnel.consumer(options);
  const fromSecond = second[Symbol.asyncIterator]();
  const moved = (await fromSecond.next()).value?.partition as number;
  const kept = 1 - moved;
  t.same(first.assignment, [{ topic: 'shared', partitions: [kept] }], 'the first was told it keeps one partition');
  // The first commits what it processed: the moved partition is no longer its own.
  await first.commit();
  t.equal(agent.count('POST', /\/members\/[^/]+\/heartbeat$/), 1, 'the refused commit was followed by a heartbeat');
  t.equal(agent.count('POST', '/v1/groups/stale/offsets'), 2, 'and by a second commit');
  const offsets = await runnel.groups.offsets('stale', { topic: 'shared' });
  t.equal(offsets.offsets.find((entry) => entry.partition === kept)?.offset, 10, 'the partition it kept was committed');
  t.equal(offsets.offsets.find((entry) => entry.partition === moved)?.offset, null, 'the one it lost was not');
  await fromSecond.return?.();
  await first.close();
  await firstDone;
});

void t.test('assign(): chosen partitions from earliest, latest or given offsets; standalone commits to a group', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'ledger', partitions: 3 });
  await runnel.send({ topic: 'ledger', records: Array.from({ length: 60 }, (_, i) => ({ partition: i % 3, value: i })) });

  const deadline = Date.now() + DEADLINE_MS;
  const first = runnel.assign({ topic: 'ledger', partitions: [0, 2], from: 'earliest', group: 'reporting', waitMs: 200 });
  const got: ConsumedRecord[] = [];
  for await (const record of first) {
    got.push(record);
    if (got.length === 40 || Date.now() > deadline) break;
  }
  t.same(new Set(got.map((record) => record.partition)), new Set([0, 2]), 'only the chosen partitions');
  checkContiguous(t, 'assigned', got);
  const view = await runnel.groups.offsets('reporting', { topic: 'ledger' });
  const committed = Object.fromEntries(view.offsets.map((entry) => [entry.partition, entry.offset]));
  t.equal((committed[0] ?? 0) + (committed[2] ?? 0), 39, 'closing committed every processed record (not the one it broke on)');

  // From the committed offsets: only what was not processed, then new records as they come.
  const again = runnel.assign({ topic: 'ledger', partitions: [0, 2], group: 'reporting', waitMs: 200 });
  const rest: ConsumedRecord[] = [];
  const late = setTimeout(() => void runnel.send({ topic: 'ledger', partition: 2, records: [{ value: 'late' }] }), 100);
  t.teardown(() => clearTimeout(late));
  for await (const record of again) {
    rest.push(record);
    if (rest.length === 2 || Date.now() > deadline) break;
  }
  t.same(rest.map(keyOf).sort(), [keyOf(got[39]), 'ledger/2/20'].sort(), 'the record not committed, then the new one');

  const fromOffsets = runnel.assign({ topic: 'ledger', partitions: [1], from: { 1: 18 }, waitMs: 200 });
  const tail: number[] = [];
  for await (const record of fromOffsets) {
    tail.push(record.offset);
    if (tail.length === 2 || Date.now() > deadline) break;
  }
  t.same(tail, [18, 19]);

  const latest = runnel.assign({ topic: 'ledger', partitions: [1], from: 'latest', waitMs: 2_000 });
  const waiting = latest[Symbol.asyncIterator]().next();
  await new Promise((resolve) => setTimeout(resolve, 100));
  await runnel.send({ topic: 'ledger', partition: 1, records: [{ value: 'fresh' }] });
  t.equal((await waiting).value?.value, 'fresh', "'latest' waits for new records");
  await latest.close();
});
