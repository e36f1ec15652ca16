/**
 * The benchmark's HTTP side: one undici Pool to the node with keep-alive and enough
 * connections for the highest concurrency, plus the few calls the scenarios make.
 * Bodies are built by the caller once and passed as Buffers, so a request costs the
 * generator little more than a socket write.
 */
import { Pool } from 'undici';

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json' };
const ACCEPT_JSON = { accept: 'application/json' };

function headersFor(body: Buffer | string | undefined, contentType: string): Record<string, string> {
  if (body === undefined) return ACCEPT_JSON;
  return contentType === 'application/json' ? JSON_HEADERS : { 'content-type': contentType, accept: 'application/json' };
}
/** No request may hang the benchmark: headers and body each have a deadline. */
const REQUEST_TIMEOUT_MS = 30_000;

export class RunnelHttp {
  readonly pool: Pool;

  /**
   * `requestTimeoutMs` bounds each request's headers and body (30 s by default);
   * `serverPids` are the processes answering at `origin`, whose CPU time rows read.
   */
  constructor(readonly origin: string, connections: number, requestTimeoutMs = REQUEST_TIMEOUT_MS, readonly serverPids: readonly number[] = []) {
    this.pool = new Pool(origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: requestTimeoutMs,
      bodyTimeout: requestTimeoutMs,
    });
  }

  /**
   * Sends `body` (JSON unless `contentType` says otherwise) and reads the whole answer;
   * throws unless the status is `expectedStatus`. Returns the bytes received.
   */
  async send(method: 'POST' | 'GET', path: string, body: Buffer | undefined, expectedStatus = 200, contentType = 'application/json'): Promise<number> {
    const response = await this.pool.request({ method, path, body, headers: headersFor(body, contentType) });
    if (response.statusCode !== expectedStatus) {
      const text = await response.body.text();
      throw new Error(`${method} ${path}: expected HTTP ${expectedStatus}, got ${response.statusCode}: ${text.slice(0, 500)}`);
    }
    let bytes = 0;
    for await (const chunk of response.body) bytes += (chunk as Buffer).length;
    return bytes;
  }

  /** Sends a request and returns the answer's text; throws unless the status is `expectedStatus`. */
  async text(method: 'POST' | 'GET' | 'DELETE' | 'PATCH', path: string, body?: Buffer | string, expectedStatus = 200, contentType = 'application/json'): Promise<string> {
    const response = await this.pool.request({ method, path, body, headers: headersFor(body, contentType) });
    const text = await response.body.text();
    if (response.statusCode !== expectedStatus) {
      throw new Error(`${method} ${path}: expected HTTP ${expectedStatus}, got ${response.statusCode}: ${text.slice(0, 500)}`);
    }
    return text;
  }

  async json<T>(method: 'POST' | 'GET', path: string, body?: unknown, expectedStatus = 200): Promise<T> {
    const text = await this.text(method, path, body === undefined ? undefined : JSON.stringify(body), expectedStatus);
    return JSON.parse(text) as T;
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string> = {}): Promise<void> {
    await this.json('POST', '/v1/topics', { name, partitions, replicationFactor: 1, configs }, 201);
  }

  /** Deletes a topic so the next row starts on an empty disk; a missing topic is fine. */
  async deleteTopic(name: string): Promise<void> {
    const response = await this.pool.request({ method: 'DELETE', path: `/v1/topics/${encodeURIComponent(name)}`, headers: ACCEPT_JSON });
    const text = await response.body.text();
    if (response.statusCode !== 204 && response.statusCode !== 200 && response.statusCode !== 404) {
      throw new Error(`DELETE topic ${name}: HTTP ${response.statusCode}: ${text.slice(0, 500)}`);
    }
  }

  async highWatermark(topic: string, partition: number): Promise<number> {
    const offsets = await this.json<{ highWatermark: number }>('GET', `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/offsets`);
    if (!Number.isSafeInteger(offsets.highWatermark)) throw new Error(`offsets of ${topic}/${partition} carry no highWatermark: ${JSON.stringify(offsets)}`);
    return offsets.highWatermark;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** `{"records":[{"value":<v>},...],"valueFormat":"json"}` for `count` copies of one JSON value. */
export function produceBody(valueJson: string, count: number): Buffer {
  const record = '{"value":' + valueJson + '}';
  return Buffer.from('{"records":[' + new Array<string>(count).fill(record).join(',') + '],"valueFormat":"json"}');
}

/** Checks a produce answer carries one offset per record, so a broken contract fails loudly, not fast. */
export function checkProduceAnswer(text: string, recordCount: number, what: string): void {
  const answer = JSON.parse(text) as { offsets?: Array<{ offset?: unknown }> };
  if (!Array.isArray(answer.offsets) || answer.offsets.length !== recordCount || typeof answer.offsets[0]?.offset !== 'number') {
    throw new Error(`${what}: expected {"offsets":[...${recordCount} entries]}, got ${text.slice(0, 300)}`);
  }
}
