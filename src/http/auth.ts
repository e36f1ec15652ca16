/**
 * API-key authentication and per-route authorisation (on with --auth api-key).
 *
 * Every route is listed in `routeAccess` below, in one place, so what each one needs
 * can be read and audited at a glance; building the app fails if a route under /v1
 * has no entry, so no route can be added unguarded.
 * - onRequest authenticates (401 UNAUTHENTICATED) before a body is even read.
 * - preHandler authorises (403 FORBIDDEN) once params and body are parsed and valid.
 * - Lists (topics, groups) show only what the key may see, and a group's answers only
 *   the topics the key may read (group-visibility.ts).
 * - A member is removed by the key that joined it, or by admin on the group.
 * - Deleting a key ends the streams and long-polls it still has open.
 * /health, /docs, /openapi.json and the console's files (/console) stay open; /metrics is open unless
 * --metrics-require-key.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { canDescribe, canReadPrefix, isAllowed, type KeyManager, type Principal } from '../broker/access-control.js';
import type { Broker } from '../broker/broker.js';
import type { Member } from '../broker/groups/consumer-group.js';
import { RunnelError } from '../errors.js';
import { isHandedOver } from './hand-over.js';
import { visibleGroup, visibleGroupLags, visibleOffsets } from './group-visibility.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export interface AuthOptions {
  /** Undefined when authentication is off. */
  keys: KeyManager | undefined;
  isMetricsKeyRequired: boolean;
}

type Params = Record<string, string>;
type Check = (principal: Principal, request: FastifyRequest) => void;

interface Access {
  /** No key needed. */
  isOpen?: boolean;
  check?: Check;
  /** Filters a list reply to what the key may see. */
  filter?: (principal: Principal, payload: unknown) => unknown;
}

function forbid(principal: Principal, what: string): never {
  throw new RunnelError('FORBIDDEN', `API key '${principal.name}' (${principal.keyId}) may not ${what}`);
}

const topic = (operation: 'read' | 'write' | 'admin', name: (request: FastifyRequest) => string): Check => (principal, request) => {
  const topicName = name(request);
  if (!isAllowed(principal, 'topic', topicName, operation)) forbid(principal, `${operation} topic '${topicName}'`);
};
const group = (operation: 'read' | 'admin'): Check => (principal, request) => {
  const groupId = (request.params as Params).group;
  if (!isAllowed(principal, 'group', groupId, operation)) forbid(principal, `${operation} group '${groupId}'`);
};
const describeTopic: Check = (principal, request) => {
  const name = (request.params as Params).topic;
  if (!canDescribe(principal, 'topic', name)) forbid(principal, `see topic '${name}'`);
};
const clusterAdmin: Check = (principal) => {
  if (!isAllowed(principal, 'cluster', undefined, 'admin')) forbid(principal, 'manage API keys');
};
const authenticated: Check = () => undefined;
const writesSomeTopic: Check = (principal) => {
  if (!principal.grants.some((grant) => grant.resource === 'topic' && grant.operations.some((operation) => operation === 'write' || operation === 'admin'))) {
    forbid(principal, 'get a producer id (it needs write on some topic)');
  }
};
const all = (...checks: Check[]): Check => (principal, request) => {
  for (const check of checks) check(principal, request);
};
const paramTopic = (request: FastifyRequest): string => (request.params as Params).topic;

interface SubscriptionLike { topics?: string[]; topicPrefix?: string; topicPattern?: string }

function checkSubscription(principal: Principal, subscription: SubscriptionLike): void {
  for (const name of subscription.topics ?? []) {
    if (!isAllowed(principal, 'topic', name, 'read')) forbid(principal, `read topic '${name}'`);
  }
  if (subscription.topicPrefix !== undefined && !canReadPrefix(principal, subscription.topicPrefix)) {
    forbid(principal, `read every topic starting with '${subscription.topicPrefix}'`);
  }
  // A pattern may match any name, so it needs read on all topics.
  if (subscription.topicPattern !== undefined && !canReadPrefix(principal, '')) forbid(principal, 'subscribe by pattern (needs read on all topics)');
}

