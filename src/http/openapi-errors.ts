/**
 * The error responses of the OpenAPI document: per operation and status, the codes the
 * route answers with (its route schema's errorResponses list, plus what every request
 * passes before its route: keys, readiness, guard rails, body parsing), each with an
 * example body of that very code. A test checks every example's code is in the
 * catalogue with that status.
 */
import { errorCatalogue, type ErrorCode } from '../api/error-codes.js';
import { ERROR_CODES_KEY } from '../api/schemas.js';

interface ExampleError {
  message: string;
  /** Fields some codes add beside code and message. */
  extra?: Record<string, unknown>;
}

/** An example of each code as a route answers it. */
const EXAMPLES = {
  INVALID_REQUEST: { message: 'body/records/0 must NOT have additional properties' },
  INVALID_JSON: { message: 'the body is not valid JSON: Unexpected end of JSON input' },
  INVALID_TOPIC_NAME: { message: 'invalid topic name "orders!": use 1-249 characters of [a-zA-Z0-9._-], not \'.\' or \'..\'' },
  INVALID_PARTITIONS: { message: "topic 'orders' has 3 partitions; the count can only grow" },
  TOO_MANY_PARTITIONS: { message: 'this node holds 9990 partitions and takes at most 10000 (--max-partitions, and the open-file limit); 20 more do not fit' },
  INVALID_REPLICATION_FACTOR: { message: 'replicationFactor 3 is not possible: this cluster has 1 node' },
  INVALID_CONFIG: { message: "invalid value \"soon\" for config 'retention.ms': expected an integer of milliseconds (-1: forever)" },
  INVALID_RECORD: { message: 'records[0].value is not base64 (valueFormat binary)' },
  RECORD_KEY_REQUIRED: { message: 'records[0] has no key; the topic is compacted (cleanup.policy holds compact), so every record needs one. Nothing was appended' },
  CORRUPT_RECORD: { message: 'the body is not sound RecordBatch v2 data: batch 0: CRC-32C mismatch; nothing was appended' },
  TOPIC_NOT_COMPACTED: { message: "topic 'orders' is not compacted (cleanup.policy is delete): reads by key need cleanup.policy compact" },
  INVALID_OFFSET: { message: "offset must be a non-negative integer, 'earliest' or 'latest', got \"first\"" },
  UNAUTHENTICATED: { message: 'this node requires an API key: send Authorization: Bearer <key> or X-API-Key: <key>' },
  FORBIDDEN: { message: "API key 'reader' (k-4f2a) may not write topic 'orders'" },
  NOT_FOUND: { message: 'no route GET /v1/topic' },
  TOPIC_NOT_FOUND: { message: "topic 'orders' does not exist" },
  PARTITION_NOT_FOUND: { message: "topic 'orders' has no partition 7 (it has 3)" },
  GROUP_NOT_FOUND: { message: "group 'billing' does not exist" },
  UNKNOWN_MEMBER: { message: "group 'billing' has no member 'billing-1-5d1c': it left or its session expired; join again" },
  SHARE_GROUP_NOT_FOUND: { message: "share group 'jobs' does not exist" },
  KEY_NOT_FOUND: { message: "no API key 'k-4f2a'" },
  RECORD_KEY_NOT_FOUND: { message: "partition 0 of topic 'prices' has no record with key 'pear' (absent or deleted)" },
  METHOD_NOT_ALLOWED: { message: 'PUT is not allowed on /v1/topics; allowed: GET, POST' },
  TOPIC_EXISTS: { message: "topic 'orders' already exists" },
  IDEMPOTENCY_KEY_REUSED: { message: "Idempotency-Key 'order-42-v1' was used for a different request" },
  OUT_OF_ORDER_SEQUENCE: { message: 'producer 1001 epoch 0: expected sequence 10, got 15' },
  PRODUCER_FENCED: { message: 'producer 1001 epoch 0 is older than its current epoch 1' },
  UNKNOWN_PRODUCER_ID: { message: 'producer 1001 has no state on this partition (it expired or was evicted); get a new producer id' },
  STALE_GENERATION: { message: "member 'billing-1-5d1c' does not own orders-0 in generation 3 (current generation 4); heartbeat for the current assignment" },
  GROUP_NOT_EMPTY: { message: "group 'billing' has 2 live members: offsets can only be reset while it is empty" },
  SHARE_GROUP_NOT_EMPTY: { message: "share group 'jobs' holds 3 records under a lock: it can be deleted once they are acknowledged, released or their locks run out" },
  FENCED_LEADER_EPOCH: { message: 'leader epoch 4 is not the current one (5)' },
  INVALID_UPDATE_VERSION: { message: 'partition epoch 7 is not the current one (8)' },
  REQUEST_BODY_TIMEOUT: { message: 'the request (headers and body) did not arrive in time; the connection is closed' },
  REQUEST_TOO_LARGE: { message: 'Request body is too large' },
  RECORD_TOO_LARGE: { message: 'batch 0 is 1200000 bytes, more than max.message.bytes (1048588)' },
  UNSUPPORTED_MEDIA_TYPE: { message: 'Unsupported Media Type' },
  UNSUPPORTED_COMPRESSION_TYPE: { message: 'the batch is compressed with gzip; send batches with compression none' },
  OFFSET_OUT_OF_RANGE: { message: 'offset 90 is outside [0, 42]', extra: { logStartOffset: 0, highWatermark: 42 } },
  TOO_MANY_REQUESTS: { message: 'this connection has 1000 requests in flight; wait for answers before sending more' },
  TOO_MANY_WAITERS: { message: 'more than 1000 readers are waiting on this partition' },
  HEADERS_TOO_LARGE: { message: 'the request headers are larger than the server accepts; the connection is closed' },
  INTERNAL_ERROR: { message: 'an unexpected error: the message says what failed' },
  TOO_MANY_OPEN_FILES: { message: 'the node is out of file descriptors (EMFILE); nothing was changed, retry later' },
  CORRUPT_LOG: {
    message: 'log orders-0: the stored batch at offset 4000 (segment 00000000000000000000.log, byte position 1048576) is damaged and is not served: CRC-32C mismatch. The node re-validates this partition and truncates it there at its next start.',
    extra: { offset: 4000, segment: '00000000000000000000.log' },
  },
  OVERLOADED: { message: 'the node is answering 10000 requests; retry shortly' },
  NOT_READY: { message: 'the node is recovering its storage; retry shortly (GET /health/ready says when it is ready)' },
  NOT_ENOUGH_REPLICAS: { message: "partition 0 of topic 'orders' has 1 in-sync replicas; min.insync.replicas is 2" },
  NOT_LEADER: {
    message: "node 2 does not lead partition 0 of topic 'orders'; node 1 does (http://10.0.0.1:8080)",
    extra: { leaderId: 1, leaderUrl: 'http://10.0.0.1:8080', leaderEpoch: 5 },
  },
  NOT_CONTROLLER: { message: "the cluster's controller did not answer in 5000 ms (an election); retry shortly" },
  REQUEST_TIMED_OUT: { message: "the in-sync replicas of partition 0 of topic 'orders' did not confirm the write in 10000 ms; retry with the same Idempotency-Key" },
  KEY_INDEX_FULL: { message: "the key index of partition 0 of topic 'prices' does not hold every key (--key-index-memory-bytes, 134217728, was reached) and does not hold this one: it may exist" },
  DISK_FULL: { message: 'the disk is full: 10 MiB free, at or below --disk-free-min-bytes (100 MiB). New records are refused until space is freed (retention, a deleted topic); reads keep working' },
} as const satisfies Record<ErrorCode, ExampleError>;

