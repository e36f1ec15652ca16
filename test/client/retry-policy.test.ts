/**
 * The client's retry policy, against stub nodes that answer exactly what a cluster
 * node may answer:
 * - a produce (it carries an Idempotency-Key) is retried after every retriable answer,
 *   503 NOT_ENOUGH_REPLICAS, REQUEST_TIMED_OUT and NOT_LEADER after its append
 *   included, with the same key and body, not before the Retry-After it was given; a
 *   request without a key (create a topic) is not retried after REQUEST_TIMED_OUT;
 * - a node that does not answer within attemptTimeoutMs is left for another node, and
 *   a partition whose leader stalls is looked up again on another node; a long-poll's
 *   wait does not count as a stall.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Runnel, RunnelApiError } from '../../src/index.js';
import { countingAgent } from '../helpers/counting-agent.js';
import { startServer } from '../helpers/server.js';

type Handler = (request: http.IncomingMessage, body: string, response: http.ServerResponse) => void;

async function stubNode(t: Test, handler: Handler): Promise<string> {
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => handler(request, body, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function answer(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

void t.test('a produce is retried after every retriable answer, with its key and body, honouring Retry-After; a create is not retried after REQUEST_TIMED_OUT', async (t) => {
  const seen: Array<{ atMs: number; key: string | undefined; body: string }> = [];
  let url = '';
  let answeredAtMs = 0;
  url = await stubNode(t, (request, body, response) => {
    if (request.url === '/v1/topics') {
      answer(response, 503, { error: { code: 'REQUEST_TIMED_OUT', message: 'the in-sync replicas did not confirm in time' } });
      return;
    }
    if (request.method === 'GET' && request.url === '/v1/topics/orders') {
      // The client reads the partition count to place records in batches.
      answer(response, 200, { name: 'orders', partitions: [{ partition: 0, leader: 1, leaderUrl: url }] });
      return;
    }
    const isBatch = request.headers['content-type'] === 'application/vnd.runnel.record-batch';
    seen.push({ atMs: Date.now(), key: request.headers['idempotency-key'] as string | undefined, body });
    const answers = [
      () => answer(response, 503, { error: { code: 'NOT_ENOUGH_REPLICAS', message: 'the ISR shrank while waiting' } }, { 'retry-after': '1' }),
      () => answer(response, 503, { error: { code: 'REQUEST_TIMED_OUT', message: 'may or may not be committed' } }),
      () => answer(response, 503, { error: { code: 'NOT_LEADER', message: 'appended, then the leadership moved', leaderId: 1, leaderUrl: url } }),
      () => answer(response, 200, isBatch ? { batches: [{ partition: 0, baseOffset: 7, lastOffset: 7, timestamp: 1 }] } : { offsets: [{ partition: 0, offset: 7, timestamp: 1 }] }),
    ];
    answers[seen.length - 1]();
    if (seen.length === 1) answeredAtMs = Date.now();
  });
  const runnel = new Runnel({ url, retries: 5 });
  t.teardown(() => runnel.close());

  const landed = await runnel.send({ topic: 'orders', records: [{ value: 'once' }] });
  t.same(landed.offsets, [{ partition: 0, offset: 7, timestamp: 1 }], 'the fourth attempt was acknowledged');
  t.equal(seen.length, 4, 'sent four times');
  t.equal(new Set(seen.map((each) => each.key)).size, 1, 'with one Idempotency-Key');
  t.not(seen[0].key, undefined);
  t.equal(new Set(seen.map((each) => each.body)).size, 1, 'and one body');
  t.ok(seen[1].atMs - answeredAtMs >= 1_000, 'the retry after Retry-After: 1 waited at least a second');

  const error = await runnel.topics.create({ name: 'orders', partitions: 1 }).catch((failure: unknown) => failure);
  t.ok(error instanceof RunnelApiError, 'a create answered REQUEST_TIMED_OUT fails');
  t.match(error, { code: 'REQUEST_TIMED_OUT', status: 503 });
});

void t.test('a node that does not answer is left after attemptTimeoutMs; a stalled leader is looked up again elsewhere; a long-poll is no stall', async (t) => {
  const server = await startServer(t);
  const admin = new Runnel({ url: server.url });
  t.teardown(() => admin.close());
  await admin.topics.create({ name: 'stalls', partitions: 1 });
  await admin.send({ topic: 'stalls', records: [{ value: 'here' }] });

  // Accepts every request and never answers (a frozen process).
  const held: http.ServerResponse[] = [];
  const stalled = await stubNode(t, (_request, _body, response) => {
    held.push(response);
  });
  // Says the stalled node leads partition 0; its metadata, read again, names the real node.
  let describeCount = 0;
  const pointer = await stubNode(t, (request, _body, response) => {
    if (request.url === '/v1/topics') {
      answer(response, 200, { topics: [] });
      return;
    }
    if (request.url === '/v1/topics/stalls') {
      describeCount += 1;
      answer(response, 200, { name: 'stalls', partitions: [{ partition: 0, leader: 1, leaderUrl: server.url }] });
      return;
    }
    answer(response, 503, { error: { code: 'NOT_LEADER', message: 'node 2 leads it', leaderId: 2, leaderUrl: stalled } });
  });

  const agent = countingAgent(t);
  const runnel = new Runnel({ urls: [stalled, pointer], attemptTimeoutMs: 300, timeoutMs: 10_000, dispatcher: agent });
  t.teardown(() => runnel.close());
  const fetched = await runnel.fetch('stalls', 0);
  t.same(fetched.records.map((record) => record.value), ['here'], 'partition 0 was read from the leader that another node named');
  t.equal(held.length, 1, 'after one try at the node that does not answer');
  t.equal(describeCount, 1, "the partition's leader was looked up again on another node");
  t.equal(runnel.url, pointer, 'the client moved on from the node that does not answer');
  t.same(await runnel.topics.list(), [], 'the next request goes to the node it moved to');
  t.equal(held.length, 1, 'not to the node that does not answer');

  const before = agent.count('GET', '/v1/topics/stalls/partitions/0/records');
  const waited = await runnel.fetch('stalls', 0, { offset: 1, waitMs: 1_000 });
  t.same(waited.records, [], 'a long-poll that waits longer than attemptTimeoutMs ends empty');
  t.equal(agent.count('GET', '/v1/topics/stalls/partitions/0/records') - before, 1, 'in one request: its wait was not taken for a stall');
});

void t.test('503 NOT_LEADER: naming another node it is followed at once; without a leader, or naming the node itself, Retry-After is waited', async (t) => {
  const served = await stubNode(t, (_request, _body, response) => {
    answer(response, 200, { records: [{ offset: 0, timestamp: 1, key: null, value: 'here', headers: {} }], nextOffset: 1, highWatermark: 1 });
  });
  let url = '';
  const attempts: number[] = [];
  const answers: Array<(response: http.ServerResponse) => void> = [];
  url = await stubNode(t, (_request, _body, response) => {
    attempts.push(Date.now());
    (answers.shift() ?? ((each) => answer(each, 200, { records: [], nextOffset: 0, highWatermark: 0 })))(response);
  });
  const runnel = new Runnel({ url, retries: 5, timeoutMs: 10_000 });
  t.teardown(() => runnel.close());

  // A Retry-After of 30 s beside a leaderUrl: were it waited, the 10 s deadline would end the call.
  answers.push((response) => answer(response, 503, { error: { code: 'NOT_LEADER', message: 'node 2 leads it', leaderId: 2, leaderUrl: served, leaderEpoch: 4 } }, { 'retry-after': '30' }));
  const followed = await runnel.fetch('t', 0);
  t.same(followed.records.map((record) => record.value), ['here'], 'the leader it named answered, within the deadline');

  for (const [what, leaderUrl] of [['no leader known', null], ['the node names itself', url]] as const) {
    attempts.length = 0;
    answers.push((response) => answer(response, 503, { error: { code: 'NOT_LEADER', message: 'no leader', leaderId: null, leaderUrl, leaderEpoch: null } }, { 'retry-after': '1' }));
    const read = await runnel.fetch('u', 0);
    t.same(read.records, [], `${what}: the retry got through`);
    t.equal(attempts.length, 2, `${what}: sent twice`);
    t.ok(attempts[1] - attempts[0] >= 1_000, `${what}: the retry waited the Retry-After of 1 s (${attempts[1] - attempts[0]} ms)`);
  }
});
