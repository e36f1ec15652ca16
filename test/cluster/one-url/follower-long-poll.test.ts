/**
 * Long-polls and writes on a follower (issue 21):
 *   - a long-poll on a follower at its end (`offset=<end>&waitMs=5000`) is answered, by
 *     the follower's own log, with the record an acks=all produce appends at the leader,
 *     before waitMs runs out (it answers with the record, not empty);
 *   - an offset above the follower's high watermark but within the leader's (the
 *     follower's link from the leader made slow, so it learns the leader's high
 *     watermark a few hundred ms late) waits until the follower has it, then answers
 *     it: never 416, never NOT_LEADER;
 *   - an offset past the leader's end is still 416 OFFSET_OUT_OF_RANGE on a follower;
 *   - a produce to the partition path on a follower is forwarded to the leader (200),
 *     and the answer names the leader in Runnel-Served-By;
 *   - a node that holds no replica of a partition hands a read, a long-poll and the two
 *     streams to one that does (the answer names it); a stream's status and headers come
 *     at once, before any record, as on the node that serves it.
 * One cluster of three real nodes for every case; every wait is bounded.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { startCluster } from '../../helpers/cluster.js';
import { produce, requestJson, type FetchResponse, type RecordOffset } from '../../helpers/http.js';
import { openStream, partitionRoles, replicatedTopic, servedBy } from './support.js';

t.setTimeout(90_000);

const TOPIC = 'polls';
const WAIT_MS = 5_000;
/** How late the leader's answers reach the follower in the lagging-follower case. */
const SLOW_LINK_MS = 400;

