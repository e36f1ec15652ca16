/**
 * Node-to-node routes under /internal/v1: the metadata quorum's messages, requests to
 * the active controller, and replica fetches. They are not part of the public API
 * (hidden from the OpenAPI document, no API keys); when a cluster secret is set, a
 * request without it in x-runnel-cluster-secret is refused before anything runs.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import type { ControllerOperation } from '../../cluster/controller-channel.js';
import { clusterSecretHeader } from '../../cluster/peer-client.js';
import type { RaftMessage } from '../../cluster/raft/types.js';
import { RunnelError } from '../../errors.js';
import { registerReplicationRoutes } from './internal-replication.js';
import type { Broker } from '../../broker/broker.js';
import type { ForwardedProduce } from '../../broker/replication.js';

const operations: readonly ControllerOperation[] = ['heartbeat', 'create-topic', 'alter-topic', 'delete-topic', 'alter-partition', 'controlled-shutdown'];

export function internalRoutes(app: FastifyInstance, broker: Broker, cluster: ClusterNode, clusterSecret: string | undefined): void {
  const secret = clusterSecret === undefined || clusterSecret === '' ? undefined : Buffer.from(clusterSecret);
  app.addHook('onRequest', async (request) => {
    if (secret === undefined || !request.url.startsWith('/internal/')) return;
    const presented = request.headers[clusterSecretHeader];
    const given = Buffer.from(typeof presented === 'string' ? presented : '');
    if (given.length !== secret.length || !timingSafeEqual(given, secret)) {
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

  app.post('/internal/v1/controller/:operation', {
    schema: {
      hide: true,
      params: { type: 'object', required: ['operation'], properties: { operation: { type: 'string', enum: [...operations] } } },
      body: { type: 'object' },
    },
  }, async (request) => {
    const { operation } = request.params as { operation: ControllerOperation };
    return cluster.handleControllerRequest(operation, request.body);
  });

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
}
