import t from 'tap';
import { request } from 'undici';
import { startServer } from '../helpers/server.js';

async function call(url: string, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', body?: unknown): Promise<{ status: number; json: any }> {
  const response = await request(url, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

void t.test('a topic created, produced to and fetched from returns the records at their offsets', async (t) => {
  const server = await startServer(t);
  const created = await call(`${server.url}/v1/topics`, 'POST', { name: 'orders', partitions: 2 });
  t.equal(created.status, 201);
  t.equal(created.json.partitions.length, 2);
  const produced = await call(`${server.url}/v1/topics/orders/partitions/1/records`, 'POST', {
    records: [{ key: 'a', value: { n: 1 } }, { value: 'two', headers: { h: 'v' } }, { value: null }],
  });
  t.equal(produced.status, 200);
  t.same(produced.json.offsets.map((o: { offset: number; partition: number }) => [o.partition, o.offset]), [[1, 0], [1, 1], [1, 2]]);
  const fetched = await call(`${server.url}/v1/topics/orders/partitions/1/records?offset=0`, 'GET');
  t.equal(fetched.status, 200);
  t.same(fetched.json.records.map((r: { key: unknown; value: unknown; headers: unknown }) => [r.key, r.value, r.headers]), [
    ['a', { n: 1 }, {}],
    [null, 'two', { h: 'v' }],
    [null, null, {}],
  ]);
  t.equal(fetched.json.nextOffset, 3);
  t.equal(fetched.json.highWatermark, 3);
  const outOfRange = await call(`${server.url}/v1/topics/orders/partitions/1/records?offset=4`, 'GET');
  t.equal(outOfRange.status, 416);
  t.same(outOfRange.json.error, { code: 'OFFSET_OUT_OF_RANGE', message: 'offset 4 is outside [0, 3]', logStartOffset: 0, highWatermark: 3 });
});
