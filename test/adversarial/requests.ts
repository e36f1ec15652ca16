/**
 * Builds one mutated request for an operation of the OpenAPI document, and sends it.
 *
 * A request starts valid (openapi-walk.ts: existing resources, values within their
 * schemas) and then, at random but from the seed, gets hostile path segments, query
 * parameters, headers, a mutated JSON value and a damaged body (mutations.ts). Most
 * carry the admin key so authorised code runs; some carry none, a wrong one, or a key
 * allowed only to read one topic prefix.
 */
import type { Dispatcher } from 'undici';
import { pick } from '../helpers/seeded-random.js';
import { exampleFor, type Operation, type Parameter, type ResourcePool } from './openapi-walk.js';
import { BAD_BASE64, HOSTILE_SEGMENTS, hostileConfigs, mutateBody, mutateQuery, mutateValue, serialise } from './mutations.js';
import type { Answer } from './answers.js';

export interface FuzzRequest {
  method: string;
  /** Path and query, as sent. */
  target: string;
  headers: Record<string, string>;
  body?: Buffer | string;
  /** What was changed from a valid request, for the failure report. */
  mutations: string[];
  isProduce: boolean;
}

export interface BuildContext {
  pool: ResourcePool;
  /** What DELETE requests name: made to be deleted, so the resources the other requests need survive a round. */
  victims: ResourcePool;
  adminKey: string;
  narrowKey: string;
  bodyLimitBytes: number;
}

const ACCEPTS = ['application/json', 'application/json', 'application/json', '*/*', 'text/event-stream', 'text/html', 'application/x-ndjson', 'application/xml', '', 'garbage/;;;'];

type Chance = (probability: number) => boolean;

function pathSegment(parameter: Parameter, pool: ResourcePool, random: () => number, chance: Chance, mutations: string[]): string {
  if (chance(0.2)) {
    const hostile = pick(random, HOSTILE_SEGMENTS);
    mutations.push(`path ${parameter.name} = ${hostile.length > 40 ? `${hostile.slice(0, 20)}... (${hostile.length} chars)` : hostile}`);
    return hostile;
  }
  if (parameter.name === 'partition') return String(Math.floor(random() * 4));
  const value = exampleFor(parameter.schema, parameter.name, pool, random);
  return encodeURIComponent(String(value));
}

