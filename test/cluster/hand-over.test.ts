/**
 * A node that holds no replica of a partition (its replication factor is below the
 * cluster's size) still answers every read of it: it hands the request to a replica
 * and streams that node's answer back (src/http/hand-over.ts). Three real nodes, a
 * topic with one replica, every read sent to a node without it:
 * - a JSON fetch, the offsets and a long-poll that wakes on an append;
 * - an SSE stream (with Last-Event-ID resume) and an NDJSON stream, records arriving
 *   live through the hand-over;
 * - the answers name the replica in Runnel-Served-By; errors keep their code (416).
 */
import t from 'tap';
import { request } from 'undici';
import { startCluster, type TopicView } from '../helpers/cluster.js';
import { produce, requestJson, requestOk } from '../helpers/http.js';

t.setTimeout(90_000);

const TOPIC = 'solo';

interface FetchBody {
  records: Array<{ offset: number; value: unknown }>;
  nextOffset: number;
  highWatermark: number;
}

/** Reads a streaming answer until `count` records arrived (or the deadline), then closes it. */
async function readStream(url: string, accept: string, count: number, headers: Record<string, string> = {}, onOpen?: () => Promise<void>): Promise<{ status: number; servedBy: unknown; text: string }> {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(), 20_000);
  try {
    const response = await request(url, { headers: { accept, ...headers }, signal: controller.signal });
    await onOpen?.();
    let text = '';
    try {
      for await (const chunk of response.body) {
        text += (chunk as Buffer).toString('utf8');
        const records = accept === 'text/event-stream' ? text.split('event: record').length - 1 : text.split('\n').filter((line) => line.startsWith('{')).length;
        if (records >= count) break;
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
    controller.abort();
    return { status: response.statusCode, servedBy: response.headers['runnel-served-by'], text };
  } finally {
    clearTimeout(deadline);
  }
}

void t.test('a node without a replica serves every read through one that has it', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline();
  const created = await requestOk<TopicView>(`${cluster.url(1)}/v1/topics`, { body: { name: TOPIC, partitions: 1, replicationFactor: 1 }, timeoutMs: 20_000 });
  const replica = created.body.partitions[0].leader!;
  const other = [1, 2, 3].find((nodeId) => nodeId !== replica)!;
  const base = `${cluster.url(other)}/v1/topics/${TOPIC}/partitions/0`;
  await cluster.waitFor(async () => (await requestJson(`${base}/offsets`)).status === 200, 20_000, `node ${other} to know ${TOPIC}`);
  await produce(cluster.url(replica), TOPIC, [{ value: 'a' }, { value: 'b' }], { partition: 0 });

  await t.test('fetch, offsets and errors', async (t) => {
    const fetched = await requestJson<FetchBody>(`${base}/records?offset=0`);
    t.equal(fetched.status, 200);
    t.same(fetched.body.records.map((record) => record.value), ['a', 'b'], 'the records, read on the replica');
    t.equal(fetched.headers['runnel-served-by'], String(replica), `Runnel-Served-By names node ${replica}`);
    const offsets = await requestJson<{ highWatermark: number }>(`${base}/offsets`);
    t.equal(offsets.body.highWatermark, 2);
    const outOfRange = await requestJson<{ error: { code: string } }>(`${base}/records?offset=99`);
    t.equal(outOfRange.status, 416, 'the replica\'s refusal comes back as it is');
    t.equal(outOfRange.body.error.code, 'OFFSET_OUT_OF_RANGE');
  });

  await t.test('a long-poll handed over wakes on an append', async (t) => {
    const polling = requestJson<FetchBody>(`${base}/records?offset=2&waitMs=10000`, { timeoutMs: 20_000 });
    // The poll is parked at the replica; this append wakes it.
    await produce(cluster.url(other), TOPIC, [{ value: 'c' }], { partition: 0 });
    const answer = await polling;
    t.equal(answer.status, 200);
    t.same(answer.body.records.map((record) => record.value), ['c'], 'the long-poll answered with the new record');
  });

  await t.test('SSE and NDJSON streams flow through the hand-over, and SSE resumes after Last-Event-ID', async (t) => {
    const sse = await readStream(`${base}/records?offset=0`, 'text/event-stream', 4, {}, async () => {
      await produce(cluster.url(other), TOPIC, [{ value: 'd' }], { partition: 0 });
    });
    t.equal(sse.status, 200);
    t.equal(sse.servedBy, String(replica));
    for (const [offset, value] of ['a', 'b', 'c', 'd'].entries()) {
      t.match(sse.text, `id: ${offset}\nevent: record\ndata: `, `event ${offset}`);
      t.match(sse.text, `"value":"${value}"`, `carries ${value}`);
    }
    const resumed = await readStream(`${base}/records?offset=0`, 'text/event-stream', 1, { 'last-event-id': '2' });
    t.match(resumed.text, 'id: 3\n', 'resumed after the last event received');
    t.notMatch(resumed.text, 'id: 2\n', 'without repeating it');
    const ndjson = await readStream(`${base}/records?offset=1`, 'application/x-ndjson', 3);
    const lines = ndjson.text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as { offset: number });
    t.same(lines.map((line) => line.offset), [1, 2, 3], 'NDJSON from offset 1');
  });

  await t.test('a node stopping ends the streams it hands over instead of waiting for them', async (t) => {
    const controller = new AbortController();
    t.teardown(() => controller.abort());
    const open = await request(`${base}/records?offset=latest`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
    t.equal(open.statusCode, 200, 'a stream is open through the node');
    const ended = (async () => {
      try {
        for await (const chunk of open.body) void chunk;
      } catch {
        // Cut rather than ended: either way the stream is over.
      }
      return true;
    })();
    t.same(await cluster.stop(other, 10_000), { code: 0, signal: null }, `node ${other} stopped cleanly (SIGTERM), without waiting for the stream`);
    t.ok(await ended, 'and the client saw the stream end');
  });
});
