/**
 * Compaction over real HTTP: the compaction configs at create, by PATCH and in topic
 * descriptions; tombstones sent as `"value": null` (JSON and NDJSON bodies, any
 * format) and fetched back as null; keyless records refused with 400
 * RECORD_KEY_REQUIRED in every body type; and a compacted partition read after the
 * cleaner ran: latest value per key, original offsets, tombstones kept, fetches that
 * step over the gaps, offsets by timestamp, and the same after a restart.
 */
import t from 'tap';
import { request } from 'undici';
import { createTopic, fetchAll, fetchRecords, produce, requestJson, requestOk } from '../helpers/http.js';
import { startInProcessNode, startServer } from '../helpers/server.js';
import { assertError, describe, postRaw } from '../helpers/http-support.js';
import { encodeBatch } from '../../src/record/encode.js';

const COMPACTION_DEFAULTS = {
  'cleanup.policy': 'delete',
  'min.cleanable.dirty.ratio': '0.5',
  'min.compaction.lag.ms': '0',
  'max.compaction.lag.ms': '9223372036854775807',
  'delete.retention.ms': '86400000',
  'segment.ms': '604800000',
};

void t.test('compaction configs: defaults, create, PATCH, normalisation and refusals', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'plain');
  t.match((await describe(server.url, 'plain')).effectiveConfigs, COMPACTION_DEFAULTS, "Kafka's defaults are shown");

  await createTopic(server.url, 'state', { configs: { 'cleanup.policy': 'delete, compact', 'min.cleanable.dirty.ratio': '0.1', 'delete.retention.ms': 1000, 'min.compaction.lag.ms': 5, 'max.compaction.lag.ms': 60_000 } });
  const state = await describe(server.url, 'state');
  t.same(state.configs, { 'cleanup.policy': 'compact,delete', 'min.cleanable.dirty.ratio': '0.1', 'delete.retention.ms': '1000', 'min.compaction.lag.ms': '5', 'max.compaction.lag.ms': '60000' }, 'set configs, the policy normalised');

  await requestOk(`${server.url}/v1/topics/state`, { method: 'PATCH', body: { configs: { 'cleanup.policy': 'compact', 'min.cleanable.dirty.ratio': 0.75, 'delete.retention.ms': null } } });
  const patched = await describe(server.url, 'state');
  t.equal(patched.effectiveConfigs['cleanup.policy'], 'compact');
  t.equal(patched.effectiveConfigs['min.cleanable.dirty.ratio'], '0.75');
  t.equal(patched.effectiveConfigs['delete.retention.ms'], '86400000', 'a removed config falls back to the default');

  const refused: Array<[string, Record<string, unknown>]> = [
    ['an unknown policy', { 'cleanup.policy': 'compacted' }],
    ['a policy named twice', { 'cleanup.policy': 'compact,compact' }],
    ['a ratio above 1', { 'min.cleanable.dirty.ratio': 1.5 }],
    ['a negative ratio', { 'min.cleanable.dirty.ratio': '-0.1' }],
    ['a negative lag', { 'min.compaction.lag.ms': -1 }],
    ['a max lag of 0', { 'max.compaction.lag.ms': 0 }],
    ['a min lag above the max lag', { 'min.compaction.lag.ms': 10, 'max.compaction.lag.ms': 5 }],
  ];
  for (const [what, configs] of refused) {
    assertError(t, await requestJson(`${server.url}/v1/topics`, { body: { name: 'refused', configs } }), 'INVALID_CONFIG', `create with ${what}`);
  }
  assertError(t, await requestJson(`${server.url}/v1/topics/state`, { method: 'PATCH', body: { configs: { 'min.compaction.lag.ms': 120_000 } } }), 'INVALID_CONFIG', 'PATCH to a min lag above the max lag in force');
  t.equal((await requestJson(`${server.url}/v1/topics/refused`)).status, 404, 'nothing was created');
});

