/**
 * HTTP/1.1 framing attacks an HTTP client library would refuse to send, written to a
 * raw socket (node:net): bad chunked encoding, conflicting Content-Length and
 * Transfer-Encoding, truncated heads and bodies, pipelined requests and garbage,
 * smuggling attempts, header floods, absolute-form and other odd request targets,
 * other protocol versions, Expect and Upgrade, bare LF, random bytes. Each attack is
 * made from a seeded random source; the answers are parsed back (pipelined ones too)
 * and judged by answers.ts like any HTTP answer.
 */
import net from 'node:net';
import { pick } from '../helpers/seeded-random.js';
import type { Answer } from './answers.js';

export interface Attack {
  name: string;
  /** Written in order, a short pause between them. */
  chunks: Buffer[];
  /** Half-close our side after the last chunk (most attacks; the node must then answer and close). */
  isEnded: boolean;
  /** One of the requests is a produce (for answers.ts). */
  isProduce: boolean;
}

export interface AttackContext {
  host: string;
  adminKey: string;
  topic: string;
}

const b = (text: string): Buffer => Buffer.from(text, 'latin1');

type Maker = (random: () => number, c: AttackContext) => Omit<Attack, 'isEnded' | 'isProduce'> & { isEnded?: boolean };

const produceHead = (c: AttackContext, extra: string): string =>
  `POST /v1/topics/${c.topic}/records HTTP/1.1\r\nhost: ${c.host}\r\nauthorization: Bearer ${c.adminKey}\r\ncontent-type: application/json\r\n${extra}\r\n`;
const getHead = (c: AttackContext, target: string, extra = ''): string =>
  `GET ${target} HTTP/1.1\r\nhost: ${c.host}\r\nauthorization: Bearer ${c.adminKey}\r\n${extra}\r\n`;
const BODY = '{"records":[{"key":"raw","value":{"n":1}}]}';
const chunked = (text: string): string => `${text.length.toString(16)}\r\n${text}\r\n0\r\n\r\n`;

