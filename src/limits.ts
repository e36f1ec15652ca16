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
  /** Default partitions (replicas) one node holds at most (--max-partitions). */
  partitionsPerNodeDefault: 50_000,
  /** Segment files kept open by default at most (half of ulimit -n, up to this). */
  openLogFilesDefaultMax: 10_000,
  /** ... and when the open-file limit cannot be read. */
  openLogFilesUnknownLimitDefault: 4_096,
  /** Fewest segment files kept open: an append may need a log and both its indexes. */
  openLogFilesMin: 16,
  /** Default request body limit (--body-limit-bytes). */
  requestBodyBytesDefault: 64 * 1024 * 1024,
  /** Default time to receive a whole request, headers and body (--request-body-timeout-ms): a client trickling a body cannot hold a slot for ever. */
  requestBodyTimeoutMsDefault: 60_000,
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
  /** Characters of the key in GET /v1/topics/{topic}/keys/{key} (the URL must fit Node's 16 KiB of request head). */
  recordKeyPathLengthMax: 8192,
  /** Idempotency-Key length and how long an answer is remembered. */
  idempotencyKeyLengthMax: 255,
  idempotencyRetentionMs: 24 * 60 * 60 * 1000,
  /** Answers remembered per node by default, by count and by bytes (--idempotency-keys-max, --idempotency-bytes-max). */
  idempotencyKeyCountDefault: 100_000,
  idempotencyBytesDefault: 64 * 1024 * 1024,
  /** Producers remembered per node by default (--producer-states-max): producer-state.ts. */
  producerStatesDefault: 200_000,
  /** Producer ids a node gets from the controller at a time (Kafka's KIP-730 uses 1000). */
  producerIdBlockSize: 1000,
  /** Producer ids are below this (Idempotency-Key producers use the ids above: storage/producer-state.ts). */
  producerIdMax: 2 ** 52 - 1,
  /**
   * Levels of arrays and objects a record's JSON key or value may nest (deeper: 400
   * INVALID_REQUEST). Real documents nest a few levels, rarely past 20; .NET's
   * System.Text.Json refuses past 64 by default. 128 leaves room for generated trees
   * and stays far below the few thousand levels at which V8's JSON.stringify (run on
   * every value, and on the whole request to hash an Idempotency-Key) overflows the stack.
   */
  jsonDepthMax: 128,
  /** Header name length and header count per record. */
  headerNameLengthMax: 1024,
  headerCountMax: 1024,
  /** Consumer groups: id length, groups per node, members per group. */
  groupIdLengthMax: 249,
  groupCountMax: 10_000,
  groupMembersMax: 1_000,
  /** Characters in a member's topicPattern (RE2 syntax, matched in linear time: the cap bounds each match's cost). */
  topicPatternLengthMax: 1_000,
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

  // ---- cluster: produce across nodes ----
  /** How long acks=all waits at the leader for the in-sync replicas (Kafka's request.timeout.ms default). */
  acksAllTimeoutMs: 30_000,
  /** How long a node that forwarded a produce waits for the leader: the leader's acks=all wait, and a little more. */
  forwardProduceTimeoutMs: 35_000,
  /** A forwarded share's leader that metadata still names but that has not answered this long is given up on (NOT_LEADER naming it). */
  forwardUnreachableMs: 5_000,

  // ---- cluster: any node answers any request ----
  /** --replica-read-lag-max-ms default: a follower that heard from its leader within this serves reads (KIP-392). */
  replicaReadLagMsDefault: 10_000,
  /** A group member's read at another node (a partition with no in-sync replica on its coordinator): its waitMs, and this much more. */
  remoteReadTimeoutMs: 5_000,
  /** A request handed to another node (a read, a group's call) waits this long for its answer's headers, past the request's own waitMs. */
  handOverHeadersTimeoutMs: 10_000,
  /** And this long between bytes of a JSON answer (streams have no limit: they idle between records). */
  handOverBodyTimeoutMs: 30_000,
  /** Seconds a 503 tells the client to wait (Retry-After) before it tries again. */
  retryAfterSeconds: 1,

  // ---- cluster: metadata quorum and controller ----
  /** The quorum's Raft is ticked this often (its timers fire on the next tick). */
  quorumTickIntervalMs: 20,
  /** Raft messages in flight to one peer at most; more are dropped (Raft retries what matters). */
  quorumMessagesInFlightPerPeerMax: 8,
  /** Metadata log entries in one Raft fetch answer at most. */
  quorumFetchEntriesMax: 500,
  /** The quorum snapshots the metadata image after this many applied entries, unless told otherwise. */
  quorumSnapshotIntervalEntriesDefault: 1000,
  /** The active controller's tick: node liveness, leader elections, the offsets topic. */
  controllerTickIntervalMs: 200,
  /** The controller's tick came this much later than due: its process did not run, and node sessions are extended by that time. */
  controllerPauseForgivenMs: 300,
  /** Kafka's leader.imbalance.check.interval.seconds, shortened: leadership returns to preferred replicas. */
  preferredLeaderCheckIntervalMs: 5_000,
  /** How long an admin request may wait for the controller (election included). */
  controllerRequestTimeoutMs: 15_000,
  /** How long a request naming a topic this node does not know waits for its metadata to catch up with the controller's (cluster/metadata-barrier.ts). */
  metadataBarrierTimeoutMs: 5_000,
  /** Pause between attempts to reach the controller. */
  controllerRetryDelayMs: 100,
  /** How long a stopping node waits for the controller to move its leaderships. */
  controlledShutdownTimeoutMs: 3_000,
  /** Node-to-node requests (controller channel, forwarded produce): connect timeout, keep-alive, connections per peer. */
  peerConnectTimeoutMs: 2_000,
  peerKeepAliveMs: 30_000,
  peerConnectionsMax: 8,

  // ---- cluster: partition replication ----
  /** How long a follower's replica fetch may wait at the leader for news (its long-poll). */
  replicaFetchWaitMs: 500,
  /** Bytes of batches one replica fetch answer carries at most. */
  replicaFetchBytesMax: 8 * 1024 * 1024,
  /** Beyond the long-poll itself, how long a replica fetch may take before it counts as failed. */
  replicaFetchRequestTimeoutMs: 10_000,
  /** Network failures of a follower's fetch loop: first and longest pause between attempts. */
  replicaFetchBackoffMsMin: 100,
  replicaFetchBackoffMsMax: 1_000,
  /** A partition the leader refused (not leader yet, epoch unknown there, ...) is asked again after this. */
  replicaPartitionRetryBackoffMs: 200,
  /** Longest idle wait of a fetch loop with nothing to fetch before it looks again. */
  replicaFetcherIdleWaitMs: 1_000,
  /** The follower fetch loops' connections: keep-alive, its longest value, connections per leader node. */
  replicaFetchKeepAliveMs: 60_000,
  replicaFetchKeepAliveMsMax: 600_000,
  replicaFetchConnectionsMax: 4,
  /** A follower that fetched this recently counts as fetching now (its fetches park for at most replicaFetchWaitMs). */
  followerFetchingRecentlyMs: 2_000,
  /**
   * An ISR follower that sent no fetch for this long leaves the ISR, however far behind
   * it is (its fetches park for at most replicaFetchWaitMs, so a live one asks at least
   * every half second): a follower cut off from its leader but not from the controller
   * (never fenced) stops holding acks=all back long before replica.lag.time.max.ms.
   * A dead or frozen node is usually fenced first (the session timeout, 2 s by default).
   * 1.5 s made ISRs flap on a machine overloaded 8 times over (load average 18 on 2 CPUs).
   */
  followerFetchSilenceMsMax: 3_000,
  /** How often, at most, ISR members are checked for lag and silence (Kafka: replica.lag.time.max.ms / 2). */
  isrCheckIntervalMsMax: 250,
  /** The ISR check came this much later than due: this leader did not run, so followers' silence meanwhile is not theirs. */
  isrCheckPauseForgivenMs: 300,
  /** How long a leader's AlterPartition request waits for the controller (one attempt of the channel). */
  alterPartitionRequestTimeoutMs: 5_000,
  /** An AlterPartition the controller has not answered by then counts as failed (no change stays in flight for good). */
  alterIsrTimeoutMs: 30_000,
  /** After a refused AlterPartition, wait this long before proposing again (no hot loop). */
  isrChangeRetryBackoffMs: 200,
} as const;

