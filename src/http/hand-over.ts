/**
 * Any node answers any request: one this node cannot serve itself (a read of a
 * partition it holds no in-sync replica of, a call to a group another node
 * coordinates) is handed to a node that can, and that node's answer — status, headers
 * and body, streamed with backpressure — goes back to the client as is. So a client
 * behind one URL (a load balancer, a proxy) never meets NOT_LEADER while the cluster
 * has a node that can serve it.
 *
 * A handed-over request carries `Runnel-Forwarded-By: <node id>`; the node that gets
 * it serves it or answers 503, never hands it on again (no loops). It carries the
 * client's own credentials (the serving node checks them again) and never the cluster
 * secret: public routes do not need it.
 */
import { pipeline } from 'node:stream/promises';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request as send, type Dispatcher } from 'undici';
import { limits } from '../limits.js';

export const FORWARDED_BY_HEADER = 'runnel-forwarded-by';
export const SERVED_BY_HEADER = 'runnel-served-by';

/** Request headers a handed-over request keeps (credentials, content negotiation, stream resume, retries). */
const REQUEST_HEADERS = ['authorization', 'x-api-key', 'accept', 'last-event-id', 'content-type', 'idempotency-key', 'user-agent', 'x-request-id'];
/** Hop-by-hop and framing headers of the serving node's answer that this node sets itself. */
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'date', 'x-request-id']);

/** True when another node handed this request over (it is served here or refused, never handed on). */
export function isHandedOver(request: FastifyRequest): boolean {
  return request.headers[FORWARDED_BY_HEADER] !== undefined;
}

/** Names the node whose log or coordinator served the answer (on the raw response, so streams that write their own head carry it too). */
export function setServedBy(raw: { setHeader(name: string, value: string): unknown }, nodeIds: number | readonly number[]): void {
  const value = typeof nodeIds === 'number' ? String(nodeIds) : [...new Set(nodeIds)].join(',');
  if (value !== '') raw.setHeader(SERVED_BY_HEADER, value);
}

export class HandOver {
  /** Answers being relayed now: ended at close() (the node stops) whatever the serving node does. */
  private readonly relaying = new Set<FastifyReply['raw']>();
  private readonly agent: Dispatcher = new Agent({
    keepAliveTimeout: limits.peerKeepAliveMs, connectTimeout: limits.peerConnectTimeoutMs,
  });

  constructor(
    private readonly nodeId: number,
    /** The URL this node reaches a node at (its --peers entry). */
    private readonly urlOf: (nodeId: number) => string | undefined,
  ) {}

  /**
   * Sends `request` to the first of `nodeIds` that answers and replies with its answer;
   * a node that cannot be reached is skipped. Rejects with `unavailable()` when none
   * answered. `isStream`: the answer may idle for long (SSE, NDJSON), so no body timeout.
   */
  async forward(request: FastifyRequest, reply: FastifyReply, nodeIds: readonly number[], options: { isStream: boolean; waitMs: number; unavailable: (why: string) => Error }): Promise<FastifyReply> {
    const controller = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) controller.abort();
    };
    reply.raw.once('close', onClose);
    const failures: string[] = [];
    for (const nodeId of nodeIds) {
      const base = this.urlOf(nodeId);
      if (base === undefined || nodeId === this.nodeId) continue;
      let answer: Dispatcher.ResponseData;
      try {
        answer = await send(base.replace(/\/+$/, '') + request.url, {
          method: request.method as Dispatcher.HttpMethod,
          headers: this.headersOf(request),
          body: bodyOf(request),
          dispatcher: this.agent,
          signal: controller.signal,
          headersTimeout: options.waitMs + limits.handOverHeadersTimeoutMs,
          bodyTimeout: options.isStream ? 0 : limits.handOverBodyTimeoutMs,
        });
      } catch (error) {
        if (controller.signal.aborted) return reply;
        failures.push(`node ${nodeId}: ${(error as Error).message}`);
        continue;
      }
      const headers = Object.fromEntries(Object.entries(answer.headers).filter(([name, value]) => value !== undefined && !DROPPED_RESPONSE_HEADERS.has(name)));
      answer.body.once('end', () => reply.raw.off('close', onClose));
      const raw = reply.raw;
      this.relaying.add(raw);
      raw.once('close', () => this.relaying.delete(raw));
      if (options.isStream && answer.statusCode === 200) {
        // A live stream: its head goes out now (an EventSource opens at once, as on the
        // serving node), then its body as it comes, with backpressure both ways.
        reply.hijack();
        reply.raw.writeHead(200, headers);
        reply.raw.flushHeaders();
        pipeline(answer.body, reply.raw).catch(() => undefined);
        return reply;
      }
      reply.code(answer.statusCode).headers(headers);
      return reply.send(answer.body);
    }
    reply.raw.off('close', onClose);
    throw options.unavailable(failures.length === 0 ? 'no node to hand it to is known' : failures.join('; '));
  }

  /**
   * Sends `request` to one node as a handed-over request and returns its JSON answer
   * (for answers this node gathers from several: GET /v1/share-groups); undefined when
   * the node cannot be reached or does not answer 200.
   */
  async ask(request: FastifyRequest, nodeId: number): Promise<unknown> {
    const base = this.urlOf(nodeId);
    if (base === undefined || nodeId === this.nodeId) return undefined;
    try {
      const answer = await send(base.replace(/\/+$/, '') + request.url, {
        method: 'GET', headers: this.headersOf(request), dispatcher: this.agent,
        headersTimeout: limits.handOverHeadersTimeoutMs, bodyTimeout: limits.handOverBodyTimeoutMs,
      });
      if (answer.statusCode !== 200) {
        await answer.body.dump();
        return undefined;
      }
      return await answer.body.json();
    } catch {
      return undefined;
    }
  }

  /** Ends every relayed answer now and lets go of the connections to other nodes (not awaited: nothing waits on a peer). */
  async close(): Promise<void> {
    for (const raw of this.relaying) raw.destroy();
    this.relaying.clear();
    this.agent.destroy().catch(() => undefined);
  }

  private headersOf(request: FastifyRequest): Record<string, string> {
    const headers: Record<string, string> = { [FORWARDED_BY_HEADER]: String(this.nodeId) };
    for (const name of REQUEST_HEADERS) {
      const value = request.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    return headers;
  }
}

/** A record-batch body as it came; else the parsed JSON body again (group calls; JSON records are never handed over this way). */
function bodyOf(request: FastifyRequest): string | Buffer | undefined {
  if (request.method === 'GET' || request.method === 'HEAD' || request.body === undefined || request.body === null) return undefined;
  if (Buffer.isBuffer(request.body)) return request.body;
  return JSON.stringify(request.body);
}
