/**
 * Consuming through a consumer group over real HTTP (README "Consumer groups", issue
 * 4): what a poll returns, long-poll wake-ups, and the at-least-once promise — a
 * consumer that dies mid-stream (an HTTP caller that just stops calling), or a node
 * SIGKILLed and restarted mid-stream, loses nothing: the group resumes from its
 * committed offsets and every record is delivered at least once, none skipped.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { Agent } from 'undici';
import { startNode, type ChildNode } from '../helpers/child-node.js';
import { createTopic, produce, requestJson, type RequestOptions } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface TopicAssignment {
  topic: string;
  partitions: number[];
}

interface PolledRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: unknown;
  value: unknown;
  headers: Record<string, string | null>;
}

interface PollReply {
  groupId: string;
  memberId: string;
  generation: number;
  assignment: TopicAssignment[];
  heartbeatIntervalMs: number;
  records: PolledRecord[];
}

interface MemberReply {
  memberId: string;
  generation: number;
  assignment: TopicAssignment[];
}

function groupUrl(url: string, group: string): string {
  return `${url}/v1/groups/${encodeURIComponent(group)}`;
}

async function join(url: string, group: string, body: Record<string, unknown>, options: RequestOptions = {}): Promise<MemberReply> {
  const response = await requestJson<MemberReply>(`${groupUrl(url, group)}/members`, { ...options, method: 'POST', body });
  if (response.status !== 201) throw new Error(`join ${group}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function poll(
  url: string, group: string, memberId: string,
  query: { waitMs?: number; maxRecords?: number; autoCommit?: boolean } = {}, options: RequestOptions = {},
): Promise<PollReply> {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) search.set(name, String(value));
  const response = await requestJson<PollReply>(`${groupUrl(url, group)}/members/${memberId}/records?${search}`, options);
  if (response.status !== 200) throw new Error(`poll ${memberId}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function offsetsOf(url: string, group: string, options: RequestOptions = {}): Promise<Array<{ partition: number; offset: number | null; logEndOffset: number; lag: number | null }>> {
  const response = await requestJson<{ offsets: Array<{ partition: number; offset: number | null; logEndOffset: number; lag: number | null }> }>(`${groupUrl(url, group)}/offsets`, options);
  if (response.status !== 200) throw new Error(`offsets of ${group}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.offsets;
}

/** A sleep that does not keep the process alive: for deadlines raced against events. */
const deadline = (ms: number): Promise<void> => sleep(ms, undefined, { ref: false });

/** Produces `count` keyed records (key k<i%97>, value {i}) in batches; returns (partition, offset) -> i. */
async function produceNumbered(url: string, topic: string, count: number, options: RequestOptions = {}): Promise<Map<string, number>> {
  const produced = new Map<string, number>();
  for (let start = 0; start < count; start += 500) {
    const numbers = Array.from({ length: Math.min(500, count - start) }, (_, i) => start + i);
    const offsets = await produce(url, topic, numbers.map((i) => ({ key: `k${i % 97}`, value: { i } })), { dispatcher: options.dispatcher });
    offsets.forEach((offset, index) => produced.set(`${offset.partition}:${offset.offset}`, numbers[index]));
  }
  return produced;
}

/** Each partition's end (last offset + 1) among the produced records. */
function partitionEnds(produced: Map<string, number>, partitionCount: number): number[] {
  const ends = new Array<number>(partitionCount).fill(0);
  for (const key of produced.keys()) {
    const [partition, offset] = key.split(':').map(Number);
    ends[partition] = Math.max(ends[partition], offset + 1);
  }
  return ends;
}

/**
 * Checks the at-least-once promise: every produced record was received (at least
 * once) with the value produced at its offset, and nothing else was received.
 * Returns how many deliveries were duplicates.
 */
