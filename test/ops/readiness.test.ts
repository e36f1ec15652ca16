/**
 * Readiness follows recovery: a node listens before its logs are recovered, answers
 * /health/live at once, /health/ready 503 "recovering storage" and every API route
 * 503 NOT_READY until recovery ends; then ready, with the records all there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { RunnelNode } from '../../src/node/runnel-node.js';
import { createTopic, produce, requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

void t.test('before recovery the node is live but not ready; after it, ready with every record', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-ready-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const first = await startServer(t, { dataDir });
  await createTopic(first.url, 'kept', { partitions: 3 });
  const acknowledged = await produce(first.url, 'kept', Array.from({ length: 30 }, (_, i) => ({ value: i })));
  await first.close();

  // The steps of RunnelNode.start(), with the test looking in between.
  const node = await RunnelNode.create({
    host: '127.0.0.1',
    port: 0,
    broker: { dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000 },
    app: { bodyLimitBytes: 1024 * 1024 },
  });
  const url = await node.listen();
  t.teardown(() => node.stop());

  t.equal((await requestJson(`${url}/health/live`)).status, 200, 'live while recovering');
  const notReady = await requestJson<{ status: string; reason: string }>(`${url}/health/ready`);
  t.equal(notReady.status, 503, 'not ready while recovering');
  t.equal(notReady.body.reason, 'recovering storage');
  const refused = await requestJson<{ error: { code: string } }>(`${url}/v1/topics/kept/partitions/0/records`);
  t.equal(refused.status, 503);
  t.equal(refused.body.error.code, 'NOT_READY', 'API routes answer NOT_READY');
  t.equal((await requestJson(`${url}/openapi.json`)).status, 200, 'docs are served while recovering');

  await node.recover();
  const ready = await requestJson<{ status: string; recovery: { partitions: number; cleanPartitions: number } }>(`${url}/health/ready`);
  t.equal(ready.status, 200, 'ready after recovery');
  t.equal(ready.body.recovery.partitions, 3);
  t.equal(ready.body.recovery.cleanPartitions, 3, 'a clean shutdown needed no scan');
  let count = 0;
  for (let partition = 0; partition < 3; partition++) {
    const fetched = await requestJson<{ records: Array<{ offset: number; value: number }> }>(`${url}/v1/topics/kept/partitions/${partition}/records?offset=earliest&maxRecords=100`);
    t.equal(fetched.status, 200);
    for (const record of fetched.body.records) {
      const sent = acknowledged.findIndex((a) => a.partition === partition && a.offset === record.offset);
      t.equal(record.value, sent, `record at ${partition}/${record.offset} is the one acknowledged there`);
      count += 1;
    }
  }
  t.equal(count, acknowledged.length, 'every acknowledged record is there');
});

void t.test('a node that is stopping answers API routes with NOT_READY in the catalogue shape', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'stopping');
  // A long-poll keeps the server busy while it closes.
  const waiting = requestJson(`${server.url}/v1/topics/stopping/partitions/0/records?waitMs=5000`);
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closing = server.runnel.app.close();
  const refused = await requestJson<{ error: { code: string } }>(`${server.url}/v1/topics`).catch(() => undefined);
  if (refused !== undefined) {
    t.equal(refused.status, 503);
    t.equal(refused.body.error.code, 'NOT_READY');
  } else {
    t.pass('the connection was refused: the listener had already closed');
  }
  await closing;
  await waiting.catch(() => undefined);
});
