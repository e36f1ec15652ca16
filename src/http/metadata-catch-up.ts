/**
 * In a cluster, a request naming a topic this node does not know waits for this node's
 * metadata to catch up with the controller's before it is served (cluster/metadata-
 * barrier.ts), so "create through one node, then use through another" never meets a
 * TOPIC_NOT_FOUND for a topic that exists. A topic that truly does not exist costs one
 * barrier (shared with every request waiting at that moment) and then gets its 404.
 * Runs after authentication, so only a caller with a valid key can make it wait.
 */
import type { FastifyInstance } from 'fastify';
import type { Broker } from '../broker/broker.js';
import { isHandedOver } from './hand-over.js';
import { isInternalRoute } from './routes/internal.js';

export function installMetadataCatchUp(app: FastifyInstance, broker: Broker): void {
  app.addHook('preHandler', async (request) => {
    const topic = (request.params as { topic?: unknown } | undefined)?.topic;
    if (typeof topic !== 'string' || broker.topics.findTopic(topic) !== undefined) return;
    // The node that handed a request over has synced already; internal routes are the cluster's own.
    if (isHandedOver(request) || isInternalRoute(request.routeOptions.url)) return;
    await broker.admin.syncMetadata();
  });
}
