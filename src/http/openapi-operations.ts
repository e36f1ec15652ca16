/**
 * What the OpenAPI document says of each operation beyond its route schema: an
 * operationId that reads well as a generated client's method name; which routes need
 * no API key (health) or take one optionally (metrics, unless --metrics-require-key);
 * the error responses with an example per code (openapi-errors.ts); NDJSON bodies as
 * lines (openapi-media.ts). Every public route has an entry here (a test checks the
 * document has an operationId per operation).
 */
import { documentedResponses } from './openapi-errors.js';
import { documentedBody } from './openapi-media.js';

const OPERATION_IDS: Record<string, string> = {
  'GET /v1/topics': 'listTopics',
  'POST /v1/topics': 'createTopic',
  'GET /v1/topics/:topic': 'describeTopic',
  'PATCH /v1/topics/:topic': 'alterTopic',
  'DELETE /v1/topics/:topic': 'deleteTopic',
  'POST /v1/topics/:topic/records': 'produce',
  'POST /v1/topics/:topic/partitions/:partition/records': 'produceToPartition',
  'GET /v1/topics/:topic/partitions/:partition/records': 'fetchRecords',
  'GET /v1/topics/:topic/partitions/:partition/offsets': 'partitionOffsets',
  'GET /v1/topics/:topic/keys/:key': 'readRecordByKey',
  'GET /v1/groups': 'listGroups',
  'GET /v1/groups/:group': 'describeGroup',
  'DELETE /v1/groups/:group': 'deleteGroup',
  'GET /v1/groups/:group/offsets': 'groupOffsets',
  'POST /v1/groups/:group/offsets': 'commitOffsets',
  'POST /v1/groups/:group/offsets/reset': 'resetOffsets',
  'POST /v1/groups/:group/members': 'joinGroup',
  'POST /v1/groups/:group/members/:member/heartbeat': 'heartbeat',
  'DELETE /v1/groups/:group/members/:member': 'leaveGroup',
  'GET /v1/groups/:group/members/:member/records': 'pollRecords',
  'GET /v1/share-groups': 'listShareGroups',
  'GET /v1/share-groups/:group': 'describeShareGroup',
  'PATCH /v1/share-groups/:group': 'alterShareGroupConfigs',
  'DELETE /v1/share-groups/:group': 'deleteShareGroup',
  'GET /v1/share-groups/:group/records': 'acquireRecords',
  'POST /v1/share-groups/:group/acknowledgements': 'acknowledgeRecords',
  'POST /v1/share-groups/:group/reset': 'resetShareGroup',
  'GET /v1/keys': 'listKeys',
  'GET /v1/keys/self': 'getOwnKey',
  'POST /v1/keys': 'createKey',
  'DELETE /v1/keys/:keyId': 'deleteKey',
  'POST /v1/producers': 'initProducerId',
  'GET /v1/cluster': 'describeCluster',
  'GET /health/live': 'liveness',
  'GET /health/ready': 'readiness',
  'GET /metrics': 'metrics',
};

/** Routes anyone may call, with --auth api-key too. */
const PUBLIC_ROUTES = new Set(['/health/live', '/health/ready']);

/** Routes that take a key and then check no grant: any valid key may call them (lists show what the key may see). */
const KEY_ONLY_ROUTES = new Set(['GET /v1/topics', 'GET /v1/groups', 'GET /v1/share-groups', 'GET /v1/cluster', 'GET /metrics']);

/** The security schemes of the document: a key as a bearer token, or in X-API-Key. */
export const securitySchemes = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (with --auth api-key): `Authorization: Bearer <key>`.' },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (with --auth api-key) in its own header.' },
} as const;

/** Every operation needs a key in one of the two forms (when the node runs --auth api-key). */
const keyRequired = [{ bearerAuth: [] }, { apiKeyHeader: [] }];

/** The security of an operation, when not the document's default (keyRequired). */
function securityOf(url: string): object[] | undefined {
  if (PUBLIC_ROUTES.has(url)) return [];
  // Open unless the node runs --metrics-require-key: no key, or either form.
  if (url === '/metrics') return [{}, ...keyRequired];
  return undefined;
}

interface RouteSchema {
  body?: unknown;
  response?: Record<string, unknown>;
  [key: string]: unknown;
}

/** @fastify/swagger's transform: the route's schema as the document shows it (see the top of this file). */
export function describeOperation({ schema, url, route }: { schema: object | undefined; url: string; route: { method: string | string[] } }): { schema: object; url: string } {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const method = methods.find((each) => each !== 'HEAD') ?? methods[0];
  const operationId = OPERATION_IDS[`${method} ${url}`];
  const { body, response, ...rest } = (schema ?? {}) as RouteSchema;
  const security = securityOf(url);
  return {
    url,
    schema: {
      ...rest,
      ...(operationId === undefined ? {} : { operationId }),
      ...(security === undefined ? {} : { security }),
      ...(body === undefined ? {} : { body: documentedBody(operationId, body) }),
      response: documentedResponses(response, {
        isProbe: url.startsWith('/health/'),
        needsKey: !PUBLIC_ROUTES.has(url),
        checksGrants: !PUBLIC_ROUTES.has(url) && !KEY_ONLY_ROUTES.has(`${method} ${url}`),
        hasBody: body !== undefined,
      }),
    },
  };
}