void t.test('long-polls, lagging offsets and writes on a follower', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await replicatedTopic(cluster, TOPIC, { configs: { 'min.insync.replicas': 2 } });
  const { leader, followers } = await partitionRoles(cluster, TOPIC, 0);
  const follower = followers[0];
  const records = (url: string, query: string, timeoutMs = WAIT_MS + 5_000) =>
    requestJson<FetchResponse>(`${url}/v1/topics/${TOPIC}/partitions/0/records?${query}`, { timeoutMs });
  const acked: RecordOffset[] = [];
  for (let index = 0; index < 3; index++) acked.push(...await produce(cluster.url(leader), TOPIC, [{ value: `first-${index}` }], { partition: 0, acks: 'all' }));
  const end = acked.at(-1)!.offset + 1;
  await cluster.waitFor(async () => (await records(cluster.url(follower), `offset=${end - 1}`)).body?.records?.length === 1, 10_000, `node ${follower} serves offset ${end - 1}`);

  await t.test('a long-poll on a follower wakes on an acks=all append at the leader', async (t) => {
    const polling = records(cluster.url(follower), `offset=${end}&waitMs=${WAIT_MS}`);
    // Most likely parked by now; if not, the record is there when it arrives: the answer is the same.
    await sleep(200);
    const [woken] = await produce(cluster.url(leader), TOPIC, [{ value: 'woken' }], { partition: 0, acks: 'all' });
    t.equal(woken.offset, end, 'the append is at the end the long-poll waits at');
    const answer = await polling;
    t.equal(answer.status, 200, `200: ${JSON.stringify(answer.body).slice(0, 300)}`);
    t.same(answer.body.records.map((record) => [record.offset, record.value]), [[end, 'woken']], 'it answers with the record (before waitMs ran out, else it would be empty)');
    t.equal(servedBy(answer.headers), String(follower), `node ${follower} served it from its own log`);
  });

  await t.test('an offset above the follower\'s high watermark but within the leader\'s is answered with its record, not 416', async (t) => {
    const link = cluster.proxy(follower, leader);
    link.delayAnswers(SLOW_LINK_MS);
    try {
      for (let index = 0; index < 3; index++) {
        // Two records in one batch: once they are acknowledged the leader's high watermark
        // is past both, while the follower's stays below the first for SLOW_LINK_MS; the
        // second is then above the follower's high watermark and within the leader's.
        const [, entry] = await produce(cluster.url(leader), TOPIC, [{ value: `lagging-${index}-a` }, { value: `lagging-${index}-b` }], { partition: 0, acks: 'all' });
        const answer = await records(cluster.url(follower), `offset=${entry.offset}&waitMs=${WAIT_MS}`);
        t.equal(answer.status, 200, `offset ${entry.offset}: 200, not 416 or 503: ${JSON.stringify(answer.body).slice(0, 300)}`);
        t.same(answer.body.records?.map((record) => [record.offset, record.value]), [[entry.offset, `lagging-${index}-b`]], `offset ${entry.offset}: the acknowledged record`);
        // The follower waits for it, or hands the read to the leader (it knows only the
        // leader's high watermark its last fetch answer carried): either serves the record.
        t.ok([String(follower), String(leader)].includes(servedBy(answer.headers) ?? ''), `offset ${entry.offset}: served by node ${follower} or the leader (${servedBy(answer.headers)})`);
      }
    } finally {
      link.delayAnswers(0);
    }
  });

  await t.test('an offset past the leader\'s end is 416 on a follower too', async (t) => {
    const answer = await records(cluster.url(follower), 'offset=999999');
    t.equal(answer.status, 416, `416: ${JSON.stringify(answer.body).slice(0, 300)}`);
    t.match(answer.body, { error: { code: 'OFFSET_OUT_OF_RANGE' } });
  });

  await t.test('a partition-path produce on a follower goes to the leader, which the answer names', async (t) => {
    const answer = await requestJson<{ offsets: RecordOffset[] }>(`${cluster.url(follower)}/v1/topics/${TOPIC}/partitions/0/records`, { body: { records: [{ value: 'via-follower' }] } });
    t.equal(answer.status, 200, `200: ${JSON.stringify(answer.body).slice(0, 300)}`);
    t.equal(answer.body.offsets?.length, 1, 'one offset');
    t.equal(servedBy(answer.headers), String(leader), `Runnel-Served-By names the leader, node ${leader}`);
    const [offset] = answer.body.offsets;
    const read = await records(cluster.url(leader), `offset=${offset.offset}`);
    t.same(read.body.records.map((record) => record.value), ['via-follower'], 'the leader has it at that offset');
  });

  await t.test('a node with no replica hands reads and long-polls to one that has it', async (t) => {
    await replicatedTopic(cluster, 'single', { replicationFactor: 1 });
    const { leader: owner } = await partitionRoles(cluster, 'single', 0);
    const other = cluster.runningIds().find((nodeId) => nodeId !== owner)!;
    const [stored] = await produce(cluster.url(owner), 'single', [{ value: 'kept' }], { partition: 0 });
    const read = await requestJson<FetchResponse>(`${cluster.url(other)}/v1/topics/single/partitions/0/records?offset=0`);
    t.equal(read.status, 200, `node ${other} answers 200: ${JSON.stringify(read.body).slice(0, 300)}`);
    t.same(read.body.records?.map((record) => record.value), ['kept'], 'with the record');
    t.equal(servedBy(read.headers), String(owner), `served by node ${owner}, the only replica`);
    const polling = requestJson<FetchResponse>(`${cluster.url(other)}/v1/topics/single/partitions/0/records?offset=${stored.offset + 1}&waitMs=${WAIT_MS}`, { timeoutMs: WAIT_MS + 5_000 });
    await sleep(200);
    await produce(cluster.url(owner), 'single', [{ value: 'later' }], { partition: 0 });
    const polled = await polling;
    t.equal(polled.status, 200, `the long-poll through node ${other}: 200`);
    t.same(polled.body.records?.map((record) => record.value), ['later'], 'it answers with the new record');
  });

  await t.test('a stream handed over answers its status and headers at once, then its records', async (t) => {
    // As a stream served by the node itself does (stream.ts flushes its head): an
    // EventSource opens, and curl shows the headers, before the first record.
    const { leader: owner } = await partitionRoles(cluster, 'single', 0);
    const other = cluster.runningIds().find((nodeId) => nodeId !== owner)!;
    for (const accept of ['text/event-stream', 'application/x-ndjson']) {
      const stream = await openStream(t, `${cluster.url(other)}/v1/topics/single/partitions/0/records?offset=latest`, { accept })
        .catch((error: Error) => error);
      if (stream instanceof Error) {
        t.fail(`${accept} from latest through node ${other}: ${stream.message}`);
        continue;
      }
      t.equal(stream.status, 200, `${accept} through node ${other}: 200 at once`);
      t.equal(servedBy(stream.headers), String(owner), `${accept}: served by node ${owner}`);
      const [streamed] = await produce(cluster.url(owner), 'single', [{ value: `streamed ${accept}` }], { partition: 0 });
      await stream.reader.waitFor(() => stream.reader.text.includes(`streamed ${accept}`), `${accept}: the record at ${streamed.offset}`)
        .then(() => t.pass(`${accept}: the new record came through node ${other}`), (error: Error) => t.fail(error.message));
      await stream.close();
    }
  });
});
