/**
 * Committed offsets of consumer groups over real HTTP (README "Consumer groups",
 * issue 4): standalone and member commits, the generation fence, bad commits, resets
 * like kafka-consumer-groups --reset-offsets, durability across a restart, retention
 * of empty groups' offsets, and topic deletion.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createTopic, produce, requestJson } from '../helpers/http.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface TopicAssignment {
  topic: string;
  partitions: number[];
}

interface MemberReply {
  memberId: string;
  generation: number;
  assignment: TopicAssignment[];
}

interface OffsetView {
  topic: string;
  partition: number;
  offset: number | null;
  metadata: string | null;
  committedAtMs: number | null;
  logEndOffset: number;
  lag: number | null;
}

function groupUrl(url: string, group: string): string {
  return `${url}/v1/groups/${encodeURIComponent(group)}`;
}

async function join(url: string, group: string, body: Record<string, unknown>): Promise<MemberReply> {
  const response = await requestJson<MemberReply>(`${groupUrl(url, group)}/members`, { method: 'POST', body });
  if (response.status !== 201) throw new Error(`join ${group}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function heartbeat(url: string, group: string, memberId: string): Promise<MemberReply> {
  const response = await requestJson<MemberReply>(`${groupUrl(url, group)}/members/${memberId}/heartbeat`, { method: 'POST' });
  if (response.status !== 200) throw new Error(`heartbeat ${memberId}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function leave(url: string, group: string, memberId: string): Promise<void> {
  const response = await requestJson(`${groupUrl(url, group)}/members/${memberId}`, { method: 'DELETE' });
  if (response.status !== 204) throw new Error(`leave ${memberId}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
}

async function commit(url: string, group: string, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return requestJson(`${groupUrl(url, group)}/offsets`, { method: 'POST', body });
}

async function reset(url: string, group: string, body: Record<string, unknown>): Promise<{ status: number; body: any }> {
  return requestJson(`${groupUrl(url, group)}/offsets/reset`, { method: 'POST', body });
}

async function offsetsOf(url: string, group: string, topic?: string): Promise<OffsetView[]> {
  const query = topic === undefined ? '' : `?topic=${encodeURIComponent(topic)}`;
  const response = await requestJson<{ offsets: OffsetView[] }>(`${groupUrl(url, group)}/offsets${query}`);
  if (response.status !== 200) throw new Error(`offsets of ${group}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body.offsets;
}

/** [topic, partition, offset] per committed partition, for compact comparisons. */
function committed(views: OffsetView[]): Array<[string, number, number | null]> {
  return views.map((view) => [view.topic, view.partition, view.offset]);
}

function keys(assignment: TopicAssignment[]): string[] {
  return assignment.flatMap(({ topic, partitions }) => partitions.map((partition) => `${topic}:${partition}`)).sort();
}

async function fill(url: string, topic: string, counts: number[]): Promise<void> {
  for (const [partition, count] of counts.entries()) {
    if (count > 0) await produce(url, topic, Array.from({ length: count }, (_, i) => ({ value: `${partition}-${i}` })), { partition });
  }
}

