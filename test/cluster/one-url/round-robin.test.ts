/**
 * One URL for the whole cluster (issue 21): behind a round-robin reverse proxy in front
 * of three real nodes, README.md's curl tour runs unchanged and every answer is 2xx (or
 * the status the README documents for that step), never NOT_LEADER.
 *
 * The proxy is a few lines of node:http below: each request goes to the next node in
 * turn, bodies stream both ways (a stream's records reach the client as they come), and
 * it notes which node answered what. The tour's topic gets the default replication
 * factor, 3 on three nodes. Its steps, as test/http/readme-tour.test.ts replays them on
 * one node: create, produce (topic path, NDJSON to a partition path, an Idempotency-Key
 * and its retry, an idempotent producer's sequenced batch and its retry, acks=none),
 * fetch, a long-poll, an offset out of range (416), SSE and NDJSON streams, offsets and
 * the offset for a time, the consumer-group section (join, poll, poll with ack, commit,
 * heartbeat, leave, list, describe, offsets, reset, delete), describe, alter, delete,
 * health and docs. A user types the next command seconds after the last; the test waits
 * after a topic change until every node knows it, rather than race the metadata.
 * Every request has a deadline; no timing is asserted.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { startCluster, type Cluster } from '../../helpers/cluster.js';
import { requestJson, type FetchResponse, type JsonResponse, type RecordOffset } from '../../helpers/http.js';
import { postRaw } from '../../helpers/http-support.js';
import { OFFSETS_TOPIC } from '../../../src/broker/groups/offsets-records.js';
import { openStream, servedBy, waitForFullIsrs, waitForInSync } from './support.js';

t.setTimeout(120_000);

interface Exchange {
  request: string;
  node: number;
  status: number;
  /** The start of the body of a non-2xx answer. */
  body?: string;
  retryAfter?: string;
}

