/**
 * Node-to-node routes under /internal/v1: the metadata quorum's messages, requests to
 * the active controller, replica fetches and other nodes' reads. They are not part of the public API
 * (hidden from the OpenAPI document, no API keys); when a cluster secret is set, a
 * request to any route registered here (decided on the matched route, not the raw URL)
 * without it in x-runnel-cluster-secret is refused before anything runs.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import type { ControllerOperation } from '../../cluster/controller-channel.js';
import { clusterSecretHeader } from '../../cluster/peer-client.js';
import type { RaftMessage } from '../../cluster/raft/types.js';
import { RunnelError } from '../../errors.js';
import { grantSchema } from '../../api/key-schemas.js';
import { registerRemoteReadRoute } from './internal-read.js';
import { registerReplicationRoutes } from './internal-replication.js';
import type { Broker } from '../../broker/broker.js';
import type { ForwardedProduce } from '../../broker/replication.js';

const nodeId = { type: 'integer', minimum: 0 } as const;
const epoch = { type: 'integer', minimum: 0 } as const;
const topicName = { type: 'string', minLength: 1, maxLength: 249, pattern: '^[a-zA-Z0-9._-]+$' } as const;
const keyId = { type: 'string', pattern: '^[A-Za-z0-9]{1,64}$' } as const;
const configs = { type: 'object', additionalProperties: { type: 'string' } } as const;
const strict = (required: string[], properties: Record<string, object>): object => ({ type: 'object', additionalProperties: false, required, properties });

const controllerBodies: Record<ControllerOperation, object> = {
  'heartbeat': strict(['nodeId', 'url', 'incarnationId'], {
    nodeId, url: { type: 'string', minLength: 1 }, incarnationId: { type: 'string', minLength: 1 }, rack: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
  }),
  'create-topic': strict(['name', 'partitions', 'replicationFactor', 'configs'], {
    name: topicName, partitions: { type: 'integer', minimum: 1 }, replicationFactor: { type: 'integer', minimum: 1 }, configs,
    topicId: { type: 'string', pattern: '^[A-Za-z0-9_-]{22}$' },
  }),
  'alter-topic': strict(['name'], { name: topicName, partitions: { type: 'integer', minimum: 1 }, configs }),
  'delete-topic': strict(['name'], { name: topicName }),
  'alter-partition': strict(['nodeId', 'topic', 'partition', 'leaderEpoch', 'partitionEpoch', 'isr'], {
    nodeId, topic: topicName, partition: { type: 'integer', minimum: 0 }, leaderEpoch: epoch, partitionEpoch: epoch,
    isr: { type: 'array', minItems: 1, items: nodeId },
  }),
  'controlled-shutdown': strict(['nodeId'], { nodeId }),
  'allocate-producer-ids': strict(['nodeId'], { nodeId }),
  // Never a secret: only its SHA-256 (no other field passes).
  'create-api-key': strict(['keyId', 'name', 'secretSha256', 'grants', 'createdAtMs'], {
    keyId, name: { type: 'string', minLength: 1, maxLength: 200 }, secretSha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    grants: { type: 'array', maxItems: 1000, items: grantSchema }, createdAtMs: { type: 'integer', minimum: 0 },
  }),
  'delete-api-key': strict(['keyId'], { keyId }),
  'metadata-barrier': strict([], {}),
};

/** True for a route registered under /internal, however the request spelled its path. */
export function isInternalRoute(routeUrl: string | undefined): boolean {
  return routeUrl !== undefined && (routeUrl === '/internal' || routeUrl.startsWith('/internal/'));
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

export function internalRoutes(app: FastifyInstance, broker: Broker, cluster: ClusterNode, clusterSecret: string | undefined): void {
  const secret = clusterSecret === undefined || clusterSecret === '' ? undefined : digest(clusterSecret);
  // Fix: the check looked at request.url, the raw request target, while the router
  // matches a normalised path: an absolute-form target (POST http://host/internal/...)
  // or a percent-encoded letter (/%69nternal/...) reached these routes with no secret.
  // It now decides on the route that matched (as auth.ts does), whatever the spelling,
  // and compares equal-length digests in constant time (test/cluster/cluster-secret.test.ts).
  app.addHook('onRequest', async (request) => {
    if (secret === undefined || !isInternalRoute(request.routeOptions.url)) return;
    const presented = request.headers[clusterSecretHeader];
    if (typeof presented !== 'string' || !timingSafeEqual(digest(presented), secret)) {
      throw new RunnelError('UNAUTHENTICATED', `internal routes need the cluster secret (header ${clusterSecretHeader})`);
    }
  });

  app.post('/internal/v1/raft', {
    schema: {
      hide: true,
      body: { type: 'object', required: ['messages'], properties: { messages: { type: 'array', maxItems: 1000, items: { type: 'object', required: ['type', 'from', 'to', 'epoch'] } } } },
    },
  }, async (request, reply) => {
    cluster.receiveRaft((request.body as { messages: RaftMessage[] }).messages);
    reply.code(204);
  });

  // One route per controller operation, each with its body's schema: the controller
  // trusts what passes here, and a record it cannot apply would stop every node.
  for (const [operation, body] of Object.entries(controllerBodies) as Array<[ControllerOperation, object]>) {
    app.post(`/internal/v1/controller/${operation}`, { schema: { hide: true, body } },
      async (request) => cluster.handleControllerRequest(operation, request.body));
  }

  // Records of a topic-level produce that another node took, for partitions led here.
  app.post('/internal/v1/produce', {
    schema: {
      hide: true,
      body: {
        type: 'object',
        required: ['topic', 'records', 'keyFormat', 'valueFormat', 'acks'],
        properties: {
          topic: { type: 'string' },
          records: { type: 'array', minItems: 1, items: { type: 'object', required: ['partition'] } },
          keyFormat: { type: 'string', enum: ['json', 'string', 'binary'] },
          valueFormat: { type: 'string', enum: ['json', 'string', 'binary'] },
          acks: { type: 'string', enum: ['none', 'leader', 'all'] },
          idempotencyKey: { type: 'string', minLength: 1, maxLength: 255 },
          partition: { type: 'integer', minimum: 0 },
          producer: {
            type: 'object',
            required: ['producerId', 'producerEpoch', 'baseSequence'],
            properties: { producerId: { type: 'integer', minimum: 0 }, producerEpoch: { type: 'integer', minimum: 0 }, baseSequence: { type: 'integer', minimum: 0 } },
          },
        },
      },
    },
  }, async (request) => {
    const body = request.body as ForwardedProduce;
    const result = await broker.producer.produce({ ...body, isForwarded: true });
    request.server.runnelMetrics.produced(body.topic, result.offsets.length, result.appendedBytes);
    return { offsets: result.offsets };
  });

  registerReplicationRoutes(app, cluster.replicas);
  registerRemoteReadRoute(app, broker);
}
