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

/** A key as kept: never its secret, only the secret's SHA-256 (hex). */
export interface KeptKey extends ApiKeyInfo {
  secretSha256: string;
}

/**
 * Where a cluster keeps its keys: its metadata log (node/cluster-keys.ts). A key made
 * or deleted on any node is a record every node applies, so every node knows it.
 */
export interface ClusterKeyLog {
  /** The keys this node's applied metadata holds. */
  keys(): Iterable<KeptKey>;
  /** Appends the key; resolves once this node has applied it. */
  append(key: KeptKey): Promise<void>;
  /** Appends the key's removal (KEY_NOT_FOUND when there is no such key); resolves once applied here. */
  remove(keyId: string): Promise<void>;
  /** `listener` runs whenever this node applied metadata (the keys may have changed). */
  subscribe(listener: () => void): void;
}

interface KnownKey {
  kept: KeptKey;
  secretHash: Buffer;
  principal: Principal;
}

/**
 * The keys this node authenticates with. On a single node they are kept in SQLite
 * (ApiKeyStore); in a cluster the metadata log is their only source (the local table is
 * not read), and this node follows it as it applies records.
 */
export class KeyManager {
  private readonly keys = new Map<string, KnownKey>();
  private readonly adminKeyHash: Buffer | undefined;
  private readonly removedListeners = new Set<(keyId: string) => void>();

  constructor(private readonly store: ApiKeyStore, adminKey: string | undefined, private readonly cluster?: ClusterKeyLog) {
    this.adminKeyHash = adminKey === undefined || adminKey === '' ? undefined : sha256(adminKey);
    if (cluster === undefined) {
      for (const stored of store.list()) this.remember(keptOf(stored));
    } else {
      this.refresh();
      cluster.subscribe(() => this.refresh());
    }
  }

  /** Tells `listener` of every key that stops working (deleted here, or its removal applied); returns how to stop. */
  onRemoved(listener: (keyId: string) => void): () => void {
    this.removedListeners.add(listener);
    return () => this.removedListeners.delete(listener);
  }

  private remember(kept: KeptKey): void {
    this.keys.set(kept.keyId, {
      kept,
      secretHash: Buffer.from(kept.secretSha256, 'hex'),
      principal: { keyId: kept.keyId, name: kept.name, grants: kept.grants },
    });
  }

  private forget(keyId: string): void {
    if (!this.keys.delete(keyId)) return;
    for (const listener of this.removedListeners) listener(keyId);
  }

  /** Cluster: takes the keys of the applied metadata (new ones work, removed ones stop). */
  private refresh(): void {
    if (this.cluster === undefined) return;
    const present = new Set<string>();
    for (const kept of this.cluster.keys()) {
      present.add(kept.keyId);
      if (this.keys.get(kept.keyId)?.kept.secretSha256 !== kept.secretSha256) this.remember(kept);
    }
    for (const keyId of [...this.keys.keys()]) if (!present.has(keyId)) this.forget(keyId);
  }

  /** Single node: makes a key in SQLite; the returned `key` is the only time its secret is shown. */
  create(name: string, grants: Grant[]): ApiKeyInfo & { key: string } {
    if (this.cluster !== undefined) throw new Error('in a cluster, keys are made through the controller (make)');
    const { kept, key } = newKey(name, grants);
    this.store.insert({ keyId: kept.keyId, name, secretSha256: kept.secretSha256, grantsJson: JSON.stringify(grants), createdAtMs: kept.createdAtMs });
    this.remember(kept);
    return { ...infoOf(kept), key };
  }

  /**
   * Makes a key: in a cluster through the controller (answers once this node applied
   * it; other nodes know it once they apply it too), else as create().
   */
  async make(name: string, grants: Grant[]): Promise<ApiKeyInfo & { key: string }> {
    if (this.cluster === undefined) return this.create(name, grants);
    const { kept, key } = newKey(name, grants);
    await this.cluster.append(kept);
    this.refresh();
    return { ...infoOf(kept), key };
  }

  list(): ApiKeyInfo[] {
    return [...this.keys.values()]
      .map(({ kept }) => infoOf(kept))
      .sort((a, b) => a.createdAtMs - b.createdAtMs || (a.keyId < b.keyId ? -1 : a.keyId > b.keyId ? 1 : 0));
  }

  /** Single node: deletes a key from SQLite; it stops working at once. */
  delete(keyId: string): void {
    if (this.cluster !== undefined) throw new Error('in a cluster, keys are deleted through the controller (remove)');
    if (!this.store.delete(keyId)) throw new RunnelError('KEY_NOT_FOUND', `no API key '${keyId}'`);
    this.forget(keyId);
  }

  /** Deletes a key: in a cluster through the controller (every node drops it as it applies the record), else as delete(). */
  async remove(keyId: string): Promise<void> {
    if (this.cluster === undefined) return this.delete(keyId);
    await this.cluster.remove(keyId);
    this.refresh();
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

/** A new key id and secret; only the secret's hash is kept. */
function newKey(name: string, grants: Grant[]): { kept: KeptKey; key: string } {
  validateGrants(grants);
  const keyId = randomBytes(9).toString('base64url').replace(/[-_]/g, 'x');
  const secret = randomBytes(32).toString('base64url');
  return { kept: { keyId, name, secretSha256: sha256(secret).toString('hex'), grants, createdAtMs: Date.now() }, key: `rk_${keyId}_${secret}` };
}

function keptOf(stored: StoredApiKey): KeptKey {
  return { keyId: stored.keyId, name: stored.name, secretSha256: stored.secretSha256, grants: JSON.parse(stored.grantsJson) as Grant[], createdAtMs: stored.createdAtMs };
}

function infoOf(kept: KeptKey): ApiKeyInfo {
  return { keyId: kept.keyId, name: kept.name, grants: kept.grants, createdAtMs: kept.createdAtMs };
}
