/**
 * `runnel serve`: open the broker (recovering every log), start HTTP, and stop
 * gracefully on SIGTERM/SIGINT: stop accepting, end streams and long-polls, finish
 * in-flight requests, fsync and checkpoint every log, close SQLite, exit 0 — or exit
 * 1 if that takes longer than shutdownTimeoutMs.
 */
import { Broker } from '../broker/broker.js';
import { topicDefaultsFromBrokerSettings } from '../broker/topic-config.js';
import type { Settings } from '../config.js';
import { buildApp } from '../http/app.js';
import fs from 'node:fs';
import { checkLimits } from '../limits.js';
import { SettingsError, parsePeers } from '../config.js';
import { RunnelError } from '../errors.js';
import { ClusterNode } from '../cluster/cluster-node.js';
import { ClusterReplication, clusterHostOf } from '../broker/cluster-replication.js';
import { ClusterTopicAdmin } from '../broker/topic-admin.js';

export async function serve(settings: Settings): Promise<void> {
  checkLimits();
  const topicDefaults = topicDefaultsFromBrokerSettings(settings.brokerSettings);
  const logger = {
    level: settings.logLevel,
    // Keys never reach the logs, whatever a future log line includes.
    redact: ['req.headers.authorization', 'req.headers["x-api-key"]', 'headers.authorization', 'headers["x-api-key"]'],
    ...(settings.logFormat === 'pretty' ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
  const tls = readTls(settings);
  // Background errors before the app (and its logger) exist go nowhere; there are none yet.
  const backgroundLog: { current?: { error: (object: object, message: string) => void; warn: (object: object, message: string) => void; info: (object: object, message: string) => void } } = {};
  // SQLite opens now; the logs are recovered after the node listens, so /health/live
  // answers and /health/ready says 503 "recovering storage" meanwhile.
  const peers = parsePeers(settings.peers, settings.nodeId);
  const isClustered = peers.length > 0;
  const broker = Broker.create({
    dataDir: settings.dataDir,
    nodeId: settings.nodeId,
    isClustered,
    topicDefaults,
    // num.partitions from the config file is already folded into settings.numPartitions (config.ts).
    defaultPartitionCount: settings.numPartitions,
    retentionCheckIntervalMs: settings.retentionCheckIntervalMs,
    offsetsRetentionMs: settings.offsetsRetentionMinutes * 60_000,
    adminKey: settings.adminKey === '' ? undefined : settings.adminKey,
    onError: (error, context) => backgroundLog.current?.error({ err: error }, `background ${context} failed`),
  });
  // A cluster: the metadata quorum, the controller and replication, started once the logs are recovered.
  let cluster: ClusterNode | undefined;
  if (isClustered) {
    cluster = new ClusterNode({
      nodeId: settings.nodeId,
      peers,
      dataDir: settings.dataDir,
      store: broker.store,
      host: clusterHostOf(broker.topics),
      clusterSecret: settings.clusterSecret === '' ? undefined : settings.clusterSecret,
      nodeSessionTimeoutMs: settings.nodeSessionTimeoutMs,
      replicaLagTimeMaxMs: settings.replicaLagTimeMaxMs,
      raftElectionTimeoutMs: settings.raftElectionTimeoutMs,
      // Expected refusals (a coded RunnelError: not the controller, a fenced node) are one
      // warning line; anything else is an error with its stack.
      onError: (error, context) => error instanceof RunnelError
        ? backgroundLog.current?.warn({ code: error.code }, `cluster: ${context}: ${error.message}`)
        : backgroundLog.current?.error({ err: error }, `cluster: ${context} failed`),
      onInfo: (message, details) => backgroundLog.current?.info(details ?? {}, message),
    });
    const node = cluster;
    broker.replication = new ClusterReplication(node);
    broker.admin = new ClusterTopicAdmin(broker.topics, (operation, body) => node.requestController(operation, body), peers.length);
  }
  const { app } = await buildApp({
    cluster,
    clusterSecret: settings.clusterSecret,
    broker,
    bodyLimitBytes: settings.bodyLimitBytes,
    isAuthEnabled: settings.auth === 'api-key',
    isMetricsKeyRequired: settings.metricsRequireKey,
    guardRails: {
      inFlightRequestsMax: settings.maxInFlightRequests,
      inFlightRequestsPerConnectionMax: settings.maxInFlightRequestsPerConnection,
      eventLoopDelayMsMax: settings.maxEventLoopDelayMs,
    },
    connectionsMax: settings.maxConnections,
    tls,
    logger,
    onInvariantBroken: () => {
      // Stop before anything else is written; recovery on restart repairs the log.
      setImmediate(() => process.exit(70));
    },
  });
  backgroundLog.current = app.log;

  let isShuttingDown = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (isShuttingDown) return;
    isShuttingDown = true;
    app.log.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      app.log.error(`shutdown took longer than ${settings.shutdownTimeoutMs} ms; exiting`);
      process.exit(1);
    }, settings.shutdownTimeoutMs);
    deadline.unref();
    try {
      // Replication first: parked follower fetches and acks=all waits answer at once,
      // so closing the app does not wait for them.
      await cluster?.stop();
      await app.close();
      await broker.close();
      app.log.info('stopped cleanly');
      process.exit(0);
    } catch (error) {
      app.log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ host: settings.host, port: settings.port });
  await broker.recover();
  if (isShuttingDown) return;
  app.log.info({ recovery: broker.recovery, dataDir: settings.dataDir }, 'storage recovered');
  if (cluster !== undefined) {
    cluster.start();
    app.log.info({ nodeId: settings.nodeId, peers }, 'joined the cluster');
    if (settings.clusterSecret === '') app.log.warn('no --cluster-secret: node-to-node routes (/internal) accept any caller; set one outside a trusted network');
  }
  if (settings.auth === 'api-key' && settings.adminKey === '' && broker.keys.list().length === 0) {
    app.log.warn('auth is api-key but there is no API key yet: set --admin-key (RUNNEL_ADMIN_KEY) to make the first ones');
  }
}

function readTls(settings: Settings): { cert: Buffer; key: Buffer } | undefined {
  if (settings.tlsCertFile === '') return undefined;
  try {
    return { cert: fs.readFileSync(settings.tlsCertFile), key: fs.readFileSync(settings.tlsKeyFile) };
  } catch (error) {
    throw new SettingsError(`settings tlsCertFile / tlsKeyFile: cannot read ${(error as Error).message}`);
  }
}
