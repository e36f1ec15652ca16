/**
 * API keys are cluster-wide (as KRaft keeps SCRAM credentials in its metadata log):
 * behind one URL a client may reach any node, so a key made on node 1 must work on
 * nodes 2 and 3, with its grants, also after a node restarts; a key deleted on node 2
 * must be refused on all three, and its open streams end there too. The controller
 * takes only well-formed key records (never one with a secret in it).
 * Three real nodes (helpers/cluster.ts) with --auth api-key.
 */
import t from 'tap';
import { request, type Dispatcher } from 'undici';
import { startCluster, type Cluster, type ClusterDescription } from '../helpers/cluster.js';
import { requestJson } from '../helpers/http.js';

t.setTimeout(180_000);

const ADMIN_KEY = 'cluster-keys-bootstrap-admin-key-0123456789';
const CLUSTER_SECRET = 'cluster-keys-cluster-secret-0123456789';
const INTERNAL = { 'x-runnel-cluster-secret': CLUSTER_SECRET };
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

/** Until every node names one controller and sees three nodes online (with the admin key: auth is on). */
async function waitForController(cluster: Cluster): Promise<number> {
  return cluster.waitFor(async () => {
    const answers = await Promise.all(cluster.runningIds().map(async (nodeId) => {
      const response = await requestJson<ClusterDescription>(`${cluster.url(nodeId)}/v1/cluster`, { headers: ADMIN, timeoutMs: 3_000 }).catch(() => undefined);
      return response?.status === 200 ? response.body : undefined;
    }));
    const controllers = new Set(answers.map((answer) => answer?.controller ?? null));
    const isOnline = answers.every((answer) => answer !== undefined && answer.nodes.length === 3 && answer.nodes.every((node) => node.state === 'online'));
    const [controller] = controllers;
    return isOnline && controllers.size === 1 && controller !== null ? controller : undefined;
  }, 30_000, 'one controller and three online nodes');
}

async function createTopic(cluster: Cluster, via: number, name: string): Promise<void> {
  const created = await requestJson(`${cluster.url(via)}/v1/topics`, { headers: ADMIN, body: { name, partitions: 1, replicationFactor: 3 }, timeoutMs: 20_000 });
  if (created.status !== 201) throw new Error(`create ${name}: ${created.status} ${JSON.stringify(created.body)}`);
  await cluster.waitFor(async () => {
    const views = await Promise.all(cluster.runningIds().map(async (nodeId) =>
      requestJson<{ partitions: Array<{ leader: number | null; isr: number[] }> }>(`${cluster.url(nodeId)}/v1/topics/${name}`, { headers: ADMIN, timeoutMs: 3_000 })));
    return views.every((view) => view.status === 200 && view.body.partitions[0].leader !== null && view.body.partitions[0].isr.length === 3);
  }, 20_000, `${name}-0 with a leader and a full ISR on every node`);
}

/** Opens an SSE stream and keeps reading it in the background (30 s at most). */
async function openStream(url: string, headers: Record<string, string>): Promise<{ status: number; text: () => string; ended: Promise<string>; close: () => void }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30_000);
  timer.unref();
  const response: Dispatcher.ResponseData = await request(url, { headers: { ...headers, accept: 'text/event-stream' }, signal: controller.signal });
  let text = '';
  const ended = (async (): Promise<string> => {
    try {
      for await (const chunk of response.body) text += (chunk as Buffer).toString('utf8');
      return 'end';
    } catch (error) {
      return (error as Error).name;
    } finally {
      clearTimeout(timer);
    }
  })();
  return { status: response.statusCode, text: () => text, ended, close: () => controller.abort() };
}

