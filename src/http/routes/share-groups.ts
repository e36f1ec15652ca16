/**
 * Share groups over HTTP (Kafka's KIP-932 queues): receive records under a lock,
 * work, acknowledge each; no membership, no rebalancing. Every call is stateless;
 * the broker keeps the state (broker/share) and writes it to __share_group_state
 * before answering. In a cluster any node answers: a call about a group that another
 * node coordinates is handed to it (hand-over.ts), and the list gathers every
 * coordinator's groups.
 */
import type { FastifyInstance } from 'fastify';
import { isHandedOver, type HandOver } from '../hand-over.js';
import { coordinated, type Coordinated } from '../coordinated.js';
import type { Broker } from '../../broker/broker.js';
import { alterShareGroupConfigs, deleteShareGroup, describeShareGroup, listShareGroups, resetShareGroup } from '../../broker/share/share-admin.js';
import {
  acknowledgeBodySchema, acknowledgeResponseSchema, shareConfigsBodySchema, shareGroupDescriptionSchema, shareGroupListSchema, shareGroupParams,
  shareRecordsQuerySchema, shareRecordsResponseSchema, shareResetBodySchema, shareResetResponseSchema,
} from '../../api/share-schemas.js';
import { errorResponses } from '../../api/schemas.js';
import { typed, type TypedApp } from '../type-provider.js';

// State writes go through the producer (acks=all): their refusals are the call's. In a
// cluster, NOT_LEADER: the coordinator moved and did not answer (retry).
const writeErrors = ['NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT', 'DISK_FULL', 'NOT_READY', 'NOT_LEADER'] as const;
const DEFAULT_CONSUMER = 'anonymous';


export function shareGroupRoutes(fastify: FastifyInstance, broker: Broker, handOver: HandOver | undefined): void {
  const app = typed(fastify);
  const { placement } = broker.shareGroups.stateLog;
  const byCoordinator = coordinated({
    what: 'share group', placement, handOver, nodeId: broker.replication.nodeId,
    requireCoordinator: (group) => broker.shareGroups.requireCoordinator(group),
    isActive: () => placement.isClustered,
    prepare: () => placement.ensureTopic(),
  });
  shareConsumeRoutes(app, broker, byCoordinator);
  shareAdminRoutes(app, broker, byCoordinator, handOver);
}

/** Acquire and acknowledge. */
function shareConsumeRoutes(app: TypedApp, broker: Broker, coordinated: Coordinated): void {
  const shares = broker.shareGroups;

  app.get('/v1/share-groups/:group/records', {
    schema: {
      tags: ['share-groups'],
      summary: 'Acquire records',
      description: "Acquires up to maxRecords available records of the topics' partitions for this consumer, each locked to it until lockExpiresAtMs (share.record.lock.duration.ms). Acknowledge each (accept, release, reject) or renew its lock before then; a record whose lock runs out is delivered again, with deliveryCount + 1, and archived once it reached share.delivery.count.limit. Long-polls up to waitMs when none is available. The first call creates the group; a partition starts at share.auto.offset.reset (latest by default) when first read.",
      params: shareGroupParams,
      querystring: shareRecordsQuerySchema,
      response: { 200: shareRecordsResponseSchema, ...errorResponses('TOPIC_NOT_FOUND', 'INVALID_TOPIC_NAME', 'TOO_MANY_WAITERS', 'CORRUPT_LOG', ...writeErrors) },
    },
    ...coordinated,
  }, async (request, reply) => {
    const { group } = request.params;
    const { query } = request;
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    reply.raw.once('close', onClose);
    try {
      const topics = query.topics === undefined ? undefined : query.topics.split(',').map((name) => name.trim()).filter((name) => name !== '');
      const acquired = await shares.acquire(group, {
        topics, topicPrefix: query.topicPrefix, consumerId: query.consumerId ?? DEFAULT_CONSUMER,
        maxRecords: query.maxRecords, maxBytes: query.maxBytes, waitMs: query.waitMs, signal: controller.signal,
      });
      const parts: Buffer[] = [Buffer.from('{"groupId":' + JSON.stringify(group) + ',"records":[', 'utf8')];
      const comma = Buffer.from(',');
      let count = 0;
      for (const partition of acquired) {
        for (const record of partition.records) {
          if (count++ > 0) parts.push(comma);
          parts.push(record);
        }
        request.server.runnelMetrics.consumed(partition.topic, partition.records.length, partition.bytesRead);
      }
      parts.push(Buffer.from(']}'));
      reply.type('application/json; charset=utf-8');
      return Buffer.concat(parts);
    } finally {
      reply.raw.off('close', onClose);
    }
  });

  app.post('/v1/share-groups/:group/acknowledgements', {
    schema: {
      tags: ['share-groups'],
      summary: 'Acknowledge records',
      description: "Per entry (a topic's partition, offsets as a list or as firstOffset..lastOffset): accept (done: never delivered again), release (delivered again), reject (never delivered again: archived) or renew (the lock extended by share.record.lock.duration.ms). Only the consumer holding a record's lock may acknowledge it; each record's result says whether it was done, with a stable code when not. The changes are stored before the answer.",
      params: shareGroupParams,
      body: acknowledgeBodySchema,
      response: { 200: acknowledgeResponseSchema, ...errorResponses('INVALID_JSON', 'SHARE_GROUP_NOT_FOUND', ...writeErrors) },
    },
    ...coordinated,
  }, async (request) => {
    const { group } = request.params;
    const { body } = request;
    return { groupId: group, results: await shares.acknowledge(group, body.consumerId ?? DEFAULT_CONSUMER, body.acknowledgements) };
  });

}

