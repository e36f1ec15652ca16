/**
 * Consumer-group membership over real HTTP (README "Consumer groups", issue 4):
 * members split a topic's partitions with no overlap and full coverage, partitions
 * move when a member leaves, times out, or the subscribed topics change, every
 * assignor balances, and the observe/manage endpoints and error answers keep their
 * promises.
 *
 * Rebalancing is incremental: a partition moves only after its old owner confirmed
 * the revocation with a later call. settle() drives that by heartbeating every member
 * in rounds (bounded) until GET /v1/groups/{g} says Stable, and after every round
 * checks through HTTP that no partition is owned by two members at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { createTopic, produce, requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface TopicAssignment {
  topic: string;
  partitions: number[];
}

interface MemberReply {
  groupId: string;
  memberId: string;
  generation: number;
  assignment: TopicAssignment[];
  heartbeatIntervalMs: number;
}

interface DescribedMember {
  memberId: string;
  clientId: string;
  generation: number;
  subscription: { topics?: string[]; topicPrefix?: string; topicPattern?: string };
  assignment: TopicAssignment[];
  targetAssignment: TopicAssignment[];
  revoking: TopicAssignment[];
  sessionTimeoutMs: number;
  lastSeenMsAgo: number;
}

interface GroupDescription {
  groupId: string;
  state: string;
  groupEpoch: number;
  assignor: string;
  members: DescribedMember[];
  offsets: Array<{ topic: string; partition: number; offset: number | null; logEndOffset: number; lag: number | null }>;
  lag: number;
}


/** Rounds of heartbeats settle() allows before failing. */
const SETTLE_ROUNDS_MAX = 20;

function groupUrl(url: string, group: string): string {
  return `${url}/v1/groups/${encodeURIComponent(group)}`;
}

