/**
 * CORS (--cors-origins): what a browser needs to call the API from a page on another
 * origin, checked at the HTTP level against a real node, as the browser would send it:
 *   - a preflight (OPTIONS with Access-Control-Request-Method and -Headers) from an
 *     allowed origin gets 204 with the methods and headers a client uses, before API
 *     keys (a preflight carries none) and on a path no route answers OPTIONS for;
 *   - a produce, a fetch and an error answer carry Access-Control-Allow-Origin (the
 *     origin, Vary: Origin) and expose the headers a client reads;
 *   - an SSE stream's head carries them too (streams write their head raw);
 *   - `*` allows any origin; an origin not in the list gets no CORS headers; without the
 *     setting nothing changes (no CORS headers, OPTIONS is 405 as before);
 *   - the setting refuses what is not an origin list (exit code 2 at start).
 */
import t from 'tap';
import { Agent, request } from 'undici';
import { loadSettings, SettingsError } from '../../src/node/settings.js';
import { startInProcessNode } from '../helpers/server.js';

const PAGE = 'http://app.example.test:3000';
const ADMIN_KEY = 'cors-test-admin-key-0123456789abcdef';

async function send(url: string, options: { method?: 'GET' | 'POST' | 'OPTIONS'; headers?: Record<string, string>; body?: string } = {}) {
  const response = await request(url, { method: options.method ?? 'GET', headers: options.headers, body: options.body, signal: AbortSignal.timeout(10_000) });
  const text = await response.body.text();
  return { status: response.statusCode, headers: response.headers, text };
}

void t.test('with --cors-origins a page on an allowed origin can call the API, follow a stream and read the headers it needs', async (t) => {
  const server = await startInProcessNode(t, {
    broker: { adminKey: ADMIN_KEY },
    app: { corsOrigins: [PAGE, 'https://other.example.test'], isAuthEnabled: true },
  });
  const base = server.url;
  const auth = { authorization: `Bearer ${ADMIN_KEY}` };

  const preflight = await send(`${base}/v1/topics/orders/records`, {
    method: 'OPTIONS',
    headers: { origin: PAGE, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, idempotency-key' },
  });
  t.equal(preflight.status, 204, 'preflight: 204, without a key');
  t.equal(preflight.headers['access-control-allow-origin'], PAGE, 'for the page\'s origin');
  t.match(preflight.headers['access-control-allow-methods'], /POST/, 'POST allowed');
  for (const header of ['authorization', 'content-type', 'idempotency-key', 'x-api-key', 'last-event-id']) {
    t.match(preflight.headers['access-control-allow-headers'], new RegExp(`\\b${header}\\b`), `request header ${header} allowed`);
  }
  t.ok(Number(preflight.headers['access-control-max-age']) > 0, 'the preflight may be cached');

  const created = await send(`${base}/v1/topics`, { method: 'POST', headers: { ...auth, origin: PAGE, 'content-type': 'application/json' }, body: '{"name":"orders","partitions":1}' });
  t.equal(created.status, 201, 'topic created from the page');
  t.equal(created.headers['access-control-allow-origin'], PAGE);
  t.match(created.headers.vary, /Origin/, 'Vary: Origin (the answer depends on it)');

  const produced = await send(`${base}/v1/topics/orders/records`, {
    method: 'POST', headers: { ...auth, origin: PAGE, 'content-type': 'application/json', 'idempotency-key': 'k1' }, body: '{"records":[{"value":"from a page"}]}',
  });
  t.equal(produced.status, 200, 'produce');
  t.equal(produced.headers['access-control-allow-origin'], PAGE, 'produce answer readable by the page');
  for (const header of ['idempotent-replayed', 'runnel-served-by', 'retry-after', 'x-request-id']) {
    t.match(produced.headers['access-control-expose-headers'], new RegExp(`\\b${header}\\b`), `${header} exposed to the page`);
  }

  const fetched = await send(`${base}/v1/topics/orders/partitions/0/records?offset=0`, { headers: { ...auth, origin: PAGE } });
  t.equal(fetched.status, 200, 'fetch');
  t.equal(fetched.headers['access-control-allow-origin'], PAGE, 'fetch answer readable by the page');
  t.match(JSON.parse(fetched.text), { records: [{ value: 'from a page' }] });

  const refused = await send(`${base}/v1/topics`, { headers: { origin: PAGE } });
  t.equal(refused.status, 401, 'no key: 401');
  t.equal(refused.headers['access-control-allow-origin'], PAGE, 'an error answer is readable by the page too (it can show why)');

  // An SSE stream writes its own head: the CORS headers must be on it.
  const agent = new Agent();
  t.teardown(() => agent.destroy());
  const controller = new AbortController();
  const stream = await request(`${base}/v1/topics/orders/partitions/0/records?offset=0`, {
    headers: { ...auth, origin: PAGE, accept: 'text/event-stream' }, dispatcher: agent, signal: controller.signal,
  });
  t.equal(stream.statusCode, 200, 'SSE stream opened from the page');
  t.equal(stream.headers['access-control-allow-origin'], PAGE, 'the stream\'s head allows the page');
  t.match(stream.headers['content-type'], /text\/event-stream/);
  let text = '';
  for await (const chunk of stream.body) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('from a page')) break;
  }
  t.match(text, /id: 0\nevent: record\ndata: .*from a page/, 'and delivers the record');
  controller.abort();

  const stranger = await send(`${base}/v1/topics`, { headers: { ...auth, origin: 'http://evil.example.test' } });
  t.equal(stranger.status, 200, 'a request from another origin is still served (CORS is the browser\'s check)');
  t.equal(stranger.headers['access-control-allow-origin'], undefined, 'but gets no CORS headers: the browser keeps the answer from that page');
  const strangerPreflight = await send(`${base}/v1/topics`, { method: 'OPTIONS', headers: { origin: 'http://evil.example.test', 'access-control-request-method': 'POST' } });
  t.equal(strangerPreflight.headers['access-control-allow-origin'], undefined, 'nor does its preflight');
});

