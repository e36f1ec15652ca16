/**
 * Starts a real Runnel (broker + Fastify) in this process on 127.0.0.1:0 with a temp
 * data directory, for integration tests over HTTP. Closed in t.teardown.
 * `isAuthEnabled`, `isMetricsKeyRequired` and `tls` are passed on to buildApp (all off by default).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Broker, type BrokerOptions } from '../../src/broker/broker.js';
import { buildApp, type AppOptions, type RunnelApp } from '../../src/http/app.js';
import { limits } from '../../src/limits.js';

export interface TestServer {
  url: string;
  broker: Broker;
  runnel: RunnelApp;
  dataDir: string;
  /** Closes HTTP and the broker cleanly (as a graceful shutdown would). */
  close: () => Promise<void>;
}

interface Teardownable {
  teardown: (fn: () => unknown) => void;
}

export async function startServer(
  t: Teardownable,
  options: Partial<BrokerOptions> & Pick<AppOptions, 'isAuthEnabled' | 'isMetricsKeyRequired' | 'tls'> & { bodyLimitBytes?: number } = {},
): Promise<TestServer> {
  // Our own temp dir rather than t.testdir(): tap removes that before teardowns run.
  const ownDir = options.dataDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-test-')) : undefined;
  const dataDir = options.dataDir ?? (ownDir as string);
  const { isAuthEnabled, isMetricsKeyRequired, tls, bodyLimitBytes, ...brokerOptions } = options;
  const broker = Broker.open({
    dataDir,
    nodeId: 1,
    topicDefaults: {},
    defaultPartitionCount: 1,
    retentionCheckIntervalMs: 300_000,
    ...brokerOptions,
  });
  const runnel = await buildApp({ broker, bodyLimitBytes: bodyLimitBytes ?? limits.requestBodyBytesDefault, isAuthEnabled, isMetricsKeyRequired, tls });
  const url = await runnel.app.listen({ host: '127.0.0.1', port: 0 });
  let isClosed = false;
  const close = async (): Promise<void> => {
    if (isClosed) return;
    isClosed = true;
    await runnel.app.close();
    await broker.close();
  };
  t.teardown(async () => {
    await close();
    if (ownDir !== undefined) fs.rmSync(ownDir, { recursive: true, force: true });
  });
  return { url, broker, runnel, dataDir, close };
}
