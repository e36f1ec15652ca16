/**
 * The fuzzer's raw-socket half (issue 12): framing attacks an HTTP client would refuse
 * to send (raw-framing.ts) against a real node (child process, --auth api-key, its own
 * temporary data and working directories): every kind at least a few times, then
 * seeded random picks, several connections at once.
 *
 * Pass: every answer the node writes parses as HTTP/1.1 and passes answers.ts (no 5xx
 * beyond the deliberate ones, the documented error shape on every non-2xx); nothing
 * else is written; a connection we half-close is closed by the node; /health/live
 * answers after every 100 attacks; the process is alive at the end, stops cleanly, and
 * no file appeared outside its data directory.
 *
 * Replay: RUNNEL_FUZZ_SEED=<seed> npx tap test/adversarial/raw-framing.test.ts (the seed is
 * printed at the start); RUNNEL_FUZZ_RAW_ATTACKS=<n> changes the count (default 600).
 */
import t from 'tap';
import { createTopic, requestJson } from '../helpers/http.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { judge, StatusHistogram } from './answers.js';
import { ADMIN_KEY, startFuzzNode } from './fuzz-node.js';
import { attackKinds, makeAttack, runAttack, type Attack } from './raw-framing.js';

const SEED = process.env.RUNNEL_FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(process.env.RUNNEL_FUZZ_SEED);
const ATTACK_COUNT = process.env.RUNNEL_FUZZ_RAW_ATTACKS === undefined ? 600 : Number(process.env.RUNNEL_FUZZ_RAW_ATTACKS);
const ROUND_SIZE = 100;
const CONNECTIONS = 12;
const ATTACK_TIMEOUT_MS = 3_000;
const FAILURES_SHOWN = 15;

t.comment(`raw framing seed ${SEED}: replay with RUNNEL_FUZZ_SEED=${SEED} npx tap test/adversarial/raw-framing.test.ts`);

function describeAttack(attack: Attack): string {
  const text = Buffer.concat(attack.chunks).toString('latin1');
  return `${attack.name}: ${JSON.stringify(text.length > 300 ? `${text.slice(0, 300)}... (${text.length} bytes)` : text)}${attack.isEnded ? '' : ' (left open)'}`;
}

void t.test(`${ATTACK_COUNT} raw-socket framing attacks: parseable answers in the documented shape, no 5xx, the node stays up`, async (t) => {
  if (!Number.isInteger(SEED) || SEED < 0 || !Number.isInteger(ATTACK_COUNT) || ATTACK_COUNT < 1) {
    throw new Error(`RUNNEL_FUZZ_SEED must be a non-negative integer and RUNNEL_FUZZ_RAW_ATTACKS a positive one (got ${SEED}, ${ATTACK_COUNT})`);
  }
  const fuzz = await startFuzzNode(t);
  const before = fuzz.snapshotOutsideDataDir();
  const topic = 'raw-a';
  await createTopic(fuzz.url, topic, { partitions: 2 }).catch(async () => {
    const created = await requestJson(`${fuzz.url}/v1/topics`, { body: { name: topic, partitions: 2 }, headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    if (created.status !== 201) throw new Error(`creating ${topic}: ${created.status} ${JSON.stringify(created.body)}`);
  });
  const { hostname, port } = new URL(fuzz.url);
  const context = { host: `${hostname}:${port}`, adminKey: ADMIN_KEY, topic };
  const random = seededRandom(SEED);
  const histogram = new StatusHistogram();
  const failures: string[] = [];
  const liveAnswers: number[] = [];
  let answerCount = 0;
  for (let done = 0; done < ATTACK_COUNT;) {
    const size = Math.min(ROUND_SIZE, ATTACK_COUNT - done);
    // Every kind in turn first, then random picks; all made before sending, so the seed decides them.
    const attacks = Array.from({ length: size }, (_, i) => makeAttack(random, context, done + i < attackKinds * 3 ? done + i : undefined));
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < attacks.length) {
        const index = next++;
        const attack = attacks[index];
        const exchange = await runAttack(Number(port), attack, ATTACK_TIMEOUT_MS);
        const label = `#${done + index} ${describeAttack(attack)}`;
        if (exchange.answers.length === 0) histogram.add(exchange.isClosed ? 'closed, no answer' : 'no answer');
        for (const answer of exchange.answers) {
          answerCount += 1;
          histogram.add(answer.status);
          const problem = judge(answer, { isProduce: attack.isProduce });
          if (problem !== undefined) failures.push(`${label} -> ${answer.status} ${answer.body.slice(0, 300)}: ${problem}`);
        }
        if (exchange.leftover !== '') failures.push(`${label} -> bytes that are not an HTTP answer: ${JSON.stringify(exchange.leftover.slice(0, 300))}`);
        if (attack.isEnded && !exchange.isClosed) failures.push(`${label} -> the node kept the half-closed connection open for ${ATTACK_TIMEOUT_MS} ms`);
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    done += size;
    const live = await requestJson(`${fuzz.url}/health/live`, { timeoutMs: 5_000 }).catch((error: Error) => ({ status: 0, body: error.message }));
    liveAnswers.push(live.status);
    if (live.status !== 200) failures.push(`after ${done} attacks /health/live answered ${live.status} ${JSON.stringify(live.body)}`);
  }

  t.comment(`raw framing status histogram: ${JSON.stringify(histogram)} (${answerCount} answers to ${ATTACK_COUNT} attacks)`);
  t.same(liveAnswers, liveAnswers.map(() => 200), `/health/live answered 200 after every ${ROUND_SIZE} attacks`);
  t.equal(failures.length, 0, `every answer parses and keeps the rules, and half-closed connections are closed (seed ${SEED})`);
  for (const failure of failures.slice(0, FAILURES_SHOWN)) t.comment(`failure: ${failure}`);
  if (failures.length > FAILURES_SHOWN) t.comment(`... and ${failures.length - FAILURES_SHOWN} more`);
  t.ok(answerCount >= ATTACK_COUNT / 2, `most attacks got an answer (${answerCount})`);

  t.ok(fuzz.node.isRunning(), 'the node process is still running');
  t.same(await fuzz.node.stop(), { code: 0, signal: null }, 'and stops cleanly on SIGTERM');
  t.same(fuzz.snapshotOutsideDataDir(), before, 'no file or folder appeared outside the data directory');
});
