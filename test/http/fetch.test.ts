/**
 * Fetch and offsets over real HTTP: where a read starts (N, earliest, latest), how
 * much it returns (maxRecords, maxBytes), the bounds it reports, the 416 with both
 * bounds (above the high watermark, and below logStartOffset after retention), bad
 * offsets, long-polls that wake on an append or end empty at waitMs, and ListOffsets
 * by time.
 */
import t from 'tap';
import { Agent } from 'undici';
import { createTopic, fetchAll, fetchRecords, produce, requestJson, requestOk, type FetchResponse, type JsonResponse } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';
import { assertError, until } from '../helpers/http-support.js';

const records = (url: string, topic: string, query: string): Promise<JsonResponse<FetchResponse>> =>
  requestJson<FetchResponse>(`${url}/v1/topics/${topic}/partitions/0/records?${query}`);

void t.test('offset=N, earliest and latest start a read where they say; nextOffset chains reads', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  // Three requests: three batches (0-2, 3-5, 6-9).
  await produce(server.url, 'orders', [0, 1, 2].map((n) => ({ value: n })));
  await produce(server.url, 'orders', [3, 4, 5].map((n) => ({ value: n })));
  await produce(server.url, 'orders', [6, 7, 8, 9].map((n) => ({ value: n })));

  const earliest = (await records(server.url, 'orders', 'offset=earliest')).body;
  t.same(earliest.records.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  t.same([earliest.nextOffset, earliest.highWatermark, earliest.logStartOffset], [10, 10, 0]);
  t.same((await records(server.url, 'orders', '')).body.records.length, 10, 'earliest is the default');

  const middle = (await records(server.url, 'orders', 'offset=4')).body;
  t.same(middle.records.map((r) => [r.offset, r.value, r.partition]), [[4, 4, 0], [5, 5, 0], [6, 6, 0], [7, 7, 0], [8, 8, 0], [9, 9, 0]],
    'an offset inside a batch starts at that record, not at the batch');

  const latest = (await records(server.url, 'orders', 'offset=latest')).body;
  t.same(latest, { records: [], nextOffset: 10, highWatermark: 10, logStartOffset: 0 }, 'latest: nothing yet, nextOffset is the high watermark');
  t.same((await records(server.url, 'orders', 'offset=10')).body.records, [], 'offset = highWatermark is in range and empty');

  const seen: number[] = [];
  let offset = 0;
  for (let page = 0; page < 20 && offset < 10; page++) {
    const body = (await records(server.url, 'orders', `offset=${offset}&maxRecords=3`)).body;
    t.ok(body.records.length <= 3, `page ${page}: at most maxRecords`);
    seen.push(...body.records.map((r) => r.offset));
    t.equal(body.nextOffset, body.records[body.records.length - 1].offset + 1, `page ${page}: nextOffset follows the last record`);
    offset = body.nextOffset;
  }
  t.same(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'following nextOffset reads every record once, in order');
  t.same((await records(server.url, 'orders', 'offset=1&maxRecords=1')).body.records.map((r) => r.offset), [1], 'maxRecords=1 inside a batch');
});

void t.test('maxBytes bounds the stored batches read, but the first batch comes whole', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  for (let batch = 0; batch < 4; batch++) {
    await produce(server.url, 'orders', Array.from({ length: 5 }, (_, i) => ({ value: `${batch}-${i}-${'x'.repeat(200)}` })));
  }
  const tiny = (await records(server.url, 'orders', 'offset=0&maxBytes=1')).body;
  t.same(tiny.records.map((r) => r.offset), [0, 1, 2, 3, 4], 'maxBytes smaller than a batch still returns the first batch whole');
  t.equal(tiny.nextOffset, 5);
  const two = (await records(server.url, 'orders', 'offset=0&maxBytes=2400')).body;
  t.same(two.records.map((r) => r.offset), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'about two batches of bytes: two batches');
  const all = (await records(server.url, 'orders', 'offset=0&maxBytes=1048576')).body;
  t.equal(all.records.length, 20, 'a large maxBytes returns everything');
  assertError(t, await records(server.url, 'orders', 'maxBytes=0'), 'INVALID_REQUEST', 'maxBytes=0');
  assertError(t, await records(server.url, 'orders', 'maxRecords=100001'), 'INVALID_REQUEST', 'maxRecords over the limit');
  assertError(t, await records(server.url, 'orders', 'maxRecords=ten'), 'INVALID_REQUEST', 'maxRecords not a number');
  assertError(t, await records(server.url, 'orders', 'waitMs=60001'), 'INVALID_REQUEST', 'waitMs over the limit');
  assertError(t, await records(server.url, 'orders', 'limit=5'), 'INVALID_REQUEST', 'an unknown parameter');
});

