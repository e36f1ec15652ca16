/**
 * Regex denial of service through `topicPattern` (issue 12 item 2). Patterns are RE2
 * syntax matched in linear time (src/broker/groups/topic-pattern.ts): a corpus of
 * patterns that make a backtracking engine run for minutes is joined against a node
 * with a few hundred topics whose names trigger the backtracking, and /health/live is
 * timed during each join and the sweeps after it. On the old RegExp the first one
 * stalled the node for minutes; with RE2 the worst probe on an idle machine takes a few
 * milliseconds (the issue asked for < 100 ms). The test's bound is 1 s: a backtracking
 * engine misses it by orders of magnitude, while a busy 2-core machine running other
 * test files beside this one (probes of 110-200 ms seen) does not. What RE2 cannot express
 * and patterns past limits.topicPatternLengthMax get 400 INVALID_REQUEST; ordinary
 * patterns keep matching whole names; a saved member whose pattern this version
 * refuses does not stop the node at start: the pattern is dropped with a warning.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import path from 'node:path';
import t from 'tap';
import { limits } from '../../src/limits.js';
import { createTopic, requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface MemberReply {
  memberId: string;
  assignment: Array<{ topic: string; partitions: number[] }>;
}

/** Topics whose names make the corpus backtrack: a long run of `a` the pattern cannot finish. */
const HOSTILE_TOPIC_COUNT = 300;
const HOSTILE_NAME = (i: number): string => `${'a'.repeat(40)}-${i}`;

const REDOS_CORPUS = [
  '.*'.repeat(50) + 'X',
  '(a+)+$',
  '(a|aa)+$',
  '(.*a){20}',
  '(a*)*b',
  '((a+)*)+-x',
  '(a|a?)+b',
  '(\\w+\\w?)*!',
];

/** /health/live must answer within this while a pattern is matched (see above for why not 100 ms). */
const HEALTH_LATENCY_MS_MAX = 1_000;
/** Health probes per join: during the join, then across a few sweeps. */
const PROBES_MAX = 50;
const PROBE_WINDOW_MS = 4 * limits.groupSweepIntervalMs;

function membersUrl(url: string, group: string): string {
  return `${url}/v1/groups/${encodeURIComponent(group)}/members`;
}

async function timeHealth(url: string): Promise<number> {
  const started = performance.now();
  const response = await requestJson(`${url}/health/live`, { timeoutMs: 600_000 });
  if (response.status !== 200) throw new Error(`/health/live: HTTP ${response.status}`);
  return performance.now() - started;
}

async function createTopics(url: string, names: string[]): Promise<void> {
  for (let i = 0; i < names.length; i += 10) await Promise.all(names.slice(i, i + 10).map((name) => createTopic(url, name, { partitions: 1 })));
}

void t.test('a ReDoS corpus joins in linear time: /health/live answers within 1 s during each join and the sweeps after', async (t) => {
  const { url } = await startServer(t);
  await createTopics(url, [...Array.from({ length: HOSTILE_TOPIC_COUNT }, (_, i) => HOSTILE_NAME(i)), 'orders.v1', 'orders.v2', 'other']);
  for (const [index, pattern] of REDOS_CORPUS.entries()) {
    const join = requestJson<MemberReply>(membersUrl(url, `redos-${index}`), { method: 'POST', body: { topicPattern: pattern }, timeoutMs: 600_000 });
    let isJoined = false;
    void join.finally(() => { isJoined = true; });
    const latencies: number[] = [];
    const windowEndMs = performance.now() + PROBE_WINDOW_MS;
    while (latencies.length < PROBES_MAX && (!isJoined || performance.now() < windowEndMs)) {
      latencies.push(await timeHealth(url));
      await sleep(10);
    }
    const reply = await join;
    t.equal(reply.status, 201, `${JSON.stringify(pattern)} joins`);
    const worstMs = Math.max(...latencies);
    t.ok(worstMs < HEALTH_LATENCY_MS_MAX, `${JSON.stringify(pattern)}: /health/live answered within ${HEALTH_LATENCY_MS_MAX} ms (worst ${worstMs.toFixed(1)} ms of ${latencies.length})`);
  }
});

