/**
 * POST /v1/producers: an id for an idempotent producer (Kafka's InitProducerId,
 * KIP-98). Batches sent to a partition with producerId, producerEpoch and baseSequence
 * are appended once: a retry of one the partition already holds is answered with its
 * original offsets on any leader, old or new.
 */
import type { FastifyInstance } from 'fastify';
import type { ProducerIds } from '../../broker/producer-ids.js';
import { errorResponses } from '../../api/schemas.js';
import { typed } from '../type-provider.js';

const producerIdentitySchema = {
  type: 'object',
  required: ['producerId', 'producerEpoch'],
  properties: {
    producerId: { type: 'integer', description: 'Unique in the cluster: no other producer ever gets it.' },
    producerEpoch: { type: 'integer', description: 'Always 0 for a new id.' },
  },
  example: { producerId: 4000, producerEpoch: 0 },
} as const;

export function producerRoutes(fastify: FastifyInstance, producerIds: ProducerIds): void {
  const app = typed(fastify);
  app.post('/v1/producers', {
    schema: {
      tags: ['records'],
      summary: 'Get a producer id (idempotent producer)',
      description: 'A new producer id with epoch 0, for exactly-once produce (Kafka\'s idempotent producer). Send `producerId`, `producerEpoch` and `baseSequence` in the body of a produce to one partition: sequences count that producer\'s records in the partition from 0, each batch starting where the last ended. A retried batch (same sequences) is answered with its original offsets and appended nothing, on any node; a gap answers 409 OUT_OF_ORDER_SEQUENCE. With --auth api-key it needs write on some topic.',
      response: { 200: producerIdentitySchema, ...errorResponses('UNAUTHENTICATED', 'FORBIDDEN', 'NOT_CONTROLLER') },
    },
  }, async () => producerIds.allocate());
}
