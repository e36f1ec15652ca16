/**
 * What a JSON value is stored as, seen through a fetch (which writes stored bytes as
 * they are): JSON.stringify's form, whether the request sent it that way (then the
 * bytes of the request are kept) or pretty-printed, escaped or with odd numbers (then
 * canonicalised), in JSON and NDJSON bodies alike.
 */
import t from 'tap';
import { request } from 'undici';
import { createTopic } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

/** Values as sent, and the text a fetch must answer for each. */
const VALUES: Array<[sent: string, stored: string]> = [
  ['{"item":"book","qty":3,"tags":["a","b"],"ok":true,"none":null}', '{"item":"book","qty":3,"tags":["a","b"],"ok":true,"none":null}'],
  ['{ "item" : "book",\n  "qty" : 3 }', '{"item":"book","qty":3}'],
  ['[1.50, -0, 1E3, 12345678901234567890]', '[1.5,0,1000,12345678901234567000]'],
  ['"caf\\u00e9 \\/ \\" \\u2028"', '"café / \\" \u2028"'],
  ['{"b":1,"a":2,"b":3}', '{"b":3,"a":2}'],
  ['{"z":1,"7":2}', '{"7":2,"z":1}'],
  ['"\\ud83d\\ude00 and \\ud800"', '"😀 and \\ud800"'],
];

async function post(url: string, body: string, contentType: string): Promise<void> {
  const response = await request(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`produce answered ${response.statusCode}: ${text}`);
}

/** The raw text of a fetch answer from offset 0. */
async function fetchText(url: string): Promise<string> {
  const response = await request(`${url}?offset=0&maxRecords=100`);
  return response.body.text();
}

void t.test('a JSON value is stored as JSON.stringify writes it: as sent when sent so, canonicalised otherwise', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'stored', { partitions: 1 });
  const records = `${server.url}/v1/topics/stored/partitions/0/records`;
  await post(records, `{"records":[${VALUES.map(([sent]) => `{"key":"k","value":${sent}}`).join(',')}]}`, 'application/json');
  // The same values as NDJSON lines (no newline inside a line).
  await post(records, VALUES.map(([sent]) => `{"value":${sent.replace(/\n/g, ' ')}}`).join('\n') + '\n', 'application/x-ndjson');
  const text = await fetchText(records);
  const answer = JSON.parse(text) as { records: Array<{ value: unknown }> };
  t.equal(answer.records.length, VALUES.length * 2, 'every record fetched');
  for (const [sent, stored] of VALUES) {
    const occurrences = text.split(`"value":${stored}`).length - 1;
    // The message names what was sent only: a stored U+2028 would end the TAP line.
    t.equal(occurrences, 2, `${JSON.stringify(sent)} is stored in JSON.stringify's form (JSON body and NDJSON line)`);
    t.same(JSON.parse(stored), JSON.parse(sent), 'with the meaning it was sent with');
  }
});

void t.test('string and binary values keep their meaning when scanned', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'texts', { partitions: 1 });
  const records = `${server.url}/v1/topics/texts/partitions/0/records`;
  await post(records, '{"valueFormat":"string","records":[{"value":"plain"},{"value":"caf\\u00e9\\n"}]}', 'application/json');
  await post(records, '{"valueFormat":"binary","records":[{"value":"aGVsbG8="},{"value":"aGVs\\/G8="}]}', 'application/json');
  const answer = JSON.parse(await fetchText(records)) as { records: Array<{ value: string; valueFormat?: string }> };
  t.same(answer.records.map((record) => [record.value, record.valueFormat]), [
    ['plain', 'string'], ['café\n', 'string'], ['aGVsbG8=', 'binary'], ['aGVs/G8=', 'binary'],
  ], 'strings are stored as their UTF-8 text, base64 as its bytes');
});
