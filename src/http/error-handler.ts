/**
 * One place where failures become HTTP answers: `{"error":{"code","message"}}` with
 * the catalogue's status. Fastify's own errors (validation, body parsing, limits)
 * are mapped onto catalogue codes so clients see one vocabulary.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { errorCatalogue, RunnelError, type ErrorCode } from '../errors.js';
import { limits } from '../limits.js';
import { InvariantError } from '../util/assert.js';
import { isOutOfFiles } from '../util/open-files.js';
import { isDiskFullError } from '../util/disk-full.js';

const fastifyCodes: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'REQUEST_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'INVALID_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
};

const byStatus: Record<number, ErrorCode> = {
  400: 'INVALID_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'REQUEST_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

export interface ErrorHandlerOptions {
  /** Called after answering 500 for a broken invariant: the process must stop. */
  onInvariantBroken: (error: InvariantError) => void;
  /** Called when a request failed for want of file descriptors (readiness reports it). */
  onOutOfFiles?: () => void;
}

export function installErrorHandler(app: FastifyInstance, options: ErrorHandlerOptions): void {
  app.setErrorHandler((error: FastifyError | RunnelError | InvariantError | Error, request, reply) => {
    if (isOutOfFiles(error) || (error instanceof RunnelError && error.code === 'TOO_MANY_OPEN_FILES')) {
      options.onOutOfFiles?.();
      if (!(error instanceof RunnelError)) {
        request.log.warn({ err: error }, 'out of file descriptors');
        return reply.code(503).header('retry-after', String(limits.retryAfterSeconds)).send({ error: { code: 'TOO_MANY_OPEN_FILES', message: `the node is out of file descriptors (${error.message}); nothing was changed, retry later` } });
      }
    }
    if (error instanceof RunnelError) {
      if (error.status >= 500) request.log.warn({ err: error }, error.message);
      // Every 503 says when to try again (a leader election, a node starting: about a second).
      if (error.status === 503) void reply.header('retry-after', String(limits.retryAfterSeconds));
      return reply.code(error.status).send({ error: { code: error.code, message: error.message, ...error.details } });
    }
    if (error instanceof InvariantError) {
      request.log.fatal({ err: error }, 'invariant broken; stopping');
      void reply.code(500).send({ error: { code: 'INTERNAL_ERROR', message: 'internal invariant broken; the node is stopping' } });
      options.onInvariantBroken(error);
      return reply;
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.validation !== undefined) {
      return reply.code(400).send({ error: { code: 'INVALID_REQUEST', message: `${fastifyError.validationContext ?? 'request'}${fastifyError.message.replace(/^(body|querystring|params|headers)/, '')}` } });
    }
    if (error instanceof SyntaxError || (fastifyError.statusCode === 400 && /JSON/i.test(fastifyError.message))) {
      return reply.code(400).send({ error: { code: 'INVALID_JSON', message: `the body is not valid JSON: ${error.message}` } });
    }
    const code = (fastifyError.code !== undefined ? fastifyCodes[fastifyError.code] : undefined) ??
      (fastifyError.statusCode !== undefined ? byStatus[fastifyError.statusCode] : undefined);
    if (code !== undefined) {
      return reply.code(errorCatalogue[code].status).send({ error: { code, message: error.message } });
    }
    if (isDiskFullError(error)) {
      // A write met a full disk (ENOSPC, EDQUOT, SQLITE_FULL) outside produce, which
      // answers DISK_FULL itself: a commit, a topic change. Nothing is wrong with the node.
      request.log.warn({ err: error }, 'a write failed: the disk is full');
      return reply.code(errorCatalogue.DISK_FULL.status).send({ error: { code: 'DISK_FULL', message: `the disk is full: ${error.message}; retry once space is freed` } });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: { code: 'INTERNAL_ERROR', message: error.message } });
  });

  // Fastify answers a known path asked with another method as 404. The catalogue (and
  // RFC 9110) wants 405 with an Allow header, so routes added from here on are
  // remembered with their methods and the not-found handler tells the two cases apart.
  const routesByPattern = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  app.addHook('onRoute', (route) => {
    let entry = routesByPattern.get(route.url);
    if (entry === undefined) {
      const pattern = new RegExp('^' + route.url.split('/').map((part) =>
        (part.startsWith(':') ? '[^/]+' : part === '*' ? '.*' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/') + '$');
      routesByPattern.set(route.url, (entry = { pattern, methods: new Set() }));
    }
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) entry.methods.add(method);
    if (entry.methods.has('GET')) entry.methods.add('HEAD');
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0];
    const allowed = new Set<string>();
    for (const { pattern, methods } of routesByPattern.values()) {
      if (pattern.test(path)) for (const method of methods) allowed.add(method);
    }
    if (allowed.size > 0 && !allowed.has(request.method)) {
      const allow = [...allowed].sort().join(', ');
      void reply.code(405).header('allow', allow).send({ error: { code: 'METHOD_NOT_ALLOWED', message: `${request.method} is not allowed on ${path}; allowed: ${allow}` } });
      return;
    }
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${path}` } });
  });
}
