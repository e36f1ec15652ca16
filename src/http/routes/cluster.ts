import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import { clusterSchema, errorResponses } from '../../api/schemas.js';

export function clusterRoutes(app: FastifyInstance, broker: Broker, advertisedUrl: () => string): void {
  app.get('/v1/cluster', {
    schema: {
      tags: ['cluster'],
      summary: 'Cluster id, nodes and controller',
      description: 'A single node is its own controller.',
      response: {
        200: clusterSchema,
        ...errorResponses(),
      },
    },
  }, async () => ({
    clusterId: broker.clusterId,
    controller: broker.options.nodeId,
    nodes: [{ nodeId: broker.options.nodeId, url: advertisedUrl(), state: 'online' }],
  }));
}
