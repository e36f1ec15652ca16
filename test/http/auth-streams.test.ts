/**
 * Streaming reads under API keys: a stream (SSE, NDJSON) or long-poll is authorised
 * once, when it opens, so these tests check both ends of its life: a key without read
 * gets 403 and not one byte of the stream, and a key deleted while its streams and
 * long-polls are open stops receiving at once (a record produced after the delete
 * reaches none of them, while another key's stream still gets it).
 */
import t, { type Test } from 'tap';
import { request, type Dispatcher } from 'undici';
import { startServer } from '../helpers/server.js';

const ADMIN_KEY = 'auth-streams-bootstrap-admin-key-0123456789';
const SECRET = 'stream-marker-5e1d';

interface OpenReply {
  status: number;
  contentType: string;
  /** Everything received so far (for a live stream, keeps growing). */
  text: () => string;
  /** Resolves when the body ends or fails: 'end' or the error's name. */
  ended: Promise<string>;
  close: () => void;
}

/** Sends a request and keeps reading its body in the background (10 s at most). */
async function open(url: string, headers: Record<string, string>, method: Dispatcher.HttpMethod = 'GET'): Promise<OpenReply> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 10_000);
  timer.unref();
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, { method, headers, signal: controller.signal });
  } catch (error) {
    clearTimeout(timer);
    throw error;
  }
  let text = '';
  const ended = (async (): Promise<string> => {
    try {
      for await (const chunk of response.body) text += (chunk as Buffer).toString('utf8');
      return 'end';
    } catch (error) {
      return (error as Error).name;
    } finally {
      clearTimeout(timer);
    }
  })();
  return {
    status: response.statusCode,
    contentType: String(response.headers['content-type'] ?? ''),
    text: () => text,
    ended,
    close: () => controller.abort(),
  };
}