function authHeaders(context: BuildContext, random: () => number, chance: Chance, mutations: string[]): Record<string, string> {
  if (!chance(0.2)) return random() < 0.8 ? { authorization: `Bearer ${context.adminKey}` } : { 'x-api-key': context.adminKey };
  if (random() < 0.35) return { authorization: `Bearer ${context.narrowKey}` };
  const wrong = pick(random, [
    {}, { authorization: 'Bearer ' }, { authorization: 'Bearer nope' }, { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
    { authorization: `Bearer ${'k'.repeat(8_000)}` }, { 'x-api-key': 'rk_AAAAAAAAAAAA_wrong' }, { authorization: `bearer ${context.adminKey} extra` },
    { authorization: `Bearer ${context.adminKey}`, 'x-api-key': 'wrong' }, { 'x-api-key': '' },
  ] as Array<Record<string, string>>);
  mutations.push(`auth ${JSON.stringify(wrong).slice(0, 60)}`);
  return wrong;
}

/** A valid JSON value for the body, changed 0-3 times; formats and base64 are made hostile for produce bodies. */
function bodyValue(operation: Operation, context: BuildContext, random: () => number, chance: Chance, mutations: string[]): unknown {
  let value = exampleFor(operation.bodySchema!, 'body', context.pool, random);
  if (operation.path.endsWith('/records') && chance(0.25) && typeof value === 'object' && value !== null) {
    const body = value as Record<string, unknown>;
    const format = random() < 0.5 ? 'keyFormat' : 'valueFormat';
    body[format] = pick(random, ['binary', 'binary', 'string', 'json']);
    const records = Array.isArray(body.records) ? body.records : [];
    for (const record of records as Array<Record<string, unknown>>) record[format === 'keyFormat' ? 'key' : 'value'] = pick(random, [...BAD_BASE64, 'YWJj', 1, null, { a: 1 }]);
    mutations.push(`${format} ${String(body[format])} with bad values`);
  }
  if (operation.path.startsWith('/v1/topics') && (operation.method === 'POST' || operation.method === 'PATCH') && chance(0.3) && typeof value === 'object' && value !== null && !Array.isArray(value) && !operation.path.endsWith('/records')) {
    const configs = hostileConfigs(random);
    (value as Record<string, unknown>).configs = configs;
    mutations.push(`configs ${JSON.stringify(configs).slice(0, 120)}`);
  }
  const count = chance(0.75) ? 1 + Math.floor(random() * 3) : 0;
  for (let i = 0; i < count; i++) {
    const mutated = mutateValue(value, random);
    value = mutated.value;
    mutations.push(mutated.what);
  }
  return value;
}

/** Query parameters that apply only to application/x-ndjson bodies (the produce routes). */
const NDJSON_BODY_QUERY = new Set(['keyFormat', 'valueFormat']);

/**
 * One request for `operation`. About one in seven is left valid (clean), so the
 * resources change as a user would change them and deeper code runs; the rest get
 * hostile parts, each with its own chance.
 */
export function buildRequest(operation: Operation, context: BuildContext, random: () => number): FuzzRequest {
  const mutations: string[] = [];
  const isClean = random() < 0.15;
  // A clean request draws no mutation: every chance below is out of reach.
  const chance = (p: number): boolean => random() < (isClean ? 0 : p);
  let target = operation.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const parameter = operation.parameters.find((p) => p.in === 'path' && p.name === name) ?? { in: 'path', name, required: true, schema: { type: 'string' } };
    return pathSegment(parameter, operation.method === 'DELETE' ? context.victims : context.pool, random, chance, mutations);
  });
  const queryParameters = operation.parameters.filter((p) => p.in === 'query');
  const query: Array<[string, string]> = [];
  for (const parameter of queryParameters) {
    // The request's body is JSON (below), which carries its formats itself: these query
    // parameters are for NDJSON bodies, and with a JSON body they are a 400 (a mutation, not a clean request).
    if (operation.bodySchema !== undefined && NDJSON_BODY_QUERY.has(parameter.name)) continue;
    if (random() < 0.5) query.push([parameter.name, encodeURIComponent(String(exampleFor(parameter.schema, parameter.name, context.pool, random)))]);
  }
  if (chance(0.35)) {
    const mutated = mutateQuery(query, queryParameters.map((p) => p.name), random);
    target += `?${mutated.query}`;
    mutations.push(mutated.what);
  } else if (query.length > 0) {
    target += `?${query.map(([name, value]) => `${name}=${value}`).join('&')}`;
  }
  if (chance(0.04)) {
    const variant = pick(random, ['/', '//', '/.', '/..', '/%2e', '?', '#x', '%2F']);
    target = target.includes('?') ? target.replace('?', `${variant}?`) : `${target}${variant}`;
    mutations.push(`path suffix ${variant}`);
  }
  const headers: Record<string, string> = { ...authHeaders(context, random, chance, mutations) };
  const accept = pick(random, ACCEPTS);
  if (accept !== '') headers.accept = accept;
  if (operation.path.endsWith('/records') && operation.method === 'POST' && chance(0.3)) {
    const key = pick(random, ['fuzz-idem-1', `fuzz-idem-${Math.floor(random() * 20)}`, 'k'.repeat(256), 'k'.repeat(255), ' ', '\u00e9t\u00e9', '__proto__']);
    headers['idempotency-key'] = key;
    mutations.push(`idempotency-key ${key.length > 30 ? `(${key.length} chars)` : key}`);
  }
  if (operation.path.endsWith('/records') && operation.method === 'GET' && chance(0.1)) {
    headers['last-event-id'] = pick(random, ['0', '-1', 'abc', '0:5', '99999999999999999999', '1e3', '']);
  }

  let method = operation.method;
  if (chance(0.03)) {
    method = pick(random, ['PUT', 'PATCH', 'DELETE', 'POST', 'OPTIONS', 'GET']);
    mutations.push(`method ${method}`);
  }
  let body: Buffer | string | undefined;
  if (operation.bodySchema !== undefined) {
    const text = serialise(bodyValue(operation, context, random, chance, mutations));
    body = text;
    headers['content-type'] = 'application/json';
    if (chance(0.3)) {
      const damaged = mutateBody(text, context.bodyLimitBytes, random);
      body = damaged.body;
      if (damaged.contentType === undefined) delete headers['content-type'];
      else headers['content-type'] = damaged.contentType;
      mutations.push(damaged.what);
    }
  } else if (chance(0.08)) {
    body = pick(random, ['{}', '{"a":1}', 'garbage', '[[[[[[']);
    headers['content-type'] = pick(random, ['application/json', 'text/plain']);
    mutations.push('a body where none is expected');
  }
  return { method, target, headers, body, mutations, isProduce: operation.path.endsWith('/records') && method === 'POST' };
}

