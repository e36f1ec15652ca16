/**
 * Assertions and tools the HTTP integration tests (test/http/) share: the documented
 * error shape, topic summaries, raw bodies, and a socket-level HTTP/1.1 connection.
 * Everything here is bounded in time: a wait that does not come true fails with what
 * it was waiting for, it never hangs a test.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Test } from 'tap';
import { errorCatalogue, type ErrorCode } from '../../src/errors.js';
import { detailProblem } from './error-details.js';
import { requestJson, requestOk, type JsonResponse } from './http.js';

/** Passed to an assertion: `todo` marks a known, reported gap (it still runs and shows as "not ok # TODO"). */
export interface AssertExtra {
  todo?: string;
}

/** Polls `check` every `intervalMs` until it is true; throws after `timeoutMs`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000, intervalMs = 10): Promise<void> {
  const deadlineMs = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadlineMs) throw new Error(`not true after ${timeoutMs} ms: ${what}`);
    await sleep(intervalMs);
  }
}

export { sleep };


/**
 * Asserts the documented error shape: the catalogue's status for `code`, and a body
 * that is exactly {"error":{"code","message"}} (plus the code's documented extras).
 */
export function assertError(t: Test, response: JsonResponse, code: ErrorCode, what = '', extra: AssertExtra = {}): void {
  const label = what === '' ? code : `${what}: ${code}`;
  t.equal(response.status, errorCatalogue[code].status, `${label}: status ${errorCatalogue[code].status}`, extra);
  const body = response.body as { error?: Record<string, unknown> } | undefined;
  t.same(Object.keys(body ?? {}), ['error'], `${label}: the body holds only "error"`, extra);
  t.equal(body?.error?.code, code, `${label}: code`, extra);
  t.type(body?.error?.message, 'string', `${label}: a message`, extra);
  const keys = typeof body?.error === 'object' && body.error !== null ? Object.keys(body.error) : [];
  t.equal(detailProblem(code, keys), undefined, `${label}: the documented fields, no others`, extra);
}

export interface PartitionSummary {
  partition: number;
  logStartOffset: number;
  highWatermark: number;
  logEndOffset: number;
}

export interface TopicDescription {
  name: string;
  topicId: string;
  replicationFactor: number;
  configs: Record<string, string>;
  effectiveConfigs: Record<string, string>;
  partitions: Array<PartitionSummary & { leader: number; leaderEpoch: number; replicas: number[]; isr: number[]; sizeBytes: number; segmentCount: number }>;
}

export async function describe(baseUrl: string, topic: string): Promise<TopicDescription> {
  return (await requestOk<TopicDescription>(`${baseUrl}/v1/topics/${encodeURIComponent(topic)}`)).body;
}

/** Every partition's log end offset, in partition order. */
export async function logEndOffsets(baseUrl: string, topic: string): Promise<number[]> {
  return (await describe(baseUrl, topic)).partitions.map((p) => p.logEndOffset);
}

export async function topicNames(baseUrl: string): Promise<string[]> {
  return (await requestOk<{ topics: Array<{ name: string }> }>(`${baseUrl}/v1/topics`)).body.topics.map((topic) => topic.name);
}

/** POST with a raw body and content type (for NDJSON, text and broken JSON). */
export function postRaw(url: string, body: string, contentType: string, headers: Record<string, string> = {}): Promise<JsonResponse> {
  return requestJson(url, { method: 'POST', body, headers: { 'content-type': contentType, ...headers } });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * An HTTP/1.1 connection at the socket level, for what an HTTP client library hides:
 * a reader that stops reading, requests sent at a chosen instant on a kept-alive
 * connection. Responses must carry Content-Length (Runnel's JSON answers do).
 */
export class RawConnection {
  readonly socket: net.Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('close', () => this.wake());
    socket.on('error', () => this.wake());
  }

  static async open(baseUrl: string): Promise<RawConnection> {
    const { hostname, port } = new URL(baseUrl);
    const socket = net.connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** The bytes of a request (head and body); send them whole or in parts with write(). */
  static requestText(method: string, path: string, headers: Record<string, string> = {}, body = ''): string {
    const allHeaders = body === '' ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) };
    const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', ...Object.entries(allHeaders).map(([name, value]) => `${name}: ${value}`)];
    return lines.join('\r\n') + '\r\n\r\n' + body;
  }

  send(method: string, path: string, headers: Record<string, string> = {}, body = ''): void {
    this.write(RawConnection.requestText(method, path, headers, body));
  }

  write(text: string): void {
    this.socket.write(text);
  }

  /** Reads the next whole response (Content-Length framed) within `timeoutMs`. */
  async readResponse(timeoutMs = 10_000): Promise<RawResponse> {
    const deadlineMs = Date.now() + timeoutMs;
    while (true) {
      const headEnd = this.buffer.indexOf('\r\n\r\n');
      if (headEnd >= 0) {
        const [statusLine, ...headerLines] = this.buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of headerLines) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        const length = Number(headers['content-length'] ?? 'NaN');
        if (!Number.isInteger(length)) throw new Error(`response without Content-Length: ${statusLine} ${JSON.stringify(headers)}`);
        if (this.buffer.length >= headEnd + 4 + length) {
          const body = this.buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
          this.buffer = this.buffer.subarray(headEnd + 4 + length);
          return { status: Number(statusLine.split(' ')[1]), headers, body };
        }
      }
      const remainingMs = deadlineMs - Date.now();
      if (remainingMs <= 0 || this.socket.destroyed) {
        throw new Error(`no whole response within ${timeoutMs} ms; have ${JSON.stringify(this.buffer.toString('utf8').slice(0, 300))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remainingMs, 100));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