/** Waits until `check` is true, 5 s at most. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not true after 5 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function setUp(t: Test) {
  const server = await startServer(t, { isAuthEnabled: true, adminKey: ADMIN_KEY });
  const asAdmin = async (method: Dispatcher.HttpMethod, path: string, body?: unknown): Promise<any> => {
    const response = await request(`${server.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.body.text();
    if (response.statusCode >= 300) throw new Error(`${method} ${path}: HTTP ${response.statusCode} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
  await asAdmin('POST', '/v1/topics', { name: 'orders', partitions: 1 });
  await asAdmin('POST', '/v1/topics/orders/records', { records: [{ value: { secret: SECRET } }] });
  const makeKey = async (name: string, grants: unknown[]): Promise<{ keyId: string; key: string }> => asAdmin('POST', '/v1/keys', { name, grants });
  return { server, asAdmin, makeKey };
}

void t.test('a key with write but not read gets 403 and no stream bytes, whatever the stream asks for', async (t) => {
  const { server, makeKey } = await setUp(t);
  const writer = await makeKey('writer', [{ resource: 'topic', name: 'orders', operations: ['write'] }]);
  const base = `${server.url}/v1/topics/orders/partitions/0/records`;
  const variants: Array<[string, string, Record<string, string>]> = [
    ['SSE from earliest', `${base}?offset=earliest`, { accept: 'text/event-stream' }],
    ['SSE from latest (headers would be flushed at once)', `${base}?offset=latest`, { accept: 'text/event-stream' }],
    ['SSE resumed with Last-Event-ID', base, { accept: 'text/event-stream', 'last-event-id': '0' }],
    ['NDJSON from 0', `${base}?offset=0`, { accept: 'application/x-ndjson' }],
    ['NDJSON from latest', `${base}?offset=latest`, { accept: 'application/x-ndjson' }],
    ['long-poll from latest', `${base}?offset=latest&waitMs=5000`, { accept: 'application/json' }],
  ];
  for (const [what, url, headers] of variants) {
    const reply = await open(url, { ...headers, authorization: `Bearer ${writer.key}` });
    t.equal(await reply.ended, 'end', `${what}: the answer ends at once`);
    t.equal(reply.status, 403, `${what}: 403`);
    t.match(reply.contentType, /^application\/json/, `${what}: a JSON error, not a stream`);
    t.equal(JSON.parse(reply.text()).error.code, 'FORBIDDEN', `${what}: FORBIDDEN`);
    t.notMatch(reply.text(), /^(id|data|event):/m, `${what}: no SSE field`);
    t.notOk(reply.text().includes(SECRET), `${what}: no record`);
  }
});

void t.test('deleting a key ends its open streams and long-polls: nothing produced afterwards reaches them', async (t) => {
  const { server, asAdmin, makeKey } = await setUp(t);
  const doomed = await makeKey('doomed', [{ resource: 'topic', name: 'orders', operations: ['read'] }, { resource: 'group', name: 'g', operations: ['read'] }]);
  const survivor = await makeKey('survivor', [{ resource: 'topic', name: 'orders', operations: ['read'] }]);
  const member = (await asAdmin('POST', '/v1/groups/g/members', { topics: ['orders'], autoOffsetReset: 'latest', sessionTimeoutMs: 60_000 })).memberId as string;
  // The member's first poll takes its assignment and position (latest: nothing to read yet).
  await asAdmin('GET', `/v1/groups/g/members/${member}/records?waitMs=0`);
  const records = `${server.url}/v1/topics/orders/partitions/0/records`;
  const as = (key: string, accept: string): Record<string, string> => ({ authorization: `Bearer ${key}`, accept });

  const sse = await open(`${records}?offset=earliest`, as(doomed.key, 'text/event-stream'));
  const ndjson = await open(`${records}?offset=earliest`, { 'x-api-key': doomed.key, accept: 'application/x-ndjson' });
  const survivingStream = await open(`${records}?offset=earliest`, as(survivor.key, 'application/x-ndjson'));
  t.teardown(() => {
    for (const reply of [sse, ndjson, survivingStream]) reply.close();
  });
  for (const [what, reply] of [['SSE', sse], ['NDJSON', ndjson], ["the other key's stream", survivingStream]] as const) {
    t.equal(reply.status, 200, `${what} opened`);
    await until(() => reply.text().includes(SECRET), `${what} delivers the first record`);
  }
  // A long-poll sends its headers only when it answers, so start them without awaiting
  // (and settle each at once into an outcome: a cut connection is an expected end here).
  const settle = (pending: Promise<OpenReply>): Promise<{ status: number; ended: string; text: string }> => pending.then(
    async (reply) => ({ status: reply.status, ended: await reply.ended, text: reply.text() }),
    (error: Error) => ({ status: 0, ended: error.name, text: '' }),
  );
  const fetchPoll = settle(open(`${records}?offset=latest&waitMs=8000`, as(doomed.key, 'application/json')));
  const memberPoll = settle(open(`${server.url}/v1/groups/g/members/${member}/records?waitMs=8000`, as(doomed.key, 'application/json')));
  await new Promise((resolve) => setTimeout(resolve, 200));

  await asAdmin('DELETE', `/v1/keys/${doomed.keyId}`);
  await until(() => !server.broker.keys.list().some((key) => key.keyId === doomed.keyId), 'the key is gone');
  const late = 'produced-after-delete-3c9a';
  await asAdmin('POST', '/v1/topics/orders/records', { records: [{ value: late }] });

  await until(() => survivingStream.text().includes(late), "the other key's stream gets the new record");
  const endedWithin = (reply: OpenReply): Promise<string> => Promise.race([reply.ended, new Promise<string>((resolve) => setTimeout(() => resolve('still open after 2 s'), 2_000))]);
  t.equal(await endedWithin(sse), 'SocketError', 'the SSE stream was cut');
  t.equal(await endedWithin(ndjson), 'SocketError', 'the NDJSON stream was cut');
  t.notOk(sse.text().includes(late), 'the SSE stream never got the record produced after the delete');
  t.notOk(ndjson.text().includes(late), 'nor did the NDJSON stream');
  for (const [what, pending] of [['long-poll fetch', fetchPoll], ['member long-poll', memberPoll]] as const) {
    const outcome = await pending;
    t.notOk(outcome.text.includes(late), `${what}: did not deliver the record produced after the delete`);
    t.not(outcome.status, 200, `${what}: no successful answer after the delete (got ${outcome.status} ${outcome.ended})`);
  }
  const again = await open(`${records}?offset=earliest`, as(doomed.key, 'text/event-stream'));
  await again.ended;
  t.equal(again.status, 401, 'a new stream with the deleted key: 401');
});

void t.test('a key that deletes itself still gets its 204, and is 401 afterwards', async (t) => {
  const { server, makeKey } = await setUp(t);
  const self = await makeKey('self', [{ resource: 'cluster', operations: ['admin'] }]);
  const reply = await open(`${server.url}/v1/keys/${self.keyId}`, { authorization: `Bearer ${self.key}` }, 'DELETE');
  t.equal(await reply.ended, 'end');
  t.equal(reply.status, 204);
  const after = await open(`${server.url}/v1/keys`, { authorization: `Bearer ${self.key}` });
  await after.ended;
  t.equal(after.status, 401);
});
