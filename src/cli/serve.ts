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
import { SettingsError } from '../config.js';

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
  const backgroundLog: { current?: { error: (object: object, message: string) => void } } = {};
  // SQLite opens now; the logs are recovered after the node listens, so /health/live
  // answers and /health/ready says 503 "recovering storage" meanwhile.
  const broker = Broker.create({
    dataDir: settings.dataDir,
    nodeId: settings.nodeId,
    topicDefaults,
    // num.partitions from the config file is already folded into settings.numPartitions (config.ts).
    defaultPartitionCount: settings.numPartitions,
    retentionCheckIntervalMs: settings.retentionCheckIntervalMs,
    offsetsRetentionMs: settings.offsetsRetentionMinutes * 60_000,
    adminKey: settings.adminKey === '' ? undefined : settings.adminKey,
    onError: (error, context) => backgroundLog.current?.error({ err: error }, `background ${context} failed`),
  });
  const { app } = await buildApp({
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
