import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { ClusterNode } from '../../cluster/cluster-node.js';

const healthSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    reason: { type: 'string' },
    recovery: {
      type: 'object',
      description: 'What start-up recovery did.',
      properties: {
        partitions: { type: 'integer' },
        cleanPartitions: { type: 'integer', description: 'Partitions that needed no scan (clean shutdown).' },
        recoveredSegments: { type: 'integer' },
        truncatedBytes: { type: 'integer' },
        durationMs: { type: 'integer' },
      },
    },
  },
} as const;

export function healthRoutes(app: FastifyInstance, broker: Broker, isStopping: () => boolean, cluster?: ClusterNode): void {
  app.get('/health/live', {
    schema: {
      tags: ['health'],
      summary: 'Liveness',
      description: 'The process is up and serving HTTP.',
      response: { 200: healthSchema },
    },
  }, async () => ({ status: 'ok' }));

  app.get('/health/ready', {
    schema: {
      tags: ['health'],
      summary: 'Readiness',
      description: 'Storage recovered, metadata open and the node accepting writes; 503 with the reason while stopping.',
      response: { 200: healthSchema, 503: healthSchema },
    },
  }, async (_request, reply) => {
    if (isStopping() || !broker.isOpen) {
      reply.code(503);
      return { status: 'unavailable', reason: 'the node is shutting down' };
    }
    if (!broker.isReady) {
      reply.code(503);
      return { status: 'unavailable', reason: 'recovering storage' };
    }
    if (cluster !== undefined && !cluster.isCaughtUp) {
      reply.code(503);
      return { status: 'unavailable', reason: 'catching up with the cluster metadata log (no controller elected yet, or this node is behind)' };
    }
    return { status: 'ok', recovery: broker.recovery };
  });
}
