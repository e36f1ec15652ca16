/**
 * Consumer groups over plain HTTP: membership, assignment, polls and commits, each a
 * stateless call that may come over any connection (the broker keeps the state).
 */
import type { FastifyInstance } from 'fastify';
import type { HandOver } from '../hand-over.js';
import { coordinated, type Coordinated } from '../coordinated.js';
import type { Broker } from '../../broker/broker.js';
import { fromTopicAssignments } from '../../broker/groups/topic-assignment.js';
import { JsonBuffer } from '../../record/json-buffer.js';
import { writeRecords } from '../../record/json-writer.js';
import {
  commitBodySchema, committedOffsetsSchema, groupDescriptionSchema, groupListSchema, groupParams,
  joinBodySchema, memberParams, memberReplySchema, offsetsQuerySchema, offsetsViewSchema, pollQuerySchema, pollResponseSchema, resetBodySchema,
  heartbeatBodySchema,
} from '../../api/group-schemas.js';
import { errorResponses } from '../../api/schemas.js';
import type { GroupDescription } from '../../api/types.js';
import { typed, type TypedApp } from '../type-provider.js';

const clusterErrors = ['NOT_LEADER', 'NOT_READY'] as const;
// Commits are records of __consumer_offsets first: the append's refusals are theirs.
const commitErrors = [...clusterErrors, 'NOT_ENOUGH_REPLICAS', 'REQUEST_TIMED_OUT'] as const;


export function groupRoutes(fastify: FastifyInstance, broker: Broker, handOver: HandOver | undefined): void {
  const app = typed(fastify);
  // The coordinator of a group is the leader of its __consumer_offsets partition.
  const byCoordinator = coordinated({
    what: 'group', placement: broker.offsetsLog, handOver, nodeId: broker.replication.nodeId,
    requireCoordinator: (group) => broker.offsetsLog.requireCoordinator(group),
  });
  groupAdminRoutes(app, broker, byCoordinator);
  offsetRoutes(app, broker, byCoordinator);
  membershipRoutes(app, broker, byCoordinator);
  pollRoute(app, broker, byCoordinator);
}

/** List, describe and delete groups. */
function groupAdminRoutes(app: TypedApp, broker: Broker, coordinated: Coordinated): void {
  const { groups } = broker;
  // GroupCoordinator's list() and describe() are typed looser than their schemas (a state
  // as a string, a description as an object); these two assertions go once they return
  // the api's GroupSummary and GroupDescription.
  app.get('/v1/groups', {
    schema: {
      tags: ['groups'],
      summary: 'List consumer groups',
      description: 'Every group this node knows (with live members or committed offsets): state, member count and total lag. In a cluster: the groups this node coordinates, and those whose committed offsets it holds as a replica of their __consumer_offsets partition (their state and members are only known to their coordinator: ask GET /v1/groups/{group}).',
      response: { 200: groupListSchema, ...errorResponses() },
    },
  }, async () => {
    await groups.refreshRanges();
    return { groups: groups.list() };
  });

  app.get('/v1/groups/:group', {
    schema: {
      tags: ['groups'],
      summary: 'Describe a consumer group',
      description: 'State (Empty, Stable, Reconciling), group epoch, assignor, members with their assignment and what they are giving up, and per-partition committed offset and lag.',
      params: groupParams,
      response: { 200: groupDescriptionSchema, ...errorResponses('GROUP_NOT_FOUND', ...clusterErrors) },
    },
    ...coordinated,
  }, async (request) => {
    await groups.refreshRanges(request.params.group);
    return groups.describe(request.params.group) as GroupDescription;
  });

  app.delete('/v1/groups/:group', {
    schema: {
      tags: ['groups'],
      summary: 'Delete a consumer group',
      description: 'Deletes the group and its committed offsets. Only when it has no live members (409 GROUP_NOT_EMPTY otherwise).',
      params: groupParams,
      response: { 204: { type: 'null', description: 'Deleted.' }, ...errorResponses('GROUP_NOT_FOUND', 'GROUP_NOT_EMPTY', ...commitErrors) },
    },
    ...coordinated,
  }, async (request, reply) => {
    await groups.delete(request.params.group);
    return reply.code(204).send();
  });
}

