/**
 * JSON schemas of API keys and grants, shared by the server's routes and the client.
 */

export const OPERATIONS = ['read', 'write', 'admin'] as const;
export type Operation = (typeof OPERATIONS)[number];
export const RESOURCE_TYPES = ['topic', 'group', 'cluster'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export const grantSchema = {
  type: 'object',
  required: ['resource', 'operations'],
  additionalProperties: false,
  properties: {
    resource: { type: 'string', enum: [...RESOURCE_TYPES] },
    name: { type: 'string', minLength: 1, maxLength: 249, description: 'Exactly this topic or group.' },
    prefix: { type: 'string', minLength: 1, maxLength: 249, description: 'Every topic or group whose name starts with this.' },
    operations: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: [...OPERATIONS] } },
  },
} as const;

export const keyInfoSchema = {
  type: 'object',
  required: ['keyId', 'name', 'grants', 'createdAtMs'],
  properties: {
    keyId: { type: 'string' },
    name: { type: 'string' },
    grants: { type: 'array', items: grantSchema },
    createdAtMs: { type: 'integer' },
  },
} as const;


/** The key a request presents: what it may do. */
export const ownKeySchema = {
  type: 'object',
  required: ['keyId', 'name', 'grants'],
  properties: { keyId: keyInfoSchema.properties.keyId, name: keyInfoSchema.properties.name, grants: keyInfoSchema.properties.grants },
} as const;

export const keyListSchema = { type: 'object', required: ['keys'], properties: { keys: { type: 'array', items: keyInfoSchema } } } as const;

export const createKeyBodySchema = {
  type: 'object',
  required: ['name', 'grants'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200, description: 'Who or what uses the key.' },
    grants: { type: 'array', maxItems: 1000, items: grantSchema },
  },
  example: { name: 'billing-service', grants: [{ resource: 'topic', prefix: 'billing.', operations: ['read', 'write'] }, { resource: 'group', name: 'billing', operations: ['read'] }] },
} as const;

export const createdKeySchema = {
  ...keyInfoSchema,
  required: [...keyInfoSchema.required, 'key'],
  properties: { ...keyInfoSchema.properties, key: { type: 'string', description: 'The secret key: store it now.' } },
} as const;