function checkEveryRecordOnce(t: Test, topic: string, produced: Map<string, number>, received: PolledRecord[]): number {
  const seen = new Map<string, number>();
  const wrong: string[] = [];
  for (const record of received) {
    const key = `${record.partition}:${record.offset}`;
    const expected = produced.get(key);
    if (record.topic !== topic || expected === undefined || (record.value as { i?: number })?.i !== expected || record.key !== `k${expected % 97}`) {
      wrong.push(JSON.stringify(record));
    }
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const missing = [...produced.keys()].filter((key) => !seen.has(key));
  t.same(missing.slice(0, 20), [], `every produced record was received (${missing.length} missing of ${produced.size})`);
  t.same(wrong.slice(0, 5), [], `every record received is one produced, with its key and value (${wrong.length} wrong)`);
  let duplicates = 0;
  for (const count of seen.values()) duplicates += count - 1;
  return duplicates;
}

void t.test('a poll returns records with topic, partition, offset, key and value, plus the assignment and generation', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'shapes', { partitions: 2 });
  await produce(url, 'shapes', [{ key: 'a', value: { n: 1 }, headers: { h: 'v' } }, { key: 'b', value: 'two' }], { partition: 1 });
  await produce(url, 'shapes', [{ value: 3 }], { partition: 0 });
  const member = await join(url, 'g-shape', { topics: ['shapes'], autoOffsetReset: 'earliest', sessionTimeoutMs: 9000 });
  const reply = await poll(url, 'g-shape', member.memberId);
  t.equal(reply.groupId, 'g-shape');
  t.equal(reply.memberId, member.memberId);
  t.equal(reply.generation, member.generation, 'the generation of the assignment the poll used');
  t.same(reply.assignment, [{ topic: 'shapes', partitions: [0, 1] }]);
  t.equal(reply.heartbeatIntervalMs, 3000);
  const sorted = [...reply.records].sort((x, y) => x.partition - y.partition || x.offset - y.offset);
  t.same(sorted.map(({ topic, partition, offset, key, value, headers }) => ({ topic, partition, offset, key, value, headers })), [
    { topic: 'shapes', partition: 0, offset: 0, key: null, value: 3, headers: {} },
    { topic: 'shapes', partition: 1, offset: 0, key: 'a', value: { n: 1 }, headers: { h: 'v' } },
    { topic: 'shapes', partition: 1, offset: 1, key: 'b', value: 'two', headers: {} },
  ]);
  for (const record of reply.records) t.type(record.timestamp, 'number');
  t.same((await poll(url, 'g-shape', member.memberId)).records, [], 'the next poll goes on from where the last one stopped');

  // autoOffsetReset=latest: a member of another group starts at the log end.
  const late = await join(url, 'g-latest', { topics: ['shapes'] });
  t.same((await poll(url, 'g-latest', late.memberId)).records, [], 'latest: nothing produced before the first poll');
  await produce(url, 'shapes', [{ value: 'new' }], { partition: 1 });
  t.same((await poll(url, 'g-latest', late.memberId)).records.map((record) => [record.partition, record.offset, record.value]), [[1, 2, 'new']]);

  // maxRecords bounds a poll over all partitions.
  const bounded = await join(url, 'g-bounded', { topics: ['shapes'], autoOffsetReset: 'earliest' });
  t.equal((await poll(url, 'g-bounded', bounded.memberId, { maxRecords: 2 })).records.length, 2);
});

void t.test('a long poll wakes promptly when a record is produced to an assigned partition, and not for others', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'waited', { partitions: 2 });
  await createTopic(url, 'elsewhere', { partitions: 1 });
  const member = await join(url, 'g-wait', { topics: ['waited'] });
  t.same((await poll(url, 'g-wait', member.memberId)).records, [], 'nothing yet');

  const startedMs = Date.now();
  const waiting = poll(url, 'g-wait', member.memberId, { waitMs: 10_000 });
  await sleep(300);
  await produce(url, 'waited', [{ value: 'wake' }], { partition: 1 });
  const woken = await waiting;
  const elapsedMs = Date.now() - startedMs;
  t.same(woken.records.map((record) => [record.partition, record.offset, record.value]), [[1, 0, 'wake']]);
  t.ok(elapsedMs >= 250 && elapsedMs < 5000, `woke when the record came, not at waitMs (${elapsedMs} ms)`);

  const quietStartMs = Date.now();
  const quiet = poll(url, 'g-wait', member.memberId, { waitMs: 800 });
  await sleep(100);
  await produce(url, 'elsewhere', [{ value: 'not for us' }]);
  const timedOut = await quiet;
  const quietMs = Date.now() - quietStartMs;
  t.same(timedOut.records, [], 'a record on another topic delivers nothing');
  t.ok(quietMs >= 750 && quietMs < 5000, `an empty long poll lasts about waitMs (${quietMs} ms)`);
});

