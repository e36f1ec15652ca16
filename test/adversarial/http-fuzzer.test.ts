/**
 * The standing OpenAPI-driven fuzzer (issue 12): a real node (child process, --auth
 * api-key, its own temporary data and working directories) gets at least 5,000
 * mutated requests spread over every public operation of the document it serves at
 * /openapi.json, after topics, records, groups, members and keys are seeded.
 *
 * Pass: no 5xx (answers.ts says which two 503s are deliberate and allowed), every
 * non-2xx answer in the documented error shape with a catalogue code and its status,
 * /health/live within 5 s after every 500 requests, the process alive at the end and
 * stopping cleanly, and no file or folder outside the data directory.
 *
 * Replay: RUNNEL_FUZZ_SEED=<seed> npx tap test/adversarial/http-fuzzer.test.ts (the seed
 * is printed at the start); RUNNEL_FUZZ_REQUESTS=<n> changes the count. A seed replays
 * the same requests in the same order; with several connections their interleaving,
 * and so the state a request meets, may differ slightly.
 */
import t from 'tap';
import { Agent } from 'undici';
import { requestJson } from '../helpers/http.js';
import { pick, seededRandom } from '../helpers/seeded-random.js';
import { judge, StatusHistogram } from './answers.js';
import { ADMIN_KEY, BODY_LIMIT_BYTES, seed, seedResources, startFuzzNode } from './fuzz-node.js';
import { operationsOf, type Operation } from './openapi-walk.js';
import { buildRequest, describeRequest, send, type BuildContext, type FuzzRequest } from './requests.js';

const SEED = process.env.RUNNEL_FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(process.env.RUNNEL_FUZZ_SEED);
const REQUEST_COUNT = process.env.RUNNEL_FUZZ_REQUESTS === undefined ? 5_000 : Number(process.env.RUNNEL_FUZZ_REQUESTS);
const ROUND_SIZE = 500;
const CONNECTIONS = 6;
const REQUEST_TIMEOUT_MS = 15_000;
const LIVE_TIMEOUT_MS = 5_000;
const FAILURES_SHOWN = 15;
/** More requests for an operation the main run never got to a resource. */
const TOP_UP_MAX = 1_000;

t.comment(`fuzz seed ${SEED}: replay with RUNNEL_FUZZ_SEED=${SEED} npx tap test/adversarial/http-fuzzer.test.ts`);

/**
 * The node answers a body over the limit with 413 as soon as the headers announce it
 * and closes the connection (test/http covers that answer); a client still writing the
 * body may then see EPIPE or a reset instead of the answer. Not a fault: the only
 * failure allowed without an answer, and only for such a body.
 */
function isCutOffUpload(request: FuzzRequest, failure: string | undefined): boolean {
  const bodyBytes = request.body === undefined ? 0 : Buffer.byteLength(request.body);
  return bodyBytes > BODY_LIMIT_BYTES && /EPIPE|ECONNRESET|UND_ERR_SOCKET|other side closed/.test(failure ?? '');
}

/** Runs `count` tasks with at most `concurrency` at once. */
async function runPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