/** A round-robin reverse proxy on 127.0.0.1:0 in front of `nodes` (id -> URL); closed at teardown. */
async function startRoundRobin(t: Test, nodes: Array<[number, string]>): Promise<{ url: string; exchanges: Exchange[] }> {
  const exchanges: Exchange[] = [];
  const agent = new http.Agent({ keepAlive: true });
  let turn = 0;
  const server = http.createServer((request, response) => {
    const [node, target] = nodes[turn++ % nodes.length];
    const headers = { ...request.headers, host: new URL(target).host };
    delete headers.connection;
    const upstream = http.request(`${target}${request.url}`, { method: request.method, headers, agent }, (answer) => {
      const status = answer.statusCode ?? 0;
      const exchange: Exchange = { request: `${request.method} ${request.url}`, node, status };
      exchanges.push(exchange);
      if (status < 200 || status > 299) {
        exchange.retryAfter = answer.headers['retry-after'];
        exchange.body = '';
        answer.on('data', (chunk: Buffer) => {
          if (exchange.body!.length < 500) exchange.body += chunk.toString('utf8');
        });
      }
      const answerHeaders = { ...answer.headers };
      delete answerHeaders.connection;
      delete answerHeaders['keep-alive'];
      response.writeHead(status, answerHeaders);
      response.flushHeaders();
      answer.pipe(response);
    });
    upstream.on('error', (error) => {
      exchanges.push({ request: `${request.method} ${request.url}`, node, status: 502, body: error.message });
      if (!response.headersSent) response.writeHead(502).end(error.message);
      else response.destroy();
    });
    // A client that goes away (the end of a stream) ends the exchange with the node.
    response.on('close', () => upstream.destroy());
    request.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    agent.destroy();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, exchanges };
}

function ok<T>(t: Test, response: JsonResponse<T>, what: string, status?: number): T {
  const isOk = status === undefined ? response.status >= 200 && response.status <= 299 : response.status === status;
  t.ok(isOk, `${what}: ${status ?? '2xx'} (got ${response.status}${isOk ? '' : ` ${JSON.stringify(response.body).slice(0, 300)}`})`);
  return response.body;
}

async function offsetsTopicReady(cluster: Cluster): Promise<void> {
  await cluster.waitFor(async () => {
    const answer = await requestJson<{ partitions: Array<{ leader: number | null; isr: number[] }> }>(`${cluster.url(1)}/v1/topics/${OFFSETS_TOPIC}`, { timeoutMs: 3_000 });
    return answer.status === 200 && answer.body.partitions.every((partition) => partition.leader !== null && partition.isr.length === 3);
  }, 20_000, `${OFFSETS_TOPIC} with a leader and three in-sync replicas per partition`);
}

void t.test('the README curl tour through a round-robin proxy in front of three nodes: every answer 2xx, never NOT_LEADER', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await offsetsTopicReady(cluster);
  const proxy = await startRoundRobin(t, cluster.members.map((member) => [member.nodeId, member.url]));
  const base = proxy.url;

  // Create a topic with three partitions (the default replication factor: 3).
  ok(t, await requestJson(`${base}/v1/topics`, { body: '{"name":"orders","partitions":3,"configs":{"retention.ms":"86400000"}}', timeoutMs: 20_000 }), 'create', 201);
  await waitForFullIsrs(cluster, 'orders', 3);

  // Produce a batch.
  const batch = ok(t, await requestJson<{ offsets: RecordOffset[] }>(`${base}/v1/topics/orders/records`, {
    body: `{"records":[{"key":"alice","value":{"item":"book","qty":1}},
                  {"key":"bob","value":{"item":"pen","qty":3},"headers":{"source":"web"}},
                  {"value":"no key, a JSON string value"}]}`,
  }), 'produce a batch', 200);
  const alice = batch.offsets[0];

  // NDJSON to a partition path.
  ok(t, await postRaw(`${base}/v1/topics/orders/partitions/0/records?valueFormat=string`, '{"value":"a"}\n{"value":"b"}\n', 'application/x-ndjson'), 'produce NDJSON to partition 0', 200);

  // Retry safely with an Idempotency-Key (the retry reaches another node).
  const idempotent = { body: '{"records":[{"key":"alice","value":{"item":"lamp"}}]}', headers: { 'idempotency-key': 'order-42' } };
  const first = ok(t, await requestJson(`${base}/v1/topics/orders/records`, idempotent), 'an Idempotency-Key', 200);
  const retried = ok(t, await requestJson(`${base}/v1/topics/orders/records`, idempotent), 'its retry', 200);
  t.same(retried, first, 'the retry gets the first answer');

  // An idempotent producer: an id, then a sequenced batch to a partition path and its retry.
  const producer = ok(t, await requestJson<{ producerId: number; producerEpoch: number }>(`${base}/v1/producers`, { method: 'POST' }), 'a producer id', 200);
  const sequenced = { body: JSON.stringify({ producerId: producer.producerId, producerEpoch: producer.producerEpoch, baseSequence: 0, records: [{ value: 'first' }, { value: 'second' }] }) };
  const sent = ok(t, await requestJson(`${base}/v1/topics/orders/partitions/0/records`, sequenced), 'a sequenced batch', 200);
  t.same(ok(t, await requestJson(`${base}/v1/topics/orders/partitions/0/records`, sequenced), 'its retry', 200), sent, 'its retry answers the same offsets');

  // acks=none answers 202.
  ok(t, await requestJson(`${base}/v1/topics/orders/records?acks=none`, { body: '{"records":[{"value":1}]}' }), 'acks=none', 202);

  // Fetch from an offset.
  const fetched = ok(t, await requestJson<FetchResponse>(`${base}/v1/topics/orders/partitions/${alice.partition}/records?offset=earliest&maxRecords=100`), 'fetch', 200);
  t.match(fetched.records?.find((record) => record.offset === alice.offset), { key: 'alice', value: { item: 'book', qty: 1 } }, 'alice reads back');

  // waitMs long-polls until a record arrives (from the end that answer saw; a few polls at most).
  let at = fetched.highWatermark;
  const polling = (async () => {
    const values: unknown[] = [];
    for (let poll = 0; poll < 5 && !values.includes('late'); poll++) {
      const answer = ok(t, await requestJson<FetchResponse>(`${base}/v1/topics/orders/partitions/${alice.partition}/records?offset=${at}&waitMs=10000`, { timeoutMs: 20_000 }), `long-poll ${poll + 1}`, 200);
      values.push(...(answer.records ?? []).map((record) => record.value));
      at = answer.nextOffset ?? at;
    }
    return values;
  })();
  ok(t, await requestJson(`${base}/v1/topics/orders/partitions/${alice.partition}/records`, { body: '{"records":[{"value":"late"}]}' }), 'produce to the polled partition', 200);
  t.ok((await polling).includes('late'), 'the long-poll returns the new record');

  // An offset outside [logStartOffset, highWatermark]: 416, as documented.
  const outside = await requestJson<{ error: { code: string } }>(`${base}/v1/topics/orders/partitions/${alice.partition}/records?offset=999`);
  t.equal(outside.status, 416, 'offset 999: 416');
  t.equal(outside.body.error?.code, 'OFFSET_OUT_OF_RANGE', 'offset 999: OFFSET_OUT_OF_RANGE');

  // Follow partition 1 live: SSE from earliest, NDJSON from latest (then a record for it).
  const sse = await openStream(t, `${base}/v1/topics/orders/partitions/1/records?offset=earliest`, { accept: 'text/event-stream' });
  const ndjson = await openStream(t, `${base}/v1/topics/orders/partitions/1/records?offset=latest`, { accept: 'application/x-ndjson' });
  t.equal(sse.status, 200, 'SSE stream: 200');
  t.equal(ndjson.status, 200, 'NDJSON stream: 200');
  const live = ok(t, await requestJson<{ offsets: RecordOffset[] }>(`${base}/v1/topics/orders/partitions/1/records`, { body: '{"records":[{"value":"live"}]}' }), 'produce to partition 1', 200);
  const liveOffset = live.offsets[0].offset;
  await sse.reader.waitFor(() => sse.reader.sseEvents().some((event) => event.event === 'record' && event.id === String(liveOffset)), 'the SSE stream delivers the new record');
  await ndjson.reader.waitFor(() => ndjson.reader.ndjsonLines().some((line) => line.offset === liveOffset), 'the NDJSON stream delivers the new record');
  const sseOffsets = sse.reader.sseEvents().filter((event) => event.event === 'record').map((event) => Number(event.id));
  t.same(sseOffsets, Array.from({ length: liveOffset + 1 }, (_, index) => index), 'SSE: every offset of partition 1, once, in order');
  // 'latest' on a follower is the leader's high watermark as its last fetch answer gave
  // it, which may trail the leader's by a fetch: a record committed just before the
  // stream opened may come first.
  const ndjsonLines = ndjson.reader.ndjsonLines().map((line) => [line.offset, line.value]);
  t.same(ndjsonLines.at(-1), [liveOffset, 'live'], 'NDJSON from latest: the new record, last');
  t.same(ndjsonLines.map(([offset]) => offset), Array.from({ length: ndjsonLines.length }, (_, index) => liveOffset - ndjsonLines.length + 1 + index), 'NDJSON: consecutive offsets, once each');
  await sse.close();
  await ndjson.close();

  // Offsets, and the first offset at or after a time.
  ok(t, await requestJson(`${base}/v1/topics/orders/partitions/1/offsets`), 'offsets', 200);
  const byTime = ok(t, await requestJson<{ offset: number | null }>(`${base}/v1/topics/orders/partitions/1/offsets?timestamp=${Date.now() - 60_000}`), 'offset for a time', 200);
  t.equal(byTime.offset, 0, 'a minute ago: the first record');

  await consumerGroupTour(t, base);

  // Describe, alter, delete.
  ok(t, await requestJson(`${base}/v1/topics`), 'list topics', 200);
  ok(t, await requestJson(`${base}/v1/topics/orders`), 'describe', 200);
  const altered = ok(t, await requestJson<{ partitions: unknown[] }>(`${base}/v1/topics/orders`, {
    method: 'PATCH',
    body: '{"partitions":6,"configs":{"retention.bytes":"1073741824","retention.ms":null}}',
    timeoutMs: 20_000,
  }), 'alter', 200);
  t.equal(altered.partitions?.length, 6, 'six partitions');
  await waitForInSync(cluster, 'orders', 6);
  ok(t, await requestJson(`${base}/v1/topics/orders/partitions/5/records?offset=earliest`), 'fetch a new partition', 200);
  ok(t, await requestJson(`${base}/v1/topics/orders`, { method: 'DELETE', timeoutMs: 20_000 }), 'delete', 204);

  // Health and docs, and the cluster.
  for (const path of ['/health/live', '/health/ready', '/openapi.json', '/v1/cluster']) ok(t, await requestJson(`${base}${path}`), path, 200);

  const nodesUsed = new Set(proxy.exchanges.map((exchange) => exchange.node));
  t.equal(nodesUsed.size, 3, `the proxy sent requests to all three nodes (${proxy.exchanges.length} requests)`);
  const refused = proxy.exchanges.filter((exchange) => exchange.status === 503);
  t.same(refused, [], 'no 503 (so no NOT_LEADER) through the proxy');
  const unexpected = proxy.exchanges.filter((exchange) => (exchange.status < 200 || exchange.status > 299) && !(exchange.status === 416 && exchange.request.includes('offset=999')));
  t.same(unexpected, [], 'every answer 2xx, but the documented 416');
  const served = proxy.exchanges.length;
  t.comment(`${served} requests through the proxy; served by ${JSON.stringify([1, 2, 3].map((node) => proxy.exchanges.filter((exchange) => exchange.node === node).length))}`);
});

