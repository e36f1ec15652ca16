/**
 * Every hard limit in one place, each named with its unit (TigerBeetle's
 * constants.zig habit). Settings may lower some of them; nothing may exceed them.
 * checkLimits() asserts how they relate and runs at start-up.
 */
import { assert } from './util/assert.js';

export const limits = {
  /** Longest topic name Kafka allows (249: room for a partition suffix in a file name). */
  topicNameLengthMax: 249,
  /** Partitions per topic. */
  partitionCountMax: 10_000,
  /** Default request body limit (--body-limit-bytes). */
  requestBodyBytesDefault: 64 * 1024 * 1024,
  /** Records in one produce request. */
  produceRecordCountMax: 100_000,
  /** Records one fetch returns at most, and the default. */
  fetchRecordCountMax: 100_000,
  fetchRecordCountDefault: 500,
  /** Bytes of batches one fetch reads at most, and the default (Kafka's max.partition.fetch.bytes is 1 MiB). */
  fetchBytesMax: 64 * 1024 * 1024,
  fetchBytesDefault: 1024 * 1024,
  /** Longest long-poll. */
  fetchWaitMsMax: 60_000,
  /** Long-polls and streams waiting on one partition at once. */
  waitersPerPartitionMax: 10_000,
  /** Live streams per node. */
  streamsMax: 10_000,
  /** Bytes a stream may have queued in the socket before it waits for the reader. */
  streamBufferedBytesMax: 1024 * 1024,
  /** Idle streams get a comment line this often so proxies keep the connection. */
  streamKeepAliveMs: 15_000,
  /** Idempotency-Key length and how long an answer is remembered. */
  idempotencyKeyLengthMax: 255,
  idempotencyRetentionMs: 24 * 60 * 60 * 1000,
  /** Header name length and header count per record. */
  headerNameLengthMax: 1024,
  headerCountMax: 1024,
  /** Consumer groups: id length, groups per node, members per group. */
  groupIdLengthMax: 249,
  groupCountMax: 10_000,
  groupMembersMax: 1_000,
  /** Session and rebalance timeouts a member may ask for, and their defaults (Kafka's group.consumer.* settings). */
  sessionTimeoutMsMin: 500,
  sessionTimeoutMsMax: 30 * 60 * 1000,
  sessionTimeoutMsDefault: 45_000,
  rebalanceTimeoutMsMin: 500,
  rebalanceTimeoutMsMax: 30 * 60 * 1000,
  rebalanceTimeoutMsDefault: 60_000,
  /** Heartbeat interval told to members: a third of the session, at most this. */
  heartbeatIntervalMsMax: 5_000,
  /** How often the coordinator looks for expired sessions and topic changes. */
  groupSweepIntervalMs: 200,
  /** Offsets committed in one request; metadata length per offset. */
  commitOffsetCountMax: 10_000,
  commitMetadataLengthMax: 4096,
} as const;

export function checkLimits(): void {
  assert(limits.fetchRecordCountDefault <= limits.fetchRecordCountMax, 'fetch record default exceeds its max');
  assert(limits.fetchBytesDefault <= limits.fetchBytesMax, 'fetch bytes default exceeds its max');
  assert(limits.streamBufferedBytesMax <= limits.fetchBytesMax, 'a stream buffer must fit in one fetch');
  assert(limits.fetchBytesMax <= 0x7fffffff, 'fetch bytes must fit a signed 32-bit length');
  assert(limits.groupSweepIntervalMs * 2 <= limits.sessionTimeoutMsMin, 'sessions must be checked at least twice per shortest session');
  assert(limits.sessionTimeoutMsMin <= limits.sessionTimeoutMsDefault && limits.sessionTimeoutMsDefault <= limits.sessionTimeoutMsMax, 'session timeout default out of its bounds');
  assert(limits.rebalanceTimeoutMsMin <= limits.rebalanceTimeoutMsDefault && limits.rebalanceTimeoutMsDefault <= limits.rebalanceTimeoutMsMax, 'rebalance timeout default out of its bounds');
}