void t.test('an offset above the high watermark gets 416 OFFSET_OUT_OF_RANGE with both bounds', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  await produce(server.url, 'orders', [{ value: 1 }, { value: 2 }], { partition: 0 });
  const response = await records(server.url, 'orders', 'offset=3');
  assertError(t, response, 'OFFSET_OUT_OF_RANGE');
  t.same(response.body, { error: { code: 'OFFSET_OUT_OF_RANGE', message: 'offset 3 is outside [0, 2]', logStartOffset: 0, highWatermark: 2 } });
  const empty = await requestJson(`${server.url}/v1/topics/orders/partitions/1/records?offset=1`);
  assertError(t, empty, 'OFFSET_OUT_OF_RANGE', 'offset 1 of an empty partition');
  t.match(empty.body, { error: { logStartOffset: 0, highWatermark: 0 } });
  assertError(t, await records(server.url, 'orders', 'offset=9007199254740991'), 'OFFSET_OUT_OF_RANGE', 'the largest safe offset');
});

void t.test('after retention, an offset below logStartOffset gets 416 with both bounds; earliest starts at logStartOffset, also after a restart', async (t) => {
  const server = await startServer(t);
  // 1024-byte segments (the minimum) and 1024 bytes retained: each ~500-byte batch soon rolls a segment.
  await createTopic(server.url, 'short', { configs: { 'segment.bytes': 1024, 'retention.bytes': 1024 } });
  for (let batch = 0; batch < 8; batch++) {
    await produce(server.url, 'short', [{ value: `${batch}-a-${'r'.repeat(200)}` }, { value: `${batch}-b-${'r'.repeat(200)}` }]);
  }
  const deletedCount = server.broker.runRetention();
  t.ok(deletedCount > 0, `retention deleted ${deletedCount} segments`);
  const offsets = (await requestOk<{ logStartOffset: number; highWatermark: number; logEndOffset: number }>(`${server.url}/v1/topics/short/partitions/0/offsets`)).body;
  t.ok(offsets.logStartOffset > 0, `logStartOffset moved to ${offsets.logStartOffset}`);
  t.equal(offsets.highWatermark, 16);

  const below = await records(server.url, 'short', 'offset=0');
  assertError(t, below, 'OFFSET_OUT_OF_RANGE', 'offset 0 after retention');
  t.match(below.body, { error: { logStartOffset: offsets.logStartOffset, highWatermark: 16 } });
  const earliest = (await records(server.url, 'short', 'offset=earliest')).body;
  t.equal(earliest.records[0].offset, offsets.logStartOffset, 'earliest starts at logStartOffset');
  t.equal(earliest.logStartOffset, offsets.logStartOffset);
  // A fetch reads from one segment (as Kafka's does); following nextOffset reads the rest.
  const rest = await fetchAll(server.url, 'short', 0);
  t.same(rest.records.map((r) => r.offset), Array.from({ length: 16 - offsets.logStartOffset }, (_, i) => offsets.logStartOffset + i), 'every retained record, to the end');

  const byTime = (await requestOk<{ offset: number | null }>(`${server.url}/v1/topics/short/partitions/0/offsets?timestamp=0`)).body;
  t.equal(byTime.offset, offsets.logStartOffset, 'a time before everything finds the first retained offset, not a deleted one');

  await server.close();
  const restarted = await startServer(t, { dataDir: server.dataDir });
  const after = (await records(restarted.url, 'short', 'offset=earliest')).body;
  t.equal(after.logStartOffset, offsets.logStartOffset, 'logStartOffset survives a restart');
  assertError(t, await records(restarted.url, 'short', 'offset=0'), 'OFFSET_OUT_OF_RANGE', 'offset 0 after the restart');
  await restarted.close();
});

