/**
 * The cluster secret cannot be crossed by spelling the path differently (issue 12,
 * item 1). The check once looked at the raw request target while the router matches
 * a normalised path, so `POST http://host/internal/...` (absolute form) or
 * `POST /%69nternal/...` reached the controller, the forwarded produce and the rest
 * with no secret. Every spelling below goes over a raw socket (node:net), so no client
 * normalises it first, to every node of a real three-node cluster with a secret and
 * --auth api-key, and then to a single node with --auth api-key (where the internal
 * routes are not registered at all). 401/403/404/400 are fine; 2xx is the bug. Then
 * the state says what the answers say: no topic made, none deleted, nothing appended
 * (the canonical request with the secret, sent last, proves each body was valid).
 */
import net from 'node:net';
import t from 'tap';
import { startCluster, type Cluster, type ClusterDescription } from '../helpers/cluster.js';
import { requestJson } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';

const CLUSTER_SECRET = 'cluster-secret-test-0123456789ab';
const ADMIN_KEY = 'cluster-secret-admin-key-0123456789';
const ADMIN = { authorization: `Bearer ${ADMIN_KEY}` };
const KEPT = 'kept';
const CREATED = 'made-by-bypass';
const RAW_TIMEOUT_MS = 5_000;

interface RawAnswer { status: number; text: string }

/** One request over a fresh socket, target sent byte for byte; status 0 when none came in time. */
function rawRequest(port: number, target: string, body: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let text = '';
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: match === null ? 0 : Number(match[1]), text: text.slice(0, 500) });
    };
    const timer = setTimeout(finish, RAW_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => { if (text.length < 100_000) text += chunk; });
    socket.once('end', finish);
    socket.once('close', finish);
    socket.once('error', finish);
    const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    socket.write(`POST ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\n`
      + `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n${body}`);
  });
}

const encodeLetter = (letter: string): string => `%${letter.charCodeAt(0).toString(16)}`;

/** Every way of writing `path` (which starts /internal/v1/) that a router might take for it. */
function spellings(port: number, path: string): string[] {
  const rest = path.slice('/internal'.length); // /v1/...
  const segments = path.split('/'); // ['', 'internal', 'v1', ...]
  const last = segments.at(-1)!;
  const withLast = (replacement: string): string => [...segments.slice(0, -1), replacement].join('/');
  return [
    `http://127.0.0.1:${port}${path}`,
    `HTTP://127.0.0.1:${port}${path}`,
    `http://somewhere-else.example${path}`,
    `https://127.0.0.1:${port}${path}`,
    `http://127.0.0.1:${port}/%69nternal${rest}`,
    `/%69nternal${rest}`,
    `/%49nternal${rest}`,
    `/internal/%76${rest.slice(2)}`,
    withLast(`${encodeLetter(last[0])}${last.slice(1)}`),
    path.replace('/controller/', '/%63ontroller/'),
    path.split('').map((character) => (/[a-z]/.test(character) ? encodeLetter(character) : character)).join(''),
    `/internal%2F${rest.slice(1)}`,
    `/${path}`,
    `//${path}`,
    `/.${path}`,
    `/%2e${path}`,
    `/./.${path}`,
    `/internal/.${rest}`,
    `/internal/v1/..${rest}`,
    `/x/..${path}`,
    `/internal.${rest}`,
    `/internal..${rest}`,
    `${path}.`,
    `${path}./`,
    `${path}/`,
    `${path}?x=1`,
    `${path};x=1`,
    `/INTERNAL${rest}`,
    `/Internal${rest}`,
    `/iNtErNaL${rest.toUpperCase()}`,
    path.toUpperCase(),
    `/internal${rest.replace(/^\/v1/, '/V1')}`,
  ];
}

interface Target { path: string; body: string }

function targets(): Target[] {
  const produce = { topic: KEPT, records: [{ partition: 0, value: 'smuggled' }], keyFormat: 'string', valueFormat: 'string', acks: 'leader' };
  return [
    { path: '/internal/v1/controller/create-topic', body: JSON.stringify({ name: CREATED, partitions: 1, replicationFactor: 1, configs: {} }) },
    { path: '/internal/v1/controller/delete-topic', body: JSON.stringify({ name: KEPT }) },
    { path: '/internal/v1/produce', body: JSON.stringify(produce) },
    { path: '/internal/v1/raft', body: JSON.stringify({ messages: [] }) },
    { path: '/internal/v1/replication/fetch', body: JSON.stringify({ replicaId: 2, maxWaitMs: 0, maxBytes: 1024, partitions: [] }) },
  ];
}

