/**
 * Found by the adversarial suite: every segment of every partition kept its log, offset
 * index and time index open, so one request for a topic with many partitions (10,000
 * is within the documented limit), or producing to a topic with segment.bytes at its
 * documented minimum (1,024: three descriptors per KiB appended), used up the process's
 * file descriptors: 500 INTERNAL_ERROR (EMFILE), and about a second later the process
 * died (@fastify/under-pressure's process.memoryUsage() sample threw EMFILE in a timer).
 * Now segment files go through an LRU of open descriptors (half of ulimit -n), so both
 * work on a node started with `ulimit -n 300`, and the node keeps answering.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { requestJson } from '../helpers/http.js';
import { judge, type Answer } from './answers.js';
import { ADMIN_KEY, startFuzzNode, type FuzzNode } from './fuzz-node.js';

const DESCRIPTORS_MAX = 300;
const PARTITIONS = 200;

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

/** The node's answers keep the rules and it stays up (ten probes over two seconds: the crash came at the next memory sample, within one). */
async function assertSurvives(t: Test, fuzz: FuzzNode, answers: Answer[]): Promise<void> {
  const problems = answers.map((answer) => judge(answer, { isProduce: false })).filter((problem) => problem !== undefined);
  t.same(problems, [], 'no 5xx');
  const live: number[] = [];
  for (let probe = 0; probe < 10; probe++) {
    await sleep(200);
    live.push(await requestJson(`${fuzz.url}/health/live`, { timeoutMs: 2_000 }).then((r) => r.status, () => 0));
  }
  t.same(live, live.map(() => 200), '/health/live keeps answering');
  t.ok(fuzz.node.isRunning(), 'the process is still running');
}

function answerOf(response: { status: number; headers: Answer['headers']; body: unknown }): Answer {
  return { status: response.status, headers: response.headers, body: JSON.stringify(response.body) };
}

void t.test(`a topic of ${PARTITIONS} partitions on a node allowed ${DESCRIPTORS_MAX} open files: no 500, the node keeps running`, async (t) => {
  const fuzz = await startFuzzNode(t, [], { openFilesLimit: DESCRIPTORS_MAX });
  const created = await requestJson(`${fuzz.url}/v1/topics`, { body: { name: 'many-partitions', partitions: PARTITIONS }, headers: admin, timeoutMs: 30_000 });
  t.equal(created.status, 201, `the topic of ${PARTITIONS} partitions is created`, { body: JSON.stringify(created.body).slice(0, 200) });
  await assertSurvives(t, fuzz, [answerOf(created)]);
});

void t.test(`produce to a topic with segment.bytes 1024 on a node allowed ${DESCRIPTORS_MAX} open files: no 500, the node keeps running`, async (t) => {
  const fuzz = await startFuzzNode(t, [], { openFilesLimit: DESCRIPTORS_MAX });
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
  t.equal(answers.length, 150, 'every produce was answered');
  t.ok(answers.every((answer) => answer.status === 200), 'and accepted', { statuses: [...new Set(answers.map((answer) => answer.status))] });
  await assertSurvives(t, fuzz, answers);
});