void t.test('patterns RE2 cannot express, and patterns past the cap, get 400 INVALID_REQUEST', async (t) => {
  const { url } = await startServer(t);
  await createTopic(url, 'aa', { partitions: 1 });
  const refused = ['(a)\\1', '(?=a)a', '(?!b)a', '(?<=a)a', '(?<!b)a', '[', 'a{1001}', 'x'.repeat(limits.topicPatternLengthMax + 1)];
  for (const pattern of refused) {
    const response = await requestJson<{ error: { code: string; message: string } }>(membersUrl(url, 'refused'), { method: 'POST', body: { topicPattern: pattern } });
    t.equal(response.status, 400, `${JSON.stringify(pattern.slice(0, 40))} (${pattern.length} characters) is refused`);
    t.equal(response.body.error?.code, 'INVALID_REQUEST', `${JSON.stringify(pattern.slice(0, 40))}: INVALID_REQUEST`);
  }
  const longest = await requestJson<MemberReply>(membersUrl(url, 'longest'), { method: 'POST', body: { topicPattern: 'a'.repeat(limits.topicPatternLengthMax - 3) + '|aa' } });
  t.equal(longest.status, 201, `a pattern of exactly ${limits.topicPatternLengthMax} characters is accepted`);
  t.same(longest.body.assignment, [{ topic: 'aa', partitions: [0] }]);
});

void t.test('an ordinary pattern still assigns the topics whose whole name matches, including topics created later', async (t) => {
  const { url } = await startServer(t);
  for (const name of ['orders.v1', 'orders.v22', 'orders.vx', 'xorders.v3', 'orders.v4-old', 'ORDERS.V5']) await createTopic(url, name, { partitions: 1 });
  const response = await requestJson<MemberReply>(membersUrl(url, 'ordinary'), { method: 'POST', body: { topicPattern: 'orders\\.v[0-9]+' } });
  t.equal(response.status, 201);
  t.same(response.body.assignment.map((entry) => entry.topic), ['orders.v1', 'orders.v22'], 'whole names only, case-sensitive');
  const caseless = await requestJson<MemberReply>(membersUrl(url, 'caseless'), { method: 'POST', body: { topicPattern: '(?i)orders\\.v5|other' } });
  t.same(caseless.body.assignment.map((entry) => entry.topic), ['ORDERS.V5'], 'RE2 flags work');

  await createTopic(url, 'orders.v7', { partitions: 1 });
  const heartbeatUrl = `${membersUrl(url, 'ordinary')}/${encodeURIComponent(response.body.memberId)}/heartbeat`;
  let topics: string[] = [];
  for (let round = 0; round < 20 && !topics.includes('orders.v7'); round++) {
    await sleep(limits.groupSweepIntervalMs);
    topics = (await requestJson<MemberReply>(heartbeatUrl, { method: 'POST' })).body.assignment.map((entry) => entry.topic);
  }
  t.same(topics, ['orders.v1', 'orders.v22', 'orders.v7'], 'a topic created later is matched when it appears');
});

void t.test('a saved member whose pattern is now refused starts without it, with a warning; a saved hostile pattern does not stall the start', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'keep', { partitions: 1 });
  await createTopics(server.url, Array.from({ length: 50 }, (_, i) => HOSTILE_NAME(i)));
  const old = await requestJson<MemberReply>(membersUrl(server.url, 'old'), { method: 'POST', body: { topics: ['keep'], topicPattern: 'placeholder' } });
  t.equal(old.status, 201);
  const hostile = await requestJson<MemberReply>(membersUrl(server.url, 'hostile'), { method: 'POST', body: { topicPattern: '(a|aa)+$' } });
  t.equal(hostile.status, 201);
  await server.close();

  // What an older version accepted (a JavaScript RegExp with lookahead), written as it saved it.
  const database = new Database(path.join(server.dataDir, 'meta.db'));
  const row = database.prepare('SELECT state_json FROM consumer_groups WHERE group_id = ?').get('old') as { state_json: string };
  database.prepare('UPDATE consumer_groups SET state_json = ? WHERE group_id = ?').run(row.state_json.replace('"placeholder"', JSON.stringify('(?=a)(a+)+$')), 'old');
  database.close();

  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => { warnings.push(warning); };
  process.on('warning', onWarning);
  t.teardown(() => { process.off('warning', onWarning); });
  const started = performance.now();
  const restarted = await startServer(t, { dataDir: server.dataDir });
  t.ok(performance.now() - started < 10_000, 'the node starts');
  t.ok((await timeHealth(restarted.url)) < HEALTH_LATENCY_MS_MAX, '/health/live answers at once');
  await sleep(limits.groupSweepIntervalMs * 2);
  const described = await requestJson<{ members: Array<{ subscription: unknown; assignment: Array<{ topic: string }> }> }>(`${restarted.url}/v1/groups/old`);
  t.same(described.body.members[0]?.subscription, { topics: ['keep'] }, 'the refused pattern is dropped, the rest of the subscription stays');
  t.ok(warnings.some((warning) => warning.message.includes("group 'old'") && warning.message.includes('topicPattern is dropped')), 'a warning names the group');
  await restarted.close();
});