void t.test('a member reading a topic that is deleted and re-created reads the new topic from its start', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'reborn', { partitions: 1 });
  await produce(url, 'reborn', Array.from({ length: 5 }, (_, i) => ({ value: `old-${i}` })));
  const member = await join(url, 'g-reborn', { topics: ['reborn'], autoOffsetReset: 'earliest' });
  t.same((await poll(url, 'g-reborn', member.memberId, { autoCommit: true })).records.map((record) => record.offset), [0, 1, 2, 3, 4]);

  t.equal((await requestJson(`${url}/v1/topics/reborn`, { method: 'DELETE' })).status, 204);
  await createTopic(url, 'reborn', { partitions: 1 });
  await produce(url, 'reborn', Array.from({ length: 8 }, (_, i) => ({ value: `new-${i}` })));
  const received: PolledRecord[] = [];
  for (let round = 0; round < 10 && received.length < 8; round++) {
    received.push(...(await poll(url, 'g-reborn', member.memberId, { autoCommit: true, waitMs: 200 })).records);
  }
  t.same(received.map((record) => record.value), Array.from({ length: 8 }, (_, i) => `new-${i}`), 'every record of the new log, none of the old positions applied');
  await poll(url, 'g-reborn', member.memberId, { autoCommit: true });
  t.same((await offsetsOf(url, 'g-reborn')).map((view) => [view.partition, view.offset, view.lag]), [[0, 8, 0]], 'the auto-commits are for the new log');
});

interface ConsumerStats {
  name: string;
  memberId: string;
  polls: number;
  received: PolledRecord[];
  /** Records of the last poll (for the dead member: never committed). */
  lastPoll: PolledRecord[];
  commitStatuses: number[];
}

void t.test('with commits, every record is delivered at least once and none skipped when a member dies mid-stream', async (t) => {
  const { url } = await startServer(t);
  const PARTITIONS = 6;
  const RECORDS = 3000;
  await createTopic(url, 'stream', { partitions: PARTITIONS });
  const produced = await produceNumbered(url, 'stream', RECORDS);
  const ends = partitionEnds(produced, PARTITIONS);
  t.ok(ends.every((end) => end > 0), `keys spread over every partition (${ends.join(',')})`);

  const join_ = async (name: string, extra: Record<string, unknown> = {}): Promise<ConsumerStats> => {
    const reply = await join(url, 'g-stream', { topics: ['stream'], autoOffsetReset: 'earliest', clientId: name, ...extra });
    return { name, memberId: reply.memberId, polls: 0, received: [], lastPoll: [], commitStatuses: [] };
  };
  // a commits automatically at each poll, b explicitly after each poll, c (auto) dies.
  const a = await join_('a');
  const b = await join_('b');
  const c = await join_('c', { sessionTimeoutMs: 1000 });
  const seen = new Set<string>();
  const isDone = (): boolean => seen.size >= produced.size;
  const deadlineMs = Date.now() + 20_000;

  const run = async (consumer: ConsumerStats, mode: 'auto' | 'explicit', diesAfterPolls = Infinity): Promise<void> => {
    let nonEmptyPolls = 0;
    while (!isDone() && Date.now() < deadlineMs && consumer.polls < 2000) {
      const reply = await poll(url, 'g-stream', consumer.memberId, { maxRecords: 100, waitMs: 100, autoCommit: mode === 'auto' });
      consumer.polls += 1;
      consumer.lastPoll = reply.records;
      consumer.received.push(...reply.records);
      for (const record of reply.records) seen.add(`${record.partition}:${record.offset}`);
      if (mode === 'explicit' && reply.records.length > 0) {
        const next = new Map<number, number>();
        for (const record of reply.records) next.set(record.partition, Math.max(next.get(record.partition) ?? 0, record.offset + 1));
        const response = await requestJson(`${groupUrl(url, 'g-stream')}/offsets`, {
          body: { offsets: [...next].map(([partition, offset]) => ({ topic: 'stream', partition, offset })), memberId: consumer.memberId, generation: reply.generation },
        });
        consumer.commitStatuses.push(response.status);
      }
      if (reply.records.length > 0) nonEmptyPolls += 1;
      // A dead consumer: it got records, and then never calls again.
      if (nonEmptyPolls >= diesAfterPolls) return;
    }
  };
  await Promise.all([run(a, 'auto'), run(b, 'explicit'), run(c, 'auto', 2)]);
  t.ok(isDone(), `all ${produced.size} records were received before the deadline`);

  t.ok(c.received.length > 0 && c.lastPoll.length > 0, `the dying member got records (${c.received.length}) before it stopped`);
  const duplicates = checkEveryRecordOnce(t, 'stream', produced, [...a.received, ...b.received, ...c.received]);
  const survivors = new Set([...a.received, ...b.received].map((record) => `${record.partition}:${record.offset}`));
  const lost = c.lastPoll.filter((record) => !survivors.has(`${record.partition}:${record.offset}`));
  t.same(lost, [], "the dead member's last, uncommitted poll was delivered again to the others");
  t.ok(duplicates >= c.lastPoll.length, `duplicates are expected (${duplicates})`);
  t.ok(b.commitStatuses.length > 0 && b.commitStatuses.every((status) => status === 200), `every explicit commit of a live owner was accepted (${b.commitStatuses.length})`);

  const described = (await requestJson<any>(groupUrl(url, 'g-stream'))).body;
  t.same(described.members.map((member: any) => member.memberId).sort(), [a.memberId, b.memberId].sort(), 'the dead member was removed');
  const dead = await requestJson<any>(`${groupUrl(url, 'g-stream')}/members/${c.memberId}/records`);
  t.equal(dead.body?.error?.code, 'UNKNOWN_MEMBER');

  // a's last poll is committed by its next one; then every partition is committed at its end.
  await poll(url, 'g-stream', a.memberId, { autoCommit: true });
  const offsets = await offsetsOf(url, 'g-stream');
  t.same(offsets.map((view) => [view.partition, view.offset, view.lag]), ends.map((end, partition) => [partition, end, 0]), 'every partition is committed at its end, lag 0');
  t.comment(`polls a=${a.polls} b=${b.polls} c=${c.polls}; received a=${a.received.length} b=${b.received.length} c=${c.received.length}; duplicates ${duplicates}`);
});