void t.test(`${REQUEST_COUNT} mutated requests over every public route: no 5xx, the documented error shape, the node stays up and writes only in its data dir`, async (t) => {
  if (!Number.isInteger(SEED) || SEED < 0 || !Number.isInteger(REQUEST_COUNT) || REQUEST_COUNT < 1) {
    throw new Error(`RUNNEL_FUZZ_SEED must be a non-negative integer and RUNNEL_FUZZ_REQUESTS a positive one (got ${SEED}, ${REQUEST_COUNT})`);
  }
  const fuzz = await startFuzzNode(t);
  const before = fuzz.snapshotOutsideDataDir();
  const document = await requestJson(`${fuzz.url}/openapi.json`);
  t.equal(document.status, 200, 'the node serves its OpenAPI document');
  const operations = operationsOf(document.body);
  t.ok(operations.length >= 20, `the document lists the public operations (${operations.length})`);
  const seeded = await seed(fuzz.url);
  const context: BuildContext = { pool: seeded.pool, victims: seeded.victims, adminKey: ADMIN_KEY, narrowKey: seeded.narrowKey, bodyLimitBytes: BODY_LIMIT_BYTES };

  const random = seededRandom(SEED);
  const agent = new Agent({ connections: CONNECTIONS, pipelining: 1, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  t.teardown(() => agent.destroy());
  const histogram = new StatusHistogram();
  const failures: string[] = [];
  const reached = new Map<string, number>();
  const liveAnswers: number[] = [];
  const startedAtMs = Date.now();
  for (let sent = 0; sent < REQUEST_COUNT;) {
    const size = Math.min(ROUND_SIZE, REQUEST_COUNT - sent);
    // Built before sending, in order, so the seed alone decides every request.
    const round: Array<{ operation: Operation; fuzz: FuzzRequest }> = [];
    for (let i = 0; i < size; i++) {
      const operation = (sent + i) % 4 === 3 ? pick(random, operations) : operations[(sent + i) % operations.length];
      round.push({ operation, fuzz: buildRequest(operation, context, random) });
    }
    await runPool(size, CONNECTIONS, async (i) => {
      const { operation, fuzz: request } = round[i];
      const exchange = await send(fuzz.url, request, agent, REQUEST_TIMEOUT_MS);
      if (exchange.answer === undefined && isCutOffUpload(request, exchange.failure)) {
        histogram.add('closed during an upload over the limit');
        return;
      }
      if (exchange.answer === undefined) {
        histogram.add('no answer');
        failures.push(`#${sent + i} ${describeRequest(request)} -> no answer: ${exchange.failure}`);
        return;
      }
      histogram.add(exchange.answer.status);
      // Reached: past validation and auth to a resource (2xx, or a conflict with its state).
      if (exchange.answer.status < 400 || exchange.answer.status === 409 || exchange.answer.status === 416) {
        const name = `${operation.method} ${operation.path}`;
        reached.set(name, (reached.get(name) ?? 0) + 1);
      }
      const problem = judge(exchange.answer, { isProduce: request.isProduce });
      if (problem !== undefined) failures.push(`#${sent + i} ${describeRequest(request)} -> ${exchange.answer.status} ${exchange.answer.body.slice(0, 300)}: ${problem}`);
    });
    sent += size;
    t.comment(`fuzz: ${sent} requests sent, ${failures.length} failures, ${Math.round((Date.now() - startedAtMs) / 100) / 10} s`);
    const live = await requestJson(`${fuzz.url}/health/live`, { timeoutMs: LIVE_TIMEOUT_MS }).catch((error: Error) => ({ status: 0, body: error.message }));
    liveAnswers.push(live.status);
    if (live.status !== 200) failures.push(`after ${sent} requests /health/live answered ${live.status} ${JSON.stringify(live.body)}`);
    // Put back what the round deleted (tolerant: the fuzzer may have left the seeds in any state).
    await seedResources(fuzz.url, context.pool, context.victims).catch((error: Error) => t.comment(`re-seeding after ${sent} requests: ${error.message}`));
  }

  t.comment(`fuzz status histogram: ${JSON.stringify(histogram)}`);
  t.equal(histogram.total(), REQUEST_COUNT, `${REQUEST_COUNT} requests sent and answered or failed`);
  t.same(liveAnswers, liveAnswers.map(() => 200), `/health/live answered 200 within ${LIVE_TIMEOUT_MS} ms after every ${ROUND_SIZE} requests`);
  t.equal(failures.length, 0, `no 5xx, no hang, every non-2xx in the documented error shape (seed ${SEED})`);
  for (const failure of failures.slice(0, FAILURES_SHOWN)) t.comment(`failure: ${failure}`);
  if (failures.length > FAILURES_SHOWN) t.comment(`... and ${failures.length - FAILURES_SHOWN} more`);
  const reachCounts = operations.map((o) => `${o.method} ${o.path}`).map((name) => [name, reached.get(name) ?? 0] as const).sort((x, y) => x[1] - y[1]);
  t.comment(`fuzz: the operations that reached a resource least often: ${reachCounts.slice(0, 4).map(([name, count]) => `${name} ${count}`).join(', ')}`);
  // An operation whose valid requests need several things right at once (a commit: a
  // real topic, a partition it has, an offset below its end, no member named) gets one
  // in some 70 of its requests, so a share of 5,000 may miss. It is sent more requests
  // from the same generator (bounded), each judged like the others, until one reaches
  // a resource: what matters is that the generator can reach it at all.
  for (const [name] of reachCounts.filter(([, count]) => count === 0)) {
    const operation = operations.find((o) => `${o.method} ${o.path}` === name)!;
    for (let extra = 0; extra < TOP_UP_MAX && (reached.get(name) ?? 0) === 0; extra++) {
      const request = buildRequest(operation, context, random);
      const exchange = await send(fuzz.url, request, agent, REQUEST_TIMEOUT_MS);
      if (exchange.answer === undefined) continue;
      if (exchange.answer.status < 400 || exchange.answer.status === 409 || exchange.answer.status === 416) reached.set(name, 1);
      const problem = judge(exchange.answer, { isProduce: request.isProduce });
      if (problem !== undefined) failures.push(`top-up ${describeRequest(request)} -> ${exchange.answer.status}: ${problem}`);
    }
  }
  const unreached = operations.map((o) => `${o.method} ${o.path}`).filter((name) => (reached.get(name) ?? 0) === 0);
  t.same(unreached, [], `every operation reached a resource at least once: 2xx, 409 or 416 (the seeds make mutated requests meet real resources; at most ${TOP_UP_MAX} more requests for one that had not)`);
  t.equal(failures.length, 0, 'the extra requests too: no 5xx, every non-2xx in the documented error shape');

  t.ok(fuzz.node.isRunning(), 'the node process is still running');
  t.same(await fuzz.node.stop(), { code: 0, signal: null }, 'and stops cleanly on SIGTERM');
  t.same(fuzz.snapshotOutsideDataDir(), before, 'no file or folder appeared outside the data directory');
});
