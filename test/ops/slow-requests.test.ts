/**
 * Slow request bodies cannot pin a node (before: requestTimeout 0, and 300 connections
 * sending a body a byte at a time held every in-flight slot for minutes, so every
 * request, /health/ready included, got 503). A request not received whole within
 * --request-body-timeout-ms gets 408 REQUEST_BODY_TIMEOUT in the documented error
 * shape and its connection closes; health and metrics are answered whatever the
 * in-flight count.
 */
import t from 'tap';
import { requestJson } from '../helpers/http.js';
import { RawConnection } from '../helpers/http-support.js';
import { startInProcess } from './support.js';

const IN_FLIGHT_MAX = 4;
const BODY_TIMEOUT_MS = 600;

/** Starts a produce whose body never finishes: the head and 1 byte of a promised 100. */
async function trickle(url: string): Promise<RawConnection> {
  const connection = await RawConnection.open(url);
  connection.write(RawConnection.requestText('POST', '/v1/topics/orders/records', { 'content-type': 'application/json', 'content-length': '100' }) + '{');
  return connection;
}

void t.test('a body that does not arrive in time gets 408 in the error shape and the connection closes', async (t) => {
  const node = await startInProcess(t, { requestBodyTimeoutMs: BODY_TIMEOUT_MS, guardRails: { inFlightRequestsMax: 100, inFlightRequestsPerConnectionMax: 100, eventLoopDelayMsMax: 0 } });
  const startedMs = Date.now();
  const connection = await trickle(node.url);
  t.teardown(() => connection.close());
  const response = await connection.readResponse(10_000);
  t.equal(response.status, 408, `408 after ${Date.now() - startedMs} ms`);
  t.equal(JSON.parse(response.body).error.code, 'REQUEST_BODY_TIMEOUT', response.body);
  t.equal(response.headers.connection, 'close');
  await new Promise<void>((resolve) => (connection.socket.destroyed ? resolve() : connection.socket.once('close', () => resolve())));
  t.pass('the node closed the connection');
});

void t.test('slow uploads holding every in-flight slot do not stop health, metrics, and end at the body timeout', async (t) => {
  const node = await startInProcess(t, { requestBodyTimeoutMs: BODY_TIMEOUT_MS, guardRails: { inFlightRequestsMax: IN_FLIGHT_MAX, inFlightRequestsPerConnectionMax: 100, eventLoopDelayMsMax: 0 } });
  await requestJson(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'orders', partitions: 1 } });
  const slow = await Promise.all(Array.from({ length: IN_FLIGHT_MAX }, () => trickle(node.url)));
  t.teardown(() => slow.forEach((connection) => connection.close()));
  // Let the node see every trickling request before asking for more.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const refused = await requestJson(`${node.url}/v1/topics`);
  t.equal(refused.status, 503, 'an ordinary request is refused while every slot is held');
  t.equal((refused.body as any).error.code, 'OVERLOADED');
  for (const path of ['/health/live', '/health/ready', '/metrics']) {
    const response = await fetch(`${node.url}${path}`);
    t.equal(response.status, 200, `${path} answers while every slot is held`);
    await response.arrayBuffer();
  }
  const answers = await Promise.all(slow.map((connection) => connection.readResponse(10_000)));
  t.same(answers.map((answer) => answer.status), Array(IN_FLIGHT_MAX).fill(408), 'every slow upload ended with 408');
  // The slots are free again once the timed-out requests closed.
  const deadlineMs = Date.now() + 5_000;
  let status = 0;
  while (Date.now() < deadlineMs && status !== 200) {
    status = (await requestJson(`${node.url}/v1/topics`)).status;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(status, 200, 'ordinary requests are served again');
});