void t.test('a node SIGKILLed and restarted mid-consumption: the group resumes from its committed offsets, skipping nothing', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-groups-kill-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const PARTITIONS = 4;
  const RECORDS = 1200;
  const GROUP = 'g-crash';
  const agents: Agent[] = [];
  t.teardown(async () => {
    for (const agent of agents) await agent.destroy();
  });
  const incarnation = async (): Promise<{ node: ChildNode; agent: Agent }> => {
    const node = await startNode({ dataDir, t });
    const agent = new Agent();
    agents.push(agent);
    return { node, agent };
  };

  const startedMs = Date.now();
  const phases: string[] = [];
  const phase = (name: string): void => { phases.push(`${name} +${Date.now() - startedMs} ms`); };
  let current = await incarnation();
  phase('first node up');
  const { url: firstUrl } = current.node;
  await createTopic(firstUrl, 'durable', { partitions: PARTITIONS, dispatcher: current.agent });
  const produced = await produceNumbered(firstUrl, 'durable', RECORDS, { dispatcher: current.agent });
  const ends = partitionEnds(produced, PARTITIONS);
  const members = [
    (await join(firstUrl, GROUP, { topics: ['durable'], autoOffsetReset: 'earliest' }, { dispatcher: current.agent })).memberId,
    (await join(firstUrl, GROUP, { topics: ['durable'], autoOffsetReset: 'earliest' }, { dispatcher: current.agent })).memberId,
  ];

  const received: PolledRecord[] = [];
  const afterRestart: PolledRecord[] = [];
  const seen = new Set<string>();
  let isRestarted = false;
  let restarted: () => void = () => undefined;
  const restartedGate = new Promise<void>((resolve) => { restarted = resolve; });
  let killRequested: () => void = () => undefined;
  const killGate = new Promise<void>((resolve) => { killRequested = resolve; });
  const errors: string[] = [];
  const deadlineMs = Date.now() + 30_000;

  const consume = async (memberId: string): Promise<void> => {
    for (let polls = 0; seen.size < produced.size && Date.now() < deadlineMs && polls < 3000; polls++) {
      const { node, agent } = current;
      const wasRestarted = isRestarted;
      let reply: PollReply;
      try {
        reply = await poll(node.url, GROUP, memberId, { maxRecords: 40, waitMs: 50, autoCommit: true }, { dispatcher: agent, timeoutMs: 5000 });
      } catch (error) {
        if (wasRestarted) errors.push(String(error));
        // The node is gone: wait for it to come back (or give up at the deadline).
        await Promise.race([restartedGate, deadline(Math.max(0, deadlineMs - Date.now()))]);
        continue;
      }
      received.push(...reply.records);
      if (wasRestarted) afterRestart.push(...reply.records);
      for (const record of reply.records) seen.add(`${record.partition}:${record.offset}`);
      if (seen.size >= produced.size / 3) killRequested();
    }
  };
  const consumers = Promise.all(members.map((memberId) => consume(memberId)));

  await Promise.race([killGate, deadline(15_000)]);
  const receivedBeforeKill = seen.size;
  t.ok(receivedBeforeKill > 0 && receivedBeforeKill < produced.size, `killed mid-consumption (${receivedBeforeKill} of ${produced.size} received)`);
  phase('kill');
  const status = await current.node.kill();
  t.equal(status.signal, 'SIGKILL');

  const next = await incarnation();
  phase('second node up');
  // Before anyone polls the new node: what it kept of the group.
  const committedAtRestart = await offsetsOf(next.node.url, GROUP, { dispatcher: next.agent });
  const described = (await requestJson<any>(groupUrl(next.node.url, GROUP), { dispatcher: next.agent })).body;
  t.same(described.members.map((member: any) => member.memberId).sort(), [...members].sort(), 'both members survived the crash');
  const committedTotal = committedAtRestart.reduce((sum, view) => sum + (view.offset ?? 0), 0);
  t.ok(committedTotal > 0, `offsets committed before the kill survived it (${committedTotal} records' worth)`);
  current = next;
  isRestarted = true;
  restarted();
  await consumers;
  phase('consumed');

  t.same(errors, [], 'after the restart, the members poll with their old memberIds without error');
  t.equal(seen.size, produced.size, 'every record was received before the deadline');
  checkEveryRecordOnce(t, 'durable', produced, received);
  for (const view of committedAtRestart) {
    const first = afterRestart.filter((record) => record.partition === view.partition).reduce((min, record) => Math.min(min, record.offset), Infinity);
    const resumedAt = first === Infinity ? ends[view.partition] : first;
    t.equal(resumedAt, view.offset ?? 0, `partition ${view.partition} resumed at its committed offset ${view.offset}`);
  }
  const { node, agent } = current;
  for (const memberId of members) await poll(node.url, GROUP, memberId, { autoCommit: true }, { dispatcher: agent });
  t.same((await offsetsOf(node.url, GROUP, { dispatcher: agent })).map((view) => [view.partition, view.offset]), ends.map((end, partition) => [partition, end]), 'in the end every partition is committed at its end');
  await node.stop();
  t.comment(phases.join(', '));
});