void t.test('a standalone commit is stored and GET offsets shows offset, metadata, log end and lag', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'ledger', { partitions: 3 });
  await fill(url, 'ledger', [10, 5, 0]);
  const before = Date.now();
  const stored = await commit(url, 'g-solo', { offsets: [{ topic: 'ledger', partition: 0, offset: 4, metadata: 'batch-7' }, { topic: 'ledger', partition: 1, offset: 5 }] });
  t.equal(stored.status, 200, 'a commit without membership is accepted while the group has no members');
  t.equal(stored.body.groupId, 'g-solo');
  t.same(stored.body.offsets.map((entry: any) => [entry.partition, entry.offset, entry.metadata]), [[0, 4, 'batch-7'], [1, 5, '']]);

  const views = await offsetsOf(url, 'g-solo');
  t.same(views.map((view) => [view.topic, view.partition, view.offset, view.metadata, view.logEndOffset, view.lag]), [
    ['ledger', 0, 4, 'batch-7', 10, 6],
    ['ledger', 1, 5, '', 5, 0],
  ], 'committed partitions only, with log end and lag');
  t.ok(views[0].committedAtMs! >= before && views[0].committedAtMs! <= Date.now(), 'committedAtMs is the commit time');
  t.same(committed(await offsetsOf(url, 'g-solo', 'other')), [], 'the topic filter applies');

  // A later commit replaces the offset; the log end moves with produced records.
  t.equal((await commit(url, 'g-solo', { offsets: [{ topic: 'ledger', partition: 0, offset: 10 }] })).status, 200);
  await fill(url, 'ledger', [0, 3, 0]);
  t.same((await offsetsOf(url, 'g-solo', 'ledger')).map((view) => [view.partition, view.offset, view.logEndOffset, view.lag]), [[0, 10, 10, 0], [1, 5, 8, 3]]);
  const list = await requestJson<any>(`${url}/v1/groups`);
  t.same(list.body.groups.find((group: any) => group.groupId === 'g-solo'), { groupId: 'g-solo', state: 'Empty', members: 0, lag: 3 });
});

void t.test('bad commits: unknown topic or partition is 404, an offset beyond the log end 400, and none is stored', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'bounded', { partitions: 2 });
  await fill(url, 'bounded', [3, 0]);

  const unknownTopic = await commit(url, 'g-bad', { offsets: [{ topic: 'nowhere', partition: 0, offset: 0 }] });
  t.equal(unknownTopic.status, 404);
  t.equal(unknownTopic.body.error.code, 'TOPIC_NOT_FOUND');
  const unknownPartition = await commit(url, 'g-bad', { offsets: [{ topic: 'bounded', partition: 2, offset: 0 }] });
  t.equal(unknownPartition.status, 404);
  t.equal(unknownPartition.body.error.code, 'PARTITION_NOT_FOUND');
  const beyond = await commit(url, 'g-bad', { offsets: [{ topic: 'bounded', partition: 0, offset: 4 }] });
  t.equal(beyond.status, 400);
  t.equal(beyond.body.error.code, 'INVALID_OFFSET');
  const missingGroup = await requestJson<any>(groupUrl(url, 'g-bad'));
  t.equal(missingGroup.status, 404, 'refused commits do not create the group');

  t.equal((await commit(url, 'g-bad', { offsets: [{ topic: 'bounded', partition: 0, offset: 3 }] })).status, 200, 'the log end itself is a valid offset');
  // All or none: one bad entry refuses the whole commit.
  const mixed = await commit(url, 'g-bad', { offsets: [{ topic: 'bounded', partition: 0, offset: 1 }, { topic: 'bounded', partition: 1, offset: 1 }] });
  t.equal(mixed.status, 400);
  t.equal(mixed.body.error.code, 'INVALID_OFFSET');
  const mixedMissing = await commit(url, 'g-bad', { offsets: [{ topic: 'bounded', partition: 0, offset: 2 }, { topic: 'bounded', partition: 9, offset: 0 }] });
  t.equal(mixedMissing.status, 404);
  t.same(committed(await offsetsOf(url, 'g-bad')), [['bounded', 0, 3]], 'nothing of a refused commit was stored');
});

