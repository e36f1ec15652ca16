/**
 * API key management: make (the secret is shown once), list, delete. Needs the
 * cluster admin grant when authentication is on.
 */
import type { FastifyInstance } from 'fastify';
import type { Grant, KeyManager } from '../../broker/access-control.js';
import { grantSchema, keyInfoSchema } from '../../api/key-schemas.js';
import { errorResponses } from '../../api/schemas.js';

export function keyRoutes(app: FastifyInstance, keys: KeyManager): void {
  app.get('/v1/keys', {
    schema: {
      tags: ['keys'],
      summary: 'List API keys',
      description: 'Every key with its grants (never its secret).',
      response: { 200: { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: keyInfoSchema } } }, ...errorResponses('UNAUTHENTICATED', 'FORBIDDEN') },
    },
  }, async () => ({ keys: keys.list() }));

  app.post('/v1/keys', {
    schema: {
      tags: ['keys'],
      summary: 'Make an API key',
      description: "Grants: read / write / admin on a topic or group (by `name`, by `prefix`, or all when neither is given), or admin on the cluster (managing keys). The reply's `key` is the only time the secret is shown; send it as `Authorization: Bearer <key>`.",
      body: {
        type: 'object',
        required: ['name', 'grants'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 200, description: 'Who or what uses the key.' },
          grants: { type: 'array', maxItems: 1000, items: grantSchema },
        },
        example: { name: 'billing-service', grants: [{ resource: 'topic', prefix: 'billing.', operations: ['read', 'write'] }, { resource: 'group', name: 'billing', operations: ['read'] }] },
      },
      response: {
        201: { ...keyInfoSchema, required: [...keyInfoSchema.required, 'key'], properties: { ...keyInfoSchema.properties, key: { type: 'string', description: 'The secret key: store it now.' } } },
        ...errorResponses('INVALID_JSON', 'UNAUTHENTICATED', 'FORBIDDEN'),
      },
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; grants: Grant[] };
    return reply.code(201).send(keys.create(body.name, body.grants));
  });

  app.delete('/v1/keys/:keyId', {
    schema: {
      tags: ['keys'],
      summary: 'Delete an API key',
      description: 'The key stops working at once.',
      params: { type: 'object', required: ['keyId'], properties: { keyId: { type: 'string', maxLength: 64 } } },
      response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses('KEY_NOT_FOUND', 'UNAUTHENTICATED', 'FORBIDDEN') },
    },
  }, async (request, reply) => {
    keys.delete((request.params as { keyId: string }).keyId);
    return reply.code(204).send();
  });
}
