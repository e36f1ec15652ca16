/**
 * What the OpenAPI document says of each operation beyond its route schema: an
 * operationId that reads well as a generated client's method name, and which routes
 * need no API key (health, metrics unless --metrics-require-key). Every public route has
 * an entry here (a test checks the document has an operationId per operation).
 */

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
  'GET /v1/keys': 'listKeys',
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

/** The security schemes of the document: a key as a bearer token, or in X-API-Key. */
export const securitySchemes = {
  bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key (with --auth api-key): `Authorization: Bearer <key>`.' },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key (with --auth api-key) in its own header.' },
} as const;

/** @fastify/swagger's transform: the route's schema with its operationId and, for public routes, no security. */
export function describeOperation({ schema, url, route }: { schema: object | undefined; url: string; route: { method: string | string[] } }): { schema: object; url: string } {
  const methods = Array.isArray(route.method) ? route.method : [route.method];
  const method = methods.find((each) => each !== 'HEAD') ?? methods[0];
  const operationId = OPERATION_IDS[`${method} ${url}`];
  return {
    url,
    schema: {
      ...schema,
      ...(operationId === undefined ? {} : { operationId }),
      ...(PUBLIC_ROUTES.has(url) ? { security: [] } : {}),
    },
  };
}