void t.test("with --cors-origins '*' any origin may call; without the setting nothing changes", async (t) => {
  const open = await startInProcessNode(t, { app: { corsOrigins: ['*'] } });
  const anyOrigin = await send(`${open.url}/v1/topics`, { headers: { origin: 'http://anywhere.example.test' } });
  t.equal(anyOrigin.headers['access-control-allow-origin'], '*', 'Access-Control-Allow-Origin: *');
  t.equal(anyOrigin.headers.vary, undefined, 'no Vary needed');

  const closed = await startInProcessNode(t, {});
  const plain = await send(`${closed.url}/v1/topics`, { headers: { origin: PAGE } });
  t.equal(plain.status, 200);
  t.equal(plain.headers['access-control-allow-origin'], undefined, 'off by default: no CORS headers');
  const options = await send(`${closed.url}/v1/topics`, { method: 'OPTIONS', headers: { origin: PAGE, 'access-control-request-method': 'POST' } });
  t.equal(options.status, 405, 'off by default: OPTIONS is not a method of the API (405)');
});

void t.test('--cors-origins takes origins or *, and refuses anything else', async (t) => {
  t.equal(loadSettings(['--cors-origins', 'https://a.example.test, http://b.example.test:8080'], {}).corsOrigins, 'https://a.example.test, http://b.example.test:8080');
  t.equal(loadSettings([], { RUNNEL_CORS_ORIGINS: '*' }).corsOrigins, '*');
  for (const bad of ['a.example.test', 'https://a.example.test/path', 'ftp://a.example.test', 'https://a.example.test,,']) {
    t.throws(() => loadSettings(['--cors-origins', bad], {}), SettingsError, `refused: ${bad}`);
  }
});