/** Committed offsets: read, commit, reset. */
function offsetRoutes(app: TypedApp, broker: Broker, coordinated: Coordinated): void {
  const { groups } = broker;
  app.get('/v1/groups/:group/offsets', {
    schema: {
      tags: ['groups'],
      summary: 'Committed offsets and lag',
      description: 'Per partition committed or assigned: the committed offset (null when none), its metadata, the log end (high watermark) and the lag.',
      params: groupParams,
      querystring: offsetsQuerySchema,
      response: { 200: offsetsViewSchema, ...errorResponses('GROUP_NOT_FOUND', ...clusterErrors) },
    },
    ...coordinated,
  }, async (request) => {
    const { group } = request.params;
    const { topic } = request.query;
    await groups.refreshRanges(group);
    return { groupId: group, offsets: groups.offsets(group, topic) };
  });

  app.post('/v1/groups/:group/offsets', {
    schema: {
      tags: ['groups'],
      summary: 'Commit offsets',
      description: "Stores the group's position per partition (the offset of the next record to read), all or none. A member commits with its memberId and generation and only for partitions it owns (409 STALE_GENERATION otherwise). Without memberId, commits are accepted while the group has no live members: consumers that assign partitions themselves.",
      params: groupParams,
      body: commitBodySchema,
      response: {
        200: committedOffsetsSchema,
        ...errorResponses('INVALID_JSON', 'INVALID_OFFSET', 'GROUP_NOT_FOUND', 'UNKNOWN_MEMBER', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'STALE_GENERATION', 'GROUP_NOT_EMPTY', 'INVALID_TOPIC_NAME', 'DISK_FULL', ...commitErrors),
      },
    },
    ...coordinated,
  }, async (request) => {
    const { group } = request.params;
    return { groupId: group, offsets: await groups.commit(group, request.body) };
  });

  app.post('/v1/groups/:group/offsets/reset', {
    schema: {
      tags: ['groups'],
      summary: 'Reset committed offsets',
      description: "Like kafka-consumer-groups --reset-offsets: sets a topic's committed offsets (all partitions, or those listed) to earliest, latest, the first offset at or after a timestamp, or an offset (clamped to what the log holds). Only while the group has no live members.",
      params: groupParams,
      body: resetBodySchema,
      response: {
        200: committedOffsetsSchema,
        ...errorResponses('INVALID_JSON', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND', 'GROUP_NOT_EMPTY', 'INVALID_TOPIC_NAME', 'DISK_FULL', ...commitErrors),
      },
    },
    ...coordinated,
  }, async (request) => {
    const { group } = request.params;
    const { body } = request;
    return { groupId: group, offsets: await groups.reset(group, body.topic, body.partitions, body.to) };
  });
}

/** Join, heartbeat, leave. */
function membershipRoutes(app: TypedApp, broker: Broker, coordinated: Coordinated): void {
  const { groups } = broker;

  app.post('/v1/groups/:group/members', {
    schema: {
      tags: ['groups'],
      summary: 'Join a consumer group',
      description: "Creates a member (and the group if needed) subscribed to topics by name, prefix or pattern. The reply carries its memberId, generation and assignment. Call again (heartbeat or poll) every heartbeatIntervalMs: a member silent past sessionTimeoutMs is removed and its partitions go to the others. Assignment is incremental: a partition moves only after its previous owner gave it up or timed out.",
      params: groupParams,
      body: joinBodySchema,
      response: { 201: memberReplySchema, ...errorResponses('INVALID_JSON', ...clusterErrors) },
    },
    ...coordinated,
  }, async (request, reply) => {
    const { group } = request.params;
    const { body } = request;
    const joined = groups.join(group, {
      subscription: { topics: body.topics, topicPattern: body.topicPattern, topicPrefix: body.topicPrefix },
      clientId: body.clientId,
      sessionTimeoutMs: body.sessionTimeoutMs,
      rebalanceTimeoutMs: body.rebalanceTimeoutMs,
      assignor: body.assignor,
      autoOffsetReset: body.autoOffsetReset,
      ownerKeyId: request.principal?.keyId,
    });
    return reply.code(201).send(joined);
  });

  app.post('/v1/groups/:group/members/:member/heartbeat', {
    schema: {
      tags: ['groups'],
      summary: 'Heartbeat',
      description: "Renews the member's session and returns its current assignment and generation. A partition missing from the new assignment is being revoked: commit its progress, stop reading it, then heartbeat again. A body listing `ownedPartitions` says exactly what the member still holds; a heartbeat without a body (or with the current `generation`) confirms the last assignment it received.",
      params: memberParams,
      body: heartbeatBodySchema,
      response: { 200: memberReplySchema, ...errorResponses('INVALID_JSON', 'GROUP_NOT_FOUND', 'UNKNOWN_MEMBER', ...clusterErrors) },
    },
    ...coordinated,
  }, async (request) => {
    const { group, member } = request.params;
    const body = request.body ?? {};
    return groups.heartbeat(group, member, {
      generation: body.generation,
      ownedPartitions: body.ownedPartitions === undefined ? undefined : fromTopicAssignments(body.ownedPartitions),
      isImplicit: body.generation === undefined && body.ownedPartitions === undefined,
    });
  });

  app.delete('/v1/groups/:group/members/:member', {
    schema: {
      tags: ['groups'],
      summary: 'Leave a consumer group',
      description: "Removes the member at once; its partitions go to the others, who resume from the group's committed offsets.",
      params: memberParams,
      response: { 204: { type: 'null', description: 'Left.' }, ...errorResponses('GROUP_NOT_FOUND', 'UNKNOWN_MEMBER', ...clusterErrors) },
    },
    ...coordinated,
  }, async (request, reply) => {
    const { group, member } = request.params;
    groups.leave(group, member);
    return reply.code(204).send();
  });
}

/** The member's poll: records of its partitions, written as JSON here. */
function pollRoute(app: TypedApp, broker: Broker, coordinated: Coordinated): void {

  app.get('/v1/groups/:group/members/:member/records', {
    schema: {
      tags: ['groups'],
      summary: "Poll the member's partitions",
      description: "Records from every partition assigned to the member, from its positions (the committed offset, else autoOffsetReset at join). Long-polls up to waitMs when nothing is there. The reply also carries the assignment and generation, and counts as a heartbeat that confirms the previous reply. With autoCommit=true the positions delivered by the previous poll are committed first (at-least-once). Send each reply's pollId back as `ack` so a reply lost on the way is delivered again instead of skipped.",
      params: memberParams,
      querystring: pollQuerySchema,
      response: { 200: pollResponseSchema, ...errorResponses('GROUP_NOT_FOUND', 'UNKNOWN_MEMBER', 'TOO_MANY_WAITERS', 'CORRUPT_LOG', ...commitErrors) },
    },
    ...coordinated,
  }, async (request, reply) => {
    const { group, member } = request.params;
    const { query } = request;
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    reply.raw.once('close', onClose);
    try {
      const result = await broker.poller.poll(group, member, { ...query, signal: controller.signal });
      const { reply: member_ } = result;
      let bytesRead = 0;
      for (const polled of result.partitions) bytesRead += polled.batches.length;
      const out = new JsonBuffer(2 * bytesRead + 512);
      out.utf8('{"groupId":' + JSON.stringify(member_.groupId) + ',"memberId":' + JSON.stringify(member_.memberId) +
        ',"generation":' + member_.generation + ',"assignment":' + JSON.stringify(member_.assignment) +
        ',"heartbeatIntervalMs":' + member_.heartbeatIntervalMs + ',"pollId":' + result.pollId + ',"records":[');
      const written = { count: 0 };
      for (const polled of result.partitions) {
        const style = { separator: ',', topic: polled.topic };
        const { count } = writeRecords(out, polled.batches, polled.partition, polled.startOffset, polled.recordCount, style, written);
        request.server.runnelMetrics.consumed(polled.topic, count, polled.batches.length);
      }
      out.ascii(']}');
      reply.type('application/json; charset=utf-8');
      return out.toBuffer();
    } finally {
      reply.raw.off('close', onClose);
    }
  });
}
