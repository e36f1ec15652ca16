/**
 * Guard rails: answer 503 or 429 early instead of falling over.
 * - In-flight requests, node-wide (503 OVERLOADED) and per connection (429
 *   TOO_MANY_REQUESTS: one client pipelining without end). A request counts until its
 *   response closes, so long-polls and streams count while they are open.
 * - Event-loop delay (sampled here with perf_hooks' monitorEventLoopDelay): when the
 *   loop is stuck behind more work than it can do, new requests get 503 OVERLOADED
 *   with Retry-After.
 *   /health/live and /metrics are still answered, so an orchestrator does not kill a
 *   node that is merely busy and operators can still see why; /health/ready is outside
 *   the in-flight limits but says 503 while the event loop lags. A delay not measured
 *   yet (no sample) counts as none.
 * Connection count is capped by the server (maxConnections) in app.ts.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { errorCatalogue } from '../errors.js';

export interface GuardRailOptions {
  inFlightRequestsMax: number;
  inFlightRequestsPerConnectionMax: number;
  /** 0 turns the event-loop check off. */
  eventLoopDelayMsMax: number;
}

const inFlightOnSocket = Symbol('runnelInFlight');
type CountedSocket = Socket & { [inFlightOnSocket]?: number };

// Liveness and metrics are never refused: an orchestrator must not restart a node that
// is merely busy, and operators must see why it is.
const ALWAYS_ANSWERED = new Set(['/health/live', '/metrics']);
// Nor is readiness counted against the in-flight limits: slow clients holding every
// slot must not make a healthy node look unready. A stalled event loop still makes it
// answer 503, as the node then truly cannot take work.
const OUTSIDE_IN_FLIGHT_LIMITS = new Set([...ALWAYS_ANSWERED, '/health/ready']);

/**
 * Answers a refusal with Runnel's error body, already serialised. Fix: these bodies
 * used to go through the route's response schema, and a route with a schema of its
 * own for that status (/health/ready: 503 {status, reason}) failed to serialise
 * them, so the refusal became a 500 and an error log line per probe.
 */
function refuse(reply: FastifyReply, code: 'OVERLOADED' | 'TOO_MANY_REQUESTS', message: string): FastifyReply {
  return reply
    .code(errorCatalogue[code].status)
    .header('retry-after', '1')
    .type('application/json; charset=utf-8')
    .send(JSON.stringify({ error: { code, message } }));
}

export async function installGuardRails(app: FastifyInstance, options: GuardRailOptions): Promise<void> {
  let inFlight = 0;
  app.addHook('onRequest', async (request, reply) => {
    // Fix: refusals (in-flight and event-loop) end the onRequest chain before app.ts
    // sets x-request-id, so they went out without one. Set it first.
    reply.header('x-request-id', request.id);
    const socket = request.raw.socket as CountedSocket | null;
    const onSocket = socket?.[inFlightOnSocket] ?? 0;
    if (!OUTSIDE_IN_FLIGHT_LIMITS.has(request.routeOptions.url ?? '')) {
      if (inFlight >= options.inFlightRequestsMax) {
        return refuse(reply, 'OVERLOADED', `the node is answering ${inFlight} requests; retry shortly`);
      }
      if (onSocket >= options.inFlightRequestsPerConnectionMax) {
        return refuse(reply, 'TOO_MANY_REQUESTS', `this connection has ${onSocket} requests in flight; wait for answers before sending more`);
      }
    }
    inFlight += 1;
    if (socket !== null) socket[inFlightOnSocket] = onSocket + 1;
    request.raw.once('close', () => {
      inFlight -= 1;
      if (socket !== null) socket[inFlightOnSocket] = (socket[inFlightOnSocket] ?? 1) - 1;
    });
  });
  if (options.eventLoopDelayMsMax > 0) watchEventLoop(app, options.eventLoopDelayMsMax);
}

const SAMPLE_INTERVAL_MS = 1000;
const RESOLUTION_MS = 10;

/**
 * The mean event-loop delay over the last second, past `delayMsMax` refuses new
 * requests. Fix: @fastify/under-pressure did this before, but its sampler also called
 * process.memoryUsage(), which opens /proc/self/stat: once the node ran out of file
 * descriptors that call threw EMFILE in a timer and killed the process. This sampler
 * needs no file. A delay not measured yet (no sample: a loop busy from the start)
 * counts as none, not as overloaded.
 */
function watchEventLoop(app: FastifyInstance, delayMsMax: number): void {
  const histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  histogram.enable();
  let delayMs = 0;
  const timer = setInterval(() => {
    delayMs = histogram.count === 0 ? 0 : Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS);
    histogram.reset();
  }, SAMPLE_INTERVAL_MS);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    histogram.disable();
  });
  app.addHook('onRequest', async (request, reply) => {
    if (delayMs <= delayMsMax || ALWAYS_ANSWERED.has(request.routeOptions.url ?? '')) return;
    return refuse(reply, 'OVERLOADED', `the node is overloaded (eventLoopDelay: ${Math.round(delayMs)}); retry shortly`);
  });
}
