/**
 * Retries that never duplicate, and following the leader:
 * - a TCP proxy cuts the connection right after forwarding a produce request, before
 *   the node's answer reaches the client: the client sends the request again with the
 *   same Idempotency-Key and body, and the log holds each record exactly once;
 * - a stub node answers 503 NOT_LEADER naming the real node: the client produces there.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { Runnel, RunnelApiError, RunnelConnectionError, type RecordMetadata } from '../../src/index.js';
import { countingAgent } from '../helpers/counting-agent.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { startServer } from '../helpers/server.js';

async function allValues(runnel: Runnel, topic: string, partition: number): Promise<unknown[]> {
  const values: unknown[] = [];
  let offset = 0;
  for (let round = 0; round < 100; round++) {
    const answer = await runnel.fetch(topic, partition, { offset, maxRecords: 10_000 });
    for (const record of answer.records) values.push(record.value);
    if (answer.nextOffset >= answer.highWatermark) break;
    offset = answer.nextOffset;
  }
  return values;
}

for (const wireFormat of ['record-batch', 'json'] as const) {
  void t.test(`${wireFormat}: a produce whose answer is lost is retried with the same Idempotency-Key and appended once`, async (t) => {
    // One partition: JSON goes to the topic's path, record batches to the partition's.
    const producePath = wireFormat === 'json' ? '/v1/topics/payments/records' : '/v1/topics/payments/partitions/0/records';
    const produceRequest = new RegExp(`^POST ${producePath}`);
    const server = await startServer(t);
    const proxy = await startFaultProxy(t, server.url);
    const agent = countingAgent(t);
    const runnel = new Runnel({ url: proxy.url, dispatcher: agent, retries: 5, wireFormat });
    t.teardown(() => runnel.close());
    await runnel.topics.create({ name: 'payments', partitions: 1 });

    // send(): one request, its answer cut twice.
    proxy.dropReply(produceRequest, 2);
    const answer = await runnel.send({ topic: 'payments', records: [{ key: 'p-1', value: 100 }, { key: 'p-2', value: 200 }] });
    t.same(answer.offsets.map((entry) => entry.offset), [0, 1], 'the answer is the first append, replayed');
    t.equal(proxy.cutCount, 2, 'two answers were cut');
    const attempts = agent.requests.filter((request) => request.method === 'POST' && request.path === producePath);
    t.equal(attempts.length, 3, 'sent three times');
    t.equal(new Set(attempts.map((request) => request.headers['idempotency-key'])).size, 1, 'every attempt carried the same Idempotency-Key');

    // The batching producer: every third batch loses its answer once.
    proxy.dropReply(produceRequest, 3);
    const producer = runnel.producer({ batchRecordsMax: 100, lingerMs: 1_000, maxInFlight: 2 });
    const sends: Array<Promise<RecordMetadata>> = [];
    for (let i = 0; i < 1_000; i++) sends.push(producer.send('payments', { value: `payment-${i}` }));
    await producer.flush();
    const landed = await Promise.all(sends);
    t.equal(proxy.cutCount, 5, 'three more answers were cut');
    t.same([...new Set(landed.map((entry) => entry.offset))].length, 1_000, 'every record got its own offset');

    const values = await allValues(runnel, 'payments', 0);
    t.equal(values.length, 1_002, 'the log holds 1002 records: nothing appended twice');
    const produced = values.slice(2);
    t.same([...produced].sort(), Array.from({ length: 1_000 }, (_, i) => `payment-${i}`).sort(), 'each record exactly once');
    const batchKeys = new Map<string, number>();
    for (const request of agent.requests) {
      if (request.method !== 'POST' || request.path !== producePath) continue; // record batches: fetches share the path
      const key = request.headers['idempotency-key'];
      batchKeys.set(key, (batchKeys.get(key) ?? 0) + 1);
    }
    t.equal(batchKeys.size, 11, 'one key per request body (1 send + 10 batches)');
    const resends = [...batchKeys.values()].reduce((sum, count) => sum + count - 1, 0);
    t.equal(resends, 5, 'each of the five cut answers was followed by a resend with the same key');
  });
}

void t.test('a write without an Idempotency-Key is not resent after a cut answer; a refused connection is retried', async (t) => {
  const server = await startServer(t);
  const proxy = await startFaultProxy(t, server.url);
  const runnel = new Runnel({ url: proxy.url, retries: 3 });
  t.teardown(() => runnel.close());

  proxy.dropReply(/^POST \/v1\/topics /, 1);
  const error = await runnel.topics.create({ name: 'once', partitions: 1 }).catch((failure: unknown) => failure);
  t.ok(error instanceof RunnelConnectionError, 'the create failed with a connection error instead of being sent twice');
  t.same((await runnel.topics.list()).map((topic) => topic.name), ['once'], 'the node did create it, once');

  // A node that refuses connections is skipped for the next one in `urls`.
  const dead = await startServer(t);
  const deadUrl = dead.url;
  await dead.close();
  const failover = new Runnel({ urls: [deadUrl, server.url], retries: 2 });
  t.teardown(() => failover.close());
  t.same((await failover.topics.list()).map((topic) => topic.name), ['once']);
  t.equal(failover.url, server.url, 'the client now talks to the live node');
});

void t.test('503 NOT_LEADER: the client re-sends to the leaderUrl and keeps talking to it', async (t) => {
  const server = await startServer(t);
  let stubRequests = 0;
  const stub = http.createServer((request, response) => {
    stubRequests += 1;
    request.resume();
    request.on('end', () => {
      response.writeHead(503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 'NOT_LEADER', message: 'this node does not lead the partition', leaderUrl: server.url } }));
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    stub.closeAllConnections();
    stub.close(() => resolve());
  }));
  const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;

  const runnel = new Runnel({ url: stubUrl });
  t.teardown(() => runnel.close());
  const admin = new Runnel({ url: server.url });
  t.teardown(() => admin.close());
  await admin.topics.create({ name: 'routed', partitions: 1 });

  const answer = await runnel.send({ topic: 'routed', records: [{ value: 'followed' }] });
  t.equal(answer.offsets[0].offset, 0);
  t.equal(stubRequests, 1, 'the stub saw one request');
  t.equal(runnel.url, server.url, 'the leader is now the node the client talks to');
  t.same(runnel.urls, [stubUrl, server.url], 'and it was added to the known nodes');

  const producer = runnel.producer({ lingerMs: 1 });
  const landed = await Promise.all([producer.send('routed', { value: 'a' }), producer.send('routed', { value: 'b' })]);
  t.same(landed.map((entry) => entry.offset), [1, 2]);
  t.equal(stubRequests, 1, 'later requests go straight to the leader');
  t.same((await admin.fetch('routed', 0)).records.map((record) => record.value), ['followed', 'a', 'b']);

  // A leader that keeps pointing elsewhere: bounded by retries, then the typed error.
  const loop = http.createServer((request, response) => {
    request.resume();
    response.writeHead(503, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: { code: 'NOT_LEADER', message: 'ask again', leaderUrl: `http://127.0.0.1:${(loop.address() as AddressInfo).port}` } }));
  });
  await new Promise<void>((resolve) => loop.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    loop.closeAllConnections();
    loop.close(() => resolve());
  }));
  const lost = new Runnel({ url: `http://127.0.0.1:${(loop.address() as AddressInfo).port}`, retries: 3 });
  t.teardown(() => lost.close());
  const error = await lost.send({ topic: 'routed', records: [{ value: 'x' }] }).catch((failure: unknown) => failure);
  t.ok(error instanceof RunnelApiError);
  t.match(error, { code: 'NOT_LEADER', status: 503 });
});

void t.test('NOT_LEADER redirects are followed without spending retries: a chain of them reaches the leader with retries 0', async (t) => {
  const server = await startServer(t);
  /** A node that answers every request with NOT_LEADER naming `next()`. */
  const redirecting = async (next: () => string): Promise<{ url: string; requests: () => number }> => {
    let requests = 0;
    const stub = http.createServer((request, response) => {
      requests += 1;
      request.resume();
      request.on('end', () => {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'NOT_LEADER', message: 'another node leads it', leaderUrl: next() } }));
      });
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => {
      stub.closeAllConnections();
      stub.close(() => resolve());
    }));
    return { url: `http://127.0.0.1:${(stub.address() as AddressInfo).port}`, requests: () => requests };
  };
  // As in a failover: the first node names a stale leader, which names the new one.
  const stale = await redirecting(() => server.url);
  const first = await redirecting(() => stale.url);
  const admin = new Runnel({ url: server.url });
  t.teardown(() => admin.close());
  await admin.topics.create({ name: 'redirected', partitions: 1 });
  const runnel = new Runnel({ url: first.url, retries: 0 });
  t.teardown(() => runnel.close());
  const answer = await runnel.send({ topic: 'redirected', records: [{ value: 'there' }] });
  t.equal(answer.offsets[0].offset, 0, 'acknowledged by the leader after two redirects');
  t.same([first.requests(), stale.requests()], [1, 1], 'each redirecting node asked once');

  // Redirects alone are bounded too: two nodes naming each other end in the typed error.
  let other = '';
  const ping = await redirecting(() => other);
  const pong = await redirecting(() => ping.url);
  other = pong.url;
  const looping = new Runnel({ url: ping.url, retries: 0 });
  t.teardown(() => looping.close());
  const error = await looping.send({ topic: 'redirected', records: [{ value: 'x' }] }).catch((failure: unknown) => failure);
  t.match(error, { code: 'NOT_LEADER', status: 503 }, 'NOT_LEADER once the redirects are spent');
  t.ok(ping.requests() + pong.requests() <= 10, `at most 9 requests (${ping.requests() + pong.requests()})`);
});

