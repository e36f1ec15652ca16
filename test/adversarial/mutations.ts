/**
 * The fuzzer's hostile material: values, JSON texts, bodies, content types, path
 * segments and query strings that a careless or malicious client sends. Each
 * mutation takes a seeded random source, so a seed replays the same requests.
 *
 * JSON that JSON.stringify cannot write (NaN, 1e999, duplicate keys, a lone surrogate
 * as raw bytes, 5,000 levels of nesting without building them) is written by
 * `serialise` from two markers: Raw (text put in as is) and Duplicated (an object
 * whose keys may repeat).
 */
import { pick } from '../helpers/seeded-random.js';

/** JSON text put into a serialised value as is. */
export class Raw {
  constructor(readonly text: string) {}
}

/** An object written with these entries in order, keys repeated as given. */
export class Duplicated {
  constructor(readonly entries: Array<[string, unknown]>) {}
}

/** JSON text of `value`, honouring Raw and Duplicated anywhere in it. */
export function serialise(value: unknown): string {
  if (value instanceof Raw) return value.text;
  if (value instanceof Duplicated) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${serialise(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? 'null' : serialise(item))).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const parts: string[] = [];
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${serialise(item)}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Arrays `depth` levels deep, as text. */
export const nestedArrays = (depth: number): Raw => new Raw('['.repeat(depth) + ']'.repeat(depth));
const nestedObjects = (depth: number): Raw => new Raw('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));

/** A 70 KB string and friends: long enough to pass any sane field limit. */
const LONG_STRING = 'x'.repeat(70_000);

export const BAD_BASE64 = ['!!!', 'YQ', 'a===', '====', 'YW Jj', 'YWJj\n', '\u00e9\u00e9\u00e9\u00e9', 'YWJj=YWJj', '-_-_', '%%%%'];

/** Values of the wrong type, out of range, or hostile as text. */
export const HOSTILE_VALUES: readonly unknown[] = [
  // numbers
  -1, 0, 1.5, -0.5, 1e308, -1e308, 2_147_483_648, -2_147_483_649, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER,
  new Raw('-0'), new Raw('1e999'), new Raw('-1e999'), new Raw('9007199254740993'), new Raw('18446744073709551616'),
  new Raw('1E400'), new Raw('1e-400'), new Raw('123456789012345678901234567890'),
  65_536, 100_001, 1_800_001, 4_294_967_295, 4_294_967_296, -2_147_483_648, 9_223_372_036_854_775_807,
  new Raw('9223372036854775807'), new Raw('9223372036854775808'), new Raw('-9223372036854775809'),
  new Raw('NaN'), new Raw('Infinity'), new Raw('-Infinity'), new Raw('00012'), new Raw('0x10'), new Raw('+1'), new Raw('.5'),
  // strings
  '', ' ', '\u0000', '\ud800', '\udfff', 'a\ud800b', new Raw('"\\udc00\\ud800"'), LONG_STRING, '\u{1F4A9}'.repeat(2_000),
  '..', '.', '../../../../etc/passwd', 'a/b', '%2F', '%00', '__proto__', 'constructor', 'toString', '<script>alert(1)</script>',
  "'; DROP TABLE topics; --", '\r\n\r\nHTTP/1.1 200 OK', '\u202e', '\u00e9', 'NaN', '-1', '1e999', 'true', 'null', '[]',
  ...BAD_BASE64,
  // other types
  true, false, null, [], {}, [null], [[]], [{}], { '': '' }, { __proto__: null, a: 1 },
  nestedArrays(5_000), nestedObjects(5_000), nestedArrays(129), nestedArrays(128),
  new Raw('{"__proto__":{"polluted":1}}'), new Raw('{"constructor":{"prototype":{"x":1}}}'),
  Array.from({ length: 2_000 }, (_, i) => i), Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`k${i}`, i])),
];

/**
 * A fresh copy of a hostile value: the catalogue's arrays and objects are shared, and a
 * later mutation writes into what it was given (a shared one could end up holding itself).
 */
