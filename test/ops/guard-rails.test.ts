/**
 * Guard rails and request logging (issue 5): past the node-wide in-flight limit a node
 * answers 503 OVERLOADED with Retry-After instead of taking more work, past the
 * per-connection limit 429 TOO_MANY_REQUESTS, while /health/live keeps answering;
 * every response carries an x-request-id (the client's own when it sent one); and
 * API keys never reach the logs.
 */
import path from 'node:path';
import t from 'tap';
import { Agent, Client } from 'undici';
import { startNode } from '../helpers/child-node.js';
import { createTopic, fetchRecords, requestJson, requestOk } from '../helpers/http.js';
import { eventually, startInProcess, tempDir } from './support.js';

const IN_FLIGHT_MAX = 3;
const PER_CONNECTION_MAX = 2;

void t.test('past the node-wide in-flight limit, requests get 503 OVERLOADED with Retry-After while /health/live answers 200', async (t) => {
  const node = await startInProcess(t, { guardRails: { inFlightRequestsMax: IN_FLIGHT_MAX, inFlightRequestsPerConnectionMax: 100, eventLoopDelayMsMax: 0 } });
  const topic = 'guarded';
  await createTopic(node.url, topic);
  const state = node.broker.topics.partition(topic, 0);
  // One connection per long-poll, so only the node-wide limit is in play.
  const agent = new Agent({ connections: IN_FLIGHT_MAX + 4 });
  t.teardown(() => agent.close());
  const abort = new AbortController();
  t.teardown(() => abort.abort());

  const longPolls = Array.from({ length: IN_FLIGHT_MAX }, () =>
    fetchRecords(node.url, topic, 0, { offset: 'latest', waitMs: 30_000, dispatcher: agent, timeoutMs: 40_000, signal: abort.signal }).then(
      () => 'answered',
      () => 'aborted',
    ));
  t.ok(await eventually(() => state.notifier.waiterCount === IN_FLIGHT_MAX, 10_000), `${IN_FLIGHT_MAX} long-polls are waiting`);

  const refused = await requestJson<{ error: { code: string; message: string } }>(`${node.url}/v1/topics`, { dispatcher: agent });
  t.equal(refused.status, 503, 'one more request is refused with 503');
  t.equal(refused.body?.error?.code, 'OVERLOADED', 'error code OVERLOADED');
  t.match(refused.headers['retry-after'], /^\d+$/, 'with a Retry-After header');
  t.match(refused.headers['x-request-id'], /\S/, 'the refusal carries an x-request-id too');
  const refusedPoll = await requestJson(`${node.url}/v1/topics/${topic}/partitions/0/records?waitMs=30000&offset=latest`, { dispatcher: agent });
  t.equal(refusedPoll.status, 503, 'another long-poll is refused too, not parked');
  t.equal(state.notifier.waiterCount, IN_FLIGHT_MAX, 'the refused long-poll never waited');

  const live = await requestJson<{ status: string }>(`${node.url}/health/live`, { dispatcher: agent });
  t.equal(live.status, 200, '/health/live still answers 200');
  t.equal(live.body?.status, 'ok', '/health/live says ok');
  const metrics = await fetch(`${node.url}/metrics`, { signal: AbortSignal.timeout(10_000) });
  t.equal(metrics.status, 200, '/metrics still answers, so operators can see why');
  await metrics.text();
  // Readiness is outside the in-flight limits (issue: slow clients holding every slot
  // made a healthy node look unready); a lagging event loop still turns it 503 (below).
  const ready = await requestJson<{ status?: string }>(`${node.url}/health/ready`, { dispatcher: agent });
  t.equal(ready.status, 200, '/health/ready answers 200 while every in-flight slot is held');

  abort.abort();
  t.same(await Promise.all(longPolls), Array(IN_FLIGHT_MAX).fill('aborted'), 'the long-polls were cut by the client');
  t.ok(await eventually(async () => (await requestJson(`${node.url}/v1/topics`, { dispatcher: agent })).status === 200, 10_000), 'once they are gone, requests are served again');
});

