/**
 * The client's two wire formats give the same results. Records sent as record batches
 * (the default) land on the partitions a JSON produce would pick and read back, over
 * plain HTTP JSON, exactly as the same records sent as JSON; a record-batch fetch
 * answers what a JSON fetch answers, from any offset, trimmed by maxRecords, long-polled
 * and refused alike.
 */
import t from 'tap';
import { request } from 'undici';
import { Runnel, RunnelApiError, type ProduceRecord } from '../../src/index.js';
import { countingAgent } from '../helpers/counting-agent.js';
import { startServer } from '../helpers/server.js';

async function jsonFetch(url: string, topic: string, partition: number): Promise<unknown> {
  const response = await request(`${url}/v1/topics/${topic}/partitions/${partition}/records?offset=earliest&maxRecords=1000`);
  t.equal(response.statusCode, 200);
  return response.body.json();
}

const TIMESTAMP = 1_764_000_000_000;

/** Records of every shape: keys and values of each format, null keys, tombstones, headers with null values. */
function sampleRecords(): Array<{ records: ProduceRecord[]; keyFormat?: 'json' | 'string' | 'binary'; valueFormat?: 'json' | 'string' | 'binary' }> {
  return [
    {
      records: Array.from({ length: 40 }, (_, i) => ({
        key: i % 3 === 0 ? null : `customer-${i % 11}`,
        value: i % 7 === 6 ? null : { i, item: 'book', tags: ['a', 'ü', '"quoted"'], nested: { deep: [1, 2, { three: 3 }] } },
        headers: i % 2 === 0 ? { source: 'web', trace: null } : undefined,
        timestamp: TIMESTAMP + i,
      })),
    },
    { records: [{ key: 'line', value: 'plain text with "quotes" and \\ and\nnewline', timestamp: TIMESTAMP }], valueFormat: 'string' },
    { records: [{ key: Buffer.from([0, 1, 2, 255]).toString('base64'), value: Buffer.from('binary ☃').toString('base64'), timestamp: TIMESTAMP }], keyFormat: 'binary', valueFormat: 'binary' },
    { records: [{ key: { id: 7, region: 'eu' }, value: 42, timestamp: TIMESTAMP }], keyFormat: 'json' },
  ];
}

void t.test('records sent as record batches land where JSON ones do and read back identically over JSON', async (t) => {
  const server = await startServer(t);
  const batches = new Runnel({ url: server.url });
  const json = new Runnel({ url: server.url, wireFormat: 'json' });
  t.teardown(async () => {
    await batches.close();
    await json.close();
  });
  await batches.topics.create({ name: 'via-batches', partitions: 5 });
  await json.topics.create({ name: 'via-json', partitions: 5 });

  for (const sample of sampleRecords()) {
    const sentAsBatches = await batches.send({ topic: 'via-batches', ...sample });
    const sentAsJson = await json.send({ topic: 'via-json', ...sample });
    const keyed = sample.records.map((record, i) => ({ record, i })).filter(({ record }) => record.key !== null);
    t.same(
      keyed.map(({ i }) => sentAsBatches.offsets[i].partition),
      keyed.map(({ i }) => sentAsJson.offsets[i].partition),
      'every keyed record on the partition the node picks for JSON (murmur2 of the key bytes)',
    );
    t.same(sentAsBatches.offsets.map((entry) => entry.timestamp), sample.records.map((record) => record.timestamp), 'each record keeps its own timestamp');
  }
  const keylessPartitions = new Set((await batches.send({ topic: 'via-batches', records: [{ value: 1 }, { value: 2 }, { value: 3 }] })).offsets.map((entry) => entry.partition));
  t.equal(keylessPartitions.size, 1, "one send's keyless records go to one partition together (sticky)");

  // Keyless records go to a partition each sender picks (sticky, from a random start): compare
  // every record of the sample, its partition kept only when it has a key.
  const sampled = async (topic: string): Promise<string[]> => {
    const all: string[] = [];
    for (let partition = 0; partition < 5; partition++) {
      const { records } = await jsonFetch(server.url, topic, partition) as { records: Array<Record<string, unknown>> };
      for (const { offset: _offset, partition: at, ...rest } of records) {
        if ((rest.timestamp as number) >= TIMESTAMP + 1000) continue;
        all.push(JSON.stringify(rest.key === null ? rest : { at, ...rest }));
      }
    }
    return all.sort();
  };
  const viaBatches = await sampled('via-batches');
  t.equal(viaBatches.length, 43);
  t.same(viaBatches, await sampled('via-json'), 'the same keys, values, headers, timestamps and partitions of keyed records');
});

