import type { FastifyInstance } from 'fastify';
import type { Broker } from '../../broker/broker.js';
import type { Topic } from '../../broker/topic-state.js';
import { refuseInternalTopic } from '../../broker/internal-topics.js';
import {
  alterTopicBodySchema, createTopicBodySchema, errorResponses, topicListSchema, topicNameParam,
} from '../../api/schemas.js';
import type { TopicDescription } from '../../api/types.js';
import { typed, type TypedApp } from '../type-provider.js';

export function describeTopic(topic: Topic, broker: Broker): TopicDescription {
  return {
    name: topic.record.name,
    topicId: topic.record.topicId,
    replicationFactor: topic.record.replicationFactor,
    configs: topic.record.configs,
    effectiveConfigs: topic.effective,
    partitions: topic.partitions.map((state) => ({
      partition: state.partition,
      leader: state.leader,
      leaderUrl: state.leader < 0 ? null : broker.replication.nodeUrl(state.leader),
      leaderEpoch: state.leaderEpoch,
      replicas: state.replicas,
      isr: state.isr,
      logStartOffset: state.log.logStartOffset,
      highWatermark: state.log.highWatermark,
      logEndOffset: state.log.logEndOffset,
      sizeBytes: state.log.sizeBytes,
      segmentCount: state.log.segmentCount,
    })),
  };
}

const topicParams = {
  type: 'object',
  required: ['topic'],
  properties: { topic: topicNameParam },
} as const;

export function topicRoutes(fastify: FastifyInstance, broker: Broker): void {
  const app = typed(fastify);
  topicReadRoutes(app, broker);
  topicChangeRoutes(app, broker);
}

/** List and describe: answered from this node's view of the metadata. */
function topicReadRoutes(app: TypedApp, broker: Broker): void {
  app.get('/v1/topics', {
    schema: {
      tags: ['topics'],
      summary: 'List topics',
      description: 'Every topic with its partition count and replication factor, sorted by name.',
      response: {
        200: topicListSchema,
        ...errorResponses(),
      },
    },
  }, async () => ({
    topics: broker.topics.list().map((topic) => ({
      name: topic.record.name,
      partitions: topic.partitions.length,
      replicationFactor: topic.record.replicationFactor,
    })),
  }));

  app.get('/v1/topics/:topic', {
    schema: {
      tags: ['topics'],
      summary: 'Describe a topic',
      description: 'Per partition: leader, replicas, in-sync replicas, logStartOffset, highWatermark, logEndOffset and size on disk; the configs set on the topic and the effective value of every config.',
      params: topicParams,
      response: { 200: { $ref: 'TopicDescription#' }, ...errorResponses('INVALID_TOPIC_NAME', 'TOPIC_NOT_FOUND') },
    },
  }, async (request) => describeTopic(broker.topics.get(request.params.topic), broker));
}

/** Create, alter and delete: changes the controller makes (internal topics refused). */
function topicChangeRoutes(app: TypedApp, broker: Broker): void {
  app.post('/v1/topics', {
    schema: {
      tags: ['topics'],
      summary: 'Create a topic',
      description: "Creates a topic with `partitions` partitions (default: the node's num.partitions) and optional Kafka topic configs. Unknown or invalid configs are refused with INVALID_CONFIG.",
      body: createTopicBodySchema,
      response: {
        201: { description: 'Created.', $ref: 'TopicDescription#' },
        ...errorResponses('INVALID_JSON', 'INVALID_TOPIC_NAME', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR', 'INVALID_CONFIG', 'TOPIC_EXISTS', 'UNSUPPORTED_MEDIA_TYPE', 'REQUEST_TOO_LARGE', 'NOT_CONTROLLER', 'DISK_FULL'),
      },
    },
  }, async (request, reply) => {
    const { body } = request;
    refuseInternalTopic(body.name, 'create');
    const topic = await broker.admin.create(body);
    reply.code(201).header('location', `/v1/topics/${topic.record.name}`);
    return describeTopic(topic, broker);
  });

  app.patch('/v1/topics/:topic', {
    schema: {
      tags: ['topics'],
      summary: 'Add partitions or change configs',
      description: 'partitions may only grow (keyed records of existing keys may then map to other partitions, as in Kafka). configs are merged into the topic\'s configs; a null value removes a config so the default applies again.',
      params: topicParams,
      body: alterTopicBodySchema,
      response: {
        200: { $ref: 'TopicDescription#' },
        ...errorResponses('INVALID_JSON', 'INVALID_TOPIC_NAME', 'TOPIC_NOT_FOUND', 'INVALID_PARTITIONS', 'INVALID_CONFIG', 'UNSUPPORTED_MEDIA_TYPE', 'NOT_CONTROLLER', 'DISK_FULL'),
      },
    },
  }, async (request) => {
    const { topic } = request.params;
    refuseInternalTopic(topic, 'alter');
    return describeTopic(await broker.admin.alter(topic, request.body), broker);
  });

  app.delete('/v1/topics/:topic', {
    schema: {
      tags: ['topics'],
      summary: 'Delete a topic',
      description: 'Removes the topic, its records and its metadata. Readers waiting on it are told TOPIC_NOT_FOUND.',
      params: topicParams,
      response: { 204: { description: 'Deleted.', type: 'null' }, ...errorResponses('INVALID_TOPIC_NAME', 'TOPIC_NOT_FOUND', 'NOT_CONTROLLER', 'DISK_FULL') },
    },
  }, async (request, reply) => {
    const { topic } = request.params;
    refuseInternalTopic(topic, 'delete');
    await broker.admin.delete(topic);
    return reply.code(204).send();
  });
}
