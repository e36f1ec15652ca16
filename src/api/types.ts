/**
 * TypeScript types of the public API, derived from the very JSON schemas the server
 * validates with and documents in openapi/openapi.json (json-schema-to-ts), so the
 * client's types cannot drift from the server.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type {
  commitBodySchema, committedOffsetsSchema, groupDescriptionSchema, groupListSchema, heartbeatBodySchema, joinBodySchema,
  memberReplySchema, offsetsViewSchema, pollQuerySchema, pollResponseSchema, resetBodySchema,
} from './group-schemas.js';
import type { createdKeySchema, createKeyBodySchema, grantSchema, keyInfoSchema, keyListSchema, ownKeySchema } from './key-schemas.js';
import type {
  alterTopicBodySchema, clusterSchema, createTopicBodySchema, errorBodySchema, fetchQuerySchema, fetchResponseSchema,
  fetchedRecordSchema, partitionInfoSchema, partitionOffsetsSchema, produceBodySchema, produceQuerySchema, produceRecordSchema,
  produceResponseSchema, topicDescriptionSchema, topicListSchema, valueFormatSchema,
} from './schemas.js';

/** A request body: properties with a default may be left out. */
type Input<Schema extends JSONSchema> = FromSchema<Schema, { keepDefaultedPropertiesOptional: true }>;

export type ErrorBody = FromSchema<typeof errorBodySchema>;
export type ValueFormat = FromSchema<typeof valueFormatSchema>;
export type PartitionInfo = FromSchema<typeof partitionInfoSchema>;
export type TopicDescription = FromSchema<typeof topicDescriptionSchema>;
export type TopicList = FromSchema<typeof topicListSchema>;
export type TopicSummary = TopicList['topics'][number];
export type CreateTopicBody = Input<typeof createTopicBodySchema>;
export type AlterTopicBody = Input<typeof alterTopicBodySchema>;
export type ProduceRecord = Input<typeof produceRecordSchema>;
export type ProduceBody = Input<typeof produceBodySchema>;
export type ProduceQuery = Input<typeof produceQuerySchema>;
export type Acks = NonNullable<ProduceQuery['acks']>;
export type ProduceResponse = FromSchema<typeof produceResponseSchema>;
/** Where one produced record landed. */
export type RecordMetadata = ProduceResponse['offsets'][number];
export type FetchQuery = Input<typeof fetchQuerySchema>;
export type FetchedRecord = FromSchema<typeof fetchedRecordSchema>;
export type FetchResponse = FromSchema<typeof fetchResponseSchema>;
export type PartitionOffsets = FromSchema<typeof partitionOffsetsSchema>;
export type ClusterDescription = FromSchema<typeof clusterSchema>;
export type JoinBody = Input<typeof joinBodySchema>;
export type HeartbeatBody = Input<typeof heartbeatBodySchema>;
export type MemberReply = FromSchema<typeof memberReplySchema>;
export type TopicPartitions = MemberReply['assignment'][number];
export type CommitBody = Input<typeof commitBodySchema>;
export type CommittedOffsets = FromSchema<typeof committedOffsetsSchema>;
export type ResetBody = Input<typeof resetBodySchema>;
export type OffsetsView = FromSchema<typeof offsetsViewSchema>;
export type GroupList = FromSchema<typeof groupListSchema>;
export type GroupSummary = GroupList['groups'][number];
export type GroupDescription = FromSchema<typeof groupDescriptionSchema>;
export type PollQuery = Input<typeof pollQuerySchema>;
export type PollResponse = FromSchema<typeof pollResponseSchema>;
/** A record a group poll delivered: a fetched record plus its topic. */
export type PolledRecord = PollResponse['records'][number];
export type Grant = Input<typeof grantSchema>;
export type KeyInfo = FromSchema<typeof keyInfoSchema>;
export type KeyList = FromSchema<typeof keyListSchema>;
/** The key a request presents, and what it may do. */
export type OwnKey = FromSchema<typeof ownKeySchema>;
export type CreateKeyBody = Input<typeof createKeyBodySchema>;
export type CreatedKey = FromSchema<typeof createdKeySchema>;
