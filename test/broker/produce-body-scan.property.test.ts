/**
 * The scanned produce path against the parsing path it replaces: for random JSON and
 * NDJSON bodies (canonical, pretty-printed, and mutated byte by byte), a body the scan
 * takes is one the parsing path (JSON.parse, the body schema, the depth check) takes
 * too, and every record encodes to the same key, value, headers, timestamp and
 * partition, or fails with the same error. A body the scan declines goes the parsing
 * path itself, so it is answered as before by construction.
 */
import t from 'tap';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { produceBodySchema } from '../../src/api/schemas.js';
import { limits } from '../../src/limits.js';
import { checkJsonDepth, encodeRecord, type ProduceRecord } from '../../src/broker/record-input.js';
import { encodeScannedRecord, requestedPartition } from '../../src/broker/scanned-input.js';
import { scannedRequest } from '../../src/broker/produce-request.js';
import type { RecordInput } from '../../src/record/encode.js';
import type { ValueFormat } from '../../src/record/layout.js';
import { scanJsonBody, scanNdjsonBody, type ScannedProduceBody } from '../../src/record/produce-body-scan.js';

const NUM_RUNS = 300;
const SCAN_LIMITS = { depthMax: limits.jsonDepthMax, recordCountMax: limits.produceRecordCountMax, producerIdMax: limits.producerIdMax };
const NOW_MS = 1_764_000_000_000;

// The node's body validator (app.ts): strict types, schema defaults applied.
const validateBody = new Ajv({ strict: false, coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false }).compile(produceBodySchema);

interface ParsedBody {
  records: ProduceRecord[];
  keyFormat?: ValueFormat;
  valueFormat?: ValueFormat;
  producerId?: number;
  producerEpoch?: number;
  baseSequence?: number;
}

/** What the parsing path makes of a body, or undefined when it refuses it (any 4xx before the broker encodes). */
function parsedBody(bytes: Buffer, isNdjson: boolean): ParsedBody | undefined {
  const text = bytes.toString('utf8');
  let body: unknown;
  try {
    body = isNdjson ? { records: ndjsonRecords(text) } : JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!validateBody(body)) return undefined;
  const parsed = body as ParsedBody;
  try {
    checkJsonDepth(parsed.records);
  } catch {
    return undefined;
  }
  return parsed;
}

/** The NDJSON parser's reading (http/ndjson.ts): each trimmed, non-blank line is one JSON record. */
function ndjsonRecords(text: string): unknown[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '').map((line) => JSON.parse(line) as unknown);
}

/** The value bytes a record input stores: its own Buffer, or its span of the body. */
function storedValue(input: RecordInput): Buffer | null {
  return input.valueSource === undefined ? input.value : input.valueSource.subarray(input.valueStart, input.valueEnd);
}

type Outcome = { error: string } | { key: string | null; value: string | null; headers: string; timestampMs: number; partition: number | undefined };

function outcome(encode: () => RecordInput, partition: number | undefined): Outcome {
  try {
    const input = encode();
    return {
      key: input.key?.toString('hex') ?? null,
      value: storedValue(input)?.toString('hex') ?? null,
      headers: JSON.stringify(input.headers?.map(([name, value]) => [name, value?.toString('hex') ?? null]) ?? null),
      timestampMs: input.timestampMs,
      partition,
    };
  } catch (error) {
    return { error: `${(error as { code?: string }).code}: ${(error as Error).message}` };
  }
}

/** Checks a scanned body against the parsing path, record by record; returns how many records it compared. */
function compare(bytes: Buffer, isNdjson: boolean, formats: { keyFormat?: ValueFormat; valueFormat?: ValueFormat } = {}): { isScanned: boolean; body?: ScannedProduceBody } {
  const scannedBody = isNdjson ? scanNdjsonBody(bytes, SCAN_LIMITS) : scanJsonBody(bytes, SCAN_LIMITS);
  if (scannedBody === undefined) return { isScanned: false };
  const parsed = parsedBody(bytes, isNdjson);
  if (parsed === undefined) throw new Error(`the scan took a body the parsing path refuses: ${JSON.stringify(bytes.toString('utf8').slice(0, 300))}`);
  const { scanned } = scannedBody;
  if (scanned.count !== parsed.records.length) throw new Error(`${scanned.count} records scanned, ${parsed.records.length} parsed`);
  for (const field of ['keyFormat', 'valueFormat', 'producerId', 'producerEpoch', 'baseSequence'] as const) {
    if (!isNdjson && scannedBody[field] !== parsed[field]) throw new Error(`${field}: scanned ${scannedBody[field]}, parsed ${parsed[field]}`);
  }
  const keyFormat = formats.keyFormat ?? (isNdjson ? 'string' : scannedBody.keyFormat);
  const valueFormat = formats.valueFormat ?? (isNdjson ? 'json' : scannedBody.valueFormat);
  const request = scannedRequest({ topic: 'scan' }, scanned);
  if (JSON.stringify(request.records) !== JSON.stringify(parsed.records)) throw new Error('the records parsed from the scan differ');
  for (let i = 0; i < scanned.count; i++) {
    const record = parsed.records[i];
    const expected = outcome(() => encodeRecord(record, i, keyFormat, valueFormat, NOW_MS), record.partition);
    const actual = outcome(() => encodeScannedRecord(scanned, i, keyFormat, valueFormat, NOW_MS), requestedPartition(request, i));
    if (JSON.stringify(actual) !== JSON.stringify(expected)) {
      throw new Error(`record ${i}: scanned ${JSON.stringify(actual)}, parsed ${JSON.stringify(expected)}`);
    }
  }
  return { isScanned: true, body: scannedBody };
}

