/**
 * The ACL matrix: every route x every kind of grant, over real HTTP against a node
 * with --auth api-key and a bootstrap admin key.
 *
 * The expected answers are written out by hand from the README's grant table (section
 * "API keys and TLS"), never computed with isAllowed(): a wrong rule in
 * src/http/auth.ts or src/broker/access-control.ts must make a cell here fail. Each
 * row is one representative, valid request; a key it allows must get the row's
 * success status exactly, a key it does not allow exactly 403 FORBIDDEN, and a
 * request with no key, a wrong secret or a deleted key exactly 401 UNAUTHENTICATED
 * (other bad keys and headers have their own test below). A refused request must leave no trace: its body carries none of
 * the records' contents, and the state the row changes (a high watermark, committed
 * offsets, members, topics, keys) is the same after it as before.
 *
 * The routes are taken from openapi/openapi.json and the live /openapi.json, so a new
 * route without a row here fails the coverage test.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { request, type Dispatcher } from 'undici';
import type { Grant } from '../../src/broker/access-control.js';
import { startServer } from '../helpers/server.js';

const ADMIN_KEY = 'acl-matrix-bootstrap-admin-key-0123456789';
/** Record values that only a reader of their topic may ever see. */
const MARKERS = { orders: 'marker-orders-7f3a', billing: 'marker-billing-91c2', other: 'marker-other-4d8e', archive: 'marker-archive-0b5c' } as const;
const MEMBER_SESSION = { sessionTimeoutMs: 600_000, rebalanceTimeoutMs: 600_000 };

// ---------------------------------------------------------------------------------
// The keys: one per kind of grant (topic read/write/admin by name and by prefix, on
// all topics, group read by name, group admin by prefix, cluster admin, nothing),
// two combinations a consumer needs, and the bootstrap admin key.
// ---------------------------------------------------------------------------------

const KEY_GRANTS = {
  noGrants: [],
  ordersRead: [{ resource: 'topic', name: 'orders', operations: ['read'] }],
  ordersWrite: [{ resource: 'topic', name: 'orders', operations: ['write'] }],
  ordersAdmin: [{ resource: 'topic', name: 'orders', operations: ['admin'] }],
  billingRead: [{ resource: 'topic', prefix: 'billing.', operations: ['read'] }],
  billingWrite: [{ resource: 'topic', prefix: 'billing.', operations: ['write'] }],
  billingAdmin: [{ resource: 'topic', prefix: 'billing.', operations: ['admin'] }],
  allTopicsRead: [{ resource: 'topic', operations: ['read'] }],
  groupRead: [{ resource: 'group', name: 'app.main', operations: ['read'] }],
  groupAdmin: [{ resource: 'group', prefix: 'app.', operations: ['admin'] }],
  consumer: [
    { resource: 'group', name: 'app.main', operations: ['read'] },
    { resource: 'topic', name: 'orders', operations: ['read'] },
    { resource: 'topic', prefix: 'billing.', operations: ['read'] },
  ],
  groupAdminOrdersRead: [
    { resource: 'group', name: 'app.main', operations: ['admin'] },
    { resource: 'topic', name: 'orders', operations: ['read'] },
  ],
  clusterAdmin: [{ resource: 'cluster', operations: ['admin'] }],
} satisfies Record<string, Grant[]>;

type StoredKeyName = keyof typeof KEY_GRANTS;
type KeyName = StoredKeyName | 'bootstrap';
/** Columns that must never authenticate. */
const UNAUTHENTICATED_COLUMNS = ['anonymous', 'wrongSecret', 'deletedKey'] as const;
type Column = KeyName | (typeof UNAUTHENTICATED_COLUMNS)[number];

const KEY_NAMES: KeyName[] = [...(Object.keys(KEY_GRANTS) as StoredKeyName[]), 'bootstrap'];
const COLUMNS: Column[] = [...KEY_NAMES, ...UNAUTHENTICATED_COLUMNS];

// ---------------------------------------------------------------------------------
// Who may do what, written out from the README grant table.
//   topic read: fetch, stream, offsets; topic write: produce; topic admin: create,
//   alter, delete (and read and write); any grant: see it. group read: join,
//   heartbeat, poll, commit, describe (the member's topics need topic read); group
//   admin: reset (+ topic read), delete. cluster admin: keys. bootstrap: everything.
// ---------------------------------------------------------------------------------

const EVERY_KEY: Column[] = [...KEY_NAMES];
const OPEN: Column[] = [...COLUMNS];
const ONLY_BOOTSTRAP: Column[] = ['bootstrap'];
const SEE_ORDERS: Column[] = ['ordersRead', 'ordersWrite', 'ordersAdmin', 'allTopicsRead', 'consumer', 'groupAdminOrdersRead', 'bootstrap'];
const READ_ORDERS: Column[] = ['ordersRead', 'ordersAdmin', 'allTopicsRead', 'consumer', 'groupAdminOrdersRead', 'bootstrap'];
const WRITE_ORDERS: Column[] = ['ordersWrite', 'ordersAdmin', 'bootstrap'];
const ADMIN_ORDERS: Column[] = ['ordersAdmin', 'bootstrap'];
const SEE_BILLING: Column[] = ['billingRead', 'billingWrite', 'billingAdmin', 'allTopicsRead', 'consumer', 'bootstrap'];
const READ_BILLING: Column[] = ['billingRead', 'billingAdmin', 'allTopicsRead', 'consumer', 'bootstrap'];
const WRITE_BILLING: Column[] = ['billingWrite', 'billingAdmin', 'bootstrap'];
const ADMIN_BILLING: Column[] = ['billingAdmin', 'bootstrap'];
const READ_OTHER: Column[] = ['allTopicsRead', 'bootstrap'];
/** Group app.main: read by name (groupRead, consumer), admin by prefix app. (groupAdmin) or by name. */
const GROUP_READ: Column[] = ['groupRead', 'groupAdmin', 'consumer', 'groupAdminOrdersRead', 'bootstrap'];
const GROUP_ADMIN: Column[] = ['groupAdmin', 'groupAdminOrdersRead', 'bootstrap'];
/** Group app.second: only the prefix grant app. covers it. */
const GROUP_SECOND: Column[] = ['groupAdmin', 'bootstrap'];
/** Group read on app.main plus topic read on orders. */
const CONSUME_ORDERS: Column[] = ['consumer', 'groupAdminOrdersRead', 'bootstrap'];
/** Group read on app.main plus topic read on billing.* (a name grant is not enough for a prefix subscription). */
const CONSUME_BILLING: Column[] = ['consumer', 'bootstrap'];
/** Group admin on app.main plus topic read on orders. */
const RESET_ORDERS: Column[] = ['groupAdminOrdersRead', 'bootstrap'];
const CLUSTER_ADMIN: Column[] = ['clusterAdmin', 'bootstrap'];

