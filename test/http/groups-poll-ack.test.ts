/**
 * A poll reply lost on the way (client timeout, a proxy cutting the connection) must
 * not skip records: a member that sends back the pollId of the last reply it got
 * (`ack`) receives the lost reply's records again, and autoCommit commits only what
 * was confirmed.
 */
import t from 'tap';
import { createTopic, produce, requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface PollReply { pollId: number; records: Array<{ partition: number; offset: number; value: unknown }> }

void t.test('a lost poll reply is delivered again when the next poll acknowledges an older pollId', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'acked', { partitions: 1 });
  await produce(server.url, 'acked', Array.from({ length: 6 }, (_, i) => ({ value: i, partition: 0 })));
  const joined = await requestJson<{ memberId: string }>(`${server.url}/v1/groups/g/members`, {
    method: 'POST', body: { topics: ['acked'], autoOffsetReset: 'earliest' },
  });
  t.equal(joined.status, 201);
  const pollUrl = (query: string): string => `${server.url}/v1/groups/g/members/${joined.body.memberId}/records?maxRecords=2&autoCommit=true${query}`;

  const first = (await requestJson<PollReply>(pollUrl(''))).body;
  t.same(first.records.map((r) => r.offset), [0, 1], 'first reply');
  const second = (await requestJson<PollReply>(pollUrl(`&ack=${first.pollId}`))).body;
  t.same(second.records.map((r) => r.offset), [2, 3], 'acknowledging the first reply moves on');
  // The second reply is "lost": the member only ever saw the first one.
  const again = (await requestJson<PollReply>(pollUrl(`&ack=${first.pollId}`))).body;
  t.same(again.records.map((r) => r.offset), [2, 3], 'the lost records come again');
  const committed = await requestJson<{ offsets: Array<{ partition: number; offset: number | null }> }>(`${server.url}/v1/groups/g/offsets`);
  t.equal(committed.body.offsets.find((o) => o.partition === 0)?.offset, 2, 'autoCommit committed only the confirmed position');
  const next = (await requestJson<PollReply>(pollUrl(`&ack=${again.pollId}`))).body;
  t.same(next.records.map((r) => r.offset), [4, 5]);
  t.ok(next.pollId > again.pollId, 'pollIds rise');
});
