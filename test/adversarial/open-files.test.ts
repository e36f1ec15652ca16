/**
 * Found by the adversarial suite, reported and not fixed yet (the assertions are TODO:
 * they run and show as "not ok # TODO" until the fix lands). Every partition keeps its
 * log, offset index and time index open, so one request for a topic with many
 * partitions (10,000 is within the documented limit) can use up the process's file
 * descriptors: the create answers 500 INTERNAL_ERROR (EMFILE) although the topic was
 * stored, and about a second later the process dies (@fastify/under-pressure's
 * process.memoryUsage() sample throws EMFILE in a timer).
 *
 * To make it quick the child's descriptor limit is lowered to 300 with prlimit
 * (util-linux) once it listens; with the usual limits the same happens at a few
 * thousand partitions, after about a minute.
 */
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { requestJson } from '../helpers/http.js';
import { judge } from './answers.js';
import { ADMIN_KEY, startFuzzNode } from './fuzz-node.js';

const TODO = 'reported: partitions hold 3 open files each; running out is a 500 and then a crash';
const DESCRIPTORS_MAX = 300;
const PARTITIONS = 200;

void t.test(`a topic of ${PARTITIONS} partitions on a node allowed ${DESCRIPTORS_MAX} open files: no 500, the node keeps running`, async (t) => {
  const fuzz = await startFuzzNode(t);
  execFileSync('prlimit', [`--nofile=${DESCRIPTORS_MAX}:${DESCRIPTORS_MAX}`, '--pid', String(fuzz.node.pid)]);
  const created = await requestJson(`${fuzz.url}/v1/topics`, {
    body: { name: 'many-partitions', partitions: PARTITIONS },
    headers: { authorization: `Bearer ${ADMIN_KEY}` },
    timeoutMs: 30_000,
  });
  const problem = judge({ status: created.status, headers: created.headers, body: JSON.stringify(created.body) }, { isProduce: false });
  t.equal(problem, undefined, `the create is answered without a 5xx (got ${created.status} ${JSON.stringify(created.body).slice(0, 200)})`, { todo: TODO });
  // Ten probes over two seconds: the crash came at the next memory sample, within one.
  const live: number[] = [];
  for (let probe = 0; probe < 10; probe++) {
    await sleep(200);
    live.push(await requestJson(`${fuzz.url}/health/live`, { timeoutMs: 2_000 }).then((r) => r.status, () => 0));
  }
  t.same(live, live.map(() => 200), '/health/live keeps answering', { todo: TODO });
  t.ok(fuzz.node.isRunning(), 'the process is still running', { todo: TODO });
});