export function freshCopy(value: unknown): unknown {
  if (value instanceof Raw || typeof value !== 'object' || value === null) return value;
  if (value instanceof Duplicated) return new Duplicated(value.entries.map(([key, item]) => [key, freshCopy(item)]));
  if (Array.isArray(value)) return value.map(freshCopy);
  const copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>;
  for (const key of Object.keys(value)) copy[key] = freshCopy((value as Record<string, unknown>)[key]);
  return copy;
}

/** Names for extra properties: unknown fields, prototype members, odd text. */
const EXTRA_KEYS = ['extra', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', '', ' ', '\u0000', 'x'.repeat(5_000), '\ud800', '$ref', 'records', 'a.b', '\u{1F4A9}'];

interface Slot {
  parent: Record<string, unknown> | unknown[] | undefined;
  key: string | number | undefined;
}

/** Every place a value sits in `root` (the root itself has no parent). */
function slotsOf(root: unknown): Slot[] {
  const slots: Slot[] = [{ parent: undefined, key: undefined }];
  const walk = (value: unknown, depth: number): void => {
    if (depth > 20 || typeof value !== 'object' || value === null || value instanceof Raw || value instanceof Duplicated) return;
    for (const key of Object.keys(value)) {
      const parent = value as Record<string, unknown>;
      slots.push({ parent, key: Array.isArray(value) ? Number(key) : key });
      walk(parent[key], depth + 1);
    }
  };
  walk(root, 0);
  return slots;
}

/**
 * Changes `root` in one place (replace a value with a hostile one, delete or add a
 * property, duplicate a key, wrap deeply) and returns the new root and a description.
 */
export function mutateValue(root: unknown, random: () => number): { value: unknown; what: string } {
  const slots = slotsOf(root);
  const slot = pick(random, slots);
  const get = (): unknown => (slot.parent === undefined ? root : (slot.parent as Record<string, unknown>)[slot.key as string]);
  const set = (value: unknown): unknown => {
    if (slot.parent === undefined) return value;
    (slot.parent as Record<string, unknown>)[slot.key as string] = value;
    return root;
  };
  const where = slot.key === undefined ? 'the body' : JSON.stringify(slot.key);
  const choice = random();
  if (choice < 0.55) {
    const hostile = freshCopy(pick(random, HOSTILE_VALUES));
    return { value: set(hostile), what: `${where} = ${describeValue(hostile)}` };
  }
  const current = get();
  if (choice < 0.7 && slot.parent !== undefined) {
    if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
    else delete slot.parent[slot.key as string];
    return { value: root, what: `removed ${where}` };
  }
  if (choice < 0.85 && typeof current === 'object' && current !== null && !Array.isArray(current) && !(current instanceof Raw)) {
    const key = pick(random, EXTRA_KEYS);
    const entries = Object.entries(current);
    const extra = freshCopy(pick(random, HOSTILE_VALUES));
    if (random() < 0.5 && entries.length > 0) {
      // A duplicate of an existing key, with a hostile value first or last.
      const [name] = pick(random, entries);
      const repeated: Array<[string, unknown]> = random() < 0.5 ? [[name, extra], ...entries] : [...entries, [name, extra]];
      return { value: set(new Duplicated(repeated)), what: `duplicate key ${JSON.stringify(name)} in ${where}` };
    }
    return { value: set(new Duplicated([...entries, [key, extra]])), what: `extra key ${describeValue(key)} in ${where}` };
  }
  const wrapped = new Raw('['.repeat(3_000) + serialise(current) + ']'.repeat(3_000));
  return { value: set(wrapped), what: `${where} wrapped 3,000 deep` };
}

export function describeValue(value: unknown): string {
  const text = value instanceof Raw ? value.text : serialise(value);
  return text.length > 80 ? `${text.slice(0, 60)}... (${text.length} chars)` : text;
}

/** 13+ content types, most of them wrong for a JSON API. */
export const CONTENT_TYPES = [
  'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16',
  'application/JSON', 'application/x-ndjson', 'text/plain', 'text/html', 'application/xml', 'multipart/form-data; boundary=xyz',
  'application/x-www-form-urlencoded', 'application/octet-stream', 'application/vnd.api+json', 'application/merge-patch+json',
  '*/*', 'application/json, text/plain', 'application/json;;;;', 'image/png', 'application/json; boundary=', `application/${'x'.repeat(2_000)}`,
  'text/event-stream', 'application/json; charset="utf-8"', ';', 'json',
];

export interface BodyChoice {
  body: Buffer | string;
  contentType: string | undefined;
  what: string;
}

/**
 * Replaces or damages a serialised body as a whole: empty, truncated, another
 * content type, invalid UTF-8, a BOM, JSON that is not an object, NDJSON, or one
 * larger than the node's body limit.
 */
export function mutateBody(text: string, bodyLimitBytes: number, random: () => number): BodyChoice {
  const json = 'application/json';
  const options: Array<() => BodyChoice> = [
    () => ({ body: '', contentType: json, what: 'an empty body' }),
    () => ({ body: '', contentType: undefined, what: 'no body and no content type' }),
    () => ({ body: pick(random, ['null', '[]', '"text"', '0', 'true', '{}', ' ', '\n']), contentType: json, what: 'JSON that is not an object' }),
    () => ({ body: text.slice(0, Math.floor(random() * text.length)), contentType: json, what: 'truncated JSON' }),
    () => ({ body: `${text}${pick(random, ['}', ']', ',', 'x', '\u0000', '{}'])}`, contentType: json, what: 'trailing garbage' }),
    () => ({ body: `\ufeff${text}`, contentType: json, what: 'a byte-order mark' }),
    () => ({ body: text, contentType: pick(random, CONTENT_TYPES), what: 'another content type' }),
    () => ({ body: text, contentType: undefined, what: 'no content type' }),
    () => {
      const bad = pick(random, [[0xff, 0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82]]);
      const at = Math.max(1, text.indexOf('"') + 1);
      return { body: Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bad), Buffer.from(text.slice(at))]), contentType: json, what: `invalid UTF-8 bytes ${bad.map((b) => b.toString(16)).join(' ')}` };
    },
    () => ({ body: `{"records":[{"value":"${'x'.repeat(bodyLimitBytes + 1_000)}"}]}`, contentType: json, what: 'a body over the limit' }),
    () => ({ body: '['.repeat(20_000) + ']'.repeat(20_000), contentType: json, what: 'a body 20,000 arrays deep' }),
    () => ({ body: `{"records":[${Array.from({ length: 20_000 }, () => '{"value":1}').join(',')}]}`, contentType: json, what: '20,000 records' }),
    () => ({ body: pick(random, ['{"value":1}\n{"value":', '{"value":1}\n\n{"key":"k","value":2}\n', 'not json\n', `${text}\n${text}\n`, '\n\n\n', `{"value":${'['.repeat(5_000)}}\n`]), contentType: 'application/x-ndjson', what: 'an NDJSON body' }),
    () => ({ body: 'a=1&b=2&records[0][value]=1', contentType: 'application/x-www-form-urlencoded', what: 'a form body' }),
    () => ({ body: Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))), contentType: json, what: 'random bytes' }),
  ];
  return pick(random, options)();
}