void t.test('a commit with a stale generation is refused with 409 STALE_GENERATION; one for a kept partition is accepted', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'fenced', { partitions: 6 });
  await fill(url, 'fenced', [20, 20, 20, 20, 20, 20]);
  const a = await join(url, 'g-fence', { topics: ['fenced'] });
  t.equal(a.generation, 1);
  t.equal(keys(a.assignment).length, 6, 'a alone owns all 6 at generation 1');

  const b = await join(url, 'g-fence', { topics: ['fenced'] });
  const aRevoking = await heartbeat(url, 'g-fence', a.memberId); // learns it must give up 3
  t.equal(keys(aRevoking.assignment).length, 3);
  t.ok(aRevoking.generation > a.generation);
  const aReleased = await heartbeat(url, 'g-fence', a.memberId); // confirms: the 3 are released
  const bOwns = await heartbeat(url, 'g-fence', b.memberId);
  t.equal(keys(bOwns.assignment).length, 3, 'b got the released partitions');
  const moved = bOwns.assignment[0].partitions[0];
  const kept = aReleased.assignment[0].partitions[0];

  const stale = await commit(url, 'g-fence', { offsets: [{ topic: 'fenced', partition: moved, offset: 7 }], memberId: a.memberId, generation: a.generation });
  t.equal(stale.status, 409, 'a commits a partition that moved to b with its old generation');
  t.equal(stale.body.error.code, 'STALE_GENERATION');
  const staleCurrent = await commit(url, 'g-fence', { offsets: [{ topic: 'fenced', partition: moved, offset: 7 }], memberId: a.memberId, generation: aReleased.generation });
  t.equal(staleCurrent.status, 409, 'a commits a partition it no longer owns, even with its current generation');
  t.equal(staleCurrent.body.error.code, 'STALE_GENERATION');
  const future = await commit(url, 'g-fence', { offsets: [{ topic: 'fenced', partition: kept, offset: 7 }], memberId: a.memberId, generation: aReleased.generation + 1 });
  t.equal(future.status, 409, 'a generation from the future is refused');
  t.equal(future.body.error.code, 'STALE_GENERATION');
  const bOld = await commit(url, 'g-fence', { offsets: [{ topic: 'fenced', partition: moved, offset: 7 }], memberId: b.memberId, generation: b.generation });
  t.equal(bOld.status, 409, 'b commits its new partition with the generation before it was assigned');
  t.same(committed(await offsetsOf(url, 'g-fence')).filter(([, , offset]) => offset !== null), [], 'no refused commit was stored');

  const accepted = await commit(url, 'g-fence', { offsets: [{ topic: 'fenced', partition: kept, offset: 7, metadata: 'a' }], memberId: a.memberId, generation: aReleased.generation });
  t.equal(accepted.status, 200, 'a commits a partition it kept with its current generation');
  const bAccepted = await commit(url, 'g-fence', { offsets: [{ topic: 'fenced', partition: moved, offset: 9 }], memberId: b.memberId, generation: bOwns.generation });
  t.equal(bAccepted.status, 200, 'the new owner commits the moved partition');
  const views = await offsetsOf(url, 'g-fence');
  t.equal(views.find((view) => view.partition === kept)!.offset, 7);
  t.equal(views.find((view) => view.partition === moved)!.offset, 9);
  t.equal(views.length, 6, 'GET offsets lists every assigned partition');
});

void t.test('standalone commits and resets are refused with 409 GROUP_NOT_EMPTY while members live', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'busy', { partitions: 2 });
  await fill(url, 'busy', [5, 5]);
  t.equal((await commit(url, 'g-busy', { offsets: [{ topic: 'busy', partition: 0, offset: 1 }] })).status, 200);
  const member = await join(url, 'g-busy', { topics: ['busy'] });

  const standalone = await commit(url, 'g-busy', { offsets: [{ topic: 'busy', partition: 0, offset: 2 }] });
  t.equal(standalone.status, 409);
  t.equal(standalone.body.error.code, 'GROUP_NOT_EMPTY');
  const resetting = await reset(url, 'g-busy', { topic: 'busy', to: 'latest' });
  t.equal(resetting.status, 409);
  t.equal(resetting.body.error.code, 'GROUP_NOT_EMPTY');
  t.same(committed(await offsetsOf(url, 'g-busy')), [['busy', 0, 1], ['busy', 1, null]], 'the refused calls changed nothing');

  await leave(url, 'g-busy', member.memberId);
  t.equal((await commit(url, 'g-busy', { offsets: [{ topic: 'busy', partition: 0, offset: 2 }] })).status, 200, 'accepted once the group is empty');
  t.equal((await reset(url, 'g-busy', { topic: 'busy', to: 'latest' })).status, 200);
  t.same(committed(await offsetsOf(url, 'g-busy')), [['busy', 0, 5], ['busy', 1, 5]]);
});

