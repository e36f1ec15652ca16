/**
 * The client on three real nodes (child processes), learning from Runnel-Served-By:
 * - given only a follower's URL, or every node's URL with a follower first, its first
 *   produce to a partition path goes to that follower (which forwards it to the
 *   leader); the answer names the leader, and every later produce of the partition
 *   goes straight to the leader: no forward hop. The only request of its own is one
 *   GET /v1/cluster (node ids to URLs).
 * - given one URL that no node advertises (a round-robin reverse proxy in front of the
 *   three nodes), it keeps sending everything to the proxy; and a fetch with waitMs 0
 *   right after each acknowledged produce (acks=all and acks=leader in turn) returns the
 *   record just written, whichever node the proxy picks for the fetch (read-your-writes,
 *   src/client/read-your-writes.ts).
 * Which node each request went to is read off the client's own dispatcher. Every request
 * has a deadline and every loop a bound; no timing is asserted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Agent, type Dispatcher } from 'undici';
import { Runnel } from '../../src/index.js';
import { startCluster } from '../helpers/cluster.js';
import { partitionRoles, replicatedTopic, SERVED_BY } from '../cluster/one-url/support.js';

t.setTimeout(120_000);

/** Produce-then-fetch rounds through the proxy. */
const READ_YOUR_WRITES_ROUNDS = 30;

/** An undici Agent that notes where each request went (origin, method, path without the query). */
class RecordingAgent extends Agent {
  readonly sent: Array<{ origin: string; method: string; path: string }> = [];

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    this.sent.push({ origin: String(options.origin).replace(/\/$/, ''), method: options.method, path: options.path.split('?')[0] });
    return super.dispatch(options, handler);
  }

  /** The origins `method path` requests went to, in order. */
  originsOf(method: string, path: string): string[] {
    return this.sent.filter((request) => request.method === method && request.path === path).map((request) => request.origin);
  }
}

function recordingAgent(t: Test): RecordingAgent {
  const agent = new RecordingAgent();
  t.teardown(() => agent.close());
  return agent;
}

/** A round-robin reverse proxy on 127.0.0.1:0 in front of `targets`; notes which node served each fetch (Runnel-Served-By). */
async function startRoundRobin(t: Test, targets: string[]): Promise<{ url: string; fetchesServedBy: string[] }> {
  const fetchesServedBy: string[] = [];
  const agent = new http.Agent({ keepAlive: true });
  let turn = 0;
  const server = http.createServer((request, response) => {
    const target = targets[turn++ % targets.length];
    const headers = { ...request.headers, host: new URL(target).host };
    delete headers.connection;
    const upstream = http.request(`${target}${request.url}`, { method: request.method, headers, agent, timeout: 10_000 }, (answer) => {
      if (request.method === 'GET' && /\/partitions\/\d+\/records/.test(request.url ?? '')) fetchesServedBy.push(String(answer.headers[SERVED_BY]));
      const answerHeaders = { ...answer.headers };
      delete answerHeaders.connection;
      delete answerHeaders['keep-alive'];
      response.writeHead(answer.statusCode ?? 502, answerHeaders);
      answer.pipe(response);
    });
    upstream.on('timeout', () => upstream.destroy(new Error('no answer within 10 s')));
    upstream.on('error', (error) => {
      if (!response.headersSent) response.writeHead(502).end(error.message);
      else response.destroy();
    });
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, fetchesServedBy };
}

void t.test('Runnel-Served-By on real nodes', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await replicatedTopic(cluster, 'served', { partitions: 1 });
  const { leader, followers } = await partitionRoles(cluster, 'served', 0);
  const produce = '/v1/topics/served/partitions/0/records';

  for (const [what, urls] of [
    ['one follower URL', [cluster.url(followers[0])]],
    ['every node URL, a follower first', [cluster.url(followers[1]), cluster.url(followers[0]), cluster.url(leader)]],
  ] as const) {
    await t.test(`given ${what}, the second produce to a partition goes straight to its leader`, async (t) => {
      const agent = recordingAgent(t);
      const runnel = new Runnel({ urls: [...urls], dispatcher: agent, timeoutMs: 10_000 });
      t.teardown(() => runnel.close());
      const first = await runnel.send({ topic: 'served', partition: 0, acks: 'all', records: [{ value: `${what} 1` }] });
      const second = await runnel.send({ topic: 'served', partition: 0, acks: 'all', records: [{ value: `${what} 2` }] });
      const third = await runnel.send({ topic: 'served', partition: 0, acks: 'all', records: [{ value: `${what} 3` }] });
      t.same([second.offsets[0].offset, third.offsets[0].offset], [first.offsets[0].offset + 1, first.offsets[0].offset + 2], 'every produce appended once, in order');
      t.same(agent.originsOf('POST', produce), [urls[0], cluster.url(leader), cluster.url(leader)], 'the first to the follower, then to the leader the answer named');
      t.equal(agent.originsOf('GET', '/v1/cluster').length, 1, 'one look-up of the nodes\' URLs');
      t.equal(agent.sent.length, 4, 'no other request');
      const read = await runnel.fetch('served', 0, { offset: first.offsets[0].offset, maxRecords: 3 });
      t.same(read.records.map((record) => record.value), [`${what} 1`, `${what} 2`, `${what} 3`]);
    });
  }

  await t.test('behind a round-robin proxy the client keeps to the proxy and reads its own writes with waitMs 0', async (t) => {
    const proxy = await startRoundRobin(t, cluster.urls());
    const agent = recordingAgent(t);
    const runnel = new Runnel({ url: proxy.url, dispatcher: agent, timeoutMs: 10_000 });
    t.teardown(() => runnel.close());
    const misses: string[] = [];
    for (let round = 0; round < READ_YOUR_WRITES_ROUNDS; round++) {
      // acks=leader is acknowledged before the high watermark passes the record: a read must wait for it, on the leader too.
      const acks = round % 2 === 0 ? 'all' : 'leader';
      const value = `proxied ${round}, acks=${acks}`;
      const { offsets } = await runnel.send({ topic: 'served', partition: 0, acks, records: [{ value }] });
      const read = await runnel.fetch('served', 0, { offset: offsets[0].offset, waitMs: 0, maxRecords: 1 });
      if (read.records[0]?.value !== value) misses.push(`${value} at ${offsets[0].offset}: ${JSON.stringify(read).slice(0, 200)}`);
    }
    t.same(misses, [], 'every fetch returned the record just acknowledged');
    t.same([...new Set(agent.sent.map((request) => request.origin))], [proxy.url], 'every request went to the proxy');
    t.ok(proxy.fetchesServedBy.some((nodeId) => followers.map(String).includes(nodeId)), `followers served some of the fetches (${proxy.fetchesServedBy.join(' ')})`);
  });
});