/** Path segments a hostile client puts where a topic, group, member, key id or partition goes (already percent-encoded where needed). */
export const HOSTILE_SEGMENTS = [
  '..', '.', '%2e%2e', '%2E%2E', '%2e', '..%2F..%2F..%2Fetc', '%2F', 'a%2Fb', '%00', 'a%00b', '%5C..%5C', '%25', '%', '%ZZ', '%u002e',
  'a'.repeat(1_100), 'a'.repeat(250), 'a'.repeat(249), '%E2%98%83', '%F0%9F%92%A9', '%ED%A0%80', '%C0%AF', '%FF', 'caf%C3%A9',
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', '%20', 'a%20b', '-', '_', 'CON', 'nul', 'a.b..c', '.hidden', '~',
  '-1', '0', '1e3', '99999999999999999999', 'NaN', 'Infinity', '0x1', '1.5', '+1', '00', '%30', 'null', 'undefined', '%7B%7D',
  '%3Cscript%3E', '*', '%2A', '%3F', '%23', ';', 'a;b=c', '%0D%0A',
];

/** Values for a query parameter, most of them wrong. */
export const HOSTILE_QUERY_VALUES = [
  '', '-1', '0', '1', '1e3', '1e999', 'NaN', 'Infinity', '-Infinity', '0x10', '1.5', '99999999999999999999', 'true', 'false',
  '%00', '%ZZ', '%', 'a'.repeat(5_000), '__proto__', '%E2%98%83', '%ED%A0%80', 'earliest', 'latest', '-0', '+5', '%201', '1%20', '+1+',
  'null', '[]', '{}', 'none', 'all', 'leader', 'json', 'binary', 'string', '2147483648', '-2147483649', '9007199254740993',
];