// Strings from every UTF-16 unit (lone surrogates too) and from whole graphemes.
const text = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 6 }));
const base64 = fc.uint8Array({ maxLength: 12 }).map((array) => Buffer.from(array).toString('base64'));
const jsonValue = fc.jsonValue({ maxDepth: 4 });
const field = fc.oneof(text, base64, jsonValue, fc.constant(null));
// Mostly what the schema takes, sometimes what it refuses or the scan leaves to JSON.parse.
const integerish = fc.oneof(
  { weight: 30, arbitrary: fc.nat({ max: 30_000 }) },
  { weight: 1, arbitrary: fc.maxSafeNat() },
  { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, 2 ** 53, 1e21, '3', 12.0, 2 ** 31, 32768) },
);
const record = fc.record({
  key: field,
  value: field,
  headers: fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.option(text, { nil: null }), { maxKeys: 3 }), { nil: null }),
  partition: integerish,
  timestamp: integerish,
}, { requiredKeys: [] });
const format = fc.constantFrom('json', 'string', 'binary', 'json', 'string', 'JSON');
const body = fc.record({
  records: fc.array(record, { maxLength: 4 }),
  keyFormat: format,
  valueFormat: format,
  producerId: integerish,
  producerEpoch: integerish,
  baseSequence: integerish,
}, { requiredKeys: ['records'] });

/** Bytes that change what the scan and JSON.parse see: whitespace, structure, escapes, odd numbers, bad UTF-8. */
const insertion = fc.constantFrom(
  ' ', '\n', '\t', '\r', '\u000b', '\u00a0', '\ufeff', '\\', '"', ',', '{', '}', '[', ']', ':', '0', '-', '.5', 'e5', '1.0', '-0',
  '\u0001', '\u00e9', '\ud800', '\u2028', 'null', 'true', '\\u0041', '\\ud800', '\\/', '"a":1,', '"key":', '"value":', '"records":[]', '\uffff',
).map((piece) => Buffer.from(piece, 'utf8'));
const mutation = fc.record({ at: fc.nat(), remove: fc.nat({ max: 2 }), insert: fc.oneof(insertion, fc.constant(Buffer.from([0xff])), fc.constant(Buffer.from([0xc3]))) });

function mutate(bytes: Buffer, mutations: Array<{ at: number; remove: number; insert: Buffer }>): Buffer {
  let result = bytes;
  for (const { at, remove, insert } of mutations) {
    const position = at % (result.length + 1);
    result = Buffer.concat([result.subarray(0, position), insert, result.subarray(Math.min(result.length, position + remove))]);
  }
  return result;
}

void t.test('a canonical JSON body is scanned, and each value is stored as the request carried it', async (t) => {
  fc.assert(fc.property(fc.array(fc.record({ key: fc.option(fc.string(), { nil: null }), value: jsonValue }), { minLength: 1, maxLength: 5 }), (records) => {
    const bytes = Buffer.from(JSON.stringify({ records }));
    const { isScanned, body: scanned } = compare(bytes, false);
    if (!isScanned || scanned === undefined) throw new Error(`a canonical body was declined: ${bytes.toString().slice(0, 200)}`);
    records.forEach((record, i) => {
      const stored = storedValue(encodeScannedRecord(scanned.scanned, i, 'string', 'json', NOW_MS));
      const expected = record.value === null ? null : JSON.stringify(JSON.parse(JSON.stringify(record.value)));
      if ((stored?.toString('utf8') ?? null) !== expected) throw new Error(`record ${i} stored ${stored?.toString('utf8')}, not ${expected}`);
    });
  }), { numRuns: NUM_RUNS });
  t.pass('every canonical body scanned, every value JSON.stringify(JSON.parse(value))');
});

