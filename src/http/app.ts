/**
 * The HTTP face of one node: a Fastify app whose routes validate with JSON schemas,
 * call the broker and shape the reply. The same schemas generate the OpenAPI
 * document served at /openapi.json and browsed at /docs (assets bundled: works offline).
 */
import { randomBytes } from 'node:crypto';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import type { Broker } from '../broker/broker.js';
import type { InvariantError } from '../util/assert.js';
import { packageVersion } from '../util/package-info.js';
import { installErrorHandler } from './error-handler.js';
import { answerClientError, refuseWithoutHost, serveUnknownExpectations } from './client-errors.js';
import { installBodyParsers } from './ndjson.js';
import { lazySerializerFactory, lazyValidator } from './lazy-compilers.js';
import { clusterRoutes } from './routes/cluster.js';
import { groupRoutes } from './routes/groups.js';
import { shareGroupRoutes } from './routes/share-groups.js';
import { healthRoutes } from './routes/health.js';
import { recordRoutes } from './routes/records.js';
import { recordKeyRoutes } from './routes/record-keys.js';
import { topicRoutes } from './routes/topics.js';
import { installAuth } from './auth.js';
import { installConnectionDraining } from './connections.js';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import { installMetrics, type Metrics } from './metrics.js';
import { installGuardRails, type GuardRailOptions } from './guard-rails.js';
import { producerRoutes } from './routes/producers.js';
import { keyRoutes } from './routes/keys.js';
import { errorBodySchema, topicDescriptionSchema } from '../api/schemas.js';
import { StreamRegistry } from './stream.js';
import type { ClusterNode } from '../cluster/cluster-node.js';
import { internalRoutes } from './routes/internal.js';
import { HandOver } from './hand-over.js';
import { installCors } from './cors.js';
import { installMetadataCatchUp } from './metadata-catch-up.js';
import { CONSOLE_PREFIX, consoleRoutes } from './console-route.js';
import { describeOperation, securitySchemes } from './openapi-operations.js';

/** The docs page's top-bar mark: the product's name, no third-party logo. */
const DOCS_LOGO = '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="32" viewBox="0 0 120 32"><text x="0" y="24" font-family="sans-serif" font-size="22" font-weight="700" fill="#ffffff">Runnel</text></svg>';

export interface AppOptions {
  broker: Broker;
  bodyLimitBytes: number;
  logger?: FastifyServerOptions['logger'];
  onInvariantBroken?: (error: InvariantError) => void;
  /** API keys required (--auth api-key); off by default. */
  isAuthEnabled?: boolean;
  /** /metrics needs a key too (when auth is on). */
  isMetricsKeyRequired?: boolean;
  /** Limits on in-flight work and event-loop delay (defaults: generous). */
  guardRails?: Partial<GuardRailOptions>;
  /** Most open connections (0: no limit). */
  connectionsMax?: number;
  /** Time to receive a whole request, headers and body, before 408 (default limits.requestBodyTimeoutMsDefault). */
  requestBodyTimeoutMs?: number;
  /** Serve HTTPS with this certificate and private key (PEM). */
  tls?: { cert: Buffer; key: Buffer };
  /** This node's part in a cluster (--peers); absent on a single node. */
  cluster?: ClusterNode;
  /** Node-to-node requests must carry it (x-runnel-cluster-secret) when set. */
  clusterSecret?: string;
  /** This node's rack (--rack), as GET /v1/cluster lists it on a single node (a cluster's nodes register theirs). */
  rack?: string;
  /** Origins whose pages may call the API (--cors-origins: exact origins or '*'); none: CORS off. */
  corsOrigins?: readonly string[];
  /** Serve the web console at /console (--console; on unless false). */
  isConsoleEnabled?: boolean;
}

export interface RunnelApp {
  app: FastifyInstance;
  metrics: Metrics;
  streams: StreamRegistry;
  /** True once shutdown has begun: readiness turns 503. */
  isStopping: () => boolean;
}

export async function buildApp(options: AppOptions): Promise<RunnelApp> {
  const app = createFastify(options);
  const streams = new StreamRegistry();
  const lifecycle = installLifecycle(app, options.broker, streams);
  await installOpenApi(app);
  const metrics = await installRequestPipeline(app, options, lifecycle, streams);
  installRoutes(app, options, lifecycle, streams);
  return { app, metrics, streams, isStopping: lifecycle.isStopping };
}

/** Set once shutdown begins (Fastify's preClose). */
interface Lifecycle {
  isStopping: () => boolean;
  /** When a request last failed for want of file descriptors (readiness reports it). */
  outOfFiles: { lastAtMs: number | undefined };
}

