/**
 * Builds a Broker from its parts, in the order they depend on each other: SQLite
 * (meta.db), the log manager, the topics, then replication and topic administration
 * (single node by default; `wire` puts the cluster's in, and may build the cluster
 * node from the store and topics first), and last the Broker that takes them all.
 * The logs are not touched: the caller recovers them (Broker.recover, or
 * openBroker's at-once recovery for tests and tools).
 */
import fs from 'node:fs';
import path from 'node:path';
import { Broker, type BrokerOptions } from '../broker/broker.js';
import { SingleNodeReplication, type Replication } from '../broker/replication.js';
import type { TakeProducerIdBlock } from '../broker/producer-ids.js';
import type { ClusterKeyLog } from '../broker/access-control.js';
import { LocalTopicAdmin, type TopicAdmin } from '../broker/topic-admin.js';
import { TopicManager } from '../broker/topic-manager.js';
import { MetadataStore } from '../meta/metadata-store.js';
import { LogManager } from '../storage/log-manager.js';

/** What exists before replication is chosen: the cluster node is built on these. */
export interface BrokerFoundation {
  store: MetadataStore;
  logs: LogManager;
  topics: TopicManager;
}

/** Replication and topic administration for the broker; what is left out stays single-node. */
export type BrokerWiring = (foundation: BrokerFoundation) => {
  replication?: Replication;
  admin?: TopicAdmin;
  takeProducerIdBlock?: TakeProducerIdBlock;
  clusterKeys?: ClusterKeyLog;
};

/**
 * Opens SQLite and sets the broker up without touching the logs: a node listens
 * (answering 503 NOT_READY) while Broker.recover() brings the logs back.
 */
export function createBroker(options: BrokerOptions, wire: BrokerWiring = () => ({})): Broker {
  fs.mkdirSync(options.dataDir, { recursive: true });
  const store = MetadataStore.open(path.join(options.dataDir, 'meta.db'), { idempotency: options.idempotency });
  try {
    // The log manager reports to the topics and the broker, made just below.
    const made: { topics?: TopicManager; broker?: Broker } = {};
    const logs = new LogManager(path.join(options.dataDir, 'logs'), {
      retentionCheckIntervalMs: options.retentionCheckIntervalMs,
      onSegmentsDeleted: (name, log) => made.topics?.recordLogStartOffset(name, log.logStartOffset),
      onFsync: (seconds) => made.broker?.fsyncListener?.(seconds),
      onWarning: (name, warning) => options.onWarning?.(`partition ${name}: ${warning.message}`, { partition: name, ...warning.details }),
      onError: options.onError,
      openFilesMax: options.openLogFilesMax === undefined || options.openLogFilesMax === 0 ? undefined : options.openLogFilesMax,
      producerStatesMax: options.producerStatesMax,
      cleaner: options.cleaner,
      keyIndexMemoryBytes: options.keyIndexMemoryBytes,
    });
    const topics = new TopicManager(store, logs, {
      nodeId: options.nodeId,
      brokerDefaults: options.topicDefaults,
      defaultPartitionCount: options.defaultPartitionCount,
      isClustered: options.isClustered === true,
      partitionsMax: options.partitionsMax,
    });
    made.topics = topics;
    const wired = wire({ store, logs, topics });
    made.broker = new Broker(options, {
      store,
      logs,
      topics,
      replication: wired.replication ?? new SingleNodeReplication(options.nodeId),
      admin: wired.admin ?? new LocalTopicAdmin(topics),
      takeProducerIdBlock: wired.takeProducerIdBlock,
      clusterKeys: wired.clusterKeys,
    });
    return made.broker;
  } catch (error) {
    store.close();
    throw error;
  }
}

/** Creates the broker and recovers every log before returning (tests, tools). */
export function openBroker(options: BrokerOptions, wire?: BrokerWiring): Broker {
  const broker = createBroker(options, wire);
  try {
    broker.recoverAtOnce();
    return broker;
  } catch (error) {
    broker.store.close();
    throw error;
  }
}