async function join(url: string, group: string, body: Record<string, unknown>): Promise<MemberReply> {
  const response = await requestJson<MemberReply>(`${groupUrl(url, group)}/members`, { method: 'POST', body });
  if (response.status !== 201) throw new Error(`join ${group}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

async function heartbeat(url: string, group: string, memberId: string): Promise<{ status: number; body: any }> {
  return requestJson(`${groupUrl(url, group)}/members/${encodeURIComponent(memberId)}/heartbeat`, { method: 'POST' });
}

async function describe(url: string, group: string): Promise<GroupDescription> {
  const response = await requestJson<GroupDescription>(groupUrl(url, group));
  if (response.status !== 200) throw new Error(`describe ${group}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
  return response.body;
}

function keys(assignment: TopicAssignment[]): string[] {
  return assignment.flatMap(({ topic, partitions }) => partitions.map((partition) => `${topic}:${partition}`)).sort();
}

function allKeys(topics: Record<string, number>): string[] {
  return Object.entries(topics).flatMap(([topic, count]) => Array.from({ length: count }, (_, partition) => `${topic}:${partition}`)).sort();
}

/** Throws if two members own (assigned or still revoking) the same partition. */
function checkNoDoubleOwnership(description: GroupDescription): void {
  const owners = new Map<string, string>();
  for (const member of description.members) {
    for (const key of [...keys(member.assignment), ...keys(member.revoking)]) {
      const other = owners.get(key);
      if (other !== undefined) throw new Error(`${key} owned by both ${other} and ${member.memberId}: ${JSON.stringify(description)}`);
      owners.set(key, member.memberId);
    }
  }
}

/**
 * Heartbeats every member until the group is Stable (each member owns exactly its
 * target), checking the no-double-ownership invariant after every round. Returns the
 * last heartbeat reply of each member and the final description.
 */
async function settle(url: string, group: string, memberIds: string[]): Promise<{ replies: Map<string, MemberReply>; description: GroupDescription; rounds: number }> {
  const replies = new Map<string, MemberReply>();
  for (let round = 1; round <= SETTLE_ROUNDS_MAX; round++) {
    for (const memberId of memberIds) {
      const response = await heartbeat(url, group, memberId);
      if (response.status !== 200) throw new Error(`heartbeat ${memberId}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
      replies.set(memberId, response.body as MemberReply);
    }
    const description = await describe(url, group);
    checkNoDoubleOwnership(description);
    const isSettled = description.state === 'Stable' &&
      memberIds.every((memberId) => {
        const member = description.members.find((candidate) => candidate.memberId === memberId);
        return member !== undefined && keys(replies.get(memberId)!.assignment).join() === keys(member.assignment).join();
      });
    if (isSettled) return { replies, description, rounds: round };
  }
  throw new Error(`group ${group} not Stable after ${SETTLE_ROUNDS_MAX} heartbeat rounds: ${JSON.stringify(await describe(url, group))}`);
}

/** The union of the members' assignments, checking they do not overlap. */
function checkSplit(t: Test, replies: Map<string, MemberReply>, expected: string[], what: string): Map<string, string[]> {
  const byMember = new Map<string, string[]>();
  const seen = new Map<string, string>();
  const overlaps: string[] = [];
  for (const [memberId, reply] of replies) {
    const owned = keys(reply.assignment);
    byMember.set(memberId, owned);
    for (const key of owned) {
      if (seen.has(key)) overlaps.push(key);
      seen.set(key, memberId);
    }
  }
  t.same(overlaps, [], `${what}: no partition assigned to two members`);
  t.same([...seen.keys()].sort(), expected, `${what}: every partition assigned`);
  const sizes = [...byMember.values()].map((owned) => owned.length);
  t.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${what}: balanced (${sizes.join('/')})`);
  return byMember;
}

void t.test('two, then three members split a 6-partition topic with no overlap and full coverage', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'split', { partitions: 6 });
  const a = await join(url, 'g-split', { topics: ['split'], clientId: 'a' });
  t.equal(a.generation, 1, 'the first member starts at generation 1');
  t.same(keys(a.assignment), allKeys({ split: 6 }), 'a lone member gets every partition at once');
  t.match(a.memberId, /^a-/, 'the memberId starts with the clientId');

  const b = await join(url, 'g-split', { topics: ['split'], clientId: 'b' });
  t.same(b.assignment, [], 'a newcomer gets nothing the other member still owns');
  const two = await settle(url, 'g-split', [a.memberId, b.memberId]);
  const twoSplit = checkSplit(t, two.replies, allKeys({ split: 6 }), 'two members');
  t.equal(twoSplit.get(a.memberId)!.length, 3);
  t.equal(two.description.members.length, 2);

  const c = await join(url, 'g-split', { topics: ['split'], clientId: 'c' });
  const described = await describe(url, 'g-split');
  t.equal(described.state, 'Reconciling', 'a join leaves the group Reconciling until partitions have moved');
  const three = await settle(url, 'g-split', [a.memberId, b.memberId, c.memberId]);
  const threeSplit = checkSplit(t, three.replies, allKeys({ split: 6 }), 'three members');
  t.same([...threeSplit.values()].map((owned) => owned.length), [2, 2, 2]);
  // sticky (the default) moves only what must move: a and b keep partitions they had.
  for (const memberId of [a.memberId, b.memberId]) {
    const kept = threeSplit.get(memberId)!.filter((key) => twoSplit.get(memberId)!.includes(key));
    t.equal(kept.length, 2, `sticky: ${memberId} keeps 2 of its 3 partitions`);
  }
  t.ok(three.replies.get(a.memberId)!.generation > a.generation, "a's generation rose with each change of its assignment");
});

void t.test('a member that leaves (DELETE) has its partitions moved to the others', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'leave', { partitions: 6 });
  const members = [];
  for (const clientId of ['a', 'b', 'c']) members.push(await join(url, 'g-leave', { topics: ['leave'], clientId }));
  const ids = members.map((member) => member.memberId);
  const before = await settle(url, 'g-leave', ids);
  const leaving = before.replies.get(ids[2])!;
  t.equal(keys(leaving.assignment).length, 2);

  const left = await requestJson(`${groupUrl(url, 'g-leave')}/members/${ids[2]}`, { method: 'DELETE' });
  t.equal(left.status, 204);
  const after = await settle(url, 'g-leave', ids.slice(0, 2));
  checkSplit(t, after.replies, allKeys({ leave: 6 }), 'after the leave');
  t.equal(after.description.members.length, 2);
  const remaining = new Set([...after.replies.values()].flatMap((reply) => keys(reply.assignment)));
  for (const key of keys(leaving.assignment)) t.ok(remaining.has(key), `${key} of the leaver went to another member`);

  const again = await heartbeat(url, 'g-leave', ids[2]);
  t.equal(again.status, 404);
  t.equal(again.body.error.code, 'UNKNOWN_MEMBER', 'the member that left is unknown');
  const leaveAgain = await requestJson<any>(`${groupUrl(url, 'g-leave')}/members/${ids[2]}`, { method: 'DELETE' });
  t.equal(leaveAgain.status, 404);
  t.equal(leaveAgain.body.error.code, 'UNKNOWN_MEMBER');
});

