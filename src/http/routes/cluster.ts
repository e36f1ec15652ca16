import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import { clusterSchema, errorResponses } from '../../api/schemas.js';

export function clusterRoutes(app: FastifyInstance, broker: Broker, advertisedUrl: () => string, cluster?: ClusterNode, rack?: string): void {
  app.get('/v1/cluster', {
    schema: {
      tags: ['cluster'],
      summary: 'Cluster id, nodes and controller',
      description: 'Every node, its rack, its state, the active controller and the metadata log position. A single node is its own controller.',
      response: {
        200: clusterSchema,
        ...errorResponses(),
      },
    },
  }, async () => cluster !== undefined ? cluster.status() : ({
    clusterId: broker.clusterId,
    controller: broker.options.nodeId,
    nodes: [{ nodeId: broker.options.nodeId, url: advertisedUrl(), rack: rack ?? null, state: 'online' }],
  }));
}