const EXTRA_QUERY = ['__proto__=1', '__proto__[x]=1', 'constructor=1', 'constructor[prototype][x]=1', 'foo=bar', 'a[b][c]=1', '=1', '&&&', 'x', '%00=1', 'x=%00'];

/**
 * A query string from `params` (name -> already valid, encoded value), with a
 * mutation: a repeated or unknown parameter, a hostile value, or a thousand params.
 */
export function mutateQuery(params: Array<[string, string]>, names: string[], random: () => number): { query: string; what: string } {
  const parts = params.map(([name, value]) => `${name}=${value}`);
  const choice = random();
  let what: string;
  if (choice < 0.35 && names.length > 0) {
    const name = pick(random, names);
    const value = pick(random, HOSTILE_QUERY_VALUES);
    parts.push(`${name}=${value}`);
    what = `query ${name}=${value.length > 40 ? `${value.slice(0, 20)}... (${value.length} chars)` : value}`;
  } else if (choice < 0.6 && names.length > 0) {
    const name = pick(random, names);
    const count = 2 + Math.floor(random() * 3);
    for (let i = 0; i < count; i++) parts.push(`${name}=${pick(random, HOSTILE_QUERY_VALUES.slice(0, 12))}`);
    what = `query ${name} repeated ${count} times`;
  } else if (choice < 0.9) {
    const extra = pick(random, EXTRA_QUERY);
    parts.push(extra);
    what = `query ${extra}`;
  } else {
    for (let i = 0; i < 1_000; i++) parts.push(`p${i}=${i}`);
    what = 'a thousand query parameters';
  }
  // Shuffle a little so a repeated parameter is not always last.
  if (parts.length > 1 && random() < 0.3) parts.unshift(parts.pop()!);
  return { query: parts.join('&'), what };
}

/**
 * Topic configs by their Kafka names. segment.bytes and segment.ms are left out: at
 * their documented minimums every produce rolls a segment that keeps three files open
 * for good, so a run would use up the file descriptors; that finding has its own test
 * (open-files.test.ts).
 */
const CONFIG_NAMES = [
  'cleanup.policy', 'retention.ms', 'retention.bytes', 'index.interval.bytes', 'max.message.bytes', 'min.insync.replicas',
  'flush.messages', 'flush.ms', 'message.timestamp.type', 'unclean.leader.election.enable', 'compression.type', 'segment.index.bytes', 'Retention.MS',
];
const CONFIG_VALUES: readonly unknown[] = [
  '1', '0', '-1', '-2', '1024', '2147483647', '2147483648', '9223372036854775807', '9223372036854775808', '1e3', '0x10', '', ' 1', '1.5',
  'true', 'false', 'delete', 'compact', 'compact,delete', 'CreateTime', 'LogAppendTime', 'createtime', 1, 0, -1, 1.5, 1e308, true, false, null,
];

/** A configs object naming real and unknown configs with valid and hostile values. */
export function hostileConfigs(random: () => number): Record<string, unknown> {
  const configs: Record<string, unknown> = {};
  const count = 1 + Math.floor(random() * 3);
  for (let i = 0; i < count; i++) configs[pick(random, CONFIG_NAMES)] = freshCopy(random() < 0.8 ? pick(random, CONFIG_VALUES) : pick(random, HOSTILE_VALUES));
  return configs;
}