void t.test('a member that stops heartbeating is removed after its session timeout and its partitions move', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'silent', { partitions: 6 });
  const a = await join(url, 'g-silent', { topics: ['silent'] });
  const b = await join(url, 'g-silent', { topics: ['silent'] });
  const c = await join(url, 'g-silent', { topics: ['silent'], sessionTimeoutMs: 1000 });
  t.equal(c.heartbeatIntervalMs, 333, 'the heartbeat interval is a third of the session');
  const before = await settle(url, 'g-silent', [a.memberId, b.memberId, c.memberId]);
  const silentSince = Date.now();
  const silentKeys = keys(before.replies.get(c.memberId)!.assignment);
  t.equal(silentKeys.length, 2);

  // a and b keep heartbeating; c says nothing more.
  let description = before.description;
  for (let round = 0; round < 80 && description.members.length === 3; round++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const member of [a, b]) t.equal((await heartbeat(url, 'g-silent', member.memberId)).status, 200);
    description = await describe(url, 'g-silent');
    checkNoDoubleOwnership(description);
  }
  const removedAfterMs = Date.now() - silentSince;
  t.same(description.members.map((member) => member.memberId).sort(), [a.memberId, b.memberId].sort(), 'the silent member was removed, the others kept');
  t.ok(removedAfterMs >= 900, `not removed before its session timeout (${removedAfterMs} ms)`);
  t.ok(removedAfterMs < 5000, `removed soon after its session timeout (${removedAfterMs} ms)`);

  const after = await settle(url, 'g-silent', [a.memberId, b.memberId]);
  checkSplit(t, after.replies, allKeys({ silent: 6 }), 'after the timeout');
  const gone = await heartbeat(url, 'g-silent', c.memberId);
  t.equal(gone.status, 404);
  t.equal(gone.body.error.code, 'UNKNOWN_MEMBER', 'a timed-out member is told to join again');
});

