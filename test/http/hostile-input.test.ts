/**
 * Hostile input (issue 12): requests a fuzzer or an attacker sends must get the
 * documented 4xx error shape, never a 500. Config names that are Object.prototype
 * members, as configs and as record headers; JSON nested thousands of levels deep.
 */
import t from 'tap';
import { createTopic, fetchAll, requestJson, requestOk } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';
import { assertError, describe, logEndOffsets, postRaw } from '../helpers/http-support.js';
import { limits } from '../../src/limits.js';

const PROTOTYPE_NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

/** The JSON text of `{"configs":{"<name>":"1"}, ...rest}`, written by hand so `__proto__` stays an own key. */
function bodyWithConfig(name: string, rest: Record<string, unknown>): string {
  const restText = JSON.stringify(rest).slice(1, -1);
  return `{${restText}${restText === '' ? '' : ','}"configs":{${JSON.stringify(name)}:"1"}}`;
}

void t.test('config names that are Object.prototype members are unknown configs (400 INVALID_CONFIG) on create and alter', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'plain');
  for (const name of PROTOTYPE_NAMES) {
    const created = await requestJson(`${server.url}/v1/topics`, { body: bodyWithConfig(name, { name: 'proto-topic' }) });
    assertError(t, created, 'INVALID_CONFIG', `create with config '${name}'`);
    const altered = await requestJson(`${server.url}/v1/topics/plain`, { method: 'PATCH', body: bodyWithConfig(name, {}) });
    assertError(t, altered, 'INVALID_CONFIG', `alter with config '${name}'`);
  }
  const removed = await requestJson(`${server.url}/v1/topics/plain`, { method: 'PATCH', body: '{"configs":{"constructor":null,"__proto__":null}}' });
  assertError(t, removed, 'INVALID_CONFIG', 'removing a prototype-named config');
  t.same((await describe(server.url, 'plain')).configs, {}, 'the topic kept no config');
  t.notOk((await requestJson(`${server.url}/v1/topics/proto-topic`)).status === 200, 'no topic was created');
});

void t.test('record headers named like Object.prototype members are stored and fetched as any other header', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'headers');
  await requestOk(`${server.url}/v1/topics/headers/records`, { body: '{"records":[{"value":1,"headers":{"__proto__":"p","constructor":"c","toString":null}}]}' });
  const [record] = (await fetchAll(server.url, 'headers', 0)).records;
  const headers = record.headers as Record<string, unknown>;
  t.same(Object.keys(headers), ['__proto__', 'constructor', 'toString'], 'three own headers, in order');
  t.equal(Object.getOwnPropertyDescriptor(headers, '__proto__')?.value, 'p', '__proto__ kept its value');
  t.equal(headers.constructor, 'c');
  t.equal(headers.toString, null);
});

/** JSON text of arrays nested `depth` levels: depth 2 is [[]]. */
function nested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

void t.test(`keys and values nested deeper than ${limits.jsonDepthMax} levels get 400 INVALID_REQUEST, not a stack overflow`, async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'deep');
  const records = `${server.url}/v1/topics/deep/records`;
  const refused: Array<[string, string, Record<string, string>]> = [
    ['a value 5,000 deep', `{"records":[{"value":${nested(5_000)}}]}`, {}],
    ['a json key 5,000 deep', `{"keyFormat":"json","records":[{"key":${nested(5_000)},"value":1}]}`, {}],
    ['a value 5,000 deep with an Idempotency-Key', `{"records":[{"value":${nested(5_000)}}]}`, { 'idempotency-key': 'deep-1' }],
    ['an object value 5,000 deep', `{"records":[{"value":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}]}`, {}],
    ['a value 100,000 deep', `{"records":[{"value":${nested(100_000)}}]}`, {}],
    [`a value ${limits.jsonDepthMax + 1} deep after a good record`, `{"records":[{"value":1},{"value":${nested(limits.jsonDepthMax + 1)}}]}`, {}],
  ];
  for (const [what, body, headers] of refused) {
    assertError(t, await postRaw(records, body, 'application/json', headers), 'INVALID_REQUEST', what);
  }
  const ndjson = await postRaw(records, `{"value":1}\n{"value":${nested(5_000)}}\n`, 'application/x-ndjson');
  assertError(t, ndjson, 'INVALID_REQUEST', 'an NDJSON line 5,000 deep');
  t.same(await logEndOffsets(server.url, 'deep'), [0], 'nothing was appended');

  const deepest = nested(limits.jsonDepthMax);
  const accepted = await postRaw(records, `{"keyFormat":"json","records":[{"key":${deepest},"value":${deepest}}]}`, 'application/json', { 'idempotency-key': 'deep-2' });
  t.equal(accepted.status, 200, `a key and value exactly ${limits.jsonDepthMax} deep are accepted`);
  const [record] = (await fetchAll(server.url, 'deep', 0)).records;
  t.equal(JSON.stringify(record.value), deepest, 'and fetched back intact');
  t.equal((await requestJson(`${server.url}/health/live`)).status, 200, 'the node still answers');
});
