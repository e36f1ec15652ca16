/**
 * API keys and what they may do (off unless the node runs with --auth api-key).
 *
 * A key is `rk_<keyId>_<secret>`; only SHA-256(secret) is stored. A key carries
 * grants: an operation set on topics or groups (one by name, those with a prefix, or
 * all) or on the cluster (managing keys). Operations:
 * - topic: read (fetch, stream, offsets, consume in a group), write (produce),
 *   admin (create, alter, delete);
 * - group: read (join, heartbeat, poll, commit, describe), admin (reset, delete);
 * - cluster: admin (manage API keys).
 * admin implies read and write on the same resources; any grant on a resource lets
 * the key see it (describe, list), as Kafka's READ and WRITE imply DESCRIBE.
 *
 * The node's bootstrap admin key (--admin-key), if set, may do everything: it is how
 * the first keys are made.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RunnelError } from '../errors.js';
import type { ApiKeyStore, StoredApiKey } from '../meta/api-key-store.js';

import { OPERATIONS, RESOURCE_TYPES, type Operation, type ResourceType } from '../api/key-schemas.js';

export { OPERATIONS, RESOURCE_TYPES, type Operation, type ResourceType };

export interface Grant {
  resource: ResourceType;
  /** Exactly this name. */
  name?: string;
  /** Every name starting with this. Neither name nor prefix: every resource of the type. */
  prefix?: string;
  operations: Operation[];
}

export interface Principal {
  keyId: string;
  name: string;
  grants: Grant[];
}

export interface ApiKeyInfo {
  keyId: string;
  name: string;
  grants: Grant[];
  createdAtMs: number;
}

const ADMIN_PRINCIPAL: Principal = {
  keyId: 'admin',
  name: 'bootstrap admin key',
  grants: RESOURCE_TYPES.map((resource) => ({ resource, operations: ['admin'] })),
};

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function covers(grant: Grant, resource: ResourceType, name: string | undefined): boolean {
  if (grant.resource !== resource) return false;
  if (name === undefined) return grant.name === undefined && grant.prefix === undefined;
  if (grant.name !== undefined) return grant.name === name;
  if (grant.prefix !== undefined) return name.startsWith(grant.prefix);
  return true;
}

function implies(granted: Operation, wanted: Operation): boolean {
  return granted === wanted || granted === 'admin';
}

/** May `principal` do `operation` on the resource? `name` undefined means all of that type. */
export function isAllowed(principal: Principal, resource: ResourceType, name: string | undefined, operation: Operation): boolean {
  return principal.grants.some((grant) => covers(grant, resource, name) && grant.operations.some((granted) => implies(granted, operation)));
}

/** May `principal` see the resource at all (any grant on it)? */
export function canDescribe(principal: Principal, resource: ResourceType, name: string): boolean {
  return principal.grants.some((grant) => covers(grant, resource, name) && grant.operations.length > 0);
}

/**
 * May `principal` read every topic that starts with `prefix`? (Prefix and pattern
 * subscriptions of a group member must be covered by such a grant.)
 */
export function canReadPrefix(principal: Principal, prefix: string): boolean {
  return principal.grants.some((grant) => grant.resource === 'topic' && grant.name === undefined &&
    (grant.prefix === undefined || prefix.startsWith(grant.prefix)) && grant.operations.some((granted) => implies(granted, 'read')));
}

export function validateGrants(grants: Grant[]): Grant[] {
  for (const [index, grant] of grants.entries()) {
    if (grant.name !== undefined && grant.prefix !== undefined) {
      throw new RunnelError('INVALID_REQUEST', `grants[${index}]: give name or prefix, not both`);
    }
    if (grant.resource === 'cluster' && (grant.name !== undefined || grant.prefix !== undefined)) {
      throw new RunnelError('INVALID_REQUEST', `grants[${index}]: a cluster grant has no name or prefix`);
    }
    if (grant.operations.length === 0) throw new RunnelError('INVALID_REQUEST', `grants[${index}]: operations must not be empty`);
  }
  return grants;
}

export class KeyManager {
  private readonly keys = new Map<string, { stored: StoredApiKey; secretHash: Buffer; principal: Principal }>();
  private readonly adminKeyHash: Buffer | undefined;

  constructor(private readonly store: ApiKeyStore, adminKey: string | undefined) {
    this.adminKeyHash = adminKey === undefined || adminKey === '' ? undefined : sha256(adminKey);
    for (const stored of store.list()) this.remember(stored);
  }

  private remember(stored: StoredApiKey): void {
    this.keys.set(stored.keyId, {
      stored,
      secretHash: Buffer.from(stored.secretSha256, 'hex'),
      principal: { keyId: stored.keyId, name: stored.name, grants: JSON.parse(stored.grantsJson) as Grant[] },
    });
  }

  /** Makes a key; the returned `key` is the only time its secret is shown. */
  create(name: string, grants: Grant[]): ApiKeyInfo & { key: string } {
    validateGrants(grants);
    const keyId = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
    const secret = randomBytes(32).toString('base64url');
    const stored: StoredApiKey = { keyId, name, secretSha256: sha256(secret).toString('hex'), grantsJson: JSON.stringify(grants), createdAtMs: Date.now() };
    this.store.insert(stored);
    this.remember(stored);
    return { keyId, name, grants, createdAtMs: stored.createdAtMs, key: `rk_${keyId}_${secret}` };
  }

  list(): ApiKeyInfo[] {
    return [...this.keys.values()].map(({ stored, principal }) => ({ keyId: stored.keyId, name: stored.name, grants: principal.grants, createdAtMs: stored.createdAtMs }));
  }

  delete(keyId: string): void {
    if (!this.store.delete(keyId)) throw new RunnelError('KEY_NOT_FOUND', `no API key '${keyId}'`);
    this.keys.delete(keyId);
  }

  /** The principal a presented key stands for, or undefined when it is not a valid key. */
  authenticate(token: string): Principal | undefined {
    if (this.adminKeyHash !== undefined && timingSafeEqual(sha256(token), this.adminKeyHash)) return ADMIN_PRINCIPAL;
    const match = /^rk_([A-Za-z0-9]+)_([A-Za-z0-9_-]+)$/.exec(token);
    if (match === null) return undefined;
    const entry = this.keys.get(match[1]);
    if (entry === undefined) return undefined;
    return timingSafeEqual(sha256(match[2]), entry.secretHash) ? entry.principal : undefined;
  }
}
