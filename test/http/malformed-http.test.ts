/**
 * Requests Node's HTTP parser refuses (issue 12 item 8) are answered in the documented
 * error shape {"error":{"code","message"}} with a catalogue code, and the connection
 * is closed: a NUL in the URL, an invalid header line, bad Content-Lengths, headers
 * past the size limit. Sent over raw sockets (an HTTP client would refuse to send them).
 */
import net from 'node:net';
import t, { type Test } from 'tap';
import { errorCatalogue, type ErrorCode } from '../../src/errors.js';
import { clientErrorResponse } from '../../src/http/client-errors.js';
import { requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

interface Exchange {
  status: number;
  headers: string[];
  body: string;
  /** The server closed the connection (within the deadline). */
  isClosed: boolean;
}

/** Sends raw bytes and reads until the server closes the connection, at most `timeoutMs`. */
async function exchange(baseUrl: string, bytes: string, timeoutMs = 5_000): Promise<Exchange> {
  const { hostname, port } = new URL(baseUrl);
  const socket = net.connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const isClosed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('error', () => undefined);
    socket.once('connect', () => socket.write(bytes, 'latin1'));
  });
  socket.destroy();
  return parseResponse(Buffer.concat(chunks).toString('utf8'), isClosed);
}

function parseResponse(text: string, isClosed: boolean): Exchange {
  const headEnd = text.indexOf('\r\n\r\n');
  const [statusLine, ...headers] = text.slice(0, headEnd).split('\r\n');
  return { status: Number(statusLine?.split(' ')[1]), headers: headers.map((h) => h.toLowerCase()), body: text.slice(headEnd + 4), isClosed };
}

function assertRefusal(t: Test, answer: Exchange, code: ErrorCode, what: string): void {
  t.equal(answer.status, errorCatalogue[code].status, `${what}: status ${errorCatalogue[code].status}`);
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    body = answer.body;
  }
  t.match(body, { error: { code, message: String } }, `${what}: the documented shape, code ${code}`);
  t.same(Object.keys(body as object), ['error'], `${what}: nothing but "error"`);
  t.ok(answer.headers.some((h) => h.startsWith('content-type: application/json')), `${what}: JSON`);
  t.ok(answer.isClosed, `${what}: the connection is closed`);
}

void t.test('malformed HTTP/1.1 gets the documented error shape and a closed connection', async (t) => {
  const server = await startServer(t);
  const cases: Array<[string, string, ErrorCode]> = [
    ['a NUL in the URL', 'GET /v1/topics\0x HTTP/1.1\r\nhost: a\r\n\r\n', 'INVALID_REQUEST'],
    ['an invalid header line', 'GET /v1/topics HTTP/1.1\r\nhost: a\r\nthis is not a header\r\n\r\n', 'INVALID_REQUEST'],
    ['a header name with a space', 'GET /v1/topics HTTP/1.1\r\nhost: a\r\nbad name: 1\r\n\r\n', 'INVALID_REQUEST'],
    ['a Content-Length that is not a number', 'POST /v1/topics HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: abc\r\n\r\n{}', 'INVALID_REQUEST'],
    ['two different Content-Lengths', 'POST /v1/topics HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\n{}', 'INVALID_REQUEST'],
    ['Content-Length with Transfer-Encoding chunked', 'POST /v1/topics HTTP/1.1\r\nhost: a\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n', 'INVALID_REQUEST'],
    ['a request line that is not HTTP', 'HELLO\r\n\r\n', 'INVALID_REQUEST'],
    ['headers of 100 KB', `GET /v1/topics HTTP/1.1\r\nhost: a\r\nx-big: ${'a'.repeat(100_000)}\r\n\r\n`, 'HEADERS_TOO_LARGE'],
    // Found by test/adversarial/raw-framing.test.ts: Node answered this with a bare 400.
    ['an HTTP/1.1 request without Host', 'GET /v1/topics HTTP/1.1\r\naccept: application/json\r\n\r\n', 'INVALID_REQUEST'],
  ];
  for (const [what, bytes, code] of cases) assertRefusal(t, await exchange(server.url, bytes), code, what);
  t.equal((await requestJson(`${server.url}/health/live`)).status, 200, 'the node still answers');
});

void t.test('an Expect other than 100-continue is ignored (RFC 9110), not a bodiless 417; HTTP/1.0 needs no Host', async (t) => {
  const server = await startServer(t);
  const body = '{"name":"expect-odd"}';
  const answer = await exchange(server.url, `POST /v1/topics HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nexpect: 200-ok\r\nconnection: close\r\n\r\n${body}`);
  t.equal(answer.status, 201, 'the topic is created');
  t.match(JSON.parse(answer.body), { name: 'expect-odd' });
  const old = await exchange(server.url, 'GET /health/live HTTP/1.0\r\n\r\n');
  t.equal(old.status, 200, 'an HTTP/1.0 request without Host is served');
});

void t.test('a request not received in time is 408 REQUEST_BODY_TIMEOUT in the documented shape', async (t) => {
  const error = Object.assign(new Error('request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
  assertRefusal(t, parseResponse(clientErrorResponse(error), true), 'REQUEST_BODY_TIMEOUT', 'a timed-out request');
});
