/**
 * Found by the adversarial suite, reported and not fixed yet (the assertions are TODO:
 * they run and show as "not ok # TODO" until the fix lands). Every segment of every
 * partition keeps its log, offset index and time index open, old segments included,
 * and nothing bounds how many there are. So a client can use up the process's file
 * descriptors with one request for a topic with many partitions (10,000 is within the
 * documented limit), or by producing to a topic with segment.bytes at its documented
 * minimum (1,024: three descriptors per KiB appended). Then requests answer 500
 * INTERNAL_ERROR (EMFILE) (a create although the topic was stored), and about a second
 * later the process dies (@fastify/under-pressure's process.memoryUsage() sample throws
 * EMFILE in a timer).
 *
 * To make it quick the child's descriptor limit is lowered to 300 with prlimit
 * (util-linux) once it listens; with the usual limits the same happens at a few
 * thousand partitions, after about a minute.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { requestJson } from '../helpers/http.js';
import { judge, type Answer } from './answers.js';
import { ADMIN_KEY, startFuzzNode, type FuzzNode } from './fuzz-node.js';

const TODO = 'reported: every segment holds 3 open files; running out is a 500 and then a crash';
const DESCRIPTORS_MAX = 300;
const PARTITIONS = 200;

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

/** The node's answers keep the rules and it stays up (ten probes over two seconds: the crash came at the next memory sample, within one). */
async function assertSurvives(t: Test, fuzz: FuzzNode, answers: Answer[]): Promise<void> {
  const problems = answers.map((answer) => judge(answer, { isProduce: false })).filter((problem) => problem !== undefined);
  t.same(problems, [], 'no 5xx', { todo: TODO });
  const live: number[] = [];
  for (let probe = 0; probe < 10; probe++) {
    await sleep(200);
    live.push(await requestJson(`${fuzz.url}/health/live`, { timeoutMs: 2_000 }).then((r) => r.status, () => 0));
  }
  t.same(live, live.map(() => 200), '/health/live keeps answering', { todo: TODO });
  t.ok(fuzz.node.isRunning(), 'the process is still running', { todo: TODO });
}

function answerOf(response: { status: number; headers: Answer['headers']; body: unknown }): Answer {
  return { status: response.status, headers: response.headers, body: JSON.stringify(response.body) };
}

void t.test(`a topic of ${PARTITIONS} partitions on a node allowed ${DESCRIPTORS_MAX} open files: no 500, the node keeps running`, async (t) => {
  const fuzz = await startFuzzNode(t);
  execFileSync('prlimit', [`--nofile=${DESCRIPTORS_MAX}:${DESCRIPTORS_MAX}`, '--pid', String(fuzz.node.pid)]);
  const created = await requestJson(`${fuzz.url}/v1/topics`, { body: { name: 'many-partitions', partitions: PARTITIONS }, headers: admin, timeoutMs: 30_000 });
  t.comment(`create: ${created.status} ${JSON.stringify(created.body).slice(0, 200)}`);
  await assertSurvives(t, fuzz, [answerOf(created)]);
});

void t.test(`produce to a topic with segment.bytes 1024 on a node allowed ${DESCRIPTORS_MAX} open files: no 500, the node keeps running`, async (t) => {
  const fuzz = await startFuzzNode(t);
  execFileSync('prlimit', [`--nofile=${DESCRIPTORS_MAX}:${DESCRIPTORS_MAX}`, '--pid', String(fuzz.node.pid)]);
  const created = await requestJson(`${fuzz.url}/v1/topics`, { body: { name: 'small-segments', configs: { 'segment.bytes': '1024' } }, headers: admin });
  t.equal(created.status, 201, 'the topic is created');
  const answers: Answer[] = [];
  // 150 records of 600 bytes: a segment (three open files) every record or two.
  for (let i = 0; i < 150 && fuzz.node.isRunning(); i++) {
    const produced = await requestJson(`${fuzz.url}/v1/topics/small-segments/records`, { body: { records: [{ value: 'x'.repeat(600) }] }, headers: admin }).catch(() => undefined);
    if (produced === undefined) break;
    answers.push(answerOf(produced));
    if (produced.status >= 500) break;
  }
  const last = answers.at(-1);
  t.comment(`${answers.length} produces, the last: ${last?.status} ${last?.body.slice(0, 200)}`);
  await assertSurvives(t, fuzz, answers);
});
