/**
 * API keys in the cluster's metadata (as KRaft keeps SCRAM credentials and ACLs in its
 * log). A key is kept as its id, name, the SHA-256 of its secret, its grants and when
 * it was made: never the secret. Here are the checks a key passes twice: when the
 * controller turns a request into a record (a failure refuses the request) and when
 * an image applies the record (a failure is a broken invariant); and the fixed form a
 * key is written in, so equal images give equal snapshots.
 */
import { OPERATIONS, RESOURCE_TYPES } from '../../api/key-schemas.js';
import { RunnelError } from '../../errors.js';
import type { ApiKeyGrant, ApiKeySpec, MetadataRecord } from './records.js';

const KEY_FIELDS = new Set(['keyId', 'name', 'secretSha256', 'grants', 'createdAtMs']);
const GRANT_FIELDS = new Set(['resource', 'name', 'prefix', 'operations']);
const KEY_ID = /^[A-Za-z0-9]{1,64}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;
const NAME_CHARACTERS_MAX = 200;
const GRANTS_MAX = 1000;
const RESOURCE_NAME_CHARACTERS_MAX = 249;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= max;
}

function grantProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not an object';
  const extra = Object.keys(value).find((field) => !GRANT_FIELDS.has(field));
  if (extra !== undefined) return `unknown field '${extra}'`;
  if (!(RESOURCE_TYPES as readonly unknown[]).includes(value.resource)) return `resource must be one of ${RESOURCE_TYPES.join(', ')}`;
  for (const field of ['name', 'prefix'] as const) {
    if (value[field] !== undefined && !isText(value[field], RESOURCE_NAME_CHARACTERS_MAX)) return `${field} must be 1-${RESOURCE_NAME_CHARACTERS_MAX} characters`;
  }
  if (value.name !== undefined && value.prefix !== undefined) return 'name or prefix, not both';
  if (value.resource === 'cluster' && (value.name !== undefined || value.prefix !== undefined)) return 'a cluster grant has no name or prefix';
  const { operations } = value;
  if (!Array.isArray(operations) || operations.length === 0) return 'operations must be a non-empty array';
  if (!operations.every((operation) => (OPERATIONS as readonly unknown[]).includes(operation))) return `operations must be among ${OPERATIONS.join(', ')}`;
  if (new Set(operations).size !== operations.length) return 'operations repeat';
  return undefined;
}

/** What is wrong with `value` as a key the metadata may hold, or undefined when nothing is. */
export function apiKeyProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'the key is not an object';
  const extra = Object.keys(value).find((field) => !KEY_FIELDS.has(field));
  // Above all, a key in the metadata log never carries its secret.
  if (extra !== undefined) return `field '${extra}' is not part of a kept key`;
  const { keyId } = value;
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) return 'keyId must be 1-64 letters and digits';
  if (!isText(value.name, NAME_CHARACTERS_MAX)) return `key ${keyId}: name must be 1-${NAME_CHARACTERS_MAX} characters`;
  if (typeof value.secretSha256 !== 'string' || !SHA256_HEX.test(value.secretSha256)) return `key ${keyId}: secretSha256 must be 64 lowercase hex digits`;
  if (!Number.isSafeInteger(value.createdAtMs) || (value.createdAtMs as number) < 0) return `key ${keyId}: createdAtMs must be a non-negative integer`;
  if (!Array.isArray(value.grants) || value.grants.length > GRANTS_MAX) return `key ${keyId}: grants must be an array of at most ${GRANTS_MAX}`;
  for (const [index, grant] of value.grants.entries()) {
    const problem = grantProblem(grant);
    if (problem !== undefined) return `key ${keyId}: grants[${index}]: ${problem}`;
  }
  return undefined;
}

/** The key with its fields in a fixed order and its grants copied. */
export function normalApiKey(key: ApiKeySpec): ApiKeySpec {
  return {
    keyId: key.keyId,
    name: key.name,
    secretSha256: key.secretSha256,
    grants: key.grants.map((grant): ApiKeyGrant => ({
      resource: grant.resource,
      ...(grant.name === undefined ? {} : { name: grant.name }),
      ...(grant.prefix === undefined ? {} : { prefix: grant.prefix }),
      operations: [...grant.operations],
    })),
    createdAtMs: key.createdAtMs,
  };
}

/**
 * The record a create-api-key request asks the controller for. INVALID_REQUEST when
 * the request is not a well-formed key (a secret among its fields included) or its id
 * is taken.
 */
export function apiKeyRecord(keys: ReadonlyMap<string, ApiKeySpec>, request: unknown): MetadataRecord {
  const problem = apiKeyProblem(request);
  if (problem !== undefined) throw new RunnelError('INVALID_REQUEST', `create-api-key: ${problem}`);
  const key = request as ApiKeySpec;
  if (keys.has(key.keyId)) throw new RunnelError('INVALID_REQUEST', `create-api-key: key id ${key.keyId} is taken`);
  return { type: 'api-key', key: normalApiKey(key) };
}

/** The record a delete-api-key request asks for; KEY_NOT_FOUND when the metadata has no such key. */
export function apiKeyRemovedRecord(keys: ReadonlyMap<string, ApiKeySpec>, request: unknown): MetadataRecord {
  const keyId = isObject(request) ? request.keyId : undefined;
  if (typeof keyId !== 'string' || !KEY_ID.test(keyId)) throw new RunnelError('INVALID_REQUEST', 'delete-api-key: keyId must be 1-64 letters and digits');
  if (!keys.has(keyId)) throw new RunnelError('KEY_NOT_FOUND', `no API key '${keyId}'`);
  return { type: 'api-key-removed', keyId };
}
