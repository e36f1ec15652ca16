/**
 * Starts a real Runnel node in this process on 127.0.0.1:0 with a temp data
 * directory, for integration tests over HTTP, the way `runnel serve` does (node/'s
 * RunnelNode: listen, recover, stop in order). Closed in t.teardown.
 * `isAuthEnabled`, `isMetricsKeyRequired` and `tls` are passed on to the HTTP app (all off by default).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Broker, BrokerOptions } from '../../src/broker/broker.js';
import type { RunnelApp } from '../../src/http/app.js';
import { limits } from '../../src/limits.js';
import type { NodeAppOptions } from '../../src/node/node-options.js';
import { RunnelNode } from '../../src/node/runnel-node.js';

export interface TestServer {
  url: string;
  node: RunnelNode;
  broker: Broker;
  runnel: RunnelApp;
  dataDir: string;
  /** Closes HTTP and the broker cleanly (as a graceful shutdown would). */
  close: () => Promise<void>;
}

interface Teardownable {
  teardown: (fn: () => unknown) => void;
}

export interface InProcessOptions {
  /** Anything the broker takes; a temp data directory (removed at teardown) unless dataDir is given. */
  broker?: Partial<BrokerOptions>;
  /** Anything the HTTP app takes (guard rails, a logger, ...). */
  app?: Partial<NodeAppOptions>;
  /** Prefix of the temp data directory. */
  prefix?: string;
}

/** A single node with any broker and app options, started and closed at teardown. */
export async function startInProcessNode(t: Teardownable, options: InProcessOptions = {}): Promise<TestServer> {
  // Our own temp dir rather than t.testdir(): tap removes that before teardowns run.
  const ownDir = options.broker?.dataDir === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), options.prefix ?? 'runnel-test-')) : undefined;
  const dataDir = options.broker?.dataDir ?? (ownDir as string);
  const node = await RunnelNode.create({
    host: '127.0.0.1',
    port: 0,
    broker: { nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000, ...options.broker, dataDir },
    app: { bodyLimitBytes: limits.requestBodyBytesDefault, ...options.app },
  });
  const url = await node.start();
  const close = (): Promise<void> => node.stop();
  t.teardown(async () => {
    await close();
    if (ownDir !== undefined) fs.rmSync(ownDir, { recursive: true, force: true });
  });
  return { url, node, broker: node.broker, runnel: node.http, dataDir, close };
}

export async function startServer(
  t: Teardownable,
  options: Partial<BrokerOptions> & Pick<NodeAppOptions, 'isAuthEnabled' | 'isMetricsKeyRequired' | 'tls'> & { bodyLimitBytes?: number } = {},
): Promise<TestServer> {
  const { isAuthEnabled, isMetricsKeyRequired, tls, bodyLimitBytes, ...brokerOptions } = options;
  return startInProcessNode(t, {
    broker: brokerOptions,
    app: { bodyLimitBytes: bodyLimitBytes ?? limits.requestBodyBytesDefault, isAuthEnabled, isMetricsKeyRequired, tls },
  });
}
