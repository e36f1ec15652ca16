/**
 * The one catalogue of errors Runnel reports, shared by the server (which raises
 * them) and the client (which reads them). Every error a client can see has a stable
 * upper-case code, an HTTP status and a description; the OpenAPI document and the
 * README list exactly these (a test keeps the three in step).
 */
export const errorCatalogue = {
  INVALID_REQUEST: { status: 400, description: 'The request does not match the documented schema (wrong type, missing or unknown field, bad query parameter, a key or value nested too deep).' },
  INVALID_JSON: { status: 400, description: 'The body is not valid JSON (or a line of an NDJSON body is not).' },
  INVALID_TOPIC_NAME: { status: 400, description: "Topic names are 1-249 characters of [a-zA-Z0-9._-], and not '.' or '..'." },
  INVALID_PARTITIONS: { status: 400, description: 'A partition count must be a positive integer within the limit, and can only grow.' },
  TOO_MANY_PARTITIONS: { status: 400, description: 'The node (or, in a cluster, a node the partitions would be placed on) would hold more partitions than its --max-partitions allows; nothing was created.' },
  INVALID_REPLICATION_FACTOR: { status: 400, description: 'The replication factor must be between 1 and the number of nodes.' },
  INVALID_CONFIG: { status: 400, description: 'A topic config is unknown or its value is invalid.' },
  INVALID_RECORD: { status: 400, description: 'A record is malformed: bad base64, a key or value that does not fit its format, a bad header or timestamp; or a record batch Runnel does not take (transactional, control, LogAppendTime set by the producer).' },
  RECORD_KEY_REQUIRED: { status: 400, description: "The topic is compacted (its cleanup.policy holds compact) and a record has no key: compaction keeps the latest record per key, so every record needs one (Kafka answers INVALID_RECORD). Nothing was appended." },
  CORRUPT_RECORD: { status: 400, description: 'A record-batch body (application/vnd.runnel.record-batch) is not sound RecordBatch v2 data: framing, magic, CRC-32C or a record that does not parse (Kafka\'s CORRUPT_MESSAGE). Nothing was appended.' },
  INVALID_OFFSET: { status: 400, description: "An offset must be a non-negative integer, 'earliest' or 'latest'." },
  UNAUTHENTICATED: { status: 401, description: 'The node requires an API key (Authorization: Bearer <key> or X-API-Key) and none, or an unknown one, was given.' },
  FORBIDDEN: { status: 403, description: "The API key's grants do not allow this operation on this resource." },
  NOT_FOUND: { status: 404, description: 'No such route.' },
  TOPIC_NOT_FOUND: { status: 404, description: 'The topic does not exist.' },
  PARTITION_NOT_FOUND: { status: 404, description: 'The topic has no such partition.' },
  GROUP_NOT_FOUND: { status: 404, description: 'The consumer group does not exist (it has no members and no committed offsets).' },
  UNKNOWN_MEMBER: { status: 404, description: 'The group has no such member: it left, or was removed after its session timed out. Join again.' },
  SHARE_GROUP_NOT_FOUND: { status: 404, description: 'The share group does not exist (it is created by its first read of records, or by setting its configs).' },
  KEY_NOT_FOUND: { status: 404, description: 'No API key with this id.' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The route does not accept this method.' },
  TOPIC_EXISTS: { status: 409, description: 'A topic with this name already exists.' },
  IDEMPOTENCY_KEY_REUSED: { status: 409, description: 'The Idempotency-Key was already used for a different request body.' },
  OUT_OF_ORDER_SEQUENCE: { status: 409, description: "A producer's batch does not follow its last one on the partition (Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER): a gap, or an older batch than the last five remembered. Nothing was appended." },
  PRODUCER_FENCED: { status: 409, description: 'A batch carries an older epoch of its producer id than one the partition already holds (Kafka\'s INVALID_PRODUCER_EPOCH): a newer instance took over. Nothing was appended.' },
  UNKNOWN_PRODUCER_ID: { status: 409, description: 'The partition remembers nothing of this producer id (its state expired after 24 hours of silence, or was evicted by --producer-states-max) and the batch does not start at sequence 0. Get a new producer id.' },
  STALE_GENERATION: { status: 409, description: 'The commit carries a generation the member does not hold for these partitions (they moved, or the generation is not the current one). Heartbeat for the current assignment.' },
  GROUP_NOT_EMPTY: { status: 409, description: 'The group has live members: the request needs the group empty (delete, reset), or must come from a member (commit with memberId and generation).' },
  SHARE_GROUP_NOT_EMPTY: { status: 409, description: 'The share group holds records under a lock: delete and reset wait until they are acknowledged, released or their locks run out.' },
  FENCED_LEADER_EPOCH: { status: 409, description: "Internal (KIP-497 AlterPartition): the request names a leader epoch that is not the partition's current one, or comes from a node that no longer leads it." },
  INVALID_UPDATE_VERSION: { status: 409, description: "Internal (KIP-497 AlterPartition): the request names a partition epoch that is not the partition's current one (the ISR changed since); read the partition again." },
  REQUEST_BODY_TIMEOUT: { status: 408, description: "The request, its headers or its body, did not arrive within the node's --request-body-timeout-ms; the connection is closed." },
  REQUEST_TOO_LARGE: { status: 413, description: 'The request body is larger than the body limit.' },
  RECORD_TOO_LARGE: { status: 413, description: "A partition's batch of records is larger than the topic's max.message.bytes." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The Content-Type is not one the route takes: application/json, application/x-ndjson, or application/vnd.runnel.record-batch on the one-partition produce route.' },
  UNSUPPORTED_COMPRESSION_TYPE: { status: 415, description: 'A record batch is compressed (gzip, snappy, lz4, zstd); Runnel takes batches with compression none for now. Nothing was appended.' },
  OFFSET_OUT_OF_RANGE: { status: 416, description: 'The offset is outside [logStartOffset, highWatermark]; the body carries both.' },
  TOO_MANY_REQUESTS: { status: 429, description: 'This connection has too many requests in flight; wait for answers before sending more.' },
  TOO_MANY_WAITERS: { status: 429, description: 'Too many long-polls or streams are open on this partition or node; retry later.' },
  HEADERS_TOO_LARGE: { status: 431, description: 'The request headers are larger than the server accepts; the connection is closed.' },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected server error. The message says what failed.' },
  TOO_MANY_OPEN_FILES: { status: 503, description: "The node reached its open-file limit (ulimit -n) and could not open a log file; nothing was changed. /health/ready says so until files are free again; retry later." },
  CORRUPT_LOG: { status: 500, description: "A stored batch of this partition failed its check on read (CRC, framing or offsets: damage on disk, not bad input). It is never served, and the partition refuses appends until the node restarts; the message and body name the offset and segment file. Other partitions are unaffected. The next start re-validates the partition and truncates it at the damaged batch (see README, Damaged storage)." },
  OVERLOADED: { status: 503, description: 'The node has more work than it can take now (requests in flight, event-loop delay); retry after a moment.' },
  NOT_READY: { status: 503, description: 'The node is starting or stopping and cannot serve this request now.' },
  NOT_ENOUGH_REPLICAS: { status: 503, description: "Fewer in-sync replicas than the topic's min.insync.replicas; retry later." },
  NOT_LEADER: { status: 503, description: "This node does not lead the partition; the body names the leader's id and URL (leaderId, leaderUrl) when one is known." },
  NOT_CONTROLLER: { status: 503, description: 'No active controller answered in time (an election, or most nodes down): topic changes wait for one. Node-to-node requests to a node that is not the controller get it too, naming the one that is (controllerId).' },
  REQUEST_TIMED_OUT: { status: 503, description: 'The in-sync replicas did not confirm the write in time; it may or may not be committed. Retry with the same Idempotency-Key.' },
  DISK_FULL: { status: 507, description: "The node's disk is full, or its free space is at or below --disk-free-min-bytes: produce is refused and nothing of the request is written (an Idempotency-Key retry later appends exactly once). Produce resumes by itself once space is freed (retention, a deleted topic); reads, group polls and health keep working. Offset commits and topic changes get it only when one of their writes fails for space." },
} as const satisfies Record<string, { status: number; description: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export const errorCodes = Object.keys(errorCatalogue) as ErrorCode[];
