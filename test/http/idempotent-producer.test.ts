/**
 * The idempotent producer over HTTP (Kafka's KIP-98): POST /v1/producers hands out ids
 * no other producer gets, also across restarts; a batch carrying producerId,
 * producerEpoch and baseSequence is appended once, a retry answers its original
 * offsets, and batches out of sequence or from an older epoch are refused with stable
 * codes and append nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { createTopic, requestJson, type RecordOffset } from '../helpers/http.js';
import { logEndOffsets } from '../helpers/http-support.js';
import { startServer } from '../helpers/server.js';

interface Identity { producerId: number; producerEpoch: number }
type Answer = { offsets: RecordOffset[]; error?: { code: string; message: string } };

void t.test('producer ids are unique; sequences make retries exactly-once; gaps, old epochs and unknown producers are refused', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-producer-ids-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  let server = await startServer(t, { dataDir });
  await createTopic(server.url, 'orders', { partitions: 2 });
  const newProducer = async (): Promise<Identity> => (await requestJson<Identity>(`${server.url}/v1/producers`, { method: 'POST' })).body;
  const first = await newProducer();
  const second = await newProducer();
  t.equal(first.producerEpoch, 0, 'a new id starts at epoch 0');
  t.not(first.producerId, second.producerId, 'two producers, two ids');
  const send = (body: Record<string, unknown>, partition = 0) =>
    requestJson<Answer>(`${server.url}/v1/topics/orders/partitions/${partition}/records`, { body });
  const batch = (identity: Identity, baseSequence: number, values: string[]) =>
    ({ ...identity, baseSequence, records: values.map((value) => ({ value })) });

  const a = await send(batch(first, 0, ['a0', 'a1']));
  t.equal(a.status, 200);
  const b = await send(batch(first, 2, ['a2']));
  t.same(b.body.offsets.map((o) => o.offset), [2], 'the next batch follows on');
  const retry = await send(batch(first, 0, ['a0', 'a1']));
  t.same(retry.body.offsets, a.body.offsets, 'a retried batch answers its original offsets and timestamps');
  t.same((await send(batch(second, 0, ['b0']), 1)).body.offsets.map((o) => o.offset), [0], 'sequences are per partition');
  const before = await logEndOffsets(server.url, 'orders');

  const gap = await send(batch(first, 7, ['late']));
  t.equal(gap.status, 409, 'a gap is refused');
  t.equal(gap.body.error?.code, 'OUT_OF_ORDER_SEQUENCE');
  const unknown = await send(batch({ producerId: second.producerId + 500, producerEpoch: 0 }, 3, ['x']));
  t.equal(unknown.body.error?.code, 'UNKNOWN_PRODUCER_ID', 'a producer the partition never saw must start at 0');
  t.equal((await send(batch({ producerId: first.producerId, producerEpoch: 1 }, 0, ['new epoch']))).status, 200, 'a new epoch starts at 0');
  const fenced = await send(batch(first, 3, ['old epoch']));
  t.equal(fenced.body.error?.code, 'PRODUCER_FENCED', 'the older epoch is fenced');
  const after = await logEndOffsets(server.url, 'orders');
  t.same(after, before.map((offset, partition) => offset + (partition === 0 ? 1 : 0)), 'only the new epoch\'s batch was appended');

  const partial = await send({ producerId: first.producerId, records: [{ value: 1 }] });
  t.equal(partial.body.error?.code, 'INVALID_REQUEST', 'the three fields go together');
  const topicRoute = await requestJson<Answer>(`${server.url}/v1/topics/orders/records`, { body: batch(second, 1, ['x']) });
  t.equal(topicRoute.body.error?.code, 'INVALID_REQUEST', 'a producer id needs the one-partition route');
  const both = await requestJson<Answer>(`${server.url}/v1/topics/orders/partitions/0/records`, { body: batch(second, 0, ['x']), headers: { 'idempotency-key': 'k' } });
  t.equal(both.body.error?.code, 'INVALID_REQUEST', 'not together with an Idempotency-Key');

  await server.close();
  server = await startServer(t, { dataDir });
  const third = await newProducer();
  t.ok(third.producerId > second.producerId, `after a restart, ids are never given again (${third.producerId})`);
  const afterRestart = await send(batch(second, 0, ['b0']), 1);
  t.same(afterRestart.body.offsets.map((o) => o.offset), [0], 'after a restart, a retry still answers its original offset');
  t.same(await logEndOffsets(server.url, 'orders'), after, 'and appends nothing');
});
