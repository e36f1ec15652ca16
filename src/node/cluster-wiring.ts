/**
 * A node's part in a cluster, wired between broker/ and cluster/: the ClusterNode
 * (metadata quorum, controller, replication) is built on the broker's SQLite store
 * and its topics, and the broker gets the cluster's Replication and TopicAdmin in
 * return. Built before the Broker, started only once the logs are recovered.
 */
import type { TopicManager } from '../broker/topic-manager.js';
import { ClusterNode, type ClusterHost } from '../cluster/cluster-node.js';
import type { BackgroundErrorHandler } from './background-errors.js';
import { RunnelError } from '../errors.js';
import { limits } from '../limits.js';
import type { BrokerFoundation, BrokerWiring } from './broker-assembly.js';
import { ClusterKeys } from './cluster-keys.js';
import { ClusterReplication } from './cluster-replication.js';
import { ClusterTopicAdmin } from './cluster-topic-admin.js';
import type { NodeClusterOptions } from './node-options.js';

/** Where the cluster's background failures and news go (the app's logger, once it exists). */
export interface BackgroundLog {
  fatal(object: object, message: string): void;
  error(object: object, message: string): void;
  warn(object: object, message: string): void;
  info(object: object, message: string): void;
  debug(object: object, message: string): void;
}

/** What the cluster needs of this node's topics. */
export function clusterHostOf(topics: TopicManager): ClusterHost {
  return {
    reconcile: (wanted, beforeRemove) => topics.reconcile(wanted, beforeRemove),
    lookup: (topic, partition) => topics.find(topic, partition),
    all: () => topics.list().flatMap((topic) => topic.partitions),
  };
}

/**
 * The broker wiring of a cluster node; `built` is told the ClusterNode as soon as
 * it exists (before the Broker does).
 */
export function clusterWiring(
  nodeId: number,
  dataDir: string,
  options: NodeClusterOptions,
  log: () => BackgroundLog | undefined,
  built: (cluster: ClusterNode) => void,
  /** Makes a broken invariant stop the node instead of being logged (background-errors.ts). */
  stopOnInvariant: (report: BackgroundErrorHandler) => BackgroundErrorHandler = (report) => report,
): BrokerWiring {
  return (foundation: BrokerFoundation) => {
    const keys = new ClusterKeys();
    const cluster = new ClusterNode({
      nodeId,
      peers: options.peers,
      dataDir,
      store: foundation.store,
      host: clusterHostOf(foundation.topics),
      clusterSecret: options.clusterSecret === '' ? undefined : options.clusterSecret,
      nodeSessionTimeoutMs: options.nodeSessionTimeoutMs,
      replicaLagTimeMaxMs: options.replicaLagTimeMaxMs,
      raftElectionTimeoutMs: options.raftElectionTimeoutMs,
      partitionsPerNodeMax: options.partitionsPerNodeMax,
      rack: options.rack,
      onApplied: () => keys.applied(),
      // Expected refusals (a coded RunnelError: not the controller, a fenced node) are one
      // warning line; anything else is an error with its stack.
      onError: stopOnInvariant((error, context) => error instanceof RunnelError
        ? log()?.warn({ code: error.code }, `cluster: ${context}: ${error.message}`)
        : log()?.error({ err: error }, `cluster: ${context} failed`)),
      // An ISR change the controller refuses (a follower fenced or gone, a stale epoch;
      // reported once per refusal) is normal while a node is away: a debug line.
      onRefusal: stopOnInvariant((error, context) => error instanceof RunnelError
        ? log()?.debug({ code: error.code }, `cluster: ${context}: ${error.message}`)
        : log()?.error({ err: error }, `cluster: ${context} failed`)),
      onInfo: (message, details) => log()?.info(details ?? {}, message),
    });
    keys.attach(cluster);
    built(cluster);
    return {
      replication: new ClusterReplication(cluster, options.replicaReadLagMaxMs ?? limits.replicaReadLagMsDefault),
      admin: new ClusterTopicAdmin(foundation.topics, (operation, body) => cluster.requestController(operation, body), options.peers.length, () => cluster.syncMetadata()),
      takeProducerIdBlock: async () => {
        const answer = await cluster.requestController('allocate-producer-ids', { nodeId: cluster.nodeId });
        return { firstProducerId: answer.firstProducerId as number, count: answer.producerIdCount as number };
      },
      clusterKeys: keys,
    };
  };
}