void t.test('a member waiting in a long poll learns of a revocation at once, so a newcomer gets its partitions without waiting for waitMs', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'handover', { partitions: 6 });
  const a = await join(url, 'g-handover', { topics: ['handover'] });
  t.equal(a.assignment[0].partitions.length, 6);
  // a only polls (a poll is its heartbeat), each poll waiting up to 8 s for records that never come.
  let isStopped = false;
  const aPolls: PollReply[] = [];
  const aLoop = (async () => {
    for (let polls = 0; !isStopped && polls < 50; polls++) aPolls.push(await poll(url, 'g-handover', a.memberId, { waitMs: 8000 }));
  })();
  await sleep(200);
  const joinedMs = Date.now();
  const b = await join(url, 'g-handover', { topics: ['handover'] });
  let bAssigned = 0;
  for (let round = 0; round < 100 && bAssigned < 3; round++) {
    await sleep(50);
    const reply = await requestJson<MemberReply>(`${groupUrl(url, 'g-handover')}/members/${b.memberId}/heartbeat`, { method: 'POST' });
    bAssigned = reply.body.assignment.reduce((sum, topic) => sum + topic.partitions.length, 0);
  }
  const handoverMs = Date.now() - joinedMs;
  isStopped = true;
  t.equal(bAssigned, 3, 'b got its 3 partitions');
  t.ok(handoverMs < 5000, `the handover took ${handoverMs} ms, not a's 8 s long poll`);
  // End a's last long poll: leaving wakes it (404 UNKNOWN_MEMBER), a poll of a member that left.
  await requestJson(`${groupUrl(url, 'g-handover')}/members/${a.memberId}`, { method: 'DELETE' });
  await aLoop.catch((error: unknown) => t.match(String(error), /UNKNOWN_MEMBER/, 'a long poll of a member that left ends with UNKNOWN_MEMBER'));
  t.ok(aPolls.some((reply) => reply.assignment[0]?.partitions.length === 3), 'a was told its smaller assignment by a poll');
});

void t.test('a long poll ends with 404 UNKNOWN_MEMBER as soon as its member is removed', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'removed', { partitions: 1 });
  const member = await join(url, 'g-removed', { topics: ['removed'] });
  const startedMs = Date.now();
  const waiting = requestJson<any>(`${groupUrl(url, 'g-removed')}/members/${member.memberId}/records?waitMs=10000`);
  await sleep(200);
  t.equal((await requestJson(`${groupUrl(url, 'g-removed')}/members/${member.memberId}`, { method: 'DELETE' })).status, 204);
  const ended = await waiting;
  const elapsedMs = Date.now() - startedMs;
  t.equal(ended.status, 404);
  t.equal(ended.body?.error?.code, 'UNKNOWN_MEMBER');
  t.ok(elapsedMs < 5000, `ended when the member left (${elapsedMs} ms), not at waitMs`);
});