export interface Exchange {
  answer?: Answer;
  /** Set when no answer came: the client's error (a timeout is a hang). */
  failure?: string;
}

/**
 * Sends `fuzz` and reads the whole answer; a stream is closed once its headers are in.
 * No answer within `timeoutMs` is a hang (the deadline is kept here too, not only by
 * the abort signal, so a stuck client connection cannot stall the run).
 */
export async function send(baseUrl: string, fuzz: FuzzRequest, dispatcher: Dispatcher, timeoutMs: number): Promise<Exchange> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<Exchange>((resolve) => {
    timer = setTimeout(() => resolve({ failure: `no answer within ${timeoutMs} ms` }), timeoutMs + 1_000);
  });
  try {
    return await Promise.race([exchange(baseUrl, fuzz, dispatcher, timeoutMs), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function exchange(baseUrl: string, fuzz: FuzzRequest, dispatcher: Dispatcher, timeoutMs: number): Promise<Exchange> {
  try {
    // The dispatcher's own request sends the path as is: undici.request(url) would run it
    // through the URL parser, which resolves '..' and '%2e%2e' before the node sees them.
    const response = await dispatcher.request({
      origin: baseUrl,
      path: fuzz.target,
      method: fuzz.method as Dispatcher.HttpMethod,
      headers: fuzz.headers,
      body: fuzz.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const contentType = String(response.headers['content-type'] ?? '');
    // A stream (SSE or NDJSON) never ends by itself: its headers are the answer.
    if (response.statusCode === 200 && (contentType.startsWith('text/event-stream') || contentType.startsWith('application/x-ndjson'))) {
      response.body.destroy();
      return { answer: { status: response.statusCode, headers: response.headers, body: '' } };
    }
    const body = await response.body.text();
    return { answer: { status: response.statusCode, headers: response.headers, body } };
  } catch (error) {
    const e = error as Error & { code?: string };
    return { failure: `${e.name}${e.code === undefined ? '' : ` ${e.code}`}: ${e.message}` };
  }
}

/** The request in a line or three, for a failure message and a replay by hand. */
export function describeRequest(fuzz: FuzzRequest): string {
  const body = fuzz.body === undefined ? '' : typeof fuzz.body === 'string' ? fuzz.body : fuzz.body.toString('latin1');
  const shownBody = body.length > 300 ? `${body.slice(0, 300)}... (${body.length} bytes)` : body;
  const target = fuzz.target.length > 300 ? `${fuzz.target.slice(0, 300)}... (${fuzz.target.length} chars)` : fuzz.target;
  const headers = Object.fromEntries(Object.entries(fuzz.headers).map(([k, v]) => [k, v.length > 80 ? `${v.slice(0, 40)}... (${v.length} chars)` : v]));
  return `${fuzz.method} ${target} headers=${JSON.stringify(headers)} body=${JSON.stringify(shownBody)} mutations=${JSON.stringify(fuzz.mutations)}`;
}