/** Share groups (KIP-932): read on the group and on the topics read or acknowledged; admin on the group to change it. */
function shareGroupAccess(groupList: Access['filter']): Record<string, Access> {
  return {
    'GET /v1/share-groups': { check: authenticated, filter: groupList },
    'GET /v1/share-groups/:group': { check: group('read') },
    'GET /v1/share-groups/:group/records': { check: all(group('read'), (principal, request) => checkSubscription(principal, shareSubscription(request))) },
    'POST /v1/share-groups/:group/acknowledgements': {
      check: all(group('read'), (principal, request) => {
        for (const entry of (request.body as { acknowledgements: Array<{ topic: string }> }).acknowledgements) {
          if (!isAllowed(principal, 'topic', entry.topic, 'read')) forbid(principal, `read topic '${entry.topic}'`);
        }
      }),
    },
    'PATCH /v1/share-groups/:group': { check: group('admin') },
    'DELETE /v1/share-groups/:group': { check: group('admin') },
    'POST /v1/share-groups/:group/reset': { check: group('admin') },
  };
}

/** The topics a share-group read names (topics=a,b and topicPrefix). */
function shareSubscription(request: FastifyRequest): SubscriptionLike {
  const query = request.query as { topics?: string; topicPrefix?: string };
  return { topics: query.topics?.split(',').map((name) => name.trim()).filter((name) => name !== ''), topicPrefix: query.topicPrefix };
}

function filterList(key: 'topics' | 'groups', resource: 'topic' | 'group', nameField: 'name' | 'groupId') {
  return (principal: Principal, payload: unknown): unknown => {
    const body = payload as Record<string, Array<Record<string, string>>>;
    return { ...body, [key]: body[key].filter((item) => canDescribe(principal, resource, item[nameField])) };
  };
}

function routeAccess(broker: Broker): Record<string, Access> {
  // The member named in the path; undefined when another node coordinates the group: the
  // call is handed to it (routes/groups.ts), which checks the key against the member there.
  const memberOf = (request: FastifyRequest): Member | undefined => {
    const { group: groupId, member: memberId } = request.params as Params;
    if (broker.offsetsLog.coordinatorElsewhere(groupId) !== undefined && !isHandedOver(request)) return undefined;
    broker.offsetsLog.requireCoordinator(groupId);
    return broker.groups.find(groupId, memberId).member;
  };
  // Member calls consume the member's subscribed topics: the caller must be able to read them.
  const memberTopics: Check = (principal, request) => {
    const member = memberOf(request);
    if (member !== undefined) checkSubscription(principal, member.subscription);
  };
  // Removing a member takes the key that joined it, or admin on the group.
  const memberOwner: Check = (principal, request) => {
    const member = memberOf(request);
    if (member === undefined || member.ownerKeyId === principal.keyId) return;
    const groupId = (request.params as Params).group;
    if (!isAllowed(principal, 'group', groupId, 'admin')) forbid(principal, `remove member ${member.memberId} of group '${groupId}' (joined with another key; needs admin on the group)`);
  };
  const groupList = filterList('groups', 'group', 'groupId');
  const groupLags = visibleGroupLags(broker);
  return {
    'GET /health/live': { isOpen: true },
    'GET /health/ready': { isOpen: true },
    'GET /openapi.json': { isOpen: true },
    'GET /v1/cluster': { check: authenticated },
    'GET /v1/topics': { check: authenticated, filter: filterList('topics', 'topic', 'name') },
    'POST /v1/topics': { check: topic('admin', (request) => (request.body as { name: string }).name) },
    'GET /v1/topics/:topic': { check: describeTopic },
    'PATCH /v1/topics/:topic': { check: topic('admin', paramTopic) },
    'DELETE /v1/topics/:topic': { check: topic('admin', paramTopic) },
    'POST /v1/topics/:topic/records': { check: topic('write', paramTopic) },
    'POST /v1/topics/:topic/partitions/:partition/records': { check: topic('write', paramTopic) },
    'GET /v1/topics/:topic/partitions/:partition/records': { check: topic('read', paramTopic) },
    'GET /v1/topics/:topic/partitions/:partition/offsets': { check: topic('read', paramTopic) },
    'GET /v1/topics/:topic/keys/:key': { check: topic('read', paramTopic) },
    'GET /v1/groups': {
      check: authenticated,
      filter: (principal, payload) => {
        const listed = groupList(principal, payload) as { groups: Array<{ groupId: string; lag: number }> };
        return { ...listed, groups: groupLags(principal, listed.groups) };
      },
    },
    'GET /v1/groups/:group': { check: group('read'), filter: visibleGroup },
    'DELETE /v1/groups/:group': { check: group('admin') },
    'GET /v1/groups/:group/offsets': { check: group('read'), filter: visibleOffsets },
    'POST /v1/groups/:group/offsets': {
      check: all(group('read'), (principal, request) => {
        for (const entry of (request.body as { offsets: Array<{ topic: string }> }).offsets) {
          if (!isAllowed(principal, 'topic', entry.topic, 'read')) forbid(principal, `read topic '${entry.topic}'`);
        }
      }),
    },
    'POST /v1/groups/:group/offsets/reset': { check: all(group('admin'), topic('read', (request) => (request.body as { topic: string }).topic)) },
    'POST /v1/groups/:group/members': {
      check: all(group('read'), (principal, request) => checkSubscription(principal, request.body as SubscriptionLike)),
    },
    'POST /v1/groups/:group/members/:member/heartbeat': { check: all(group('read'), memberTopics) },
    'DELETE /v1/groups/:group/members/:member': { check: all(group('read'), memberOwner) },
    'GET /v1/groups/:group/members/:member/records': { check: all(group('read'), memberTopics) },
    ...shareGroupAccess(groupList),
    'GET /v1/keys': { check: clusterAdmin },
    'GET /v1/keys/self': { check: authenticated },
    'POST /v1/keys': { check: clusterAdmin },
    // Kafka (KIP-679): an idempotent producer needs write on some topic.
    'POST /v1/producers': { check: writesSomeTopic },
    'DELETE /v1/keys/:keyId': { check: clusterAdmin },
  };
}