function createFastify(options: AppOptions): FastifyInstance {
  // Node's own Host check answers a bare 400; refuseWithoutHost answers in our shape.
  const server = { ...serverTimeouts(options.requestBodyTimeoutMs ?? limits.requestBodyTimeoutMsDefault), requireHostHeader: false };
  const app = Fastify({
    ...(options.tls === undefined ? { http: server } : { https: { ...options.tls, ...server } }),
    requestTimeout: server.requestTimeout,
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimitBytes,
    // Per-request lines are logged at debug by our onResponse hook instead.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: 'x-request-id',
    // Unique across restarts (a random boot id) and cheap (a counter), unless the caller sent one.
    genReqId: ((bootId: string, counter: { next: number }) => () => `${bootId}-${(counter.next++).toString(36)}`)(randomBytes(4).toString('hex'), { next: 1 }),
    // Requests arriving while the node stops get the catalogue's NOT_READY (the hook
    // in installRequestPipeline), not Fastify's own 503 body.
    return503OnClosing: false,
    // Topic names may be 249 characters (Fastify cuts path parameters at 100 by default).
    routerOptions: { maxParamLength: 1024 },
    // Fastify answers unparseable URLs itself; keep the error shape and codes ours.
    frameworkErrors: (error, request, reply) => {
      const isTopicPath = request.url.startsWith('/v1/topics/');
      void (reply as FastifyReply).code(400).send({
        error: {
          code: isTopicPath ? 'INVALID_TOPIC_NAME' : 'INVALID_REQUEST',
          message: `the request path cannot be read (${error.code}): ${error.message}`,
        },
      });
    },
    // Requests Node's parser cannot read get our error shape too (not Fastify's body).
    clientErrorHandler: answerClientError,
    forceCloseConnections: 'idle',
    ajv: { customOptions: {} },
    schemaController: { compilersFactory: { buildSerializer: lazySerializerFactory() } },
    // Bodies are parsed with plain JSON.parse: Runnel never merges parsed objects into
    // others (values are re-serialised, headers read as own keys), so the
    // __proto__/constructor scans of every body would only cost time on the hot path.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
  }) as unknown as FastifyInstance;
  // Bodies are validated strictly (a string is not a number); query strings, params
  // and headers are text on the wire and are coerced.
  const bodyAjv = new Ajv({ strict: false, coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false });
  const textAjv = new Ajv({ strict: false, coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false });
  app.setValidatorCompiler(({ schema, httpPart }) => lazyValidator(() => (httpPart === 'body' ? bodyAjv : textAjv).compile(schema)));
  serveUnknownExpectations(app.server);
  return app;
}

/**
 * Node's own bound on receiving a request (server.requestTimeout): a request whose
 * headers and body have not all arrived in time gets 408 and its connection closes, so
 * slow uploads cannot hold in-flight slots. Node checks open requests every
 * connectionsCheckingInterval (30 s by default: far too coarse for the bound), and
 * wants the headers' own timeout no longer than the whole request's.
 */
function serverTimeouts(requestTimeout: number): { requestTimeout: number; headersTimeout: number; connectionsCheckingInterval: number } {
  return {
    requestTimeout,
    headersTimeout: Math.min(60_000, requestTimeout),
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(requestTimeout / 4))),
  };
}

/** Connection draining, and on close: streams end and long-polls and group polls answer at once. */
function installLifecycle(app: FastifyInstance, broker: Broker, streams: StreamRegistry): Lifecycle {
  installConnectionDraining(app);
  let isStopping = false;
  app.addHook('preClose', async () => {
    isStopping = true;
    streams.abortAll();
    for (const topic of broker.topics.list()) for (const state of topic.partitions) state.notifier.notify();
    broker.groups.close();
  });
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug({ method: request.method, url: request.url, statusCode: reply.statusCode, ms: reply.elapsedTime }, 'request completed');
  });
  return { isStopping: () => isStopping, outOfFiles: { lastAtMs: undefined } };
}

/** The OpenAPI document (from the route schemas) and its browser at /docs. */
async function installOpenApi(app: FastifyInstance): Promise<void> {
  app.addSchema(errorBodySchema);
  app.addSchema(topicDescriptionSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Runnel API',
        version: packageVersion,
        license: { name: 'Apache-2.0', url: 'https://www.apache.org/licenses/LICENSE-2.0' },
        description: 'A Kafka-style distributed commit log with an HTTP/REST interface. Topics are split into partitions; every record gets an offset; consumers read from any offset. Errors are `{"error":{"code","message"}}` with stable codes.',
      },
      tags: [
        { name: 'topics', description: 'Create, describe, alter and delete topics.' },
        { name: 'records', description: 'Produce, fetch and stream records; look up offsets.' },
        { name: 'groups', description: 'Consumer groups: join, heartbeat, poll, commit offsets, lag.' },
        { name: 'share-groups', description: 'Share groups (queues, KIP-932): acquire records under a lock, acknowledge each.' },
        { name: 'cluster', description: 'Nodes and controller.' },
        { name: 'keys', description: 'API keys and their grants (with --auth api-key).' },
        { name: 'health', description: 'Liveness and readiness probes.' },
      ],
      servers: [{ url: '/', description: 'The node that serves this document (any node of a cluster answers every request).' }],
      components: { securitySchemes },
      // With --auth api-key every route but health needs a key, in either form; without it the key is ignored.
      security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
    },
    transform: describeOperation,
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, index) => (typeof json.$id === 'string' ? json.$id : `def-${index}`) },
  });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    theme: { title: 'Runnel API' },
    logo: { type: 'image/svg+xml', content: Buffer.from(DOCS_LOGO), href: '/docs', target: '_self' },
  });
}

