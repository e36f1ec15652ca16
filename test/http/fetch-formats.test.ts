/**
 * Fetched records say their format when it is not the produce default: a binary key or
 * value (base64 text, which reads like any string) carries keyFormat/valueFormat
 * "binary", a string value valueFormat "string", a json key keyFormat "json"; records
 * of string keys and JSON values read exactly as before. The same in JSON fetches,
 * NDJSON and SSE streams, so a fetched record can be produced back as it is.
 */
import t from 'tap';
import { request } from 'undici';
import { BodyReader } from '../helpers/body-reader.js';
import { createTopic, fetchAll, produce, requestOk } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

const bytes = Buffer.from([0, 1, 2, 127, 128, 254, 255, 10, 34, 92]);

/** Offsets 0-5: binary key and value, a json key with a string value, the defaults, a tombstone, a binary value without a key. */
async function produceEveryFormat(url: string, topic: string): Promise<void> {
  await produce(url, topic, [{ key: bytes.toString('base64'), value: Buffer.from('hello').toString('base64') }], { keyFormat: 'binary', valueFormat: 'binary' });
  await produce(url, topic, [{ key: { id: 7 }, value: 'plain text' }], { keyFormat: 'json', valueFormat: 'string' });
  await produce(url, topic, [{ key: 'customer-42', value: { item: 'book' } }]);
  await produce(url, topic, [{ key: 'customer-42', value: null }]);
  await produce(url, topic, [{ value: 'AAE=' }], { valueFormat: 'binary' });
}

const expected = [
  { key: bytes.toString('base64'), value: Buffer.from('hello').toString('base64'), keyFormat: 'binary', valueFormat: 'binary' },
  { key: { id: 7 }, value: 'plain text', keyFormat: 'json', valueFormat: 'string' },
  { key: 'customer-42', value: { item: 'book' } },
  { key: 'customer-42', value: null },
  { key: null, value: 'AAE=', valueFormat: 'binary' },
];

const formatsOf = (record: Record<string, unknown>): Record<string, unknown> => {
  const { key, value, keyFormat, valueFormat } = record;
  return { key, value, ...(keyFormat === undefined ? {} : { keyFormat }), ...(valueFormat === undefined ? {} : { valueFormat }) };
};

void t.test('a JSON fetch names the format of every key and value that is not a string key or a JSON value', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'formats');
  await produceEveryFormat(server.url, 'formats');
  const fetched = (await fetchAll(server.url, 'formats', 0)).records as unknown as Array<Record<string, unknown>>;
  t.same(fetched.map(formatsOf), expected, 'keyFormat and valueFormat where the format is not the default, nowhere else');

  const text = await (await request(`${server.url}/v1/topics/formats/partitions/0/records?offset=2&maxRecords=1`)).body.text();
  t.match(text, /^\{"records":\[\{"partition":0,"offset":2,"timestamp":\d+,"key":"customer-42","value":\{"item":"book"\},"headers":\{\}\}\],"nextOffset":3,/,
    'a record of a string key and a JSON value reads exactly as before');

  // Produced back with the formats it names (absent: the produce defaults), each record stores the same bytes.
  await createTopic(server.url, 'copy');
  for (const record of fetched) {
    const { key, value, keyFormat, valueFormat } = record as { key: unknown; value: unknown; keyFormat?: 'json' | 'binary'; valueFormat?: 'string' | 'binary' };
    await produce(server.url, 'copy', [{ key, value }], { keyFormat, valueFormat });
  }
  const copied = (await fetchAll(server.url, 'copy', 0)).records as unknown as Array<Record<string, unknown>>;
  t.same(copied.map(formatsOf), expected, 'a fetched record produced back as it is reads the same');
});

void t.test('NDJSON and SSE streams carry the same formats', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'formats');
  await produceEveryFormat(server.url, 'formats');
  for (const accept of ['application/x-ndjson', 'text/event-stream']) {
    const controller = new AbortController();
    t.teardown(() => controller.abort());
    const response = await request(`${server.url}/v1/topics/formats/partitions/0/records?offset=earliest`, {
      headers: { accept }, signal: AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)]),
    });
    const reader = new BodyReader(response.body);
    const records = (): Array<Record<string, unknown>> => (accept === 'text/event-stream'
      ? reader.sseEvents().filter((event) => event.event === 'record').map((event) => JSON.parse(event.data ?? 'null') as Record<string, unknown>)
      : reader.ndjsonLines() as Array<Record<string, unknown>>);
    await reader.waitFor(() => records().length >= expected.length, `${accept}: ${expected.length} records`);
    t.same(records().map(formatsOf), expected, `${accept}: the formats are named as in a JSON fetch`);
    controller.abort();
  }
});

void t.test('a group poll names the formats too', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'formats');
  await produceEveryFormat(server.url, 'formats');
  const joined = await requestOk<{ memberId: string }>(`${server.url}/v1/groups/readers/members`, { method: 'POST', body: { topics: ['formats'], autoOffsetReset: 'earliest' } });
  const memberId = joined.body.memberId;
  const polled: Array<Record<string, unknown>> = [];
  for (let poll = 0; poll < 20 && polled.length < expected.length; poll++) {
    const answer = await requestOk<{ records: Array<Record<string, unknown>> }>(`${server.url}/v1/groups/readers/members/${memberId}/records?waitMs=200`);
    polled.push(...answer.body.records);
  }
  t.same(polled.map(formatsOf), expected, 'polled records name their formats');
});
