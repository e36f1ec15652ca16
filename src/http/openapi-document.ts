/**
 * Builds the OpenAPI document from the route schemas (no server listening, a
 * throwaway data directory). scripts/write-openapi.ts writes it to openapi/ and a
 * test fails when the committed file differs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Broker } from '../broker/broker.js';
import { limits } from '../limits.js';
import { buildApp } from './app.js';

export async function openApiDocument(): Promise<object> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-openapi-'));
  const broker = Broker.open({ dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000 });
  try {
    const { app } = await buildApp({ broker, bodyLimitBytes: limits.requestBodyBytesDefault });
    await app.ready();
    const document = app.swagger() as object;
    await app.close();
    return document;
  } finally {
    await broker.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

export function openApiText(document: object): string {
  return JSON.stringify(document, null, 2) + '\n';
}
