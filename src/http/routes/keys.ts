/**
 * API key management: make (the secret is shown once), list, delete. Needs the
 * cluster admin grant when authentication is on; any key may read its own grants. In a cluster the keys are in the
 * metadata log: one made or deleted on any node is known to every node.
 */
import type { FastifyInstance } from 'fastify';
import type { KeyManager } from '../../broker/access-control.js';
import { createdKeySchema, createKeyBodySchema, keyListSchema, ownKeySchema } from '../../api/key-schemas.js';
import { errorResponses } from '../../api/schemas.js';
import { RunnelError } from '../../errors.js';
import { typed } from '../type-provider.js';

export function keyRoutes(fastify: FastifyInstance, keys: KeyManager): void {
  const app = typed(fastify);
  app.get('/v1/keys', {
    schema: {
      tags: ['keys'],
      summary: 'List API keys',
      description: 'Every key with its grants (never its secret).',
      response: { 200: keyListSchema, ...errorResponses('UNAUTHENTICATED', 'FORBIDDEN') },
    },
  }, async () => ({ keys: keys.list() }));

  app.get('/v1/keys/self', {
    schema: {
      tags: ['keys'],
      summary: 'The key of this request',
      description: 'The id, name and grants of the key this request presents (never its secret), so a client can tell what it may do. Any valid key may ask; the node\'s admin key (--admin-key) has id `admin` and every grant. With authentication off no key is in use: 404 KEY_NOT_FOUND.',
      response: { 200: ownKeySchema, ...errorResponses('KEY_NOT_FOUND', 'UNAUTHENTICATED') },
    },
  }, async (request) => {
    const { principal } = request;
    if (principal === undefined) throw new RunnelError('KEY_NOT_FOUND', 'authentication is off on this node (--auth none): requests present no key');
    return { keyId: principal.keyId, name: principal.name, grants: principal.grants };
  });

  app.post('/v1/keys', {
    schema: {
      tags: ['keys'],
      summary: 'Make an API key',
      description: "Grants: read / write / admin on a topic or group (by `name`, by `prefix`, or all when neither is given), or admin on the cluster (managing keys). The reply's `key` is the only time the secret is shown; send it as `Authorization: Bearer <key>`. In a cluster the key works on this node when the answer comes, and on the others as soon as they apply it (typically milliseconds).",
      body: createKeyBodySchema,
      response: {
        201: createdKeySchema,
        ...errorResponses('INVALID_JSON', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_CONTROLLER'),
      },
    },
  }, async (request, reply) => {
    const { body } = request;
    return reply.code(201).send(await keys.make(body.name, body.grants));
  });

  app.delete('/v1/keys/:keyId', {
    schema: {
      tags: ['keys'],
      summary: 'Delete an API key',
      description: 'The key stops working at once (in a cluster: on this node when the answer comes, on the others as soon as they apply it), and its open streams end.',
      params: { type: 'object', required: ['keyId'], properties: { keyId: { type: 'string', maxLength: 64 } } },
      response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses('KEY_NOT_FOUND', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_CONTROLLER') },
    },
  }, async (request, reply) => {
    await keys.remove(request.params.keyId);
    return reply.code(204).send();
  });
}