/** Sends every spelling of every target to `port`; returns the ones answered 2xx (or with no status line). */
async function bypasses(port: number, headers: Record<string, string> = {}): Promise<string[]> {
  const failures: string[] = [];
  for (const target of targets()) {
    for (const spelling of spellings(port, target.path)) {
      const answer = await rawRequest(port, spelling, target.body, headers);
      if (answer.status === 0 || (answer.status >= 200 && answer.status < 300)) failures.push(`POST ${spelling} -> ${answer.status} ${answer.text.split('\r\n\r\n')[1] ?? ''}`);
    }
  }
  return failures;
}

/** Until every node names one controller and sees three nodes online (with the admin key: auth is on). */
async function waitForController(cluster: Cluster, timeoutMs: number): Promise<number> {
  return cluster.waitFor(async () => {
    const answers = await Promise.all(cluster.urls().map(async (url) => {
      const response = await requestJson<ClusterDescription>(`${url}/v1/cluster`, { headers: ADMIN, timeoutMs: 3_000 }).catch(() => undefined);
      return response?.status === 200 ? response.body : undefined;
    }));
    const controllers = new Set(answers.map((answer) => answer?.controller ?? null));
    const isOnline = answers.every((answer) => answer !== undefined && answer.nodes.length === 3 && answer.nodes.every((node) => node.state === 'online'));
    const [controller] = controllers;
    return isOnline && controllers.size === 1 && controller !== null ? controller : undefined;
  }, timeoutMs, 'one controller and three online nodes');
}

void t.test('a three-node cluster with a secret and --auth api-key: no spelling of /internal passes without the secret', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, clusterSecret: CLUSTER_SECRET, args: ['--auth', 'api-key', '--admin-key', ADMIN_KEY] });
  const controller = await waitForController(cluster, 20_000);
  const created = await requestJson(`${cluster.url(controller)}/v1/topics`, { headers: ADMIN, body: { name: KEPT, partitions: 1, replicationFactor: 3 }, timeoutMs: 20_000 });
  t.equal(created.status, 201, `topic ${KEPT} created with the admin key`);
  const leader = await cluster.waitFor(async () => {
    const view = await requestJson<{ partitions: Array<{ leader: number | null; isr: number[] }> }>(`${cluster.url(controller)}/v1/topics/${KEPT}`, { headers: ADMIN, timeoutMs: 3_000 });
    const partition = view.body?.partitions?.[0];
    return partition !== undefined && partition.isr.length === 3 ? partition.leader : undefined;
  }, 20_000, `${KEPT}-0 with a leader and a full ISR`);

  for (const member of cluster.members) {
    const failures = await bypasses(member.port);
    t.same(failures, [], `node ${member.nodeId}: every spelling without the secret is refused`);
    const wrong = await bypasses(member.port, { 'x-runnel-cluster-secret': 'not-the-secret-0123456789ab' });
    t.same(wrong, [], `node ${member.nodeId}: every spelling with a wrong secret (of the same length) is refused`);
  }

  for (const member of cluster.members) {
    t.equal((await requestJson(`${member.url}/v1/topics/${CREATED}`, { headers: ADMIN })).status, 404, `node ${member.nodeId}: no topic ${CREATED} was made`);
    t.equal((await requestJson(`${member.url}/v1/topics/${KEPT}`, { headers: ADMIN })).status, 200, `node ${member.nodeId}: ${KEPT} was not deleted`);
  }

  // With the secret, the plain spelling works: the bodies above were valid, so their
  // refusals were the secret's. The produce lands at offset 0: nothing was appended before.
  const withSecret = { 'x-runnel-cluster-secret': CLUSTER_SECRET };
  const [create, remove, produce] = targets();
  const produced = await rawRequest(cluster.member(leader).port, produce.path, produce.body, withSecret);
  t.equal(produced.status, 200, `forwarded produce with the secret on the leader (node ${leader}): 200 ${produced.text}`);
  t.match(produced.text, /"offsets":\[\{"partition":0,"offset":0,/, 'and the record took offset 0: no spelling appended one');
  const made = await rawRequest(cluster.member(controller).port, create.path, create.body, withSecret);
  t.ok(made.status >= 200 && made.status < 300, `create-topic with the secret on the controller: ${made.status}`);
  const deleted = await rawRequest(cluster.member(controller).port, remove.path, remove.body, withSecret);
  t.ok(deleted.status >= 200 && deleted.status < 300, `delete-topic of ${KEPT} with the secret on the controller: ${deleted.status} (so it existed)`);
});

void t.test('a single node with --auth api-key: no spelling of /internal answers 2xx', async (t) => {
  const server = await startServer(t, { isAuthEnabled: true, adminKey: ADMIN_KEY });
  const port = Number(new URL(server.url).port);
  t.same(await bypasses(port), [], 'every spelling is refused (the internal routes are not registered on a single node)');
  t.equal((await requestJson(`${server.url}/v1/topics/${CREATED}`, { headers: ADMIN })).status, 404, `no topic ${CREATED} was made`);
});
