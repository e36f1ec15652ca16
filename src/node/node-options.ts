/**
 * What a node is built from: the broker's options, the HTTP app's, the cluster's
 * (absent on a single node) and where to listen. `runnel serve` derives them from
 * its Settings (nodeOptionsFromSettings); tests write them directly, for values no
 * setting can express (an offsets retention of 500 ms, a test's log stream).
 */
import fs from 'node:fs';
import type { BrokerOptions } from '../broker/broker.js';
import { topicDefaultsFromBrokerSettings } from '../broker/topic-config.js';
import type { AppOptions } from '../http/app.js';
import { parseCorsOrigins } from '../http/cors.js';
import { parsePeers, SettingsError, type Peer, type Settings } from './settings.js';

/** The HTTP app's options; the node supplies the broker and the cluster itself. */
export type NodeAppOptions = Omit<AppOptions, 'broker' | 'cluster' | 'clusterSecret'>;

export interface NodeClusterOptions {
  /** Every node of the cluster, this one included. */
  peers: Peer[];
  /** Shared secret of node-to-node requests; '' accepts any caller. */
  clusterSecret: string;
  nodeSessionTimeoutMs: number;
  replicaLagTimeMaxMs: number;
  /** A follower serves reads only when it heard from its leader within this (KIP-392); else it hands them to an in-sync replica. */
  replicaReadLagMaxMs?: number;
  raftElectionTimeoutMs: number;
  /** Partitions one node holds at most (the controller checks every node it places replicas on). */
  partitionsPerNodeMax?: number;
  /** This node's rack (--rack), registered with the controller. */
  rack?: string;
}

export interface NodeOptions {
  host: string;
  port: number;
  /** Whether the broker is clustered follows from `cluster`; background errors go to the app's log unless onError is given. */
  broker: Omit<BrokerOptions, 'isClustered'>;
  app: NodeAppOptions;
  /** Absent: a single node. */
  cluster?: NodeClusterOptions;
}

export function nodeOptionsFromSettings(settings: Settings): NodeOptions {
  const peers = parsePeers(settings.peers, settings.nodeId);
  return {
    host: settings.host,
    port: settings.port,
    broker: {
      dataDir: settings.dataDir,
      nodeId: settings.nodeId,
      topicDefaults: topicDefaultsFromBrokerSettings(settings.brokerSettings),
      // num.partitions from the config file is already folded into settings.numPartitions (settings.ts).
      defaultPartitionCount: settings.numPartitions,
      partitionsMax: settings.maxPartitions,
      openLogFilesMax: settings.maxOpenLogFiles,
      retentionCheckIntervalMs: settings.retentionCheckIntervalMs,
      cleaner: { dedupeBufferBytes: settings.cleanerDedupeBufferBytes, ioBytesPerSecond: settings.cleanerIoMaxBytesPerSecond, backoffMs: settings.cleanerBackoffMs },
      keyIndexMemoryBytes: settings.keyIndexMemoryBytes,
      offsetsRetentionMs: settings.offsetsRetentionMinutes * 60_000,
      shareDefaults: { lockDurationMs: settings.shareRecordLockDurationMs, deliveryCountLimit: settings.shareDeliveryCountLimit, maxRecordLocks: settings.sharePartitionMaxRecordLocks },
      idempotency: { countMax: settings.idempotencyKeysMax, bytesMax: settings.idempotencyBytesMax },
      producerStatesMax: settings.producerStatesMax,
      adminKey: settings.adminKey === '' ? undefined : settings.adminKey,
      diskFreeMinBytes: settings.diskFreeMinBytes < 0 ? undefined : settings.diskFreeMinBytes,
    },
    app: {
      bodyLimitBytes: settings.bodyLimitBytes,
      isAuthEnabled: settings.auth === 'api-key',
      isMetricsKeyRequired: settings.metricsRequireKey,
      guardRails: {
        inFlightRequestsMax: settings.maxInFlightRequests,
        inFlightRequestsPerConnectionMax: settings.maxInFlightRequestsPerConnection,
        eventLoopDelayMsMax: settings.maxEventLoopDelayMs,
      },
      connectionsMax: settings.maxConnections,
      requestBodyTimeoutMs: settings.requestBodyTimeoutMs,
      tls: readTls(settings),
      logger: loggerOptions(settings),
      rack: settings.rack === '' ? undefined : settings.rack,
      corsOrigins: parseCorsOrigins(settings.corsOrigins),
      isConsoleEnabled: settings.console,
    },
    cluster: peers.length === 0 ? undefined : {
      peers,
      clusterSecret: settings.clusterSecret,
      nodeSessionTimeoutMs: settings.nodeSessionTimeoutMs,
      replicaLagTimeMaxMs: settings.replicaLagTimeMaxMs,
      replicaReadLagMaxMs: settings.replicaReadLagMaxMs,
      raftElectionTimeoutMs: settings.raftElectionTimeoutMs,
      rack: settings.rack === '' ? undefined : settings.rack,
    },
  };
}

function loggerOptions(settings: Settings): NodeAppOptions['logger'] {
  return {
    level: settings.logLevel,
    // Keys never reach the logs, whatever a future log line includes.
    redact: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]'],
    ...(settings.logFormat === 'pretty' ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
}

function readTls(settings: Settings): { cert: Buffer; key: Buffer } | undefined {
  if (settings.tlsCertFile === '') return undefined;
  try {
    return { cert: fs.readFileSync(settings.tlsCertFile), key: fs.readFileSync(settings.tlsKeyFile) };
  } catch (error) {
    throw new SettingsError(`settings tlsCertFile / tlsKeyFile: cannot read ${(error as Error).message}`);
  }
}