void t.test('reset to earliest, latest, a timestamp or an offset sets the committed offsets like kafka-consumer-groups', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'rewind', { partitions: 2 });
  // p0: timestamps 1000, 2000, ... 10000 at offsets 0..9; p1: 1500, 2500, ... 5500 at 0..4.
  await produce(url, 'rewind', Array.from({ length: 10 }, (_, i) => ({ value: i, timestamp: (i + 1) * 1000 })), { partition: 0 });
  await produce(url, 'rewind', Array.from({ length: 5 }, (_, i) => ({ value: i, timestamp: (i + 1) * 1000 + 500 })), { partition: 1 });
  const resetTo = async (to: unknown, partitions?: number[]): Promise<Array<[number, number]>> => {
    const response = await reset(url, 'g-reset', partitions === undefined ? { topic: 'rewind', to } : { topic: 'rewind', to, partitions });
    if (response.status !== 200) throw new Error(`reset to ${JSON.stringify(to)}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
    const views = await offsetsOf(url, 'g-reset');
    return views.map((view) => [view.partition, view.offset!]);
  };

  t.same(await resetTo('latest'), [[0, 10], [1, 5]], 'latest: the log end');
  t.same(await resetTo('earliest'), [[0, 0], [1, 0]], 'earliest: the log start');
  t.same(await resetTo({ timestamp: 3500 }), [[0, 3], [1, 2]], 'timestamp: the first record at or after it');
  t.same(await resetTo({ timestamp: 3000 }), [[0, 2], [1, 2]], 'timestamp: a record exactly at it');
  t.same(await resetTo({ timestamp: 7000 }), [[0, 6], [1, 5]], 'timestamp past every record of a partition: its log end');
  t.same(await resetTo({ offset: 7 }), [[0, 7], [1, 5]], 'offset: clamped to the log end');
  t.same(await resetTo('earliest', [1]), [[0, 7], [1, 0]], 'only the listed partitions');

  const unknownTopic = await reset(url, 'g-reset', { topic: 'nowhere', to: 'earliest' });
  t.equal(unknownTopic.status, 404);
  t.equal(unknownTopic.body.error.code, 'TOPIC_NOT_FOUND');
  const unknownPartition = await reset(url, 'g-reset', { topic: 'rewind', partitions: [0, 5], to: 'earliest' });
  t.equal(unknownPartition.status, 404);
  t.equal(unknownPartition.body.error.code, 'PARTITION_NOT_FOUND');
  t.same((await offsetsOf(url, 'g-reset')).map((view) => view.offset), [7, 0], 'refused resets changed nothing');

});

void t.test('after retention removed the oldest records, reset to earliest is the log start and an offset below it is clamped up', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-groups-trim-'));
  const servers: TestServer[] = [];
  t.teardown(async () => {
    for (const server of servers) await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const first = await startServer(t, { dataDir });
  servers.push(first);
  await createTopic(first.url, 'trimmed', { partitions: 1, configs: { 'segment.bytes': 1024, 'retention.bytes': 1024 } });
  for (let i = 0; i < 40; i++) await produce(first.url, 'trimmed', [{ value: 'x'.repeat(100) }], { partition: 0 });
  // Rolled segments are fsynced in the background, and retention deleting one before
  // that finished fails the flush with EBADF (a storage race, reported separately): a
  // clean close waits for those flushes, so retention runs on a reopened node.
  await first.close();
  const server = await startServer(t, { dataDir });
  servers.push(server);
  server.broker.runRetention();
  const { url } = server;
  const described = await requestJson<any>(`${url}/v1/topics/trimmed`);
  const logStartOffset: number = described.body.partitions[0].logStartOffset;
  t.ok(logStartOffset > 0, `retention moved the log start (${logStartOffset})`);
  t.equal((await reset(url, 'g-trim', { topic: 'trimmed', to: 'earliest' })).status, 200);
  t.same(committed(await offsetsOf(url, 'g-trim')), [['trimmed', 0, logStartOffset]], 'earliest after retention: the log start, not 0');
  t.equal((await reset(url, 'g-trim', { topic: 'trimmed', to: { offset: 0 } })).status, 200);
  t.same(committed(await offsetsOf(url, 'g-trim')), [['trimmed', 0, logStartOffset]], 'an offset below the log start is clamped to it');
  t.equal((await reset(url, 'g-trim', { topic: 'trimmed', to: { timestamp: 0 } })).status, 200);
  t.same(committed(await offsetsOf(url, 'g-trim')), [['trimmed', 0, logStartOffset]], 'a timestamp before every record kept: the log start');
});

void t.test('committed offsets, groups and their members survive a server restart', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-groups-restart-'));
  const servers: TestServer[] = [];
  t.teardown(async () => {
    for (const server of servers) await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const first = await startServer(t, { dataDir });
  servers.push(first);
  await createTopic(first.url, 'durable', { partitions: 4 });
  await fill(first.url, 'durable', [10, 10, 10, 10]);
  t.equal((await commit(first.url, 'g-standalone', { offsets: [{ topic: 'durable', partition: 2, offset: 6, metadata: 'kept' }] })).status, 200);
  const a = await join(first.url, 'g-members', { topics: ['durable'], autoOffsetReset: 'earliest' });
  const b = await join(first.url, 'g-members', { topics: ['durable'], autoOffsetReset: 'earliest' });
  let replies: MemberReply[] = [];
  for (let round = 0; round < 10; round++) {
    replies = [await heartbeat(first.url, 'g-members', a.memberId), await heartbeat(first.url, 'g-members', b.memberId)];
    if (replies.every((reply) => keys(reply.assignment).length === 2)) break;
  }
  t.same(replies.map((reply) => keys(reply.assignment).length), [2, 2], 'both members own 2 partitions before the restart');
  const [aReply] = replies;
  const aPartitions = aReply.assignment[0].partitions;
  t.equal((await commit(first.url, 'g-members', { offsets: aPartitions.map((partition) => ({ topic: 'durable', partition, offset: 3 })), memberId: a.memberId, generation: aReply.generation })).status, 200);
  const offsetsBefore = await offsetsOf(first.url, 'g-members');
  const standaloneBefore = await offsetsOf(first.url, 'g-standalone');
  const describedBefore = (await requestJson<any>(groupUrl(first.url, 'g-members'))).body;
  await first.close();

  const second = await startServer(t, { dataDir });
  servers.push(second);
  t.same(await offsetsOf(second.url, 'g-standalone'), standaloneBefore, 'standalone offsets and metadata survive');
  t.same(await offsetsOf(second.url, 'g-members'), offsetsBefore, "the members' offsets survive");
  const describedAfter = (await requestJson<any>(groupUrl(second.url, 'g-members'))).body;
  t.equal(describedAfter.state, 'Stable');
  t.same(
    describedAfter.members.map((member: any) => [member.memberId, member.generation, member.assignment]),
    describedBefore.members.map((member: any) => [member.memberId, member.generation, member.assignment]),
    'members keep their ids, generations and assignments',
  );
  const again = await heartbeat(second.url, 'g-members', a.memberId);
  t.same(again.assignment, aReply.assignment, 'a member heartbeats after the restart with its old memberId');
  t.equal(again.generation, aReply.generation);
  const polled = await requestJson<any>(`${groupUrl(second.url, 'g-members')}/members/${a.memberId}/records?maxRecords=100`);
  t.equal(polled.status, 200);
  for (const partition of aPartitions) {
    const offsets = polled.body.records.filter((record: any) => record.partition === partition).map((record: any) => record.offset);
    t.same(offsets, [3, 4, 5, 6, 7, 8, 9], `partition ${partition} resumes from its committed offset`);
  }
  const stillStale = await commit(second.url, 'g-members', { offsets: [{ topic: 'durable', partition: aPartitions[0], offset: 4 }], memberId: b.memberId, generation: replies[1].generation });
  t.equal(stillStale.status, 409, 'the generation fence survives the restart');
});

void t.test('offsets of a group empty for longer than the retention expire; live groups keep theirs', async (t) => {
  const { url, broker } = await startServer(t, { offsetsRetentionMs: 500 });
  await createTopic(url, 'fleeting', { partitions: 1 });
  await fill(url, 'fleeting', [5]);
  t.equal((await commit(url, 'g-idle', { offsets: [{ topic: 'fleeting', partition: 0, offset: 2 }] })).status, 200);
  const live = await join(url, 'g-live', { topics: ['fleeting'] });
  t.equal((await commit(url, 'g-live', { offsets: [{ topic: 'fleeting', partition: 0, offset: 3 }], memberId: live.memberId, generation: live.generation })).status, 200);
  t.same(broker.groups.expireOffsets(Date.now()), [], 'nothing expires before the retention has passed');

  // The node's own expiry pass (every second here) removes the idle group.
  const startedMs = Date.now();
  let status = 200;
  while (status === 200 && Date.now() - startedMs < 5000) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    await heartbeat(url, 'g-live', live.memberId);
    status = (await requestJson(`${groupUrl(url, 'g-idle')}/offsets`)).status;
  }
  t.equal(status, 404, `the idle group's offsets expired (after ${Date.now() - startedMs} ms)`);
  const gone = await requestJson<any>(groupUrl(url, 'g-idle'));
  t.equal(gone.body?.error?.code, 'GROUP_NOT_FOUND', 'with the group');
  t.same(committed(await offsetsOf(url, 'g-live')), [['fleeting', 0, 3]], 'a group with a live member keeps its offsets');
  t.same(broker.groups.expireOffsets(Date.now() + 60_000), [], 'however long it has been');

  await leave(url, 'g-live', live.memberId);
  t.same(broker.groups.expireOffsets(Date.now() + 100), [], 'a group just emptied is kept for the retention');
  t.same(broker.groups.expireOffsets(Date.now() + 1000), ['g-live'], 'and expires after it');
  t.equal((await requestJson(`${groupUrl(url, 'g-live')}/offsets`)).status, 404);
});

