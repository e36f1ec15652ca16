/**
 * A graceful shutdown does not wait on idle clients: a connection that never sent a
 * request, or a keep-alive connection between requests, is ended when closing begins.
 * Regression: app.close() used to wait until such clients hung up (about 70 s with
 * undici after an aborted request), so shutdown ran into its timeout and exited 1.
 */
import net from 'node:net';
import t from 'tap';
import { Agent, request } from 'undici';
import { startServer } from '../helpers/server.js';

void t.test('closing the node ends idle connections at once', async (t) => {
  const server = await startServer(t);
  const { port } = new URL(server.url);
  const silent = net.connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => silent.once('connect', resolve).once('error', reject));
  const silentClosed = new Promise<void>((resolve) => silent.once('close', () => resolve()));
  silent.on('error', () => undefined);
  const agent = new Agent({ keepAliveTimeout: 60_000 });
  t.teardown(() => agent.destroy());
  const answer = await request(`${server.url}/health/live`, { dispatcher: agent });
  await answer.body.text();
  const startedMs = Date.now();
  await server.close();
  const elapsedMs = Date.now() - startedMs;
  await silentClosed;
  // A liveness bound, not a speed target: without the fix this waits for the clients (minutes).
  t.ok(elapsedMs < 10_000, `close completed (${elapsedMs} ms) with a silent and a keep-alive connection open`);
});