/** What an operation is, for the codes every request may meet before its route. */
export interface OperationKind {
  /** Health probes: answered while starting or stopping, never refused as busy, no key. */
  isProbe: boolean;
  /** Needs a key with --auth api-key. */
  needsKey: boolean;
  /** The key's grants are checked (403), not just the key. */
  checksGrants: boolean;
  /** Takes a request body. */
  hasBody: boolean;
}

/** Codes a request may get before its route runs, by the kind of operation. */
function pipelineCodes(kind: OperationKind): ErrorCode[] {
  // An HTTP/1.1 request without a Host header is refused on every route.
  const codes: ErrorCode[] = ['INVALID_REQUEST'];
  if (kind.isProbe) return codes;
  codes.push('INTERNAL_ERROR', 'NOT_READY', 'OVERLOADED', 'TOO_MANY_REQUESTS');
  if (kind.needsKey) codes.push('UNAUTHENTICATED');
  if (kind.checksGrants) codes.push('FORBIDDEN');
  if (kind.hasBody) codes.push('INVALID_JSON', 'REQUEST_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE');
  return codes;
}

/** The example body of `code`. */
export function exampleError(code: ErrorCode): { error: Record<string, unknown> } {
  const example: ExampleError = EXAMPLES[code];
  return { error: { code, message: example.message, ...example.extra } };
}

const RETRY_AFTER = {
  'retry-after': { type: 'integer', minimum: 1, description: 'Seconds to wait before trying again (a leader election, a node starting, a busy node).' },
} as const;

/** The codes a route's schema lists for a status (errorResponses in src/api/schemas.ts). */
function listedCodes(entry: unknown): ErrorCode[] | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const codes = (entry as Record<string, unknown>)[ERROR_CODES_KEY];
  return Array.isArray(codes) ? codes as ErrorCode[] : undefined;
}

/**
 * The responses of an operation in the document: its own (success and any of its own
 * shape), and per error status the Error body with one example per code it answers.
 */
export function documentedResponses(response: Record<string, unknown> | undefined, kind: OperationKind): Record<string, unknown> {
  const own: Record<string, unknown> = {};
  const codes = new Set<ErrorCode>(pipelineCodes(kind));
  for (const [status, entry] of Object.entries(response ?? {})) {
    const listed = listedCodes(entry);
    if (listed === undefined) own[status] = entry;
    else for (const code of listed) codes.add(code);
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const { status } = errorCatalogue[code];
    // A status the route answers in a shape of its own (/health/ready's 503) keeps it.
    if (own[status] !== undefined) continue;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const errors: Record<string, unknown> = {};
  for (const [status, statusCodes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    errors[status] = {
      description: statusCodes.map((code) => `${code}: ${errorCatalogue[code].description}`).join(' | '),
      ...(status === 503 ? { headers: RETRY_AFTER } : {}),
      content: {
        'application/json': {
          schema: { $ref: 'Error#' },
          examples: Object.fromEntries(statusCodes.map((code) => [code, { summary: code, value: exampleError(code) }])),
        },
      },
    };
  }
  return { ...own, ...errors };
}