/** What every request passes before its route: guard rails, request id, readiness, auth, metrics, errors, parsers. */
async function installRequestPipeline(app: FastifyInstance, options: AppOptions, lifecycle: Lifecycle, streams: StreamRegistry): Promise<Metrics> {
  await installGuardRails(app, {
    inFlightRequestsMax: options.guardRails?.inFlightRequestsMax ?? 10_000,
    inFlightRequestsPerConnectionMax: options.guardRails?.inFlightRequestsPerConnectionMax ?? 1_000,
    eventLoopDelayMsMax: options.guardRails?.eventLoopDelayMsMax ?? 0,
  });
  if ((options.connectionsMax ?? 0) > 0) app.server.maxConnections = options.connectionsMax!;
  // Before readiness and keys: a browser's preflight carries neither.
  installCors(app, options.corsOrigins ?? []);
  // Every response says which request it answers (the id logs carry too).
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id);
    refuseWithoutHost(request, reply);
  });
  // Until storage is recovered, and once stopping has begun, only health, metrics, the
  // docs and the console's page answer.
  app.addHook('onRequest', async (request) => {
    if (options.broker.isReady && !lifecycle.isStopping()) return;
    const url = request.routeOptions.url ?? '';
    if (url.startsWith('/health/') || url === '/metrics' || url.startsWith('/docs') || url === '/openapi.json' || url.startsWith(CONSOLE_PREFIX)) return;
    throw new RunnelError('NOT_READY', lifecycle.isStopping() || !options.broker.isOpen
      ? 'the node is shutting down; retry on another node or after it restarts'
      : 'the node is recovering its storage; retry shortly (GET /health/ready says when it is ready)');
  });
  installAuth(app, options.broker, { keys: options.isAuthEnabled === true ? options.broker.keys : undefined, isMetricsKeyRequired: options.isMetricsKeyRequired === true });
  const metrics = installMetrics(app, options.broker, streams, options.cluster);
  installErrorHandler(app, {
    onInvariantBroken: options.onInvariantBroken ?? ((error) => { throw error; }),
    onOutOfFiles: () => { lifecycle.outOfFiles.lastAtMs = Date.now(); },
  });
  installBodyParsers(app);
  return metrics;
}

function installRoutes(app: FastifyInstance, options: AppOptions, lifecycle: Lifecycle, streams: StreamRegistry): void {
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  if (options.cluster !== undefined) installMetadataCatchUp(app, options.broker);
  topicRoutes(app, options.broker);
  const handOver = options.cluster === undefined ? undefined : handOverOf(app, options.cluster);
  recordRoutes(app, options.broker, streams, handOver);
  recordKeyRoutes(app, options.broker, handOver);
  groupRoutes(app, options.broker, handOver);
  shareGroupRoutes(app, options.broker, handOver);
  keyRoutes(app, options.broker.keys);
  producerRoutes(app, options.broker.producerIds);
  healthRoutes(app, options.broker, { isStopping: lifecycle.isStopping, outOfFiles: lifecycle.outOfFiles }, options.cluster);
  clusterRoutes(app, options.broker, () => advertisedUrl(app), options.cluster, options.rack);
  if (options.isConsoleEnabled !== false) consoleRoutes(app);
  if (options.cluster !== undefined) internalRoutes(app, options.broker, options.cluster, options.clusterSecret);
}

/** Requests this node cannot serve go to one that can (hand-over.ts), over peer URLs. */
function handOverOf(app: FastifyInstance, cluster: ClusterNode): HandOver {
  const handOver = new HandOver(cluster.nodeId, (nodeId) => cluster.peers.url(nodeId));
  // At preClose, with the streams: a stream or long-poll handed to another node ends now,
  // so closing the server does not wait for it.
  app.addHook('preClose', async () => handOver.close());
  return handOver;
}

function advertisedUrl(app: FastifyInstance): string {
  const address = app.server.address();
  if (address === null || typeof address === 'string') return '';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${app.initialConfig.https ? 'https' : 'http'}://${host}:${address.port}`;
}