/** List, describe, configure, delete and reset share groups. */
function shareAdminRoutes(app: TypedApp, broker: Broker, coordinated: Coordinated, handOver: HandOver | undefined): void {
  const shares = broker.shareGroups;
  app.get('/v1/share-groups', {
    schema: {
      tags: ['share-groups'],
      summary: 'List share groups',
      description: "Every share group: its share-partitions, records held under a lock, and lag (records not yet acknowledged or archived). In a cluster the node asks every group coordinator (the leaders of __share_group_state's partitions) for its groups; a coordinator that does not answer leaves its groups out until its partitions have a new leader.",
      response: { 200: shareGroupListSchema, ...errorResponses() },
    },
  }, async (request) => {
    const local = listShareGroups(shares);
    if (!shares.stateLog.placement.isClustered || handOver === undefined || isHandedOver(request)) return { groups: local };
    const others = shares.stateLog.placement.coordinatorIds().filter((nodeId) => nodeId !== broker.replication.nodeId);
    const answers = await Promise.all(others.map(async (nodeId) => handOver.ask(request, nodeId)));
    const byId = new Map(local.map((group) => [group.groupId, group]));
    for (const answer of answers) {
      for (const group of (answer as { groups?: typeof local } | undefined)?.groups ?? []) if (!byId.has(group.groupId)) byId.set(group.groupId, group);
    }
    return { groups: [...byId.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : 1)) };
  });

  app.get('/v1/share-groups/:group', {
    schema: {
      tags: ['share-groups'],
      summary: 'Describe a share group',
      description: 'Its configs (effective values) and per share-partition: start and end offsets, records in flight by state (available, acquired, acknowledged, archived), lag and the consumers holding records.',
      params: shareGroupParams,
      response: { 200: shareGroupDescriptionSchema, ...errorResponses('SHARE_GROUP_NOT_FOUND', 'NOT_LEADER', 'NOT_READY') },
    },
    ...coordinated,
  }, async (request) => describeShareGroup(shares, request.params.group));

  app.patch('/v1/share-groups/:group', {
    schema: {
      tags: ['share-groups'],
      summary: 'Set share group configs',
      description: "Sets the group's configs, Kafka's names: share.record.lock.duration.ms, share.delivery.count.limit, share.auto.offset.reset, group.share.partition.max.record.locks (null: back to the node default). Creates the group when it does not exist, so a new group may start at earliest. Takes effect at once.",
      params: shareGroupParams,
      body: shareConfigsBodySchema,
      response: { 200: shareGroupDescriptionSchema, ...errorResponses('INVALID_JSON', 'INVALID_CONFIG', ...writeErrors) },
    },
    ...coordinated,
  }, async (request) => await alterShareGroupConfigs(shares, request.params.group, request.body.configs));

  app.delete('/v1/share-groups/:group', {
    schema: {
      tags: ['share-groups'],
      summary: 'Delete a share group',
      description: 'Deletes the group and its state. Only while it holds no record under a lock (409 SHARE_GROUP_NOT_EMPTY otherwise).',
      params: shareGroupParams,
      response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses('SHARE_GROUP_NOT_FOUND', 'SHARE_GROUP_NOT_EMPTY', ...writeErrors) },
    },
    ...coordinated,
  }, async (request, reply) => {
    await deleteShareGroup(shares, request.params.group);
    return reply.code(204).send();
  });

  app.post('/v1/share-groups/:group/reset', {
    schema: {
      tags: ['share-groups'],
      summary: 'Reset the start offset',
      description: "Moves the start offset of the group's share-partitions (of one topic: all its partitions) to earliest, latest, or the first record at or after a timestamp, forgetting what was in flight. Only while the group holds no record under a lock.",
      params: shareGroupParams,
      body: shareResetBodySchema,
      response: { 200: shareResetResponseSchema, ...errorResponses('INVALID_JSON', 'SHARE_GROUP_NOT_FOUND', 'SHARE_GROUP_NOT_EMPTY', 'TOPIC_NOT_FOUND', 'INVALID_TOPIC_NAME', ...writeErrors) },
    },
    ...coordinated,
  }, async (request) => {
    const { group } = request.params;
    const { body } = request;
    return { groupId: group, partitions: await resetShareGroup(shares, group, body.topic, body.to) };
  });
}
