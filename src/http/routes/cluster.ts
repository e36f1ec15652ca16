import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import { errorResponses } from '../../api/schemas.js';

export function clusterRoutes(app: FastifyInstance, broker: Broker, advertisedUrl: () => string): void {
  app.get('/v1/cluster', {
    schema: {
      tags: ['cluster'],
      summary: 'Cluster id, nodes and controller',
      description: 'A single node is its own controller.',
      response: {
        200: {
          type: 'object',
          required: ['clusterId', 'controller', 'nodes'],
          properties: {
            clusterId: { type: 'string' },
            controller: { type: 'integer', description: 'Node id of the active controller.' },
            nodes: {
              type: 'array',
              items: {
                type: 'object',
                properties: { nodeId: { type: 'integer' }, url: { type: 'string' }, state: { type: 'string', enum: ['online', 'fenced'] } },
              },
            },
          },
          example: { clusterId: 'q2KfX0cERmWGfZ1mRL6v2A', controller: 1, nodes: [{ nodeId: 1, url: 'http://127.0.0.1:8080', state: 'online' }] },
        },
        ...errorResponses(),
      },
    },
  }, async () => ({
    clusterId: broker.clusterId,
    controller: broker.options.nodeId,
    nodes: [{ nodeId: broker.options.nodeId, url: advertisedUrl(), state: 'online' }],
  }));
}
