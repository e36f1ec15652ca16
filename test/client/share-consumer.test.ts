/**
 * The share-group consumer of the TypeScript client against a real node: records come
 * one at a time under a lock; release() delivers one again (deliveryCount 2), reject()
 * never again, and a record the loop leaves unsettled is accepted; close() sends the
 * acknowledgements still waiting, so the group has nothing left.
 */
import t from 'tap';
import { Runnel } from '../../src/index.js';
import { requestOk } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

const server = await startServer(t);
const runnel = new Runnel({ url: server.url });
t.teardown(() => runnel.close());

void t.test('release, reject and implicit accept through the async iterator', async (t) => {
  await runnel.topics.create({ name: 'chores', partitions: 1 });
  await runnel.send({ topic: 'chores', records: [0, 1, 2, 3, 4].map((i) => ({ value: { i } })) });
  await requestOk(`${server.url}/v1/share-groups/helpers`, { method: 'PATCH', body: { configs: { 'share.auto.offset.reset': 'earliest' } } });
  const consumer = runnel.shareConsumer({ group: 'helpers', topics: ['chores'], waitMs: 200 });
  const seen: Array<[number, number]> = [];
  for await (const record of consumer) {
    seen.push([record.offset, record.deliveryCount]);
    if (record.offset === 1 && record.deliveryCount === 1) record.release();
    if (record.offset === 3) record.reject();
    if (seen.length === 6) break;
  }
  await consumer.close();
  t.same(seen, [[0, 1], [1, 1], [2, 1], [3, 1], [4, 1], [1, 2]], 'each record once, the released one again with deliveryCount 2');
  const described = (await requestOk<{ partitions: Array<{ startOffset: number; lag: number; acquired: number }> }>(`${server.url}/v1/share-groups/helpers`)).body;
  t.match(described.partitions, [{ startOffset: 5, lag: 0, acquired: 0 }], 'accepted and rejected: nothing left, nothing held');
});