void t.test('random bodies: the scan takes only what the parsing path takes, and encodes it the same', async (t) => {
  let scannedCount = 0;
  let parsedCount = 0;
  fc.assert(fc.property(body, fc.boolean(), fc.array(mutation, { maxLength: 3 }), (value, isPretty, mutations) => {
    const bytes = mutate(Buffer.from(isPretty ? JSON.stringify(value, null, 2) : JSON.stringify(value)), mutations);
    if (compare(bytes, false).isScanned) scannedCount++;
    if (parsedBody(bytes, false) !== undefined) parsedCount++;
  }), { numRuns: NUM_RUNS * 3 });
  // The scan declines rare forms only (16-digit integers, 1.0 as an integer): it must take most bodies the parsing path takes.
  t.ok(scannedCount >= parsedCount * 0.6, `the scan took ${scannedCount} of the ${parsedCount} bodies the parsing path takes`);
});

void t.test('random NDJSON bodies: the same, line by line, in every format', async (t) => {
  let scannedCount = 0;
  fc.assert(fc.property(fc.array(record, { minLength: 1, maxLength: 4 }), fc.array(mutation, { maxLength: 2 }), format, format, (records, mutations, keyFormat, valueFormat) => {
    const lines = records.map((entry, i) => (i % 2 === 0 ? JSON.stringify(entry) : ` ${JSON.stringify(entry)}\r\n`));
    const bytes = mutate(Buffer.from(lines.join('\n')), mutations);
    const formats = { keyFormat: keyFormat === 'JSON' ? undefined : keyFormat, valueFormat: valueFormat === 'JSON' ? undefined : valueFormat } as const;
    if (compare(bytes, true, formats as { keyFormat?: ValueFormat; valueFormat?: ValueFormat }).isScanned) scannedCount++;
  }), { numRuns: NUM_RUNS * 2 });
  t.ok(scannedCount > 0, `the scan took ${scannedCount} NDJSON bodies`);
});

void t.test('values at and past the nesting limit: the scan takes the first and leaves the second to the depth check', async (t) => {
  const nested = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
  const within = Buffer.from(`{"records":[{"value":${nested(limits.jsonDepthMax)}}]}`);
  const past = Buffer.from(`{"records":[{"key":"k","value":${nested(limits.jsonDepthMax + 1)}}]}`);
  t.ok(compare(within, false).isScanned, `${limits.jsonDepthMax} levels are scanned`);
  t.notOk(compare(past, false).isScanned, `${limits.jsonDepthMax + 1} levels are declined`);
  t.equal(parsedBody(past, false), undefined, 'and the parsing path refuses them');
});

void t.test('a raw control character inside a string is declined, in a body otherwise searched quote to quote', async (t) => {
  for (const code of [0x09, 0x01, 0x0a, 0x1f]) {
    const bytes = Buffer.from(`{"records":[{"value":{"data":"a${String.fromCharCode(code)}b"}}]}`);
    t.notOk(compare(bytes, false).isScanned, `a raw 0x${code.toString(16)} is declined`);
    t.equal(parsedBody(bytes, false), undefined, 'as JSON.parse refuses it');
  }
});

void t.test('escapes, spaces and odd numbers are stored as JSON.stringify writes them; strings and base64 keep their meaning', async (t) => {
  const cases: Array<[string, ValueFormat, string]> = [
    ['{ "a" : [1, 2.50, -0, 1E2] }', 'json', '{"a":[1,2.5,0,100]}'],
    ['"caf\\u00e9 \\/ \\n"', 'json', '"café / \\n"'],
    ['{"b":1,"a":2,"b":3}', 'json', '{"b":3,"a":2}'],
    ['{"x":1,"2":2}', 'json', '{"2":2,"x":1}'],
    ['"\\ud800"', 'json', '"\\ud800"'],
    ['"caf\\u00e9"', 'string', 'café'],
    ['"aGVsbG8="', 'binary', 'hello'],
    ['"aGVs\\/G8="', 'binary', Buffer.from('aGVs/G8=', 'base64').toString('latin1')],
  ];
  for (const [value, valueFormat, stored] of cases) {
    const bytes = Buffer.from(`{"valueFormat":"${valueFormat}","records":[{"value":${value}}]}`);
    const { body: scanned } = compare(bytes, false);
    t.ok(scanned, `${value} is scanned`);
    const input = encodeScannedRecord(scanned!.scanned, 0, 'string', valueFormat, NOW_MS);
    t.equal(storedValue(input)?.toString(valueFormat === 'binary' ? 'latin1' : 'utf8'), stored, `${value} (${valueFormat}) is stored as ${stored}`);
  }
});