/** Reads the key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match !== null) return match[1];
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' && header !== '' ? header : undefined;
}

export function installAuth(app: FastifyInstance, broker: Broker, options: AuthOptions): void {
  const table = routeAccess(broker);
  const accessByRoute = new Map<string, Access>();
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === 'HEAD') continue;
      const id = `${method} ${route.url}`;
      let access = table[id];
      // The console's page is public: it asks for a key and sends it with each API call.
      if (access === undefined && (route.url.startsWith('/docs') || route.url.startsWith('/console') || (route.url === '/metrics' && !options.isMetricsKeyRequired))) access = { isOpen: true };
      if (access === undefined && route.url === '/metrics') access = { check: authenticated };
      // Node-to-node routes are guarded by the cluster secret (routes/internal.ts), not API keys.
      if (access === undefined && route.url.startsWith('/internal/')) access = { isOpen: true };
      if (access === undefined) throw new Error(`route ${id} has no access rule in src/http/auth.ts`);
      accessByRoute.set(id, access);
    }
  });
  const { keys } = options;
  if (keys === undefined) return;
  const accessOf = (request: FastifyRequest): Access | undefined => {
    const url = request.routeOptions.url;
    if (url === undefined) return undefined;
    return accessByRoute.get(`${request.method === 'HEAD' ? 'GET' : request.method} ${url}`);
  };
  // Fix: a grant is checked once per request, so a stream (or long-poll) opened with a
  // key went on delivering records after the key was deleted, though a deleted key
  // "stops working at once". Responses still open are kept per key id, and the key's
  // removal ends them: deleted here, or, in a cluster, deleted on another node and
  // applied here (test/http/auth-streams.test.ts, test/cluster/cluster-keys.test.ts).
  const openByKey = new Map<string, Set<ServerResponse>>();
  const track = (keyId: string, raw: ServerResponse): void => {
    let open = openByKey.get(keyId);
    if (open === undefined) openByKey.set(keyId, (open = new Set()));
    open.add(raw);
    raw.once('close', () => {
      open.delete(raw);
      if (open.size === 0 && openByKey.get(keyId) === open) openByKey.delete(keyId);
    });
  };
  app.addHook('onRequest', async (request, reply) => {
    const access = accessOf(request);
    if (access === undefined || access.isOpen === true) return;
    const token = presentedKey(request);
    if (token === undefined) throw new RunnelError('UNAUTHENTICATED', 'this node requires an API key: send Authorization: Bearer <key> or X-API-Key: <key>');
    const principal = keys.authenticate(token);
    if (principal === undefined) throw new RunnelError('UNAUTHENTICATED', 'the API key is not valid');
    request.principal = principal;
    // A key may delete itself: that DELETE's own answer is not ended with the rest.
    if (request.method !== 'DELETE' || request.routeOptions.url !== '/v1/keys/:keyId') track(principal.keyId, reply.raw);
  });
  const stopListening = keys.onRemoved((keyId) => {
    for (const raw of openByKey.get(keyId) ?? []) raw.destroy();
  });
  app.addHook('onClose', async () => stopListening());
  app.addHook('preHandler', async (request) => {
    const access = accessOf(request);
    if (access?.check !== undefined && request.principal !== undefined) access.check(request.principal, request);
  });
  app.addHook('preSerialization', async (request, _reply, payload) => {
    const access = accessOf(request);
    if (access?.filter === undefined || request.principal === undefined || payload === null || typeof payload !== 'object' || 'error' in payload) return payload;
    return access.filter(request.principal, payload);
  });
}