void t.test('past the per-connection in-flight limit, a pipelining connection gets 429 TOO_MANY_REQUESTS', async (t) => {
  const node = await startInProcess(t, { guardRails: { inFlightRequestsMax: 100, inFlightRequestsPerConnectionMax: PER_CONNECTION_MAX, eventLoopDelayMsMax: 0 } });
  const topic = 'piped';
  await createTopic(node.url, topic);
  const state = node.broker.topics.partition(topic, 0);
  // One connection that pipelines (blocking: false, or undici holds back requests after
  // a GET until its headers come): its requests are in flight on the server together.
  const client = new Client(node.url, { pipelining: PER_CONNECTION_MAX + 2 });
  t.teardown(() => client.destroy());
  const abort = new AbortController();
  t.teardown(() => abort.abort());
  const longPollPath = `/v1/topics/${topic}/partitions/0/records?offset=latest&waitMs=30000`;
  const held = Array.from({ length: PER_CONNECTION_MAX }, () =>
    client.request({ path: longPollPath, method: 'GET', signal: abort.signal, blocking: false }).then(
      async (response) => { await response.body.text(); return response.statusCode; },
      () => 'aborted',
    ));
  t.ok(await eventually(() => state.notifier.waiterCount === PER_CONNECTION_MAX, 10_000), `${PER_CONNECTION_MAX} long-polls wait on one connection`);
  // Seen by the server: the guard decides in the first onRequest hook, synchronously
  // within the server's 'request' event, before this listener (added after Fastify's) runs.
  const extraArrived = new Promise<void>((resolve) => {
    const onRequest = (incoming: { url?: string }): void => {
      if (incoming.url !== '/v1/topics') return;
      node.runnel.app.server.off('request', onRequest);
      resolve();
    };
    node.runnel.app.server.on('request', onRequest);
  });
  const extra = client.request({ path: '/v1/topics', method: 'GET', signal: AbortSignal.timeout(20_000), blocking: false }).then(
    async (response) => ({ status: response.statusCode, headers: response.headers, body: await response.body.text() }),
    (error: unknown) => ({ status: 0, headers: {} as Record<string, string | string[] | undefined>, body: String(error) }),
  );
  // The answer is queued behind the long-polls on the wire (HTTP/1.1 answers in order); the decision is made at once.
  const isArrived = await Promise.race([extraArrived.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))]);
  t.ok(isArrived, 'the pipelined request reached the server');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.equal(state.notifier.waiterCount, PER_CONNECTION_MAX, 'the long-polls are still waiting');
  // End the long-polls from the server side (a record arrives), so the pipelined answer can come out.
  await requestOk(`${node.url}/v1/topics/${topic}/records`, { method: 'POST', body: { records: [{ value: 'wake' }] } });
  t.same(await Promise.all(held), Array(PER_CONNECTION_MAX).fill(200), 'the long-polls were answered by the record');
  const answer = await extra;
  t.equal(answer.status, 429, 'the request past the per-connection limit got 429');
  t.match(answer.body, /TOO_MANY_REQUESTS/, 'error code TOO_MANY_REQUESTS');
  t.match(answer.headers['retry-after'], /^\d+$/, 'with a Retry-After header');
  const other = await requestJson(`${node.url}/v1/topics`);
  t.equal(other.status, 200, 'another connection was served all along');
});

/** Keeps this thread busy for about `ms` in slices, so the event-loop delay histogram sees long delays. */
async function blockEventLoop(ms: number): Promise<void> {
  const endMs = Date.now() + ms;
  while (Date.now() < endMs) {
    const sliceEndMs = Math.min(endMs, Date.now() + 200);
    while (Date.now() < sliceEndMs) { /* busy */ }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

void t.test('while the event loop lags past its limit, a produce gets 503 OVERLOADED and appends nothing; /health/live answers', async (t) => {
  const node = await startInProcess(t, { guardRails: { inFlightRequestsMax: 100, inFlightRequestsPerConnectionMax: 100, eventLoopDelayMsMax: 20 } });
  const topic = 'lagging';
  await createTopic(node.url, topic);
  const state = node.broker.topics.partition(topic, 0);
  const agent = new Agent({ connections: 4 });
  t.teardown(() => agent.close());
  const endBefore = state.log.logEndOffset;
  let produced: Awaited<ReturnType<typeof requestJson<{ error?: { code: string } }>>> | undefined;
  let live: Awaited<ReturnType<typeof requestJson>> | undefined;
  let ready: Awaited<ReturnType<typeof requestJson>> | undefined;
  let acknowledged = 0;
  // The delay is sampled about once a second: lag the loop, then ask at once. Bounded: 4 tries.
  for (let attempt = 0; attempt < 4 && produced?.status !== 503; attempt++) {
    await blockEventLoop(1_500);
    [produced, live, ready] = await Promise.all([
      requestJson<{ error?: { code: string } }>(`${node.url}/v1/topics/${topic}/records`, { method: 'POST', body: { records: [{ value: `attempt-${attempt}` }] }, dispatcher: agent }),
      requestJson(`${node.url}/health/live`, { dispatcher: agent }),
      requestJson(`${node.url}/health/ready`, { dispatcher: agent }),
    ]);
    if (produced.status === 200) {
      acknowledged += 1;
      t.comment(`attempt ${attempt}: the lag was not sampled yet; the produce went through`);
    }
  }
  t.equal(produced?.status, 503, 'the produce was refused with 503');
  t.equal(produced?.body?.error?.code, 'OVERLOADED', 'error code OVERLOADED');
  t.match(produced?.headers['retry-after'], /^\d+$/, 'with a Retry-After header');
  t.match(produced?.headers['x-request-id'], /\S/, 'and an x-request-id');
  t.equal(live?.status, 200, '/health/live answered 200 meanwhile');
  t.equal(ready?.status, 503, '/health/ready answered 503 (not a 500 from its response schema)');
  // A refusal must not run the handler after answering: give it time to, then look at the log itself.
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.equal(state.log.logEndOffset - endBefore, acknowledged, 'the log holds only the acknowledged produces, not the refused one');
});

void t.test('every response carries x-request-id, and an incoming x-request-id is echoed', async (t) => {
  const node = await startInProcess(t);
  const first = await requestJson(`${node.url}/v1/topics`);
  const second = await requestJson(`${node.url}/v1/topics`);
  t.match(first.headers['x-request-id'], /^\S{4,}$/, 'a generated id on a 200');
  t.not(first.headers['x-request-id'], second.headers['x-request-id'], 'generated ids differ per request');
  const notFound = await requestJson(`${node.url}/v1/topics/absent`);
  t.equal(notFound.status, 404, 'a 404');
  t.match(notFound.headers['x-request-id'], /^\S{4,}$/, 'a generated id on a 404');
  const unmatched = await requestJson(`${node.url}/no/such/route`);
  t.match(unmatched.headers['x-request-id'], /^\S{4,}$/, 'a generated id on an unmatched route');
  const badBody = await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: '{"name":', headers: { 'content-type': 'application/json' } });
  t.equal(badBody.status, 400, 'an unparsable body is 400');
  t.match(badBody.headers['x-request-id'], /^\S{4,}$/, 'a generated id on a 400');
  const echoed = await requestJson(`${node.url}/v1/topics`, { headers: { 'x-request-id': 'client-chosen-id-42' } });
  t.equal(echoed.headers['x-request-id'], 'client-chosen-id-42', 'the client\'s x-request-id comes back');
  const echoedError = await requestJson(`${node.url}/v1/topics/absent`, { headers: { 'x-request-id': 'client-chosen-id-43' } });
  t.equal(echoedError.headers['x-request-id'], 'client-chosen-id-43', 'also on an error');
});