void t.test('range, roundrobin and sticky each give a balanced split over two topics', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'six', { partitions: 6 });
  await createTopic(url, 'three', { partitions: 3 });
  for (const assignor of ['range', 'roundrobin', 'sticky']) {
    const group = `g-${assignor}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await join(url, group, { topics: ['six', 'three'], assignor })).memberId);
    const { replies, description } = await settle(url, group, ids);
    t.equal(description.assignor, assignor, `${assignor}: the group uses the assignor its members asked for`);
    const split = checkSplit(t, replies, allKeys({ six: 6, three: 3 }), assignor);
    t.same([...split.values()].map((owned) => owned.length), [3, 3, 3], `${assignor}: 3 partitions each`);
    if (assignor === 'range') {
      for (const [memberId, owned] of split) {
        const six = owned.filter((key) => key.startsWith('six:')).map((key) => Number(key.split(':')[1])).sort((x, y) => x - y);
        t.same(six, [six[0], six[0] + 1], `range: ${memberId} takes a contiguous run of 'six'`);
      }
    }
  }
});

void t.test('subscriptions by topicPrefix and topicPattern cover matching topics, including ones created later', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'pfx.a', { partitions: 2 });
  await createTopic(url, 'pat-1', { partitions: 1 });
  await createTopic(url, 'unrelated', { partitions: 1 });
  const byPrefix = await join(url, 'g-prefix', { topicPrefix: 'pfx.' });
  const byPattern = await join(url, 'g-pattern', { topicPattern: 'pat-[0-9]+' });
  t.same(keys(byPrefix.assignment), ['pfx.a:0', 'pfx.a:1']);
  t.same(keys(byPattern.assignment), ['pat-1:0']);

  await createTopic(url, 'pfx.b', { partitions: 2 });
  await createTopic(url, 'xpfx.c', { partitions: 1 });
  await createTopic(url, 'pat-22', { partitions: 1 });
  await createTopic(url, 'pat-3x', { partitions: 1 });
  const prefix = await settle(url, 'g-prefix', [byPrefix.memberId]);
  t.same(keys(prefix.replies.get(byPrefix.memberId)!.assignment), ['pfx.a:0', 'pfx.a:1', 'pfx.b:0', 'pfx.b:1'], 'a topic created later with the prefix is assigned');
  const pattern = await settle(url, 'g-pattern', [byPattern.memberId]);
  t.same(keys(pattern.replies.get(byPattern.memberId)!.assignment), ['pat-1:0', 'pat-22:0'], 'the pattern matches whole names only');
  t.same(pattern.description.members[0].subscription, { topicPattern: 'pat-[0-9]+' }, 'describe shows the subscription');
});

void t.test('adding partitions and deleting a subscribed topic trigger reassignment', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'grow', { partitions: 2 });
  await createTopic(url, 'doomed', { partitions: 2 });
  const a = await join(url, 'g-change', { topics: ['grow', 'doomed'] });
  const b = await join(url, 'g-change', { topics: ['grow', 'doomed'] });
  const ids = [a.memberId, b.memberId];
  const first = await settle(url, 'g-change', ids);
  checkSplit(t, first.replies, allKeys({ grow: 2, doomed: 2 }), 'before the changes');
  const epoch = first.description.groupEpoch;

  const altered = await requestJson(`${url}/v1/topics/grow`, { method: 'PATCH', body: { partitions: 6 } });
  t.equal(altered.status, 200);
  const grown = await settle(url, 'g-change', ids);
  checkSplit(t, grown.replies, allKeys({ grow: 6, doomed: 2 }), 'after adding partitions');
  t.ok(grown.description.groupEpoch > epoch, 'the group epoch rose with the new partitions');

  const deleted = await requestJson(`${url}/v1/topics/doomed`, { method: 'DELETE' });
  t.equal(deleted.status, 204);
  const shrunk = await settle(url, 'g-change', ids);
  checkSplit(t, shrunk.replies, allKeys({ grow: 6 }), 'after deleting a topic');
  t.ok(shrunk.description.groupEpoch > grown.description.groupEpoch, 'the group epoch rose with the deletion');
});

void t.test('GET /v1/groups and GET /v1/groups/{g} show state, members, assignment, offsets and lag', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'watched', { partitions: 2 });
  await produce(url, 'watched', Array.from({ length: 10 }, (_, i) => ({ value: i })), { partition: 0 });
  const a = await join(url, 'g-watch', { topics: ['watched'], clientId: 'alpha', sessionTimeoutMs: 20_000 });
  const b = await join(url, 'g-watch', { topics: ['watched'], clientId: 'beta' });
  const { replies, description } = await settle(url, 'g-watch', [a.memberId, b.memberId]);
  const owner0 = [...replies.values()].find((reply) => keys(reply.assignment).includes('watched:0'))!;
  const commit = await requestJson(`${groupUrl(url, 'g-watch')}/offsets`, {
    body: { offsets: [{ topic: 'watched', partition: 0, offset: 4 }], memberId: owner0.memberId, generation: owner0.generation },
  });
  t.equal(commit.status, 200);

  const list = await requestJson<any>(`${url}/v1/groups`);
  t.equal(list.status, 200);
  t.same(list.body.groups.find((group: any) => group.groupId === 'g-watch'), { groupId: 'g-watch', state: 'Stable', members: 2, lag: 6 });

  const watched = await describe(url, 'g-watch');
  t.equal(watched.state, 'Stable');
  t.equal(watched.assignor, 'sticky');
  t.equal(watched.groupEpoch, description.groupEpoch, 'a commit does not change the group epoch');
  const alpha = watched.members.find((member) => member.memberId === a.memberId)!;
  t.equal(alpha.clientId, 'alpha');
  t.equal(alpha.sessionTimeoutMs, 20_000);
  t.same(alpha.subscription, { topics: ['watched'] });
  t.same(alpha.assignment, replies.get(a.memberId)!.assignment, "describe shows the member's assignment");
  t.same(alpha.targetAssignment, alpha.assignment);
  t.same(alpha.revoking, []);
  t.equal(alpha.generation, replies.get(a.memberId)!.generation);
  t.ok(alpha.lastSeenMsAgo >= 0 && alpha.lastSeenMsAgo < 5000);
  t.same(watched.offsets.map((view) => [view.topic, view.partition, view.offset, view.logEndOffset, view.lag]), [
    ['watched', 0, 4, 10, 6],
    ['watched', 1, null, 0, null],
  ], 'per-partition committed offset, log end and lag (assigned partitions without a commit included)');
  t.equal(watched.lag, 6);

  for (const member of [a, b]) t.equal((await requestJson(`${groupUrl(url, 'g-watch')}/members/${member.memberId}`, { method: 'DELETE' })).status, 204);
  const empty = await describe(url, 'g-watch');
  t.equal(empty.state, 'Empty');
  t.same(empty.members, []);
  const listed = await requestJson<any>(`${url}/v1/groups`);
  t.same(listed.body.groups.find((group: any) => group.groupId === 'g-watch'), { groupId: 'g-watch', state: 'Empty', members: 0, lag: 6 }, 'an empty group keeps its offsets');
});

void t.test('DELETE /v1/groups/{g} is refused with 409 GROUP_NOT_EMPTY while members live, 204 once empty', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'del', { partitions: 1 });
  const member = await join(url, 'g-del', { topics: ['del'] });
  const refused = await requestJson<any>(groupUrl(url, 'g-del'), { method: 'DELETE' });
  t.equal(refused.status, 409);
  t.equal(refused.body.error.code, 'GROUP_NOT_EMPTY');
  t.equal((await heartbeat(url, 'g-del', member.memberId)).status, 200, 'the refused delete left the member in place');

  t.equal((await requestJson(`${groupUrl(url, 'g-del')}/members/${member.memberId}`, { method: 'DELETE' })).status, 204);
  const deleted = await requestJson(groupUrl(url, 'g-del'), { method: 'DELETE' });
  t.equal(deleted.status, 204);
  const gone = await requestJson<any>(groupUrl(url, 'g-del'));
  t.equal(gone.status, 404);
  t.equal(gone.body.error.code, 'GROUP_NOT_FOUND');
  const list = await requestJson<any>(`${url}/v1/groups`);
  t.notOk(list.body.groups.some((group: any) => group.groupId === 'g-del'), 'a deleted group is not listed');
  t.equal((await requestJson<any>(groupUrl(url, 'g-del'), { method: 'DELETE' })).status, 404, 'deleting it again is 404');
});

void t.test('an unknown group is 404 GROUP_NOT_FOUND and an unknown member 404 UNKNOWN_MEMBER', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'known', { partitions: 1 });
  const unknownGroup: Array<[string, string, unknown?]> = [
    ['GET', ''],
    ['DELETE', ''],
    ['GET', '/offsets'],
    ['POST', '/members/someone/heartbeat'],
    ['DELETE', '/members/someone'],
    ['GET', '/members/someone/records'],
  ];
  for (const [method, suffix] of unknownGroup) {
    const response = await requestJson<any>(`${groupUrl(url, 'nobody')}${suffix}`, { method: method as 'GET' });
    t.equal(response.status, 404, `${method} /v1/groups/nobody${suffix}`);
    t.equal(response.body?.error?.code, 'GROUP_NOT_FOUND', `${method} /v1/groups/nobody${suffix}`);
  }
  const memberCommit = await requestJson<any>(`${groupUrl(url, 'nobody')}/offsets`, { body: { offsets: [{ topic: 'known', partition: 0, offset: 0 }], memberId: 'x', generation: 1 } });
  t.equal(memberCommit.status, 404);
  t.equal(memberCommit.body.error.code, 'GROUP_NOT_FOUND', 'a member commit to an unknown group');

  await join(url, 'somebody', { topics: ['known'] });
  const unknownMember: Array<[string, string, unknown?]> = [
    ['POST', '/members/ghost/heartbeat'],
    ['DELETE', '/members/ghost'],
    ['GET', '/members/ghost/records'],
    ['POST', '/offsets', { offsets: [{ topic: 'known', partition: 0, offset: 0 }], memberId: 'ghost', generation: 1 }],
  ];
  for (const [method, suffix, body] of unknownMember) {
    const response = await requestJson<any>(`${groupUrl(url, 'somebody')}${suffix}`, { method: method as 'GET', body });
    t.equal(response.status, 404, `${method} /v1/groups/somebody${suffix}`);
    t.equal(response.body?.error?.code, 'UNKNOWN_MEMBER', `${method} /v1/groups/somebody${suffix}`);
  }
});

void t.test('invalid requests are refused with 400 and change nothing', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'valid', { partitions: 2 });
  const member = await join(url, 'g-bad', { topics: ['valid'] });
  const badJoins: Array<[string, unknown]> = [
    ['no subscription', {}],
    ['empty topics', { topics: [] }],
    ['topics not an array', { topics: 'valid' }],
    ['session timeout below the minimum', { topics: ['valid'], sessionTimeoutMs: 10 }],
    ['rebalance timeout not an integer', { topics: ['valid'], rebalanceTimeoutMs: 'soon' }],
    ['unknown assignor', { topics: ['valid'], assignor: 'fair' }],
    ['unknown autoOffsetReset', { topics: ['valid'], autoOffsetReset: 'middle' }],
    ['unknown field', { topics: ['valid'], colour: 'red' }],
    ['invalid topicPattern', { topicPattern: '(' }],
    ['invalid clientId', { topics: ['valid'], clientId: 'has space' }],
    ['not JSON', '{"topics":'],
  ];
  for (const [what, body] of badJoins) {
    const response = await requestJson<any>(`${groupUrl(url, 'g-bad')}/members`, { method: 'POST', body });
    t.equal(response.status, 400, `join with ${what}`);
    t.type(response.body?.error?.code, 'string', `join with ${what}: an error code`);
  }
  const badGroupId = await requestJson<any>(`${url}/v1/groups/bad%20group/members`, { method: 'POST', body: { topics: ['valid'] } });
  t.equal(badGroupId.status, 400, 'a group id with a space');

  const member_ = `${groupUrl(url, 'g-bad')}/members/${member.memberId}`;
  const badCalls: Array<[string, string, string, unknown?]> = [
    ['heartbeat with a negative generation', 'POST', `${member_}/heartbeat`, { generation: -1 }],
    ['heartbeat with an unknown field', 'POST', `${member_}/heartbeat`, { owned: [] }],
    ['poll with maxRecords=0', 'GET', `${member_}/records?maxRecords=0`],
    ['poll with waitMs=-1', 'GET', `${member_}/records?waitMs=-1`],
    ['poll with an unknown parameter', 'GET', `${member_}/records?offset=3`],
    ['commit without offsets', 'POST', `${groupUrl(url, 'g-bad')}/offsets`, { offsets: [] }],
    ['commit with a negative offset', 'POST', `${groupUrl(url, 'g-bad')}/offsets`, { offsets: [{ topic: 'valid', partition: 0, offset: -1 }], memberId: member.memberId, generation: member.generation }],
    ['commit with memberId but no generation', 'POST', `${groupUrl(url, 'g-bad')}/offsets`, { offsets: [{ topic: 'valid', partition: 0, offset: 0 }], memberId: member.memberId }],
    ['commit with generation but no memberId', 'POST', `${groupUrl(url, 'g-bad')}/offsets`, { offsets: [{ topic: 'valid', partition: 0, offset: 0 }], generation: 1 }],
    ['reset to an unknown target', 'POST', `${groupUrl(url, 'g-bad')}/offsets/reset`, { topic: 'valid', to: 'middle' }],
    ['reset without a topic', 'POST', `${groupUrl(url, 'g-bad')}/offsets/reset`, { to: 'earliest' }],
  ];
  for (const [what, method, target, body] of badCalls) {
    const response = await requestJson<any>(target, { method: method as 'GET', body });
    t.equal(response.status, 400, what);
    t.type(response.body?.error?.code, 'string', `${what}: an error code`);
  }
  const description = await describe(url, 'g-bad');
  t.same(description.members.map((described) => described.memberId), [member.memberId], 'no member was added by the bad joins');
  t.same(description.offsets.map((view) => view.offset), [null, null], 'no offset was committed by the bad commits');
});

void t.test('a member may hold revoked partitions by listing ownedPartitions, and is removed when it holds them past rebalanceTimeoutMs', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'held', { partitions: 6 });
  await produce(url, 'held', Array.from({ length: 6 }, (_, i) => ({ value: i, partition: i })));
  const a = await join(url, 'g-held', { topics: ['held'], rebalanceTimeoutMs: 1000 });
  const b = await join(url, 'g-held', { topics: ['held'] });
  const hb = async (memberId: string, body?: unknown): Promise<MemberReply> => {
    const response = await requestJson<MemberReply>(`${groupUrl(url, 'g-held')}/members/${memberId}/heartbeat`, { method: 'POST', body });
    if (response.status !== 200) throw new Error(`heartbeat ${memberId}: HTTP ${response.status} ${JSON.stringify(response.body)}`);
    return response.body;
  };
  const told = await hb(a.memberId);
  t.equal(keys(told.assignment).length, 3, 'a is told to give up 3 partitions');
  const revoked = keys(a.assignment).filter((key) => !keys(told.assignment).includes(key));
  const revokedPartition = Number(revoked[0].split(':')[1]);

  // a still works on them: it lists all 6 as owned, so none is released.
  const holding = await hb(a.memberId, { ownedPartitions: a.assignment });
  t.same(keys(holding.assignment), keys(told.assignment));
  t.same(keys((await hb(b.memberId)).assignment), [], 'b gets nothing a still holds');
  const described = await describe(url, 'g-held');
  t.same(keys(described.members.find((member) => member.memberId === a.memberId)!.revoking), revoked, 'describe shows what a is giving up');
  checkNoDoubleOwnership(described);
  const finishing = await requestJson(`${groupUrl(url, 'g-held')}/offsets`, {
    body: { offsets: [{ topic: 'held', partition: revokedPartition, offset: 1 }], memberId: a.memberId, generation: holding.generation },
  });
  t.equal(finishing.status, 200, 'a may commit a partition it holds while giving it up');

  // Listing one revoked partition fewer releases exactly that one.
  const keep = a.assignment.map(({ topic, partitions }) => ({ topic, partitions: partitions.filter((partition) => partition !== revokedPartition) }));
  await hb(a.memberId, { ownedPartitions: keep });
  t.same(keys((await hb(b.memberId)).assignment), [revoked[0]], 'b gets the one partition a released');

  // a holds the other two past its rebalance timeout: it is removed, b gets everything.
  const startedMs = Date.now();
  let members = 2;
  for (let round = 0; round < 60 && members === 2; round++) {
    await sleep(100);
    await hb(b.memberId);
    const aReply = await requestJson<MemberReply>(`${groupUrl(url, 'g-held')}/members/${a.memberId}/heartbeat`, { method: 'POST', body: { ownedPartitions: keep } });
    if (aReply.status === 404) members = 1;
  }
  const fencedAfterMs = Date.now() - startedMs;
  t.equal(members, 1, 'a was removed');
  t.ok(fencedAfterMs < 5000, `within about its rebalance timeout (${fencedAfterMs} ms)`);
  const alone = await settle(url, 'g-held', [b.memberId]);
  t.same(keys(alone.replies.get(b.memberId)!.assignment), allKeys({ held: 6 }), 'b owns every partition');
});
