/**
 * Builds the OpenAPI document from the route schemas (a node built but never
 * started: nothing listens, no log is recovered, a throwaway data directory).
 * scripts/write-openapi.ts writes it to openapi/ and a test fails when the
 * committed file differs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { limits } from '../limits.js';
import { RunnelNode } from './runnel-node.js';

export async function openApiDocument(): Promise<object> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-openapi-'));
  try {
    const node = await RunnelNode.create({
      host: '127.0.0.1',
      port: 0,
      broker: { dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000 },
      app: { bodyLimitBytes: limits.requestBodyBytesDefault },
    });
    try {
      await node.http.app.ready();
      return node.http.app.swagger() as object;
    } finally {
      await node.stop();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function openApiText(document: object): string {
  return JSON.stringify(document, null, 2) + '\n';
}
