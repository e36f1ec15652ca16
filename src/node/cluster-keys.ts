/**
 * API keys of a cluster node: kept in the metadata log, not in meta.db. Making a key
 * asks the controller to append an `api-key` record (id, name, SHA-256 of the secret,
 * grants, time: never the secret), deleting one an `api-key-removed` record; each
 * answers once this node has applied the record. Every node's KeyManager follows the
 * image as it applies records, so a key works, or stops working, on every node.
 */
import type { ClusterKeyLog, KeptKey } from '../broker/access-control.js';
import type { ClusterNode } from '../cluster/cluster-node.js';

export class ClusterKeys implements ClusterKeyLog {
  private readonly listeners: Array<() => void> = [];
  private cluster: ClusterNode | undefined;

  /** The node's cluster, once it exists (it is built with this object's `applied` as its hook). */
  attach(cluster: ClusterNode): void {
    this.cluster = cluster;
  }

  /** The cluster node applied metadata. */
  applied(): void {
    for (const listener of this.listeners) listener();
  }

  keys(): Iterable<KeptKey> {
    return this.cluster?.metadata.apiKeys.values() ?? [];
  }

  async append(key: KeptKey): Promise<void> {
    await this.require().requestController('create-api-key', {
      keyId: key.keyId, name: key.name, secretSha256: key.secretSha256, grants: key.grants, createdAtMs: key.createdAtMs,
    });
  }

  async remove(keyId: string): Promise<void> {
    await this.require().requestController('delete-api-key', { keyId });
  }

  subscribe(listener: () => void): void {
    this.listeners.push(listener);
  }

  private require(): ClusterNode {
    if (this.cluster === undefined) throw new Error('the cluster node is not built yet');
    return this.cluster;
  }
}