void t.test("deleting a topic removes the groups' committed offsets for it, also when it is re-created", async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-groups-topic-'));
  const servers: TestServer[] = [];
  t.teardown(async () => {
    for (const server of servers) await server.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const server = await startServer(t, { dataDir });
  servers.push(server);
  const { url } = server;
  await createTopic(url, 'keep', { partitions: 1 });
  await createTopic(url, 'gone', { partitions: 1 });
  await fill(url, 'keep', [5]);
  await fill(url, 'gone', [5]);
  t.equal((await commit(url, 'g-topics', { offsets: [{ topic: 'keep', partition: 0, offset: 4 }, { topic: 'gone', partition: 0, offset: 2 }] })).status, 200);

  t.equal((await requestJson(`${url}/v1/topics/gone`, { method: 'DELETE' })).status, 204);
  t.same(committed(await offsetsOf(url, 'g-topics')), [['keep', 0, 4]], "the deleted topic's offsets are gone");

  // A topic re-created under the same name is a new log: the old offset must not apply.
  await createTopic(url, 'gone', { partitions: 1 });
  await fill(url, 'gone', [3]);
  t.same(committed(await offsetsOf(url, 'g-topics')), [['keep', 0, 4]], 'the old offset does not come back with a re-created topic');
  const member = await join(url, 'g-topics', { topics: ['gone'], autoOffsetReset: 'earliest' });
  const polled = await requestJson<any>(`${groupUrl(url, 'g-topics')}/members/${member.memberId}/records`);
  t.same(polled.body.records.map((record: any) => record.offset), [0, 1, 2], 'a member of the group reads the re-created topic from its start');
  await leave(url, 'g-topics', member.memberId);

  await server.close();
  const again = await startServer(t, { dataDir });
  servers.push(again);
  t.same(committed(await offsetsOf(again.url, 'g-topics')), [['keep', 0, 4]], 'and it stays gone after a restart');
});