/** README's Consumer groups section, through the proxy: each call may land on any node. */
async function consumerGroupTour(t: Test, base: string): Promise<void> {
  const group = `${base}/v1/groups/billing`;
  const joined = await requestJson<{ memberId: string; generation: number; assignment: unknown[] }>(`${group}/members`, {
    body: '{"topics":["orders"],"autoOffsetReset":"earliest","sessionTimeoutMs":30000}',
  });
  const member = ok(t, joined, 'join', 201);
  t.ok(servedBy(joined.headers) !== undefined, 'the join names its coordinator in Runnel-Served-By');
  const memberPath = `${group}/members/${member.memberId}`;
  const polled = ok(t, await requestJson<{ pollId: number; records: unknown[] }>(`${memberPath}/records?waitMs=5000&maxRecords=100&autoCommit=true`, { timeoutMs: 15_000 }), 'poll', 200);
  t.ok((polled.records?.length ?? 0) > 0, 'the first poll delivers records');
  ok(t, await requestJson(`${memberPath}/records?waitMs=5000&autoCommit=true&ack=${polled.pollId}`, { timeoutMs: 15_000 }), 'poll with ack', 200);
  // The README commits offset 42; partition 0 holds fewer records here, and an offset past
  // the log end is refused (400 INVALID_OFFSET), so this commits one within it.
  ok(t, await requestJson(`${group}/offsets`, {
    body: JSON.stringify({ offsets: [{ topic: 'orders', partition: 0, offset: 2 }], memberId: member.memberId, generation: member.generation }),
  }), 'commit');
  ok(t, await requestJson(`${memberPath}/heartbeat`, { method: 'POST' }), 'heartbeat');
  ok(t, await requestJson(memberPath, { method: 'DELETE' }), 'leave');
  ok(t, await requestJson(`${base}/v1/groups`), 'list groups', 200);
  ok(t, await requestJson(group), 'describe the group', 200);
  ok(t, await requestJson(`${group}/offsets`), 'the group\'s offsets', 200);
  ok(t, await requestJson(`${group}/offsets/reset`, { body: '{"topic":"orders","to":"earliest"}' }), 'reset offsets');
  ok(t, await requestJson(group, { method: 'DELETE' }), 'delete the group');
}