// ---------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------

const server = await startServer(t, { isAuthEnabled: true, adminKey: ADMIN_KEY });
const base = server.url;

interface Reply {
  status: number;
  contentType: string;
  text: string;
  json: any;
}

interface CallOptions {
  headers?: Record<string, string>;
  body?: unknown;
  accept?: string;
}

/**
 * One request with a 10 s deadline. A live stream (SSE, NDJSON) is read up to its first
 * complete event or line (at most 64 KiB) and then hung up on.
 */
async function call(method: Dispatcher.HttpMethod, urlPath: string, options: CallOptions = {}): Promise<Reply> {
  const headers: Record<string, string> = { accept: options.accept ?? 'application/json', ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const response = await request(`${base}${urlPath}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
  const contentType = String(response.headers['content-type'] ?? '');
  let text = '';
  const isSse = contentType.startsWith('text/event-stream');
  if (isSse || contentType.startsWith('application/x-ndjson')) {
    for await (const chunk of response.body) {
      text += (chunk as Buffer).toString('utf8');
      if (text.includes(isSse ? '\n\n' : '\n') || text.length > 65_536) break;
    }
    response.body.destroy();
  } else {
    text = await response.body.text();
  }
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.statusCode, contentType, text, json };
}

function bearer(token: string | undefined): Record<string, string> {
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

const adminHeaders = bearer(ADMIN_KEY);

/** As the bootstrap admin; throws unless the status is the one expected. */
async function admin(method: Dispatcher.HttpMethod, urlPath: string, body: unknown, ...okStatuses: number[]): Promise<Reply> {
  const reply = await call(method, urlPath, { headers: adminHeaders, body });
  if (!okStatuses.includes(reply.status)) throw new Error(`setup ${method} ${urlPath}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
  return reply;
}

// Observations of the state a row may change, read from the broker directly (cheap,
// and independent of the HTTP layer under test).
const { broker } = server;
const topicNames = async (): Promise<string[]> => broker.topics.list().map((topic) => topic.record.name).sort();
const topicRecord = async (name: string): Promise<unknown> => ({ ...broker.topics.get(name).record, partitions: broker.topics.get(name).partitions.length });
const highWatermark = async (name: string): Promise<number> => broker.fetcher.offsets(name, 0).highWatermark;
const groupOffsets = async (group: string): Promise<string[]> => broker.groups.offsets(group).map((view) => `${view.topic}-${view.partition}@${view.offset}`).sort();
const memberIds = async (group: string): Promise<string[] | null> => {
  const found = broker.groups.list().find((entry) => entry.groupId === group);
  return found === undefined ? null : (broker.groups.describe(group) as { members: Array<{ memberId: string }> }).members.map((member) => member.memberId).sort();
};
const groupIds = async (): Promise<string[]> => broker.groups.list().map((group) => group.groupId).sort();
const keyIds = async (): Promise<string[]> => broker.keys.list().map((key) => key.keyId).sort();

const commitAsAdmin = (group: string, topic: string, offset: number): Promise<Reply> =>
  admin('POST', `/v1/groups/${group}/offsets`, { offsets: [{ topic, partition: 0, offset }] }, 200);
const joinAsAdmin = async (group: string, subscription: object): Promise<string> =>
  (await admin('POST', `/v1/groups/${group}/members`, { ...subscription, ...MEMBER_SESSION, autoOffsetReset: 'earliest' }, 201)).json.memberId;
const joinAs = async (token: string, group: string, subscription: object): Promise<string> => {
  const reply = await call('POST', `/v1/groups/${group}/members`, { headers: bearer(token), body: { ...subscription, ...MEMBER_SESSION, autoOffsetReset: 'earliest' } });
  if (reply.status !== 201) throw new Error(`setup join ${group}: HTTP ${reply.status} ${reply.text.slice(0, 300)}`);
  return reply.json.memberId;
};
const leaveAsAdmin = (group: string, memberId: string): Promise<Reply> => admin('DELETE', `/v1/groups/${group}/members/${memberId}`, undefined, 204, 404);
const ensureTopic = (name: string): Promise<Reply> => admin('POST', '/v1/topics', { name, partitions: 1 }, 201, 409);

// ---------------------------------------------------------------------------------
// Set-up: topics orders, billing.invoices, other, old.billing.archive (one record each), groups app.main,
// app.second and other-group (committed offsets), and the keys.
// ---------------------------------------------------------------------------------

// old.billing.archive contains the prefix billing. but does not start with it.
for (const [name, marker] of [['orders', MARKERS.orders], ['billing.invoices', MARKERS.billing], ['other', MARKERS.other], ['old.billing.archive', MARKERS.archive]] as const) {
  await admin('POST', '/v1/topics', { name, partitions: 1 }, 201);
  await admin('POST', `/v1/topics/${name}/records`, { records: [{ key: 'k', value: { secret: marker } }] }, 200);
}
await commitAsAdmin('app.main', 'orders', 0);
await commitAsAdmin('app.second', 'other', 0);
await commitAsAdmin('other-group', 'other', 0);

const tokens = {} as Record<Column, string | undefined>;
const keyIdOf = {} as Record<StoredKeyName, string>;
for (const name of Object.keys(KEY_GRANTS) as StoredKeyName[]) {
  const made = (await admin('POST', '/v1/keys', { name, grants: KEY_GRANTS[name] }, 201)).json;
  tokens[name] = made.key;
  keyIdOf[name] = made.keyId;
}
tokens.bootstrap = ADMIN_KEY;
tokens.anonymous = undefined;
{
  // Both of these would be allowed everything if they authenticated.
  const everything: Grant[] = [{ resource: 'topic', operations: ['admin'] }, { resource: 'group', operations: ['admin'] }, { resource: 'cluster', operations: ['admin'] }];
  const kept = (await admin('POST', '/v1/keys', { name: 'everything', grants: everything }, 201)).json.key as string;
  tokens.wrongSecret = kept.slice(0, -1) + (kept.endsWith('A') ? 'B' : 'A');
  const deleted = (await admin('POST', '/v1/keys', { name: 'deleted', grants: everything }, 201)).json;
  await admin('DELETE', `/v1/keys/${deleted.keyId}`, undefined, 204);
  tokens.deletedKey = deleted.key;
}
const SECRETS = Object.values(tokens).filter((token): token is string => token !== undefined && token.startsWith('rk_'));

// ---------------------------------------------------------------------------------
// The rows.
// ---------------------------------------------------------------------------------

interface Row {
  /** The route's entry in routeAccess (src/http/auth.ts): 'METHOD /path/:param'. */
  route: string;
  /** What the request does, for the test name. */
  what: string;
  allowed: Column[];
  /** The status an allowed key gets. */
  okStatus: number;
  send: (headers: Record<string, string>, column: Column) => Promise<Reply>;
  /** Extra checks of an allowed reply. */
  checkAllowed?: (tt: Test, reply: Reply, column: Column) => void;
  /** State that a refused request must leave unchanged. */
  observe?: () => Promise<unknown>;
  /** As the bootstrap admin, before the first column and again after each allowed one. */
  before?: () => Promise<void>;
  /** After every column, as the bootstrap admin (e.g. undo what an allowed request did). */
  after?: (reply: Reply) => Promise<void>;
  beforeAll?: () => Promise<void>;
  afterAll?: () => Promise<void>;
  /** HEAD: no body to check. */
  isHead?: boolean;
}

const FETCH = 'GET /v1/topics/:topic/partitions/:partition/records';
let membersOrders = '';
let membersBilling = '';
let doomedMember = '';
let doomedKeyId = '';

const containsRecord = (marker: string) => (tt: Test, reply: Reply): void => {
  tt.ok(reply.text.includes(marker), `the allowed read returns the record (${marker})`);
};

const rows: Row[] = [
  // ---- cluster and topics ----
  { route: 'GET /v1/cluster', what: 'any valid key may see the cluster', allowed: EVERY_KEY, okStatus: 200, send: (headers) => call('GET', '/v1/cluster', { headers }) },
  { route: 'GET /v1/topics', what: 'any valid key may list topics (filtered)', allowed: EVERY_KEY, okStatus: 200, send: (headers) => call('GET', '/v1/topics', { headers }) },
  { route: 'GET /v1/topics/:topic', what: "describe orders needs a grant on orders", allowed: SEE_ORDERS, okStatus: 200, send: (headers) => call('GET', '/v1/topics/orders', { headers }) },
  { route: 'GET /v1/topics/:topic', what: 'describe billing.invoices needs a grant covering it', allowed: SEE_BILLING, okStatus: 200, send: (headers) => call('GET', '/v1/topics/billing.invoices', { headers }) },
  { route: 'GET /v1/topics/:topic', what: 'describe other needs a grant on all topics', allowed: READ_OTHER, okStatus: 200, send: (headers) => call('GET', '/v1/topics/other', { headers }) },
  {
    route: 'POST /v1/topics', what: 'create billing.new-* needs topic admin on billing.', allowed: ADMIN_BILLING, okStatus: 201,
    send: (headers, column) => call('POST', '/v1/topics', { headers, body: { name: `billing.new-${column}`, partitions: 1 } }),
    observe: topicNames,
    after: async (reply) => {
      if (reply.status === 201) await admin('DELETE', `/v1/topics/${reply.json.name}`, undefined, 204);
    },
  },
  {
    route: 'POST /v1/topics', what: 'create orders (exists: 409) needs topic admin on orders', allowed: ADMIN_ORDERS, okStatus: 409,
    send: (headers) => call('POST', '/v1/topics', { headers, body: { name: 'orders', partitions: 1 } }),
    observe: () => topicRecord('orders'),
  },
  {
    route: 'PATCH /v1/topics/:topic', what: 'alter orders needs topic admin on orders', allowed: ADMIN_ORDERS, okStatus: 200,
    send: (headers, column) => call('PATCH', '/v1/topics/orders', { headers, body: { configs: { 'retention.ms': String(86_400_000 + COLUMNS.indexOf(column)) } } }),
    observe: () => topicRecord('orders'),
  },
  {
    route: 'PATCH /v1/topics/:topic', what: 'alter billing.invoices needs topic admin on billing.', allowed: ADMIN_BILLING, okStatus: 200,
    send: (headers, column) => call('PATCH', '/v1/topics/billing.invoices', { headers, body: { configs: { 'retention.ms': String(86_400_000 + COLUMNS.indexOf(column)) } } }),
    observe: () => topicRecord('billing.invoices'),
  },

  // ---- produce ----
  {
    route: 'POST /v1/producers', what: 'a producer id needs write on some topic (Kafka KIP-679)', allowed: [...new Set([...WRITE_ORDERS, ...WRITE_BILLING])], okStatus: 200,
    send: (headers) => call('POST', '/v1/producers', { headers }),
    checkAllowed: (tt, reply) => tt.ok(Number.isInteger(reply.json.producerId), 'a producer id is answered'),
  },
  {
    route: 'POST /v1/topics/:topic/records', what: 'produce to orders needs write (read is not enough)', allowed: WRITE_ORDERS, okStatus: 200,
    send: (headers) => call('POST', '/v1/topics/orders/records', { headers, body: { records: [{ value: 'matrix' }] } }),
    observe: () => highWatermark('orders'),
  },
  {
    route: 'POST /v1/topics/:topic/records', what: 'produce to billing.invoices needs write on billing.', allowed: WRITE_BILLING, okStatus: 200,
    send: (headers) => call('POST', '/v1/topics/billing.invoices/records', { headers, body: { records: [{ value: 'matrix' }] } }),
    observe: () => highWatermark('billing.invoices'),
  },
  {
    route: 'POST /v1/topics/:topic/records', what: 'produce to other needs write on it (read on all topics is not enough)', allowed: ONLY_BOOTSTRAP, okStatus: 200,
    send: (headers) => call('POST', '/v1/topics/other/records', { headers, body: { records: [{ value: 'matrix' }] } }),
    observe: () => highWatermark('other'),
  },
  {
    route: 'POST /v1/topics/:topic/partitions/:partition/records', what: 'produce to orders-0 needs write on orders', allowed: WRITE_ORDERS, okStatus: 200,
    send: (headers) => call('POST', '/v1/topics/orders/partitions/0/records', { headers, body: { records: [{ value: 'matrix' }] } }),
    observe: () => highWatermark('orders'),
  },
  {
    route: 'POST /v1/topics/:topic/partitions/:partition/records', what: 'produce NDJSON to billing.invoices-0 needs write on billing.', allowed: WRITE_BILLING, okStatus: 200,
    send: (headers) => call('POST', '/v1/topics/billing.invoices/partitions/0/records', { headers: { ...headers, 'content-type': 'application/x-ndjson' }, body: '{"value":"matrix"}\n' }),
    observe: () => highWatermark('billing.invoices'),
  },

  // ---- fetch, stream, offsets ----
  {
    route: FETCH, what: 'fetch orders needs read (write is not enough)', allowed: READ_ORDERS, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/orders/partitions/0/records?offset=earliest', { headers }), checkAllowed: containsRecord(MARKERS.orders),
  },
  {
    route: FETCH, what: 'fetch billing.invoices needs read on billing.', allowed: READ_BILLING, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/billing.invoices/partitions/0/records?offset=0', { headers }), checkAllowed: containsRecord(MARKERS.billing),
  },
  {
    route: FETCH, what: 'fetch other needs read on all topics', allowed: READ_OTHER, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/other/partitions/0/records?offset=0', { headers }), checkAllowed: containsRecord(MARKERS.other),
  },
  {
    route: FETCH, what: 'fetch old.billing.archive: a billing. prefix covers names that start with it, not names that contain it', allowed: READ_OTHER, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/old.billing.archive/partitions/0/records?offset=0', { headers }), checkAllowed: containsRecord(MARKERS.archive),
  },
  {
    route: FETCH, what: 'long-poll fetch of orders (waitMs) needs read', allowed: READ_ORDERS, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/orders/partitions/0/records?offset=0&waitMs=2000', { headers }), checkAllowed: containsRecord(MARKERS.orders),
  },
  {
    route: FETCH, what: 'SSE stream of orders (Accept: text/event-stream) needs read; refused ones get no stream bytes', allowed: READ_ORDERS, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/orders/partitions/0/records?offset=earliest', { headers, accept: 'text/event-stream' }),
    checkAllowed: (tt, reply) => {
      tt.match(reply.contentType, /^text\/event-stream/);
      tt.match(reply.text, new RegExp(`^id: 0\nevent: record\ndata: .*${MARKERS.orders}`));
    },
  },
  {
    route: FETCH, what: 'NDJSON stream of billing.invoices needs read on billing.; refused ones get no stream bytes', allowed: READ_BILLING, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/billing.invoices/partitions/0/records?offset=0', { headers, accept: 'application/x-ndjson' }),
    checkAllowed: (tt, reply) => {
      tt.match(reply.contentType, /^application\/x-ndjson/);
      tt.ok(reply.text.split('\n')[0].includes(MARKERS.billing));
    },
  },
  {
    route: FETCH, what: 'SSE stream of other needs read on all topics', allowed: READ_OTHER, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/other/partitions/0/records', { headers, accept: 'text/event-stream' }),
    checkAllowed: containsRecord(MARKERS.other),
  },
  {
    route: FETCH, what: 'HEAD of a fetch of orders needs read too', allowed: READ_ORDERS, okStatus: 200, isHead: true,
    send: (headers) => call('HEAD', '/v1/topics/orders/partitions/0/records?offset=0', { headers }),
  },
  {
    route: 'GET /v1/topics/:topic/partitions/:partition/offsets', what: 'offsets of orders need read', allowed: READ_ORDERS, okStatus: 200,
    send: (headers) => call('GET', '/v1/topics/orders/partitions/0/offsets', { headers }),
  },
  {
    route: 'GET /v1/topics/:topic/partitions/:partition/offsets', what: 'offsets of billing.invoices need read on billing.', allowed: READ_BILLING, okStatus: 200,
    send: (headers) => call('GET', `/v1/topics/billing.invoices/partitions/0/offsets?timestamp=${Date.now() - 60_000}`, { headers }),
  },
  {
    // orders is not compacted: an allowed key gets past the grant check to the route's own 400.
    route: 'GET /v1/topics/:topic/keys/:key', what: 'a read by key of orders needs read (400 TOPIC_NOT_COMPACTED)', allowed: READ_ORDERS, okStatus: 400,
    send: (headers) => call('GET', '/v1/topics/orders/keys/k', { headers }),
  },

  // ---- groups: reads ----
  { route: 'GET /v1/groups', what: 'any valid key may list groups (filtered)', allowed: EVERY_KEY, okStatus: 200, send: (headers) => call('GET', '/v1/groups', { headers }) },
  { route: 'GET /v1/groups/:group', what: 'describe app.main needs group read', allowed: GROUP_READ, okStatus: 200, send: (headers) => call('GET', '/v1/groups/app.main', { headers }) },
  { route: 'GET /v1/groups/:group', what: 'describe app.second needs a group grant covering it (prefix app.)', allowed: GROUP_SECOND, okStatus: 200, send: (headers) => call('GET', '/v1/groups/app.second', { headers }) },
  { route: 'GET /v1/groups/:group/offsets', what: "app.main's offsets need group read", allowed: GROUP_READ, okStatus: 200, send: (headers) => call('GET', '/v1/groups/app.main/offsets', { headers }) },

  // ---- groups: commits and resets (the group has no live members here) ----
  {
    route: 'POST /v1/groups/:group/offsets', what: 'commit orders for app.main needs group read and read on orders', allowed: CONSUME_ORDERS, okStatus: 200,
    before: async () => void await commitAsAdmin('app.main', 'orders', 0),
    send: (headers) => call('POST', '/v1/groups/app.main/offsets', { headers, body: { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] } }),
    observe: () => groupOffsets('app.main'),
  },
  {
    route: 'POST /v1/groups/:group/offsets', what: 'commit billing.invoices for app.main needs group read and read on billing.', allowed: CONSUME_BILLING, okStatus: 200,
    before: async () => void await commitAsAdmin('app.main', 'billing.invoices', 0),
    send: (headers) => call('POST', '/v1/groups/app.main/offsets', { headers, body: { offsets: [{ topic: 'billing.invoices', partition: 0, offset: 1 }] } }),
    observe: () => groupOffsets('app.main'),
  },
  {
    route: 'POST /v1/groups/:group/offsets', what: 'a commit naming one topic the key cannot read is refused whole', allowed: ONLY_BOOTSTRAP, okStatus: 200,
    before: async () => void await admin('POST', '/v1/groups/app.main/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 0 }, { topic: 'other', partition: 0, offset: 0 }] }, 200),
    send: (headers) => call('POST', '/v1/groups/app.main/offsets', { headers, body: { offsets: [{ topic: 'orders', partition: 0, offset: 1 }, { topic: 'other', partition: 0, offset: 1 }] } }),
    observe: () => groupOffsets('app.main'),
  },
  {
    route: 'POST /v1/groups/:group/offsets', what: 'commit other for app.second needs group read on it and read on other', allowed: ONLY_BOOTSTRAP, okStatus: 200,
    before: async () => void await commitAsAdmin('app.second', 'other', 0),
    send: (headers) => call('POST', '/v1/groups/app.second/offsets', { headers, body: { offsets: [{ topic: 'other', partition: 0, offset: 1 }] } }),
    observe: () => groupOffsets('app.second'),
  },
  {
    route: 'POST /v1/groups/:group/offsets/reset', what: 'reset needs group admin and read on the topic (group read is not enough)', allowed: RESET_ORDERS, okStatus: 200,
    before: async () => void await commitAsAdmin('app.main', 'orders', 0),
    send: (headers) => call('POST', '/v1/groups/app.main/offsets/reset', { headers, body: { topic: 'orders', to: 'latest' } }),
    observe: () => groupOffsets('app.main'),
  },

  // ---- groups: membership ----
  ...([
    ['join app.main for orders needs group read and read on orders', { topics: ['orders'] }, CONSUME_ORDERS],
    ['join with a topic the key cannot read (other) is refused', { topics: ['orders', 'other'] }, ONLY_BOOTSTRAP],
    ['join by topicPrefix billing. needs read on that prefix', { topicPrefix: 'billing.' }, CONSUME_BILLING],
    ["join by topicPrefix bill is wider than a billing. grant: refused", { topicPrefix: 'bill' }, ONLY_BOOTSTRAP],
    ['join by topicPattern needs read on all topics', { topicPattern: 'orders' }, ONLY_BOOTSTRAP],
  ] as const).map(([what, subscription, allowed]): Row => ({
    route: 'POST /v1/groups/:group/members', what, allowed, okStatus: 201,
    send: (headers) => call('POST', '/v1/groups/app.main/members', { headers, body: { ...subscription, ...MEMBER_SESSION } }),
    observe: () => memberIds('app.main'),
    after: async (reply) => {
      if (reply.status === 201) await leaveAsAdmin('app.main', reply.json.memberId);
    },
  })),
  {
    route: 'POST /v1/groups/:group/members/:member/heartbeat', what: "heartbeat of a member of orders needs read on orders", allowed: CONSUME_ORDERS, okStatus: 200,
    beforeAll: async () => {
      membersOrders = await joinAsAdmin('app.main', { topics: ['orders'] });
      membersBilling = await joinAsAdmin('app.main', { topicPrefix: 'billing.' });
    },
    send: (headers) => call('POST', `/v1/groups/app.main/members/${membersOrders}/heartbeat`, { headers, body: {} }),
  },
  {
    route: 'POST /v1/groups/:group/members/:member/heartbeat', what: 'heartbeat of a member of billing.* needs read on billing.', allowed: CONSUME_BILLING, okStatus: 200,
    send: (headers) => call('POST', `/v1/groups/app.main/members/${membersBilling}/heartbeat`, { headers, body: {} }),
  },
  {
    route: 'GET /v1/groups/:group/members/:member/records', what: 'poll (autoCommit) of a member of orders needs read on orders', allowed: CONSUME_ORDERS, okStatus: 200,
    send: (headers) => call('GET', `/v1/groups/app.main/members/${membersOrders}/records?autoCommit=true&waitMs=0`, { headers }),
    observe: () => groupOffsets('app.main'),
  },
  {
    route: 'GET /v1/groups/:group/members/:member/records', what: 'poll of a member of billing.* needs read on billing.', allowed: CONSUME_BILLING, okStatus: 200,
    send: (headers) => call('GET', `/v1/groups/app.main/members/${membersBilling}/records?autoCommit=true&waitMs=0`, { headers }),
    observe: () => groupOffsets('app.main'),
    afterAll: async () => {
      await leaveAsAdmin('app.main', membersOrders);
      await leaveAsAdmin('app.main', membersBilling);
    },
  },
  {
    route: 'DELETE /v1/groups/:group/members/:member', what: "removing another key's member needs group admin (group read is not enough)", allowed: GROUP_ADMIN, okStatus: 204,
    before: async () => {
      doomedMember = await joinAsAdmin('app.main', { topics: ['orders'] });
    },
    send: (headers) => call('DELETE', `/v1/groups/app.main/members/${doomedMember}`, { headers }),
    observe: () => memberIds('app.main'),
    afterAll: async () => void await leaveAsAdmin('app.main', doomedMember),
  },
  {
    route: 'DELETE /v1/groups/:group/members/:member', what: 'the key that joined a member may remove it, as may group admin', allowed: ['consumer', ...GROUP_ADMIN], okStatus: 204,
    before: async () => {
      doomedMember = await joinAs(tokens.consumer as string, 'app.main', { topics: ['orders'] });
    },
    send: (headers) => call('DELETE', `/v1/groups/app.main/members/${doomedMember}`, { headers }),
    observe: () => memberIds('app.main'),
    afterAll: async () => void await leaveAsAdmin('app.main', doomedMember),
  },

  // ---- keys ----
  {
    route: 'GET /v1/keys', what: 'list keys needs cluster admin; secrets are never listed', allowed: CLUSTER_ADMIN, okStatus: 200,
    send: (headers) => call('GET', '/v1/keys', { headers }),
    checkAllowed: (tt, reply) => {
      tt.ok(reply.json.keys.length >= Object.keys(KEY_GRANTS).length);
      tt.ok(reply.json.keys.every((key: object) => !('key' in key)), 'no key field');
      tt.ok(SECRETS.every((secret) => !reply.text.includes(secret.slice(-20))), 'no secret in the list');
    },
  },
  {
    route: 'GET /v1/keys/self', what: 'any valid key may read its own id, name and grants (never its secret)', allowed: EVERY_KEY, okStatus: 200,
    send: (headers) => call('GET', '/v1/keys/self', { headers }),
    checkAllowed: (tt, reply) => {
      tt.match(reply.json, { keyId: String, name: String, grants: Array });
      tt.notOk('key' in reply.json, 'no key field');
      tt.ok(SECRETS.every((secret) => !reply.text.includes(secret.slice(-20))), 'no secret');
    },
  },
  {
    route: 'POST /v1/keys', what: 'make a key needs cluster admin', allowed: CLUSTER_ADMIN, okStatus: 201,
    send: (headers) => call('POST', '/v1/keys', { headers, body: { name: 'made-in-matrix', grants: [{ resource: 'topic', operations: ['admin'] }] } }),
    observe: keyIds,
    after: async (reply) => {
      if (reply.status === 201) await admin('DELETE', `/v1/keys/${reply.json.keyId}`, undefined, 204);
    },
  },
  {
    route: 'DELETE /v1/keys/:keyId', what: 'delete a key needs cluster admin', allowed: CLUSTER_ADMIN, okStatus: 204,
    before: async () => {
      doomedKeyId = (await admin('POST', '/v1/keys', { name: 'doomed', grants: [] }, 201)).json.keyId;
    },
    send: (headers) => call('DELETE', `/v1/keys/${doomedKeyId}`, { headers }),
    observe: keyIds,
    afterAll: async () => void await admin('DELETE', `/v1/keys/${doomedKeyId}`, undefined, 204, 404),
  },

  // ---- share groups (KIP-932): read on the group and the topics; admin on the group to change it ----
  {
    route: 'GET /v1/share-groups', what: 'any valid key may list share groups (filtered)', allowed: EVERY_KEY, okStatus: 200,
    beforeAll: async () => void await admin('PATCH', '/v1/share-groups/app.main', { configs: { 'share.auto.offset.reset': 'earliest' } }, 200),
    send: (headers) => call('GET', '/v1/share-groups', { headers }),
  },
  { route: 'GET /v1/share-groups/:group', what: 'describe share group app.main needs group read', allowed: GROUP_READ, okStatus: 200, send: (headers) => call('GET', '/v1/share-groups/app.main', { headers }) },
  {
    route: 'GET /v1/share-groups/:group/records', what: 'acquiring orders for app.main needs group read and read on orders', allowed: CONSUME_ORDERS, okStatus: 200,
    send: (headers) => call('GET', '/v1/share-groups/app.main/records?topics=orders&consumerId=matrix', { headers }),
    after: async (reply) => {
      const records = (reply.json?.records ?? []) as Array<{ offset: number }>;
      if (records.length === 0) return;
      await admin('POST', '/v1/share-groups/app.main/acknowledgements', { consumerId: 'matrix', acknowledgements: [{ topic: 'orders', partition: 0, offsets: records.map((record) => record.offset), type: 'release' }] }, 200);
    },
  },
  {
    route: 'POST /v1/share-groups/:group/acknowledgements', what: 'acknowledging orders for app.main needs group read and read on orders', allowed: CONSUME_ORDERS, okStatus: 200,
    send: (headers) => call('POST', '/v1/share-groups/app.main/acknowledgements', { headers, body: { consumerId: 'matrix', acknowledgements: [{ topic: 'orders', partition: 0, offsets: [0], type: 'renew' }] } }),
  },
  {
    route: 'PATCH /v1/share-groups/:group', what: "share group app.main's configs need group admin", allowed: GROUP_ADMIN, okStatus: 200,
    send: (headers) => call('PATCH', '/v1/share-groups/app.main', { headers, body: { configs: { 'share.delivery.count.limit': 5 } } }),
  },
  {
    route: 'POST /v1/share-groups/:group/reset', what: 'resetting share group app.main needs group admin', allowed: GROUP_ADMIN, okStatus: 200,
    send: (headers) => call('POST', '/v1/share-groups/app.main/reset', { headers, body: { to: 'earliest' } }),
  },
  {
    route: 'DELETE /v1/share-groups/:group', what: 'deleting share group app.main needs group admin', allowed: GROUP_ADMIN, okStatus: 204,
    before: async () => void await admin('PATCH', '/v1/share-groups/app.main', { configs: {} }, 200),
    send: (headers) => call('DELETE', '/v1/share-groups/app.main', { headers }),
  },

  // ---- open routes ----
  { route: 'GET /health/live', what: 'liveness is open', allowed: OPEN, okStatus: 200, send: (headers) => call('GET', '/health/live', { headers }) },
  { route: 'GET /health/ready', what: 'readiness is open', allowed: OPEN, okStatus: 200, send: (headers) => call('GET', '/health/ready', { headers }) },
  { route: 'GET /openapi.json', what: 'the OpenAPI document is open', allowed: OPEN, okStatus: 200, send: (headers) => call('GET', '/openapi.json', { headers }) },
  { route: 'GET /metrics', what: 'metrics are open by default (--metrics-require-key off)', allowed: OPEN, okStatus: 200, send: (headers) => call('GET', '/metrics', { headers, accept: 'text/plain' }) },
  { route: 'GET /docs', what: 'the docs are open', allowed: OPEN, okStatus: 200, send: (headers) => call('GET', '/docs/', { headers, accept: 'text/html' }) },

  // ---- destructive rows last ----
  {
    route: 'DELETE /v1/groups/:group', what: 'delete app.second needs group admin covering it (prefix app.)', allowed: GROUP_SECOND, okStatus: 204,
    before: async () => void await commitAsAdmin('app.second', 'other', 0),
    send: (headers) => call('DELETE', '/v1/groups/app.second', { headers }),
    observe: groupIds,
  },
  {
    route: 'DELETE /v1/groups/:group', what: 'delete app.main needs group admin', allowed: GROUP_ADMIN, okStatus: 204,
    before: async () => void await commitAsAdmin('app.main', 'orders', 0),
    send: (headers) => call('DELETE', '/v1/groups/app.main', { headers }),
    observe: groupIds,
  },
  {
    route: 'DELETE /v1/groups/:group', what: 'delete other-group needs group admin on it', allowed: ONLY_BOOTSTRAP, okStatus: 204,
    before: async () => void await commitAsAdmin('other-group', 'other', 0),
    send: (headers) => call('DELETE', '/v1/groups/other-group', { headers }),
    observe: groupIds,
  },
  {
    route: 'DELETE /v1/topics/:topic', what: 'delete billing.doomed needs topic admin on billing.', allowed: ADMIN_BILLING, okStatus: 204,
    before: async () => void await ensureTopic('billing.doomed'),
    send: (headers) => call('DELETE', '/v1/topics/billing.doomed', { headers }),
    observe: topicNames,
  },
  {
    route: 'DELETE /v1/topics/:topic', what: 'delete orders needs topic admin on orders', allowed: ADMIN_ORDERS, okStatus: 204,
    before: async () => void await ensureTopic('orders'),
    send: (headers) => call('DELETE', '/v1/topics/orders', { headers }),
    observe: topicNames,
  },
];

// ---------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------

/** 'GET /v1/topics/{topic}' -> 'GET /v1/topics/:topic' for every operation of an OpenAPI document. */
function routesOf(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
  return Object.entries(document.paths).flatMap(([openapiPath, operations]) => Object.keys(operations)
    .filter((method) => methods.has(method))
    .map((method) => `${method.toUpperCase()} ${openapiPath.replace(/\{([^}]+)\}/g, ':$1')}`));
}

void t.test('every route of the OpenAPI document (file and live) has rows in the matrix, and every row is a real route', async (t) => {
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const fromFile = routesOf(JSON.parse(fs.readFileSync(path.join(repoRoot, 'openapi', 'openapi.json'), 'utf8')));
  const fromLive = routesOf((await admin('GET', '/openapi.json', undefined, 200)).json);
  const documented = new Set([...fromFile, ...fromLive]);
  t.ok([...documented].filter((route) => route.includes(' /v1/')).length >= 20, 'the document lists the /v1 routes');
  const covered = new Set(rows.map((row) => row.route));
  for (const route of documented) t.ok(covered.has(route), `${route} has a row`);
  // Routes hidden from the document but served.
  const hidden = new Set(['GET /openapi.json', 'GET /docs']);
  for (const route of covered) {
    t.ok(documented.has(route) || hidden.has(route), `row route ${route} is in the document (or a known hidden route)`);
    const [method, url] = route.split(' ');
    t.ok(server.runnel.app.hasRoute({ method: method as 'GET', url }), `${route} is served`);
  }
});

void t.test('/health/*, /docs and /openapi.json answer without a key (and ignore a bad one)', async (t) => {
  for (const urlPath of ['/health/live', '/health/ready', '/openapi.json', '/docs/', '/docs/json']) {
    t.equal((await call('GET', urlPath, { accept: '*/*' })).status, 200, `${urlPath} without a key`);
    t.equal((await call('GET', urlPath, { accept: '*/*', headers: bearer('garbage') })).status, 200, `${urlPath} with a garbage key`);
  }
});

void t.test('with --metrics-require-key, /metrics needs a valid key (any key, even one without grants)', async (t) => {
  const strict = await startServer(t, { isAuthEnabled: true, isMetricsKeyRequired: true, adminKey: ADMIN_KEY });
  const metrics = async (headers: Record<string, string>): Promise<number> => {
    const response = await request(`${strict.url}/metrics`, { headers, signal: AbortSignal.timeout(10_000) });
    await response.body.text();
    return response.statusCode;
  };
  const made = strict.broker.keys.create('no-grants', []);
  t.equal(await metrics({}), 401, 'no key');
  t.equal(await metrics(bearer('garbage')), 401, 'garbage key');
  t.equal(await metrics(bearer(made.key)), 200, 'a key without grants');
  t.equal(await metrics(bearer(ADMIN_KEY)), 200, 'the bootstrap key');
  const health = await request(`${strict.url}/health/live`, { signal: AbortSignal.timeout(10_000) });
  await health.body.text();
  t.equal(health.statusCode, 200, '/health stays open');
});

void t.test('a missing key is 401 UNAUTHENTICATED, before the body is even parsed', async (t) => {
  const missing = await call('GET', '/v1/topics');
  t.equal(missing.status, 401);
  t.equal(missing.json.error.code, 'UNAUTHENTICATED');
  t.match(missing.json.error.message, /Authorization: Bearer/);
  const badBody = await call('POST', '/v1/topics', { body: '{not json' });
  t.equal(badBody.status, 401, 'invalid JSON without a key: 401, not 400');
  const unknownTopic = await call('GET', '/v1/topics/no-such-topic/partitions/0/records');
  t.equal(unknownTopic.status, 401, 'a missing topic without a key: 401, not 404 (no probing)');
  const forbiddenUnknown = await call('GET', '/v1/topics/no-such-topic', { headers: bearer(tokens.ordersRead) });
  t.equal(forbiddenUnknown.status, 403, 'a topic the key has no grant on: 403 whether or not it exists');
});

void t.test('garbage keys, a wrong secret, an unknown key id and malformed headers are 401', async (t) => {
  const real = tokens.bootstrap as string;
  const cases: Array<[string, Record<string, string>]> = [
    ['garbage bearer', { authorization: 'Bearer nonsense' }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['wrong secret, same length', { authorization: `Bearer ${tokens.wrongSecret}` }],
    ['unknown key id', { authorization: `Bearer rk_AAAAAAAAAAAA_${(tokens.consumer as string).split('_').slice(2).join('_')}` }],
    ['admin key with a character more', { authorization: `Bearer ${real}x` }],
    ['Basic scheme', { authorization: `Basic ${Buffer.from(`x:${real}`).toString('base64')}` }],
    ['key without scheme', { authorization: real }],
    ['empty X-API-Key', { 'x-api-key': '' }],
    ['garbage X-API-Key', { 'x-api-key': 'nonsense' }],
    ['deleted key', { 'x-api-key': tokens.deletedKey as string }],
  ];
  for (const [what, headers] of cases) {
    const reply = await call('GET', '/v1/cluster', { headers });
    t.equal(reply.status, 401, what);
    t.equal(reply.json?.error?.code, 'UNAUTHENTICATED', what);
  }
});

void t.test('Authorization: Bearer and X-API-Key both carry a key, with the same grants', async (t) => {
  for (const name of KEY_NAMES) {
    const token = tokens[name] as string;
    const viaBearer = await call('GET', '/v1/topics/orders', { headers: { authorization: `Bearer ${token}` } });
    const viaHeader = await call('GET', '/v1/topics/orders', { headers: { 'x-api-key': token } });
    const viaLowercase = await call('GET', '/v1/topics/orders', { headers: { authorization: `bearer ${token}` } });
    t.equal(viaBearer.status, SEE_ORDERS.includes(name) ? 200 : 403, `${name} via Authorization: Bearer`);
    t.equal(viaHeader.status, viaBearer.status, `${name} via X-API-Key`);
    t.equal(viaLowercase.status, viaBearer.status, `${name} via authorization: bearer`);
  }
});

void t.test('lists show only the topics and groups the key has a grant on', async (t) => {
  const allTopics = ['billing.invoices', 'old.billing.archive', 'orders', 'other'];
  const expectedTopics: Record<KeyName, string[]> = {
    noGrants: [], ordersRead: ['orders'], ordersWrite: ['orders'], ordersAdmin: ['orders'],
    billingRead: ['billing.invoices'], billingWrite: ['billing.invoices'], billingAdmin: ['billing.invoices'],
    allTopicsRead: allTopics, groupRead: [], groupAdmin: [], consumer: ['billing.invoices', 'orders'],
    groupAdminOrdersRead: ['orders'], clusterAdmin: [], bootstrap: allTopics,
  };
  const allGroups = ['app.main', 'app.second', 'other-group'];
  const expectedGroups: Record<KeyName, string[]> = {
    noGrants: [], ordersRead: [], ordersWrite: [], ordersAdmin: [], billingRead: [], billingWrite: [], billingAdmin: [],
    allTopicsRead: [], groupRead: ['app.main'], groupAdmin: ['app.main', 'app.second'], consumer: ['app.main'],
    groupAdminOrdersRead: ['app.main'], clusterAdmin: [], bootstrap: allGroups,
  };
  for (const name of KEY_NAMES) {
    const topics = await call('GET', '/v1/topics', { headers: bearer(tokens[name]) });
    t.equal(topics.status, 200);
    t.same(topics.json.topics.map((topic: { name: string }) => topic.name).sort(), expectedTopics[name], `${name} sees these topics`);
    const groups = await call('GET', '/v1/groups', { headers: bearer(tokens[name]) });
    t.equal(groups.status, 200);
    t.same(groups.json.groups.map((group: { groupId: string }) => group.groupId).sort(), expectedGroups[name], `${name} sees these groups`);
  }
});

void t.test('a key works until it is deleted, then it is 401 at once', async (t) => {
  const made = (await admin('POST', '/v1/keys', { name: 'short-lived', grants: [{ resource: 'topic', name: 'orders', operations: ['read'] }] }, 201)).json;
  t.equal((await call('GET', '/v1/topics/orders/partitions/0/records', { headers: bearer(made.key) })).status, 200, 'works while it exists');
  t.equal((await call('DELETE', `/v1/keys/${made.keyId}`, { headers: bearer(tokens.clusterAdmin) })).status, 204, 'deleted by a cluster admin key');
  const after = await call('GET', '/v1/topics/orders/partitions/0/records', { headers: bearer(made.key) });
  t.equal(after.status, 401);
  t.equal(after.json.error.code, 'UNAUTHENTICATED');
  t.equal((await call('DELETE', `/v1/keys/${made.keyId}`, { headers: adminHeaders })).status, 404, 'deleting it again: KEY_NOT_FOUND');
});

void t.test('a key that may not manage keys cannot delete or see another key', async (t) => {
  const victim = keyIdOf.consumer;
  for (const name of ['noGrants', 'ordersAdmin', 'groupAdmin', 'allTopicsRead'] as const) {
    t.equal((await call('DELETE', `/v1/keys/${victim}`, { headers: bearer(tokens[name]) })).status, 403, `${name} cannot delete a key`);
  }
  t.equal((await call('GET', '/v1/topics/orders/partitions/0/records', { headers: bearer(tokens.consumer) })).status, 200, 'the key still works');
});

void t.test('GET /v1/keys/self answers each key its own id, name and grants; the admin key is `admin` with every grant', async (t) => {
  for (const name of Object.keys(KEY_GRANTS) as StoredKeyName[]) {
    const reply = await call('GET', '/v1/keys/self', { headers: bearer(tokens[name]) });
    t.same(reply.json, { keyId: keyIdOf[name], name, grants: KEY_GRANTS[name] }, `${name} reads its own grants`);
  }
  const bootstrap = await call('GET', '/v1/keys/self', { headers: adminHeaders });
  t.same(bootstrap.json.keyId, 'admin');
  t.same(bootstrap.json.grants.map((grant: { resource: string; operations: string[] }) => `${grant.resource}:${grant.operations.join()}`).sort(), ['cluster:admin', 'group:admin', 'topic:admin']);
});

void t.test("a group's answers show a key only the topics it may read: members, offsets and lag", async (t) => {
  // app.main: a commit at 0 on orders, billing.invoices and other (one record each: lag 1 each),
  // and a member subscribed to orders and other by name and to billing. by prefix.
  for (const topic of ['orders', 'billing.invoices', 'other']) await commitAsAdmin('app.main', topic, 0);
  const memberId = await joinAsAdmin('app.main', { topics: ['orders', 'other'], topicPrefix: 'billing.' });
  t.teardown(() => leaveAsAdmin('app.main', memberId));
  const all = ['billing.invoices', 'orders', 'other'];
  const expected: Array<[KeyName, string[], object]> = [
    ['groupRead', [], { topics: [] }],
    ['groupAdmin', [], { topics: [] }],
    ['groupAdminOrdersRead', ['orders'], { topics: ['orders'] }],
    ['consumer', ['billing.invoices', 'orders'], { topics: ['orders'], topicPrefix: 'billing.' }],
    ['bootstrap', all, { topics: ['orders', 'other'], topicPrefix: 'billing.' }],
  ];
  const topicsOf = (entries: Array<{ topic: string }>): string[] => [...new Set(entries.map((entry) => entry.topic))].sort();
  for (const [name, topics, subscription] of expected) {
    const headers = bearer(tokens[name]);
    const described = await call('GET', '/v1/groups/app.main', { headers });
    t.equal(described.status, 200, `${name}: describe`);
    t.same(topicsOf(described.json.offsets), topics, `${name}: described offsets are of these topics`);
    t.equal(described.json.lag, topics.length, `${name}: the group's lag counts only those topics`);
    const member = described.json.members.find((entry: { memberId: string }) => entry.memberId === memberId);
    t.same(member.subscription, subscription, `${name}: the member's subscription as the key may see it`);
    for (const field of ['assignment', 'targetAssignment', 'revoking']) {
      t.ok(topicsOf(member[field]).every((topic) => topics.includes(topic)), `${name}: ${field} names no other topic`);
    }
    t.same(topicsOf(member.assignment), topics, `${name}: the member's assignment, readable topics only`);
    for (const hidden of all.filter((topic) => !topics.includes(topic))) {
      t.notOk(described.text.includes(`"${hidden}"`), `${name}: describe never names ${hidden}`);
    }
    const offsets = await call('GET', '/v1/groups/app.main/offsets', { headers });
    t.equal(offsets.status, 200, `${name}: offsets`);
    t.same(topicsOf(offsets.json.offsets), topics, `${name}: offsets of these topics only`);
    const listed = await call('GET', '/v1/groups', { headers });
    t.same(listed.json.groups.find((group: { groupId: string }) => group.groupId === 'app.main')?.lag, topics.length, `${name}: the list's lag counts only those topics`);
  }
});

void t.test('the matrix: every row x every key', async (t) => {
  for (const row of rows) {
    await t.test(`${row.route}: ${row.what}`, async (tt) => {
      await row.beforeAll?.();
      try {
        // `before` sets up what the request needs; run again only once an allowed request used it up.
        let isSetUp = false;
        for (const column of COLUMNS) {
          if (!isSetUp) await row.before?.();
          isSetUp = true;
          const beforeState = row.observe === undefined ? undefined : await row.observe();
          const reply = await row.send(bearer(tokens[column]), column);
          const isAllowed = row.allowed.includes(column);
          const isAuthFailure = (UNAUTHENTICATED_COLUMNS as readonly Column[]).includes(column);
          if (isAllowed || (reply.status >= 200 && reply.status < 300)) isSetUp = false;
          if (isAllowed) {
            tt.equal(reply.status, row.okStatus, `${column}: allowed`, { body: reply.text.slice(0, 300) });
            row.checkAllowed?.(tt, reply, column);
          } else {
            // The exact refusal, as a JSON error (not a stream), with no record content in it.
            const found = {
              status: reply.status,
              contentType: reply.contentType.split(';')[0],
              code: reply.json?.error?.code,
              leaked: Object.values(MARKERS).filter((marker) => reply.text.includes(marker)),
            };
            const wanted = {
              status: isAuthFailure ? 401 : 403,
              contentType: row.isHead ? found.contentType : 'application/json',
              code: row.isHead ? undefined : isAuthFailure ? 'UNAUTHENTICATED' : 'FORBIDDEN',
              leaked: [],
            };
            tt.same(found, wanted, `${column}: refused`, { body: reply.text.slice(0, 300) });
            if (row.observe !== undefined) tt.same(await row.observe(), beforeState, `${column}: the refused request changed nothing`);
          }
          await row.after?.(reply);
        }
      } finally {
        await row.afterAll?.();
      }
    });
  }
});