void t.test('keyless records to a compacted topic get 400 RECORD_KEY_REQUIRED in every body type; nothing is appended', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'state', { configs: { 'cleanup.policy': 'compact' } });
  await createTopic(server.url, 'events');
  const json = await requestJson(`${server.url}/v1/topics/state/records`, { body: { records: [{ key: 'a', value: 1 }, { value: 2 }] } });
  assertError(t, json, 'RECORD_KEY_REQUIRED', 'JSON body');
  t.match((json.body as any).error.message, /records\[1\]/, 'the message names the record');
  assertError(t, await requestJson(`${server.url}/v1/topics/state/partitions/0/records`, { body: { records: [{ key: null, value: 1 }] } }), 'RECORD_KEY_REQUIRED', 'a null key');
  assertError(t, await postRaw(`${server.url}/v1/topics/state/records`, '{"key":"a","value":1}\n{"value":2}\n', 'application/x-ndjson'), 'RECORD_KEY_REQUIRED', 'NDJSON body');
  const batch = encodeBatch([{ key: Buffer.from('a'), value: Buffer.from('1'), headers: null, timestampMs: 1 }, { key: null, value: Buffer.from('2'), headers: null, timestampMs: 1 }],
    { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string' });
  const binary = await request(`${server.url}/v1/topics/state/partitions/0/records`, { method: 'POST', body: batch, headers: { 'content-type': 'application/vnd.runnel.record-batch' } });
  const binaryBody = await binary.body.json() as { error: { code: string; message: string } };
  t.equal(binary.statusCode, 400);
  t.equal(binaryBody.error.code, 'RECORD_KEY_REQUIRED', 'record-batch body');
  t.match(binaryBody.error.message, /batch 0, record 1/);
  t.equal((await fetchRecords(server.url, 'state', 0)).highWatermark, 0, 'nothing was appended');
  await produce(server.url, 'events', [{ value: 'keyless is fine here' }]);
  t.pass('a keyless record to a delete topic is taken');
});

void t.test('tombstones: "value": null in JSON and NDJSON bodies, any format, is fetched back as null', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'state', { configs: { 'cleanup.policy': 'compact' } });
  await produce(server.url, 'state', [{ key: 'a', value: { n: 1 } }, { key: 'a', value: null }], { partition: 0 });
  await produce(server.url, 'state', [{ key: 'b', value: null }], { partition: 0, valueFormat: 'binary' });
  const ndjson = await postRaw(`${server.url}/v1/topics/state/partitions/0/records?valueFormat=string`, '{"key":"c","value":null}\n', 'application/x-ndjson');
  t.equal(ndjson.status, 200, 'an NDJSON line with "value": null is taken');
  const { records } = await fetchAll(server.url, 'state', 0);
  t.same(records.map((r) => [r.key, r.value]), [['a', { n: 1 }], ['a', null], ['b', null], ['c', null]]);
});

async function produceUpdates(url: string, topic: string, rounds: number): Promise<Map<string, { offset: number; value: unknown }>> {
  const latest = new Map<string, { offset: number; value: unknown }>();
  for (let round = 0; round < rounds; round++) {
    // A key written once, early: it stays in a cleaned segment, with gaps around it.
    const keys = round % 10 === 0 ? ['k0', 'k1', 'k2', 'k3', `once-${round}`] : ['k0', 'k1', 'k2', 'k3'];
    const records = keys.map((key) => ({ key, value: key === 'k3' && round === rounds - 1 ? null : { round, key, pad: 'x'.repeat(100) } }));
    const offsets = await produce(url, topic, records, { partition: 0 });
    records.forEach((record, i) => latest.set(record.key, { offset: offsets[i].offset, value: record.value }));
  }
  return latest;
}

