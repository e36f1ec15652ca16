/**
 * CORS (--cors-origins, off by default): a page on another origin may call the API,
 * follow an EventSource and read the headers clients act on. An allowed Origin gets
 * Access-Control-Allow-Origin (the origin itself, with Vary: Origin, or `*` when every
 * origin is allowed) and the exposed headers, on every answer: errors, and streams,
 * whose heads are written raw (the headers are set on the raw response for that). A
 * preflight (OPTIONS with Access-Control-Request-Method) is answered 204 here, before
 * readiness and API keys: browsers send it without credentials. Keys travel in
 * Authorization or X-API-Key, never cookies, so credentials mode is not needed. An
 * Origin not in the list gets no CORS headers: the browser refuses the answer.
 */
import type { FastifyInstance } from 'fastify';

const ALLOWED_METHODS = 'GET, POST, PATCH, DELETE, OPTIONS';
const ALLOWED_HEADERS = 'accept, authorization, content-type, idempotency-key, last-event-id, x-api-key, x-request-id';
/** Headers a page's script may read beyond the CORS-safelisted ones. */
const EXPOSED_HEADERS = 'idempotent-replayed, retry-after, runnel-served-by, runnel-next-offset, runnel-high-watermark, runnel-log-start-offset, x-request-id, location';
const PREFLIGHT_MAX_AGE_S = '600';

/** `origins`: exact origins (scheme://host[:port]) or '*'; empty: CORS off. */
export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const isAnyOrigin = origins.includes('*');
  const allowed = new Set(origins.map((origin) => origin.toLowerCase()));
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || (!isAnyOrigin && !allowed.has(origin.toLowerCase()))) return undefined;
    const raw = reply.raw;
    raw.setHeader('access-control-allow-origin', isAnyOrigin ? '*' : origin);
    if (!isAnyOrigin) raw.setHeader('vary', 'Origin');
    if (request.method === 'OPTIONS' && typeof request.headers['access-control-request-method'] === 'string') {
      raw.setHeader('access-control-allow-methods', ALLOWED_METHODS);
      raw.setHeader('access-control-allow-headers', ALLOWED_HEADERS);
      raw.setHeader('access-control-max-age', PREFLIGHT_MAX_AGE_S);
      return reply.code(204).send();
    }
    raw.setHeader('access-control-expose-headers', EXPOSED_HEADERS);
    return undefined;
  });
}

/** Parses --cors-origins: a comma-separated list of origins, or `*`; '' is off. */
export function parseCorsOrigins(text: string): string[] {
  return text.split(',').map((origin) => origin.trim()).filter((origin) => origin !== '');
}
