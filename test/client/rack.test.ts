/**
 * The client's `rack` option (Kafka's client.rack), against two stub nodes that answer
 * metadata as a cluster does: node 1 in rack 'a', node 2 in rack 'b'; partition 0 led
 * by node 1, partition 1 by node 2, both replicated on both nodes.
 * - a read of a partition goes to an in-sync replica in the client's rack, or to the
 *   leader when the leader is in it, the rack has no in-sync replica, or the client
 *   has no rack; writes go to the leader;
 * - a rack replica answering 5xx, or refusing connections, loses the read to the
 *   leader within the same call, and later reads go to the leader for a while.
 * (test/cluster/rack.test.ts does the same on real nodes.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { Runnel } from '../../src/index.js';
import { countingAgent, type CountingAgent } from '../helpers/counting-agent.js';

interface StubNode {
  nodeId: number;
  url: string;
  /** Partition record reads it received (method, path), in order. */
  reads: string[];
  /** What it answers to a partition's records or offsets: 200, or a 503. */
  mode: 'serve' | 'overloaded';
  close(): Promise<void>;
}

interface StubCluster {
  nodes: StubNode[];
  /** The ISR of each partition, as GET /v1/topics/t lists it. */
  isr: number[][];
}

function json(response: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function answer(cluster: StubCluster, node: StubNode, request: http.IncomingMessage, response: http.ServerResponse): void {
  const path = (request.url ?? '').split('?')[0];
  const leaders = [1, 2];
  if (path === '/v1/cluster') {
    json(response, 200, { clusterId: 'c', controller: 1, nodes: cluster.nodes.map((each) => ({ nodeId: each.nodeId, url: each.url, rack: each.nodeId === 1 ? 'a' : 'b', state: 'online' })) });
    return;
  }
  if (path === '/v1/topics/t') {
    json(response, 200, {
      name: 't',
      partitions: leaders.map((leader, partition) => ({
        partition, leader, leaderUrl: cluster.nodes[leader - 1].url, leaderEpoch: 0, replicas: [1, 2], isr: cluster.isr[partition],
      })),
    });
    return;
  }
  const read = /^\/v1\/topics\/t\/partitions\/(\d+)\/(records|offsets)$/.exec(path);
  if (read === null) {
    json(response, 404, { error: { code: 'NOT_FOUND', message: path } });
    return;
  }
  node.reads.push(`${request.method} ${path}`);
  if (node.mode === 'overloaded') {
    json(response, 503, { error: { code: 'OVERLOADED', message: 'busy' } }, { 'retry-after': '1' });
  } else if (request.method === 'POST' && request.headers['content-type'] === 'application/vnd.runnel.record-batch') {
    json(response, 200, { batches: [{ partition: Number(read[1]), baseOffset: 0, lastOffset: 0, timestamp: 1 }] }, { 'runnel-served-by': String(node.nodeId) });
  } else if (request.method === 'POST') {
    json(response, 200, { offsets: [{ partition: Number(read[1]), offset: 0, timestamp: 1 }] }, { 'runnel-served-by': String(node.nodeId) });
  } else if (request.headers.accept === 'application/x-ndjson') {
    response.writeHead(200, { 'content-type': 'application/x-ndjson', 'runnel-served-by': String(node.nodeId) });
    response.end(JSON.stringify({ offset: 0, timestamp: 1, key: null, value: `from node ${node.nodeId}`, headers: {} }) + '\n');
  } else if (read[2] === 'offsets') {
    json(response, 200, { logStartOffset: 0, highWatermark: 1, logEndOffset: 1 }, { 'runnel-served-by': String(node.nodeId) });
  } else {
    json(response, 200, { records: [{ offset: 0, timestamp: 1, key: null, value: `from node ${node.nodeId}`, headers: {} }], nextOffset: 1, highWatermark: 1 }, { 'runnel-served-by': String(node.nodeId) });
  }
}

async function stubCluster(t: Test): Promise<StubCluster> {
  const cluster: StubCluster = { nodes: [], isr: [[1, 2], [1, 2]] };
  for (const nodeId of [1, 2]) {
    const node: StubNode = { nodeId, url: '', reads: [], mode: 'serve', close: async () => undefined };
    const server = http.createServer((request, response) => {
      request.resume();
      request.on('end', () => answer(cluster, node, request, response));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let isClosed = false;
    node.close = () => {
      if (isClosed) return Promise.resolve();
      isClosed = true;
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    };
    t.teardown(() => node.close());
    cluster.nodes.push(node);
  }
  return cluster;
}

function client(t: Test, cluster: StubCluster, rack: string | undefined, agent: CountingAgent = countingAgent(t)): Runnel {
  const runnel = new Runnel({ urls: cluster.nodes.map((node) => node.url), rack, dispatcher: agent, timeoutMs: 10_000, backoff: { baseMs: 10, maxMs: 50 } });
  t.teardown(() => runnel.close());
  return runnel;
}

async function readValue(runnel: Runnel, partition: number): Promise<unknown> {
  return (await runnel.fetch('t', partition, { offset: 0 })).records[0]?.value;
}

void t.test('reads go to an in-sync replica in the client rack, else to the leader; writes to the leader', async (t) => {
  const cluster = await stubCluster(t);
  const [one, two] = cluster.nodes;
  const inB = client(t, cluster, 'b');
  t.equal(await readValue(inB, 0), 'from node 2', 'rack b reads partition 0 (led by node 1) from node 2');
  t.equal((await inB.offsets('t', 0)).highWatermark, 1, 'its offsets too');
  t.same(two.reads, ['GET /v1/topics/t/partitions/0/records', 'GET /v1/topics/t/partitions/0/offsets'], 'node 2 served both');
  t.same(one.reads, [], 'node 1 served none');

  const streamed: unknown[] = [];
  const controller = new AbortController();
  for await (const record of inB.stream('t', 0, { offset: 0, signal: controller.signal })) {
    streamed.push(record.value);
    controller.abort();
  }
  t.same(streamed, ['from node 2'], 'a stream is opened on node 2 too');

  await inB.send({ topic: 't', partition: 0, records: [{ value: 'w' }] });
  t.same(one.reads, ['POST /v1/topics/t/partitions/0/records'], 'a write goes to the leader, node 1');

  const inA = client(t, cluster, 'a');
  t.equal(await readValue(inA, 0), 'from node 1', 'rack a reads partition 0 from its leader, in rack a');
  t.equal(await readValue(inA, 1), 'from node 1', 'and partition 1 (led by node 2) from node 1, its in-sync replica in rack a');

  cluster.isr[1] = [2];
  const outOfSync = client(t, cluster, 'a');
  t.equal(await readValue(outOfSync, 1), 'from node 2', 'a replica out of the ISR is not read: the leader is');

  const elsewhere = client(t, cluster, 'c');
  t.equal(await readValue(elsewhere, 0), 'from node 1', 'a rack no node is in: the leader');
  const none = client(t, cluster, undefined);
  const before = two.reads.length;
  t.equal(await readValue(none, 0), 'from node 1', 'no rack: the leader');
  t.equal(two.reads.length, before, 'node 2 was not asked');
  t.throws(() => new Runnel({ url: one.url, rack: 'zone a' }), /expected rack to be 1-64 characters/, 'a malformed rack is refused');
});

void t.test('a rack replica that answers 5xx loses the read to the leader, in the same call and for a while', async (t) => {
  const cluster = await stubCluster(t);
  const [one, two] = cluster.nodes;
  two.mode = 'overloaded';
  const runnel = client(t, cluster, 'b');
  t.equal(await readValue(runnel, 0), 'from node 1', 'the read succeeds, from the leader');
  t.equal(two.reads.length, 1, 'node 2 was asked once');
  t.equal(await readValue(runnel, 0), 'from node 1', 'the next read goes to the leader at once');
  t.equal(two.reads.length, 1, 'without asking node 2 again');
  t.equal(one.reads.length, 2, 'node 1 served both');
});

void t.test('a rack replica that refuses connections loses the read to the leader', async (t) => {
  const cluster = await stubCluster(t);
  const [one, two] = cluster.nodes;
  const runnel = client(t, cluster, 'b');
  t.equal(await readValue(runnel, 0), 'from node 2', 'first from node 2');
  await two.close();
  for (let round = 0; round < 3; round++) t.equal(await readValue(runnel, 0), 'from node 1', `read ${round + 1} after node 2 went away: from the leader`);
  t.equal(one.reads.length, 3, 'node 1 served them');
});
