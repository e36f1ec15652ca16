/**
 * Issue 12 item 9: a node must not refuse work because it has not measured its event
 * loop yet. The event-loop sampler (then @fastify/under-pressure) reported Infinity
 * when its histogram holds no sample (the loop was busy from the start, as on a loaded
 * machine); every request, /health/ready included, got 503 OVERLOADED for about a second.
 */
import t from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { requestJson } from '../helpers/http.js';
import { limits } from '../../src/limits.js';
import { RunnelNode } from '../../src/node/runnel-node.js';

/** Keeps the event loop busy, as start-up on a loaded machine does. */
function blockEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy
  }
}

void t.test('right after start on a busy loop, requests are served, not refused for an unmeasured delay', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-startup-pressure-'));
  const node = await RunnelNode.create({
    host: '127.0.0.1',
    port: 0,
    broker: { nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000, dataDir },
    app: { bodyLimitBytes: limits.requestBodyBytesDefault, guardRails: { inFlightRequestsMax: 100, inFlightRequestsPerConnectionMax: 100, eventLoopDelayMsMax: 1_500 } },
  });
  t.teardown(async () => {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  // Busy from the moment the sampler starts until past its first sample (1 s), so that
  // sample finds no measurement at all.
  blockEventLoop(1_100);
  const url = await node.start();
  const answers = await Promise.all([
    requestJson<{ error?: { code: string; message: string } }>(`${url}/health/ready`),
    requestJson<{ error?: { code: string; message: string } }>(`${url}/v1/topics`),
  ]);
  for (const [index, answer] of answers.entries()) {
    t.not(answer.status, 503, `${['/health/ready', '/v1/topics'][index]} is not refused: ${JSON.stringify(answer.body)}`);
  }
});
