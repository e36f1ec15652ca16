/**
 * POST /internal/v1/replication/fetch: followers pull record batches from this node
 * (the leader side of Kafka's replica fetch). Node-to-node only: hidden from the
 * OpenAPI document; the cluster-secret check is the app's. The answer is binary (a
 * length-prefixed JSON header, then the raw batches; cluster/replication/wire.ts), sent
 * as one buffer: a stream of the chunks failed loudly (ERR_STREAM_PREMATURE_CLOSE,
 * logged as a failed request) whenever a follower went away mid-answer, and one copy
 * of at most fetchMaxBytes costs little next to the write.
 */
import type { FastifyInstance } from 'fastify';
import type { ReplicaManager } from '../../cluster/replication/replica-manager.js';
import { encodeFetchResponse, REPLICA_FETCH_PATH, replicaFetchRequestSchema } from '../../cluster/replication/wire.js';
import { typed } from '../type-provider.js';

export function registerReplicationRoutes(fastify: FastifyInstance, manager: ReplicaManager): void {
  const app = typed(fastify);
  app.post(REPLICA_FETCH_PATH, { schema: { hide: true, body: replicaFetchRequestSchema } }, async (request, reply) => {
    // The follower going away (its loop restarted, it stopped) ends the long-poll early.
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    reply.raw.once('close', onClose);
    let answer: Awaited<ReturnType<ReplicaManager['handleFetch']>>;
    try {
      answer = await manager.handleFetch(request.body, controller.signal);
    } finally {
      reply.raw.off('close', onClose);
    }
    const { chunks, byteLength } = encodeFetchResponse(answer.header, answer.body);
    reply.type('application/octet-stream');
    return reply.send(Buffer.concat(chunks, byteLength));
  });
}
