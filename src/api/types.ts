/**
 * TypeScript types of the public API, derived from the very JSON schemas the server
 * validates with and documents in openapi/openapi.json (json-schema-to-ts), so the
 * client's types cannot drift from the server.
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type {
  commitBodySchema, committedOffsetsSchema, groupDescriptionSchema, groupListSchema, joinBodySchema,
  memberReplySchema, offsetsViewSchema, pollResponseSchema, resetBodySchema,
} from './group-schemas.js';
import type { grantSchema, keyInfoSchema } from './key-schemas.js';
import type {
  errorBodySchema, fetchResponseSchema, fetchedRecordSchema, partitionInfoSchema, produceBodySchema,
  produceRecordSchema, produceResponseSchema, topicDescriptionSchema,
} from './schemas.js';

/** A request body: properties with a default may be left out. */
type Input<Schema extends JSONSchema> = FromSchema<Schema, { keepDefaultedPropertiesOptional: true }>;

export type ErrorBody = FromSchema<typeof errorBodySchema>;
export type PartitionInfo = FromSchema<typeof partitionInfoSchema>;
export type TopicDescription = FromSchema<typeof topicDescriptionSchema>;
export type ProduceRecord = Input<typeof produceRecordSchema>;
export type ProduceBody = Input<typeof produceBodySchema>;
export type ProduceResponse = FromSchema<typeof produceResponseSchema>;
export type FetchedRecord = FromSchema<typeof fetchedRecordSchema>;
export type FetchResponse = FromSchema<typeof fetchResponseSchema>;
export type JoinBody = Input<typeof joinBodySchema>;
export type MemberReply = FromSchema<typeof memberReplySchema>;
export type CommitBody = Input<typeof commitBodySchema>;
export type CommittedOffsets = FromSchema<typeof committedOffsetsSchema>;
export type ResetBody = Input<typeof resetBodySchema>;
export type OffsetsView = FromSchema<typeof offsetsViewSchema>;
export type GroupList = FromSchema<typeof groupListSchema>;
export type GroupDescription = FromSchema<typeof groupDescriptionSchema>;
export type PollResponse = FromSchema<typeof pollResponseSchema>;
export type Grant = Input<typeof grantSchema>;
export type KeyInfo = FromSchema<typeof keyInfoSchema>;