const TE_VALUES = ['chunked', 'chunked, chunked', 'chunked, identity', 'identity', 'gzip', 'gzip, chunked', ' chunked', 'xchunked', 'chunked\t', 'CHUNKED', 'chunked;q=1', ''];
const CL_VALUES = ['+5', '-1', '5, 5', '5,6', '99999999999999999999', '0x5', ' 5', '5 ', '', '1e3', '0', String(BODY.length + 10), String(BODY.length - 5)];
const CHUNK_SIZES = ['zz', '-1', 'fffffffffffffffffff', '0x10', `1;ext=${'a'.repeat(10_000)}`, ' 5', '5 ', '', '+5', '5\n', '100000000'];
const TARGETS = [
  'http://127.0.0.1/v1/topics', 'http://evil.example/health/live', 'https://x/v1/topics/../internal/v1/raft', '//v1/topics', '*', 'v1/topics',
  'http://x', 'http://user:pass@x/v1/topics', '/v1/topics?', '/v1/topics#frag', '/%2e%2e/%2e%2e/etc/passwd', '/v1/topics/..%2f..%2finternal',
  '/\\v1\\topics', `/${'a'.repeat(9_000)}`, '/v1/topics/%', '/health/live?%00', 'HTTP://127.0.0.1:1/metrics', '/v1/./topics/../topics',
];
const VERSIONS = ['HTTP/1.0', 'HTTP/1.2', 'HTTP/9.9', 'HTTP/2.0', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 extra', 'HTTP/1', 'HTTPS/1.1', ''];

const MAKERS: Array<[string, Maker]> = [
  ['chunked, a valid body', (_, c) => ({ name: '', chunks: [b(produceHead(c, 'transfer-encoding: chunked\r\n') + chunked(BODY))] })],
  ['chunked, a bad chunk size', (r, c) => ({ name: '', chunks: [b(`${produceHead(c, 'transfer-encoding: chunked\r\n')}${pick(r, CHUNK_SIZES)}\r\n${BODY}\r\n0\r\n\r\n`)] })],
  ['chunked, no CRLF after the data', (_, c) => ({ name: '', chunks: [b(`${produceHead(c, 'transfer-encoding: chunked\r\n')}${BODY.length.toString(16)}\r\n${BODY}0\r\n\r\n`)] })],
  ['chunked, a size past the data', (_, c) => ({ name: '', chunks: [b(`${produceHead(c, 'transfer-encoding: chunked\r\n')}1000\r\n${BODY}\r\n0\r\n\r\n`)] })],
  ['chunked, garbage trailers', (_, c) => ({ name: '', chunks: [b(`${produceHead(c, 'transfer-encoding: chunked\r\n')}${BODY.length.toString(16)}\r\n${BODY}\r\n0\r\nnot a trailer\r\n\r\n`)] })],
  ['chunked, split in one-byte chunks', (_, c) => ({ name: '', chunks: [b(`${produceHead(c, 'transfer-encoding: chunked\r\n')}${[...BODY].map((ch) => `1\r\n${ch}\r\n`).join('')}0\r\n\r\n`)] })],
  ['chunked, never terminated', (_, c) => ({ name: '', chunks: [b(`${produceHead(c, 'transfer-encoding: chunked\r\n')}${BODY.length.toString(16)}\r\n${BODY}\r\n`)] })],
  ['Content-Length and Transfer-Encoding', (r, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${pick(r, CL_VALUES)}\r\ntransfer-encoding: ${pick(r, TE_VALUES)}\r\n`) + chunked(BODY))] })],
  ['Transfer-Encoding variants', (r, c) => ({ name: '', chunks: [b(produceHead(c, `transfer-encoding: ${pick(r, TE_VALUES)}\r\n`) + chunked(BODY))] })],
  ['two Transfer-Encoding headers', (r, c) => ({ name: '', chunks: [b(produceHead(c, `transfer-encoding: chunked\r\ntransfer-encoding: ${pick(r, TE_VALUES)}\r\n`) + chunked(BODY))] })],
  ['Transfer-Encoding with a space before the colon', (_, c) => ({ name: '', chunks: [b(produceHead(c, 'transfer-encoding : chunked\r\n') + chunked(BODY))] })],
  ['Content-Length variants', (r, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${pick(r, CL_VALUES)}\r\n`) + BODY)] })],
  ['two Content-Lengths', (r, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${BODY.length}\r\ncontent-length: ${pick(r, CL_VALUES)}\r\n`) + BODY)] })],
  ['a truncated body', (r, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${BODY.length}\r\n`) + BODY.slice(0, Math.floor(r() * BODY.length)))] })],
  ['a truncated head', (r, c) => {
    const head = produceHead(c, `content-length: ${BODY.length}\r\n`);
    return { name: '', chunks: [b(head.slice(0, 1 + Math.floor(r() * (head.length - 2))))] };
  }],
  ['a body and head sent a few bytes at a time', (r, c) => {
    const whole = produceHead(c, `content-length: ${BODY.length}\r\n`) + BODY;
    const chunks: Buffer[] = [];
    for (let at = 0; at < whole.length;) {
      const size = 1 + Math.floor(r() * 40);
      chunks.push(b(whole.slice(at, at + size)));
      at += size;
    }
    return { name: '', chunks: chunks.slice(0, 60).concat(chunks.length > 60 ? [Buffer.concat(chunks.slice(60))] : []) };
  }],
  ['pipelined requests', (r, c) => {
    const count = 2 + Math.floor(r() * 40);
    const requests = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? produceHead(c, `content-length: ${BODY.length}\r\n`) + BODY : getHead(c, pick(r, ['/v1/topics', `/v1/topics/${c.topic}`, '/health/live', '/v1/groups', '/nope']))));
    return { name: '', chunks: [b(requests.join(''))] };
  }],
  ['pipelined requests then garbage', (r, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics') + getHead(c, '/health/live') + pick(r, ['\u0000\u0001\u0002garbage', 'GET', '\r\n\r\n\r\n', 'HTTP/1.1 200 OK\r\n\r\n', `${'x'.repeat(5_000)}\r\n\r\n`]))] })],
  ['a request smuggled in a body', (_, c) => {
    const inner = getHead(c, '/internal/v1/raft');
    return { name: '', chunks: [b(produceHead(c, `content-length: ${BODY.length + inner.length}\r\n`) + BODY + inner)] };
  }],
  ['Content-Length 0 with a request behind it', (_, c) => ({ name: '', chunks: [b(`${produceHead(c, 'content-length: 0\r\n')}POST /internal/v1/controller/delete-topic HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 22\r\n\r\n{"name":"${c.topic}"}`)] })],
  ['a thousand headers', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', Array.from({ length: 1_000 }, (__, i) => `x-h${i}: v\r\n`).join('')))] })],
  ['three thousand headers', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', Array.from({ length: 3_000 }, (__, i) => `x${i}: v\r\n`).join('')))] })],
  ['a 100 KB header', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', `x-big: ${'a'.repeat(100_000)}\r\n`))] })],
  ['two hundred Host headers', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', 'host: other\r\n'.repeat(200)))] })],
  ['two Authorization headers', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/keys', 'authorization: Bearer wrong\r\n'))] })],
  ['a folded header', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', 'x-folded: a\r\n  b\r\n'))] })],
  ['a NUL in a header value', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', 'x-nul: a\u0000b\r\n'))] })],
  ['an odd request target', (r, c) => ({ name: '', chunks: [b(getHead(c, pick(r, TARGETS)))] })],
  ['an absolute-form target to this node', (r, c) => ({ name: '', chunks: [b(getHead(c, `http://${c.host}${pick(r, ['/v1/topics', `/v1/topics/${c.topic}`, '/internal/v1/raft', '/health/live', '/%69nternal/v1/raft'])}`))] })],
  ['CONNECT', (_, c) => ({ name: '', chunks: [b(`CONNECT ${c.host} HTTP/1.1\r\nhost: ${c.host}\r\n\r\n`)] })],
  ['OPTIONS *', (_, c) => ({ name: '', chunks: [b(`OPTIONS * HTTP/1.1\r\nhost: ${c.host}\r\n\r\n`)] })],
  ['another protocol version', (r, c) => ({ name: '', chunks: [b(`GET /v1/topics ${pick(r, VERSIONS)}\r\nhost: ${c.host}\r\nauthorization: Bearer ${c.adminKey}\r\n\r\n`)] })],
  ['HTTP/1.0 without Host', (_, c) => ({ name: '', chunks: [b(`GET /v1/topics HTTP/1.0\r\nauthorization: Bearer ${c.adminKey}\r\n\r\n`)] })],
  ['HTTP/1.1 without Host', (_, c) => ({ name: '', chunks: [b(`GET /v1/topics HTTP/1.1\r\nauthorization: Bearer ${c.adminKey}\r\n\r\n`)] })],
  ['HTTP/0.9', () => ({ name: '', chunks: [b('GET /health/live\r\n')] })],
  ['the HTTP/2 preface', () => ({ name: '', chunks: [b('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])] })],
  ['an odd method', (r, c) => ({ name: '', chunks: [b(`${pick(r, ['get', 'FOO', 'G\u00e9T', 'M'.repeat(5_000), 'TRACE', 'PROPFIND', 'DELETE'])} /v1/topics HTTP/1.1\r\nhost: ${c.host}\r\nauthorization: Bearer ${c.adminKey}\r\n\r\n`)] })],
  ['Expect: 100-continue, body sent', (_, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${BODY.length}\r\nexpect: 100-continue\r\n`)), b(BODY)] })],
  ['Expect: 100-continue, no body', (_, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${BODY.length}\r\nexpect: 100-continue\r\n`))] })],
  ['an odd Expect', (_, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${BODY.length}\r\nexpect: 200-ok\r\n`) + BODY)] })],
  ['Upgrade', (r, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics', `connection: upgrade\r\nupgrade: ${pick(r, ['websocket', 'h2c', 'TLS/1.2', 'garbage'])}\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n`))] })],
  ['bare LF line endings', (_, c) => ({ name: '', chunks: [b(`GET /v1/topics HTTP/1.1\nhost: ${c.host}\nauthorization: Bearer ${c.adminKey}\n\n`)] })],
  ['bare CR line endings', (_, c) => ({ name: '', chunks: [b(`GET /v1/topics HTTP/1.1\rhost: ${c.host}\r\r`)] })],
  ['random bytes', (r) => ({ name: '', chunks: [Buffer.from(Array.from({ length: 1 + Math.floor(r() * 4_096) }, () => Math.floor(r() * 256)))] })],
  ['a valid request then random bytes', (r, c) => ({ name: '', chunks: [b(getHead(c, '/health/live')), Buffer.from(Array.from({ length: 1 + Math.floor(r() * 512) }, () => Math.floor(r() * 256)))] })],
  ['a body over the limit, announced', (_, c) => ({ name: '', chunks: [b(produceHead(c, `content-length: ${64 * 1024 * 1024 + 1}\r\n`) + BODY)] })],
  ['keep-alive left open', (_, c) => ({ name: '', chunks: [b(getHead(c, '/v1/topics'))], isEnded: false })],
];

/** One attack, chosen and made from `random`. */
export function makeAttack(random: () => number, context: AttackContext, index?: number): Attack {
  const [name, maker] = index === undefined ? pick(random, MAKERS) : MAKERS[index % MAKERS.length];
  const made = maker(random, context);
  const isProduce = made.chunks.some((chunk) => chunk.toString('latin1').includes('/records HTTP/1.1'));
  return { name, chunks: made.chunks, isEnded: made.isEnded ?? true, isProduce };
}

export const attackKinds = MAKERS.length;

export interface RawExchange {
  answers: Answer[];
  /** Bytes after the last whole answer that do not parse as one (empty when all parsed). */
  leftover: string;
  /** The node closed the connection within the deadline. */
  isClosed: boolean;
}

/** Writes the attack and reads until the node closes the connection, at most `timeoutMs`. */
export async function runAttack(port: number, attack: Attack, timeoutMs: number): Promise<RawExchange> {
  const socket = net.connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => undefined);
  const isClosed = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('connect', () => {
      void (async () => {
        for (const [i, chunk] of attack.chunks.entries()) {
          if (socket.destroyed) return;
          socket.write(chunk);
          if (i < attack.chunks.length - 1) await new Promise((r) => setTimeout(r, 2));
        }
        if (attack.isEnded && !socket.destroyed) socket.end();
      })();
    });
  });
  socket.destroy();
  const { answers, leftover } = parseAnswers(Buffer.concat(received));
  return { answers, leftover, isClosed };
}

/** Every whole HTTP/1.1 response in `data` (Content-Length, chunked, or up to the end). */
export function parseAnswers(data: Buffer): { answers: Answer[]; leftover: string } {
  const answers: Answer[] = [];
  let at = 0;
  while (at < data.length) {
    const headEnd = data.indexOf('\r\n\r\n', at, 'latin1');
    if (headEnd < 0) break;
    const [statusLine, ...headerLines] = data.subarray(at, headEnd).toString('latin1').split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (match === null) break;
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(match[1]);
    let bodyStart = headEnd + 4;
    let body: Buffer;
    if (status === 100 || status === 101 || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (bodyStart + length > data.length) break;
      body = data.subarray(bodyStart, bodyStart + length);
      bodyStart += length;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const decoded = decodeChunked(data, bodyStart);
      if (decoded === undefined) break;
      body = decoded.body;
      bodyStart = decoded.end;
    } else {
      body = data.subarray(bodyStart);
      bodyStart = data.length;
    }
    answers.push({ status, headers, body: body.toString('utf8') });
    at = bodyStart;
  }
  return { answers, leftover: data.subarray(at).toString('latin1') };
}

function decodeChunked(data: Buffer, start: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = start;
  for (let guard = 0; guard < 100_000; guard++) {
    const lineEnd = data.indexOf('\r\n', at, 'latin1');
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    at = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = data.indexOf('\r\n', at, 'latin1');
      return trailerEnd < 0 ? undefined : { body: Buffer.concat(parts), end: trailerEnd + 2 };
    }
    if (at + size + 2 > data.length) return undefined;
    parts.push(data.subarray(at, at + size));
    at += size + 2;
  }
  return undefined;
}