void t.test("NOT_LEADER for a partition: its leader is remembered for that partition only, the client's node stays", async (t) => {
  const server = await startServer(t);
  const admin = new Runnel({ url: server.url });
  t.teardown(() => admin.close());
  await admin.topics.create({ name: 'split', partitions: 2 });
  await admin.send({ topic: 'split', records: [{ value: 'zero', partition: 0 }, { value: 'one', partition: 1 }] });
  // A node that leads partition 1 only: partition 0's requests are sent to the real node.
  const seen: string[] = [];
  const stub = http.createServer((request, response) => {
    seen.push(`${request.method} ${request.url}`);
    request.resume();
    request.on('end', () => {
      if (request.url?.startsWith('/v1/topics/split/partitions/0/') === true) {
        response.writeHead(503, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ error: { code: 'NOT_LEADER', message: 'node 2 leads it', leaderId: 2, leaderUrl: server.url } }));
      } else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ topics: [] }));
      }
    });
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    stub.closeAllConnections();
    stub.close(() => resolve());
  }));
  const stubUrl = `http://127.0.0.1:${(stub.address() as AddressInfo).port}`;
  const runnel = new Runnel({ url: stubUrl });
  t.teardown(() => runnel.close());

  t.same((await runnel.fetch('split', 0)).records.map((record) => record.value), ['zero'], 'partition 0 read from its leader');
  t.same((await runnel.fetch('split', 0)).records.map((record) => record.value), ['zero'], 'and again');
  t.equal(seen.filter((line) => line.includes('/partitions/0/')).length, 1, 'only the first partition-0 request went to the stub');
  t.equal(runnel.url, stubUrl, 'the client still talks to its own node for everything else');
  t.same(await runnel.topics.list(), [], 'a topic list goes to the stub');
  t.equal(seen.filter((line) => line.startsWith('GET /v1/topics')).length, 2, 'the stub answered the list (and saw the first fetch)');
});

void t.test('429 and 503 are retried with backoff until they pass', async (t) => {
  let refusals = 2;
  const flaky = http.createServer((request, response) => {
    if (refusals > 0) {
      refusals -= 1;
      request.resume();
      response.writeHead(refusals === 1 ? 429 : 503, { 'content-type': 'application/json', 'retry-after': '0' });
      response.end(JSON.stringify({ error: { code: refusals === 1 ? 'TOO_MANY_REQUESTS' : 'OVERLOADED', message: 'later' } }));
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ topics: [{ name: 'after-refusals', partitions: 1, replicationFactor: 1 }] }));
  });
  await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    flaky.closeAllConnections();
    flaky.close(() => resolve());
  }));
  const runnel = new Runnel({ url: `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`, retries: 3 });
  t.teardown(() => runnel.close());
  t.same((await runnel.topics.list()).map((topic) => topic.name), ['after-refusals'], 'the third attempt got through');
  t.equal(refusals, 0, 'both refusals were retried');
});