void t.test('a record-batch fetch answers what a JSON fetch answers', async (t) => {
  const server = await startServer(t);
  const agent = countingAgent(t);
  const batches = new Runnel({ url: server.url, dispatcher: agent });
  const json = new Runnel({ url: server.url, wireFormat: 'json' });
  t.teardown(async () => {
    await batches.close();
    await json.close();
  });
  await batches.topics.create({ name: 'events', partitions: 1 });
  // Several batches of different sizes, so offsets fall inside batches.
  for (const size of [5, 1, 17, 3]) {
    await json.send({ topic: 'events', records: Array.from({ length: size }, (_, i) => ({ key: `k${i}`, value: { size, i }, headers: { n: String(i) } })) });
  }
  await json.send({ topic: 'events', records: [{ key: 'text', value: 'utf-8 ✓' }], valueFormat: 'string' });
  await json.send({ topic: 'events', records: [{ key: null, value: 'AAEC/w==' }], valueFormat: 'binary' });
  await json.send({ topic: 'events', records: [{ key: 'gone', value: null }] });

  const cases = [
    {},
    { offset: 'earliest' as const },
    { offset: 0 },
    { offset: 3 },
    { offset: 6, maxRecords: 4 },
    { offset: 7, maxRecords: 1 },
    { offset: 20, maxRecords: 100 },
    { offset: 28 },
    { offset: 29 },
    { offset: 'latest' as const },
    { offset: 2, maxBytes: 1 },
  ];
  for (const options of cases) {
    const viaBatches = await batches.fetch('events', 0, options);
    const viaJson = await json.fetch('events', 0, options);
    t.same(viaBatches, viaJson, `fetch ${JSON.stringify(options)}`);
  }
  const accepts = agent.requests.filter((sent) => sent.method === 'GET' && sent.path.endsWith('/records')).map((sent) => sent.headers.accept);
  t.same(new Set(accepts), new Set(['application/vnd.runnel.record-batch, application/json;q=0.5']), 'the default client asked for record batches');

  const past = await batches.fetch('events', 0, { offset: 500 }).catch((error: unknown) => error);
  t.ok(past instanceof RunnelApiError && past.code === 'OFFSET_OUT_OF_RANGE', 'an offset past the end is OFFSET_OUT_OF_RANGE, as over JSON');

  // A long-poll from the end is woken by a produce and returns just the new records.
  const end = (await batches.offsets('events', 0)).highWatermark;
  const waiting = batches.fetch('events', 0, { offset: end, waitMs: 5_000 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  await json.send({ topic: 'events', records: [{ key: 'late', value: 'arrived' }], valueFormat: 'string' });
  const woken = await waiting;
  t.same(woken.records.map((record) => [record.offset, record.key, record.value]), [[end, 'late', 'arrived']]);
  t.equal(woken.nextOffset, end + 1);
});

void t.test('record batches: LogAppendTime, explicit partitions, refused records and partitions', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'stamped', partitions: 2, configs: { 'message.timestamp.type': 'LogAppendTime' } });

  const before = Date.now();
  const sent = await runnel.send({ topic: 'stamped', records: [{ value: 1, timestamp: 5 }, { value: 2, timestamp: 6, partition: 1 }] });
  t.ok(sent.offsets.every((entry) => entry.timestamp >= before), 'the node stamped its own clock, and the answer says so');
  t.equal(sent.offsets[1].partition, 1, "a record's own partition is kept");
  const fetched = await runnel.fetch('stamped', 1);
  t.equal(fetched.records[0].timestamp, sent.offsets[1].timestamp, 'fetched with the timestamp the answer gave');

  const invalid = await runnel.send({ topic: 'stamped', records: [{ value: 'not base64!' }], valueFormat: 'binary' }).catch((error: unknown) => error);
  t.ok(invalid instanceof RunnelApiError && invalid.code === 'INVALID_RECORD', 'a value the node would refuse is INVALID_RECORD, as over JSON');
  const missing = await runnel.send({ topic: 'stamped', records: [{ value: 1, partition: 7 }] }).catch((error: unknown) => error);
  t.ok(missing instanceof RunnelApiError && missing.code === 'PARTITION_NOT_FOUND', `a partition the topic lacks is PARTITION_NOT_FOUND (${String(missing)})`);
  const ghost = await runnel.send({ topic: 'ghost', records: [{ value: 1 }] }).catch((error: unknown) => error);
  t.ok(ghost instanceof RunnelApiError && ghost.code === 'TOPIC_NOT_FOUND', 'a missing topic is TOPIC_NOT_FOUND');
  for (const wireFormat of ['record-batch', 'json'] as const) {
    const client = new Runnel({ url: server.url, wireFormat });
    const empty = await client.send({ topic: 'stamped', records: [] }).catch((error: unknown) => error);
    await client.close();
    t.ok(empty instanceof RunnelApiError && empty.code === 'INVALID_REQUEST', `${wireFormat}: no records at all is INVALID_REQUEST (${String(empty)})`);
  }
  t.equal((await runnel.offsets('stamped', 0)).highWatermark + (await runnel.offsets('stamped', 1)).highWatermark, 2, 'nothing refused was appended');

  // The producer: a record it cannot encode fails alone; the rest of its batch lands.
  const producer = runnel.producer({ lingerMs: 50, valueFormat: 'string' });
  const outcomes = await Promise.allSettled([producer.send('stamped', { value: 'fine' }), producer.send('stamped', { value: 12 as unknown as string }), producer.send('stamped', { value: 'also fine' })]);
  t.same(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled']);
  await producer.close();
});

void t.test('partitions added to a topic are used once the client reads the topic again (metadataMaxAgeMs)', async (t) => {
  const server = await startServer(t);
  const runnel = new Runnel({ url: server.url, metadataMaxAgeMs: 200 });
  t.teardown(() => runnel.close());
  await runnel.topics.create({ name: 'growing', partitions: 1 });
  const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
  const sendKeys = async (): Promise<Set<number>> => new Set((await runnel.send({ topic: 'growing', records: keys.map((key) => ({ key, value: 1 })) })).offsets.map((entry) => entry.partition));
  t.same([...await sendKeys()], [0]);
  await runnel.topics.alter('growing', { partitions: 4 });
  const explicit = await runnel.send({ topic: 'growing', records: [{ value: 1, partition: 3 }] });
  t.equal(explicit.offsets[0].partition, 3, 'an explicit new partition works at once');
  await new Promise((resolve) => setTimeout(resolve, 300));
  t.same([...await sendKeys()].sort(), [0, 1, 2, 3], 'past the metadata age, keys spread over the four partitions');
});
