/**
 * PeerClient: node-to-node HTTP calls (metadata quorum messages, controller requests),
 * over one keep-alive undici Agent. The URL of a peer is the one this node's --peers
 * lists for it, so each node may reach the others by its own route (a test puts fault
 * proxies there). Every call carries the cluster secret when one is set, and every
 * call has a deadline: a node that is cut off must not pile up requests.
 */
import { Agent, request } from 'undici';
import { errorCatalogue, RunnelError, type ErrorCode } from '../errors.js';
import { limits } from '../limits.js';

export const clusterSecretHeader = 'x-runnel-cluster-secret';

export class PeerRequestError extends Error {
  override name = 'PeerRequestError';
  constructor(message: string, readonly status: number, readonly body: unknown) {
    super(message);
  }
}

/**
 * A peer's coded refusal as the same RunnelError here (its code, its message after
 * `prefix`, its extra fields), so the public API answers it unchanged; undefined when
 * the failure carries no catalogue code (a network error, an uncoded answer).
 */
export function runnelErrorFromPeer(error: unknown, prefix = ''): RunnelError | undefined {
  if (!(error instanceof PeerRequestError)) return undefined;
  const body = (error.body as { error?: Record<string, unknown> } | undefined)?.error;
  const code = body?.code;
  if (typeof code !== 'string' || !(code in errorCatalogue) || typeof body?.message !== 'string') return undefined;
  const { code: _code, message, ...details } = body;
  return new RunnelError(code as ErrorCode, `${prefix}${message as string}`, Object.keys(details).length > 0 ? details : undefined);
}

/** A peer's answer as bytes, with its headers. */
export interface PeerBytes {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface PeerClientOptions {
  urls: ReadonlyMap<number, string>;
  clusterSecret?: string;
}

export class PeerClient {
  private readonly agent = new Agent({
    keepAliveTimeout: limits.peerKeepAliveMs, connections: limits.peerConnectionsMax, connectTimeout: limits.peerConnectTimeoutMs,
  });
  private isClosed = false;

  constructor(private readonly options: PeerClientOptions) {}

  url(nodeId: number): string | undefined {
    return this.options.urls.get(nodeId);
  }

  get headers(): Record<string, string> {
    return {
      'content-type': 'application/json',
      ...(this.options.clusterSecret === undefined ? {} : { [clusterSecretHeader]: this.options.clusterSecret }),
    };
  }

  /** POSTs JSON to a peer and returns the parsed answer; non-2xx answers throw PeerRequestError with the body. */
  async post<T = unknown>(nodeId: number, path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<T> {
    const answer = await this.send(nodeId, path, body, timeoutMs, signal);
    const text = answer.body.toString('utf8');
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /** POSTs JSON to a peer whose answer is bytes (its headers carry the rest); non-2xx answers throw PeerRequestError. */
  async postForBytes(nodeId: number, path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<PeerBytes> {
    return this.send(nodeId, path, body, timeoutMs, signal);
  }

  private async send(nodeId: number, path: string, body: unknown, timeoutMs: number, signal: AbortSignal | undefined): Promise<PeerBytes> {
    const base = this.options.urls.get(nodeId);
    if (base === undefined) throw new PeerRequestError(`node ${nodeId} is not in --peers`, 0, undefined);
    if (this.isClosed) throw new PeerRequestError('the node is stopping', 0, undefined);
    const timeout = AbortSignal.timeout(timeoutMs);
    const response = await request(base + path, {
      method: 'POST',
      dispatcher: this.agent,
      headers: this.headers,
      body: JSON.stringify(body),
      signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    if (response.statusCode >= 300) {
      const text = bytes.toString('utf8');
      let parsed: unknown;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      const error = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new PeerRequestError(`node ${nodeId} answered ${response.statusCode} ${error?.code ?? ''}: ${error?.message ?? text.slice(0, 200)}`, response.statusCode, parsed);
    }
    return { headers: response.headers, body: bytes };
  }

  async close(): Promise<void> {
    this.isClosed = true;
    await this.agent.destroy();
  }
}