void t.test('API keys across a three-node cluster', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, clusterSecret: CLUSTER_SECRET, args: ['--auth', 'api-key', '--admin-key', ADMIN_KEY] });
  const controller = await waitForController(cluster);
  await createTopic(cluster, controller, 'orders');
  await createTopic(cluster, controller, 'billing');
  const produced = await requestJson(`${cluster.url(1)}/v1/topics/orders/records`, { headers: ADMIN, body: { records: [{ value: 'first-order' }] }, timeoutMs: 20_000 });
  t.equal(produced.status, 200, 'a record in orders');

  const made = await requestJson<{ keyId: string; key: string; name: string }>(`${cluster.url(1)}/v1/keys`, {
    headers: ADMIN, body: { name: 'orders-reader', grants: [{ resource: 'topic', name: 'orders', operations: ['read'] }] }, timeoutMs: 20_000,
  });
  t.equal(made.status, 201, 'key made on node 1');
  const { keyId, key } = made.body;
  const reader = bearer(key);
  const offsets = (nodeId: number, topic: string, headers: Record<string, string>) =>
    requestJson<{ error?: { code: string } }>(`${cluster.url(nodeId)}/v1/topics/${topic}/partitions/0/offsets`, { headers, timeoutMs: 10_000 });

  await t.test('the key works on the node that made it at once, and on the others once they applied it, grants and all', async (t) => {
    t.equal((await offsets(1, 'orders', reader)).status, 200, 'node 1: read orders right after the answer');
    for (const nodeId of [2, 3]) {
      await cluster.waitFor(async () => (await offsets(nodeId, 'orders', reader)).status === 200, 10_000, `node ${nodeId} accepts the key`);
    }
    for (const nodeId of [1, 2, 3]) {
      t.equal((await offsets(nodeId, 'orders', reader)).status, 200, `node ${nodeId}: read on orders is granted`);
      const other = await offsets(nodeId, 'billing', reader);
      t.equal(other.status, 403, `node ${nodeId}: no grant on billing`);
      t.equal(other.body.error?.code, 'FORBIDDEN');
      const write = await requestJson<{ error?: { code: string } }>(`${cluster.url(nodeId)}/v1/topics/orders/records`, { headers: reader, body: { records: [{ value: 'x' }] } });
      t.equal(write.status, 403, `node ${nodeId}: no write on orders`);
      t.equal((await requestJson(`${cluster.url(nodeId)}/v1/keys`, { headers: reader })).status, 403, `node ${nodeId}: no key management`);
      const listed = await requestJson<{ keys: Array<Record<string, unknown>> }>(`${cluster.url(nodeId)}/v1/keys`, { headers: ADMIN });
      const entry = listed.body.keys.find((each) => each.keyId === keyId);
      t.match(entry, { keyId, name: 'orders-reader', grants: [{ resource: 'topic', name: 'orders', operations: ['read'] }] }, `node ${nodeId} lists the key`);
      t.notOk(JSON.stringify(listed.body).includes(key.split('_')[2]), `node ${nodeId}: the secret is listed nowhere`);
    }
    t.equal((await offsets(2, 'orders', bearer(`rk_${keyId}_${'A'.repeat(43)}`))).status, 401, 'a wrong secret with the right id is refused');
  });

  await t.test('a restarted node still knows the key', async (t) => {
    await cluster.restart(3);
    await cluster.waitFor(async () => (await offsets(3, 'orders', reader)).status === 200, 30_000, 'node 3, restarted, accepts the key');
    t.equal((await offsets(3, 'billing', reader)).status, 403, 'and still enforces its grants');
    await waitForController(cluster);
  });

  await t.test('deleted on node 2, the key is refused on all three and its streams end everywhere', async (t) => {
    const streams = new Map<number, Awaited<ReturnType<typeof openStream>>>();
    for (const nodeId of [1, 3]) {
      const stream = await openStream(`${cluster.url(nodeId)}/v1/topics/orders/partitions/0/records?offset=earliest`, reader);
      t.teardown(() => stream.close());
      t.equal(stream.status, 200, `node ${nodeId}: a stream opened with the key`);
      await cluster.waitFor(() => stream.text().includes('first-order'), 10_000, `node ${nodeId}: the stream delivers the record`);
      streams.set(nodeId, stream);
    }
    const deleted = await requestJson(`${cluster.url(2)}/v1/keys/${keyId}`, { method: 'DELETE', headers: ADMIN, timeoutMs: 20_000 });
    t.equal(deleted.status, 204, 'deleted on node 2');
    const refused = await offsets(2, 'orders', reader);
    t.equal(refused.status, 401, 'node 2 refuses it right after the answer');
    t.equal(refused.body.error?.code, 'UNAUTHENTICATED');
    for (const nodeId of [1, 3]) {
      await cluster.waitFor(async () => (await offsets(nodeId, 'orders', reader)).status === 401, 10_000, `node ${nodeId} refuses the deleted key`);
      t.pass(`node ${nodeId}: 401`);
      const stream = streams.get(nodeId)!;
      const ended = await Promise.race([stream.ended, new Promise<string>((resolve) => setTimeout(() => resolve('still open after 10 s'), 10_000).unref())]);
      t.not(ended, 'still open after 10 s', `node ${nodeId}: the key's open stream ended (${ended})`);
    }
    const again = await requestJson<{ error?: { code: string } }>(`${cluster.url(1)}/v1/keys/${keyId}`, { method: 'DELETE', headers: ADMIN, timeoutMs: 20_000 });
    t.equal(again.status, 404, 'deleting it again, on node 1: 404');
    t.equal(again.body.error?.code, 'KEY_NOT_FOUND');
    for (const nodeId of [1, 2, 3]) {
      const listed = await requestJson<{ keys: Array<{ keyId: string }> }>(`${cluster.url(nodeId)}/v1/keys`, { headers: ADMIN });
      t.notOk(listed.body.keys.some((each) => each.keyId === keyId), `node ${nodeId} no longer lists it`);
    }
  });

  await t.test('the controller refuses a malformed key record request', async (t) => {
    const active = await waitForController(cluster);
    const before = await requestJson<{ keys: unknown[] }>(`${cluster.url(active)}/v1/keys`, { headers: ADMIN });
    const good = { keyId: 'abcDEF123456', name: 'sneaky', secretSha256: 'a'.repeat(64), grants: [], createdAtMs: 1 };
    const bad: Array<[string, object]> = [
      ['a secret among the fields', { ...good, secret: 'the-secret' }],
      ['a hash that is not 64 hex digits', { ...good, secretSha256: 'not-a-hash' }],
      ['a grant with name and prefix', { ...good, grants: [{ resource: 'topic', name: 'a', prefix: 'b', operations: ['read'] }] }],
      ['a key id with a dash', { ...good, keyId: 'abc-def' }],
      ['no name', { ...good, name: undefined }],
    ];
    for (const [what, body] of bad) {
      const answer = await requestJson<{ error?: { code: string } }>(`${cluster.url(active)}/internal/v1/controller/create-api-key`, { headers: INTERNAL, body, timeoutMs: 10_000 });
      t.equal(answer.status, 400, `${what}: 400 (${JSON.stringify(answer.body)})`);
    }
    const missing = await requestJson<{ error?: { code: string } }>(`${cluster.url(active)}/internal/v1/controller/delete-api-key`, { headers: INTERNAL, body: { keyId: 'noSuchKey123' }, timeoutMs: 10_000 });
    t.equal(missing.status, 404, 'removing a key the metadata does not hold: 404');
    t.equal(missing.body.error?.code, 'KEY_NOT_FOUND');
    const after = await requestJson<{ keys: unknown[] }>(`${cluster.url(active)}/v1/keys`, { headers: ADMIN });
    t.same(after.body.keys, before.body.keys, 'no key was added');
  });
});