export function checkLimits(): void {
  assert(limits.fetchRecordCountDefault <= limits.fetchRecordCountMax, 'fetch record default exceeds its max');
  assert(limits.fetchBytesDefault <= limits.fetchBytesMax, 'fetch bytes default exceeds its max');
  assert(limits.streamBufferedBytesMax <= limits.fetchBytesMax, 'a stream buffer must fit in one fetch');
  assert(limits.fetchBytesMax <= 0x7fffffff, 'fetch bytes must fit a signed 32-bit length');
  assert(limits.groupSweepIntervalMs * 2 <= limits.sessionTimeoutMsMin, 'sessions must be checked at least twice per shortest session');
  assert(limits.sessionTimeoutMsMin <= limits.sessionTimeoutMsDefault && limits.sessionTimeoutMsDefault <= limits.sessionTimeoutMsMax, 'session timeout default out of its bounds');
  assert(limits.rebalanceTimeoutMsMin <= limits.rebalanceTimeoutMsDefault && limits.rebalanceTimeoutMsDefault <= limits.rebalanceTimeoutMsMax, 'rebalance timeout default out of its bounds');
  checkClusterLimits();
}

/** The relations between the cluster's timeouts that their comments promise. */
function checkClusterLimits(): void {
  assert(limits.acksAllTimeoutMs < limits.forwardProduceTimeoutMs,
    'a forwarding node must wait longer than the leader waits for acks=all, or it gives up on a write that may still commit');
  assert(limits.replicaFetchWaitMs <= limits.fetchWaitMsMax, 'the replica fetch long-poll must be one the leader grants');
  assert(limits.replicaFetchWaitMs * 2 < limits.followerFetchSilenceMsMax, 'a live follower must fetch well within the silence that drops it from the ISR');
  assert(limits.replicaFetchWaitMs < limits.followerFetchingRecentlyMs,
    'a follower parked at the leader for a whole long-poll must still count as fetching');
  assert(limits.replicaFetchBackoffMsMin <= limits.replicaFetchBackoffMsMax, 'replica fetch backoff: min above max');
  assert(limits.replicaFetchKeepAliveMs <= limits.replicaFetchKeepAliveMsMax, 'replica fetch keep-alive above its max');
  assert(limits.alterPartitionRequestTimeoutMs < limits.alterIsrTimeoutMs,
    'an AlterPartition must fail by its own request timeout before the backstop declares it lost');
}