void t.test('a compacted partition after cleaning: latest value per key at its original offset, reads across the gaps, and after a restart', async (t) => {
  const first = await startInProcessNode(t, { broker: { cleaner: { backoffMs: 600_000 } } });
  await createTopic(first.url, 'state', { configs: { 'cleanup.policy': 'compact', 'segment.bytes': 2048, 'min.cleanable.dirty.ratio': 0.01 } });
  const latest = await produceUpdates(first.url, 'state', 30);
  // The last writes go to a segment of their own, so every key's latest record is in a closed one too.
  const cleaner = first.broker.logs.cleaner;
  let rounds = 0;
  for (let i = 0; i < 20 && (await cleaner.cleanOnce()) !== undefined; i++) rounds += 1;
  t.ok(rounds >= 1, `the cleaner ran (${rounds} rounds)`);
  t.ok(cleaner.stats.recordsRemoved > 50, `superseded records were removed (${cleaner.stats.recordsRemoved})`);

  const check = async (url: string, what: string): Promise<void> => {
    const { records, highWatermark } = await fetchAll(url, 'state', 0, { maxRecords: 7 });
    t.equal(highWatermark, 123, `${what}: the high watermark is unchanged`);
    const byKey = new Map<string, { offset: number; value: unknown }>();
    t.ok(records.every((record, i) => i === 0 || record.offset > records[i - 1].offset), `${what}: offsets rise`);
    for (const record of records) byKey.set(String(record.key), { offset: record.offset, value: record.value });
    t.same(byKey, latest, `${what}: each key's latest record, at its original offset (k3's tombstone included)`);
    t.ok(records.length < 60, `${what}: superseded records are gone (${records.length} left of 123)`);
    // A fetch that starts in a gap gets the next record and a nextOffset past it.
    const gapStart = records.findIndex((record, i) => i > 0 && record.offset > records[i - 1].offset + 1);
    t.ok(gapStart > 0, `${what}: the log has gaps`);
    {
      const page = await fetchRecords(url, 'state', 0, { offset: records[gapStart - 1].offset + 1, maxRecords: 1 });
      t.equal(page.records[0].offset, records[gapStart].offset, `${what}: a fetch from inside a gap starts at the next record`);
      t.equal(page.nextOffset, records[gapStart].offset + 1);
    }
    const offsets = await requestOk<{ offset: number | null }>(`${url}/v1/topics/state/partitions/0/offsets?timestamp=0`);
    t.equal(offsets.body.offset, records[0].offset, `${what}: the offset for a timestamp is a record that is there`);
    // A consumer group polls the partition a few records at a time across the gaps: each record once.
    const group = `${what.replace(/\W+/g, '-')}-group`;
    const member = await requestOk<{ memberId: string }>(`${url}/v1/groups/${group}/members`, { method: 'POST', body: { topics: ['state'], autoOffsetReset: 'earliest' } });
    const polled: number[] = [];
    for (let polls = 0; polls < 100 && polled.length < records.length; polls++) {
      const reply = await requestOk<{ records: Array<{ offset: number }> }>(`${url}/v1/groups/${group}/members/${member.body.memberId}/records?maxRecords=3&waitMs=0`);
      polled.push(...reply.body.records.map((record) => record.offset));
    }
    t.same(polled, records.map((record) => record.offset), `${what}: a group polls every record once, in order`);
  };
  await check(first.url, 'after cleaning');
  const metrics = await (await request(`${first.url}/metrics`)).body.text();
  const removed = Number(/^runnel_cleaner_records_removed_total (\d+)/m.exec(metrics)?.[1]);
  t.equal(removed, cleaner.stats.recordsRemoved, 'runnel_cleaner_records_removed_total counts the removed records');
  t.match(metrics, /^runnel_cleaner_rounds_total [1-9]/m, 'and the rounds');
  t.match(metrics, /^runnel_cleaner_max_dirty_ratio /m, 'the dirty ratio is shown');

  const dataDir = first.dataDir;
  await first.close();
  const second = await startInProcessNode(t, { broker: { dataDir, cleaner: { backoffMs: 600_000 } } });
  await check(second.url, 'after a restart');
  t.equal(await second.broker.logs.cleaner.cleanOnce(), undefined, 'the checkpoint kept the progress: nothing is dirty');
});

void t.test("the README's Compaction examples work as written", async (t) => {
  const server = await startServer(t);
  const base = server.url;
  const created = await requestJson(`${base}/v1/topics`, { body: '{"name":"prices","configs":{"cleanup.policy":"compact","min.cleanable.dirty.ratio":0.1,"delete.retention.ms":3600000}}' });
  t.equal(created.status, 201, 'create a compacted topic');
  t.equal((await requestJson(`${base}/v1/topics/prices/records`, { body: '{"records":[{"key":"apple","value":{"eur":1.10}},{"key":"apple","value":{"eur":1.25}},{"key":"pear","value":{"eur":0.90}}]}' })).status, 200, 'updates');
  t.equal((await requestJson(`${base}/v1/topics/prices/records`, { body: '{"records":[{"key":"pear","value":null}]}' })).status, 200, 'a tombstone');
  t.equal((await postRaw(`${base}/v1/topics/prices/records`, '{"key":"plum","value":{"eur":2}}\n{"key":"plum","value":null}\n', 'application/x-ndjson')).status, 200, 'NDJSON');
  t.equal((await requestJson(`${base}/v1/topics/prices`, { method: 'PATCH', body: '{"configs":{"min.compaction.lag.ms":60000}}' })).status, 200, 'PATCH');
  const { records } = await fetchAll(base, 'prices', 0);
  t.same(records.map((r) => [r.key, r.value]), [['apple', { eur: 1.1 }], ['apple', { eur: 1.25 }], ['pear', { eur: 0.9 }], ['pear', null], ['plum', { eur: 2 }], ['plum', null]]);
});