void t.test('negative, fractional and non-numeric offsets get 400 INVALID_OFFSET', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  for (const offset of ['-1', 'abc', '1.5', '', '1e3', '0x10', 'EARLIEST', '99999999999999999999']) {
    assertError(t, await records(server.url, 'orders', `offset=${encodeURIComponent(offset)}`), 'INVALID_OFFSET', `offset=${JSON.stringify(offset)}`);
  }
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/partitions/1/records`), 'PARTITION_NOT_FOUND', 'a partition the topic lacks');
  assertError(t, await requestJson(`${server.url}/v1/topics/nope/partitions/0/records`), 'TOPIC_NOT_FOUND', 'a topic that does not exist');
});

void t.test('a long-poll wakes when a record is produced and returns it, long before waitMs', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  await produce(server.url, 'orders', [{ value: 'old' }], { partition: 0 });
  const notifier = server.broker.topics.partition('orders', 0).notifier;
  const startedMs = Date.now();
  const polling = fetchRecords(server.url, 'orders', 0, { offset: 1, waitMs: 20_000, timeoutMs: 25_000 });
  await until(() => notifier.waiterCount === 1, 'the long-poll is waiting on orders-0');
  await produce(server.url, 'orders', [{ value: 'elsewhere' }], { partition: 1 });
  t.equal(notifier.waiterCount, 1, 'an append to another partition does not wake it');
  await produce(server.url, 'orders', [{ value: 'new' }], { partition: 0 });
  const result = await polling;
  const elapsedMs = Date.now() - startedMs;
  t.same(result.records.map((r) => [r.offset, r.value]), [[1, 'new']], 'the new record, and only it');
  t.same([result.nextOffset, result.highWatermark], [2, 2]);
  t.ok(elapsedMs < 10_000, `returned after ${elapsedMs} ms, well before waitMs=20000`);
  t.equal(notifier.waiterCount, 0, 'no waiter left behind');
});

void t.test('offset=latest with waitMs returns only records produced after the request', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  await produce(server.url, 'orders', [{ value: 'before' }]);
  const notifier = server.broker.topics.partition('orders', 0).notifier;
  const polling = fetchRecords(server.url, 'orders', 0, { offset: 'latest', waitMs: 20_000, timeoutMs: 25_000 });
  await until(() => notifier.waiterCount === 1, 'the long-poll is waiting');
  await produce(server.url, 'orders', [{ value: 'after' }]);
  t.same((await polling).records.map((r) => r.value), ['after']);
});

void t.test('a long-poll with nothing to read returns empty after waitMs; with records present it does not wait', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders');
  const startedMs = Date.now();
  const empty = await fetchRecords(server.url, 'orders', 0, { offset: 'latest', waitMs: 300 });
  const elapsedMs = Date.now() - startedMs;
  t.same(empty, { records: [], nextOffset: 0, highWatermark: 0, logStartOffset: 0 }, 'empty, with the bounds');
  t.ok(elapsedMs >= 280, `it waited (${elapsedMs} ms for waitMs=300)`);

  await produce(server.url, 'orders', [{ value: 'here' }]);
  const immediateStartMs = Date.now();
  const present = await fetchRecords(server.url, 'orders', 0, { offset: 0, waitMs: 20_000, timeoutMs: 25_000 });
  t.same(present.records.map((r) => r.value), ['here']);
  t.ok(Date.now() - immediateStartMs < 10_000, 'records already there are returned without waiting');
});

void t.test('a client that gives up on a long-poll leaves no waiter behind', async (t) => {
  const server = await startServer(t);
  // Its own client: undici reconnects after an aborted request, and an open connection
  // that never sends a request holds up the server's close until the client drops it.
  const agent = new Agent();
  t.teardown(() => agent.destroy());
  await createTopic(server.url, 'orders');
  const notifier = server.broker.topics.partition('orders', 0).notifier;
  const controller = new AbortController();
  const polling = fetchRecords(server.url, 'orders', 0, { offset: 'latest', waitMs: 20_000, signal: controller.signal, dispatcher: agent }).catch((error: unknown) => error);
  await until(() => notifier.waiterCount === 1, 'the long-poll is waiting');
  controller.abort();
  t.type(await polling, Error, 'the client side was aborted');
  await until(() => notifier.waiterCount === 0, 'the server dropped the waiter of the closed connection');
  t.equal(notifier.waiterCount, 0);
});

void t.test('GET .../offsets: earliest, latest, log end; ?timestamp= finds the first offset at or after it, null when none', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'orders', { partitions: 2 });
  const baseMs = Date.now() - 60_000;
  await produce(server.url, 'orders', [{ value: 'a', timestamp: baseMs }, { value: 'b', timestamp: baseMs + 1000 }], { partition: 0 });
  await produce(server.url, 'orders', [{ value: 'c', timestamp: baseMs + 2000 }, { value: 'd', timestamp: baseMs + 2000 }], { partition: 0 });
  await produce(server.url, 'orders', [{ value: 'e', timestamp: baseMs + 5000 }], { partition: 0 });
  const url = `${server.url}/v1/topics/orders/partitions/0/offsets`;

  t.same((await requestOk(url)).body, { partition: 0, logStartOffset: 0, highWatermark: 5, logEndOffset: 5 });
  t.same((await requestOk(`${server.url}/v1/topics/orders/partitions/1/offsets`)).body, { partition: 1, logStartOffset: 0, highWatermark: 0, logEndOffset: 0 }, 'an empty partition');
  const at = async (timestampMs: number): Promise<unknown> => {
    const body = (await requestOk<{ offset: number | null; timestamp: number | null }>(`${url}?timestamp=${timestampMs}`)).body;
    return [body.offset, body.timestamp];
  };
  t.same(await at(0), [0, baseMs], 'before everything: the first record');
  t.same(await at(baseMs), [0, baseMs], 'exactly a record time: that record');
  t.same(await at(baseMs + 1), [1, baseMs + 1000], 'between two: the later one');
  t.same(await at(baseMs + 1500), [2, baseMs + 2000], 'into the next batch');
  t.same(await at(baseMs + 2000), [2, baseMs + 2000], 'equal timestamps: the first of them');
  t.same(await at(baseMs + 4999), [4, baseMs + 5000]);
  t.same(await at(baseMs + 5001), [null, null], 'after everything: null');
  t.same((await requestOk<{ offset: unknown }>(`${server.url}/v1/topics/orders/partitions/1/offsets?timestamp=0`)).body.offset, null, 'an empty partition: null');

  assertError(t, await requestJson(`${url}?timestamp=yesterday`), 'INVALID_REQUEST', 'a timestamp that is not a number');
  assertError(t, await requestJson(`${url}?timestamp=-1`), 'INVALID_REQUEST', 'a negative timestamp');
  assertError(t, await requestJson(`${server.url}/v1/topics/orders/partitions/2/offsets`), 'PARTITION_NOT_FOUND');
  assertError(t, await requestJson(`${server.url}/v1/topics/nope/partitions/0/offsets`), 'TOPIC_NOT_FOUND');
  t.same((await fetchAll(server.url, 'orders', 0)).records.map((r) => r.value), ['a', 'b', 'c', 'd', 'e'], 'the records are all there');
});