void t.test('API keys in Authorization or X-API-Key never appear in the logs, even at debug', async (t) => {
  const adminKey = 'admin-secret-key-0123456789abcdef';
  const wrongKey = 'wrong-secret-key-fedcba9876543210';
  const node = await startNode({
    dataDir: path.join(tempDir(t), 'data'),
    t,
    args: ['--log-level', 'debug', '--auth', 'api-key'],
    env: { RUNNEL_ADMIN_KEY: adminKey },
  });
  const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });
  const created = await requestOk<{ key: string }>(`${node.url}/v1/keys`, {
    method: 'POST',
    headers: { ...auth(adminKey), 'x-request-id': 'log-probe-1' },
    body: { name: 'log-probe', grants: [{ resource: 'topic', operations: ['read', 'write', 'admin'] }] },
  });
  const madeKey = created.body.key;
  t.match(madeKey, /\S{16,}/, 'a new key was made');
  await requestOk(`${node.url}/v1/topics`, { headers: { ...auth(madeKey), 'x-request-id': 'log-probe-2' } });
  const rejected = await requestJson(`${node.url}/v1/topics`, { headers: { ...auth(wrongKey), 'x-request-id': 'log-probe-3' } });
  t.equal(rejected.status, 401, 'a wrong key is 401');
  await requestOk(`${node.url}/v1/topics`, { headers: { 'x-api-key': madeKey, 'x-request-id': 'log-probe-4' } });
  const malformed = await requestJson(`${node.url}/v1/topics`, { headers: { authorization: `Basic ${Buffer.from(`user:${wrongKey}`).toString('base64')}`, 'x-request-id': 'log-probe-5' } });
  t.equal(malformed.status, 401, 'a Basic credential is 401');

  // Every probe request was logged (so the logs looked at are the right ones)...
  for (const id of ['log-probe-1', 'log-probe-2', 'log-probe-3', 'log-probe-4', 'log-probe-5']) {
    await node.waitForLine((line) => line.includes(`"${id}"`) && line.includes('request completed'), 5_000).then(
      () => t.pass(`request ${id} is in the debug log`),
      (error: Error) => t.fail(`request ${id} is in the debug log: ${error.message.slice(0, 300)}`),
    );
  }
  t.same(await node.stop(), { code: 0, signal: null }, 'stops cleanly');
  // ...and no secret is in any line, stdout or stderr, start to stop.
  const everything = [...node.stdoutLines, ...node.stderrLines].join('\n');
  const basic = Buffer.from(`user:${wrongKey}`).toString('base64');
  for (const [what, secret] of [['the admin key', adminKey], ['a made key', madeKey], ['a wrong key', wrongKey], ['a Basic credential', basic]] as const) {
    t.notOk(everything.includes(secret), `${what} is not in the logs`);
  }
  t.notMatch(everything, /Bearer /i, 'no Bearer credential of any kind in the logs');
});
