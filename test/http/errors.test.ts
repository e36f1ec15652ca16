/**
 * The error contract over real HTTP: every refusal is exactly
 * {"error":{"code","message"}} (OFFSET_OUT_OF_RANGE adds its two bounds) with the
 * catalogue's status, as JSON; and every code of the catalogue is produced by a
 * request here, or is named below as produced by another suite or as not reachable
 * (with the reason). A code added to src/errors.ts fails this test until it is
 * placed in one of those lists.
 */
import t from 'tap';
import { Agent, request } from 'undici';
import { errorCatalogue, errorCodes, type ErrorCode } from '../../src/errors.js';
import { limits } from '../../src/limits.js';
import { createTopic, produce, requestJson, type JsonResponse, type RequestOptions } from '../helpers/http.js';
import { startServer } from '../helpers/server.js';
import { assertError, postRaw, until } from '../helpers/http-support.js';

/** Produced by the requests of this file. */
const exercisedHere: ErrorCode[] = [
  'INVALID_REQUEST', 'INVALID_JSON', 'INVALID_TOPIC_NAME', 'INVALID_PARTITIONS', 'INVALID_REPLICATION_FACTOR',
  'INVALID_CONFIG', 'INVALID_RECORD', 'INVALID_OFFSET', 'NOT_FOUND', 'TOPIC_NOT_FOUND', 'PARTITION_NOT_FOUND',
  'METHOD_NOT_ALLOWED', 'TOPIC_EXISTS', 'IDEMPOTENCY_KEY_REUSED', 'REQUEST_TOO_LARGE', 'RECORD_TOO_LARGE',
  'UNSUPPORTED_MEDIA_TYPE', 'OFFSET_OUT_OF_RANGE', 'TOO_MANY_WAITERS',
];

/** Produced by requests of other suites: consumer groups, API keys, guard rails. */
const exercisedElsewhere: Partial<Record<ErrorCode, string>> = {
  GROUP_NOT_FOUND: 'consumer groups (test/http/groups-*.test.ts)',
  UNKNOWN_MEMBER: 'consumer groups (test/http/groups-*.test.ts)',
  STALE_GENERATION: 'consumer groups (test/http/groups-*.test.ts)',
  GROUP_NOT_EMPTY: 'consumer groups (test/http/groups-*.test.ts)',
  SHARE_GROUP_NOT_FOUND: 'share groups (test/http/share-groups.test.ts)',
  SHARE_GROUP_NOT_EMPTY: 'share groups (test/http/share-groups.test.ts)',
  HEADERS_TOO_LARGE: "requests Node's HTTP parser refuses: headers past its size limit (test/http/hostile-input.test.ts)",
  UNAUTHENTICATED: 'API keys, --auth api-key (test/http/auth-matrix.test.ts)',
  FORBIDDEN: 'API keys, --auth api-key (test/http/auth-matrix.test.ts)',
  KEY_NOT_FOUND: 'API keys, --auth api-key (test/http/auth-matrix.test.ts)',
  TOO_MANY_REQUESTS: 'guard rails: requests in flight per connection (src/http/guard-rails.ts)',
  OVERLOADED: 'guard rails: requests in flight per node, event-loop delay (src/http/guard-rails.ts)',
  CORRUPT_RECORD: 'record-batch produce bodies that are not sound RecordBatch v2 (test/http/record-batch-binary.test.ts)',
  UNSUPPORTED_COMPRESSION_TYPE: 'a compressed record batch (test/http/record-batch-binary.test.ts)',
  NOT_LEADER: 'a cluster: produce or fetch on a follower (test/cluster/cluster-basics.test.ts)',
  NOT_ENOUGH_REPLICAS: 'acks=all with fewer in-sync replicas than min.insync.replicas (test/cluster/replication/replication.test.ts)',
  REQUEST_TIMED_OUT: 'acks=all when the in-sync replicas do not confirm in time (test/cluster/replication/high-watermark-waiters.test.ts)',
  REQUEST_BODY_TIMEOUT: 'a request whose body does not arrive within --request-body-timeout-ms (test/ops/slow-requests.test.ts)',
  FENCED_LEADER_EPOCH: "the controller refusing an ISR change from a stale leader (test/cluster/controller/controller-logic.test.ts)",
  TOO_MANY_PARTITIONS: 'a topic create or partition add past --max-partitions or the open-file limit (test/ops/open-files.test.ts, test/cluster/controller/partition-cap.test.ts)',
  TOO_MANY_OPEN_FILES: 'a produce that needs a new segment when the node is out of file descriptors (test/ops/open-files.test.ts)',
  INVALID_UPDATE_VERSION: "the controller refusing an ISR change based on an old partition epoch (test/cluster/controller/controller-logic.test.ts)",
  DISK_FULL: 'produce on a full disk or below --disk-free-min-bytes, on a real tmpfs (test/ops/disk-full.test.ts)',
  CORRUPT_LOG: 'a stored batch damaged on disk, found by a read (test/crash/damaged-storage.test.ts, test/storage/damaged-segment.test.ts)',
  OUT_OF_ORDER_SEQUENCE: "a producer's batch that does not follow its last one (test/http/idempotent-producer.test.ts, test/storage/producer-state.test.ts)",
  RECORD_KEY_REQUIRED: 'a keyless record (JSON, NDJSON or a record batch) for a compacted topic (test/http/compaction.test.ts)',
  TOPIC_NOT_COMPACTED: 'a read by key of a topic that is not compacted (test/http/keys.test.ts)',
  RECORD_KEY_NOT_FOUND: 'a read by key of a key never written or tombstoned (test/http/keys.test.ts)',
  KEY_INDEX_FULL: 'a read by key of a key a full key index does not hold, --key-index-memory-bytes (test/http/keys.test.ts)',
  PRODUCER_FENCED: 'a batch from an older epoch of a producer id (test/http/idempotent-producer.test.ts)',
  UNKNOWN_PRODUCER_ID: 'a producer id the partition never saw, not starting at sequence 0 (test/http/idempotent-producer.test.ts)',
};

/** No request of a healthy single node produces these. */
const notReachable: Partial<Record<ErrorCode, string>> = {
  NOT_CONTROLLER: 'a topic change in a cluster that elects no controller within 15 s (most nodes down); node-to-node requests get it at once. Not exercised: it takes the 15 s deadline',
  INTERNAL_ERROR: 'only an unexpected failure (a broken disk, a bug) produces it; no well-formed or malformed request does',
  NOT_READY: "nothing produces it yet: a stopping node answers with Fastify's own 503 body (return503OnClosing in src/http/app.ts; see health-docs.test.ts)",
};

interface ErrorCase {
  what: string;
  code: ErrorCode;
  call: () => Promise<JsonResponse>;
}

void t.test('every catalogue code is exercised here, by another suite, or named as not reachable', async (t) => {
  const placed = [...exercisedHere, ...Object.keys(exercisedElsewhere), ...Object.keys(notReachable)].sort();
  t.same(placed, [...errorCodes].sort(), 'the three lists together are exactly the catalogue, each code once');
});

void t.test('every refusal is exactly {"error":{"code","message"}} with the catalogue status', async (t) => {
  // Lowered for this process only, so one extra reader is enough to reach the limits
  // (10 000 streams or waiters would be a load test). Both are read at use time:
  // streamsMax on every stream, waitersPerPartitionMax when a partition is opened.
  const mutableLimits = limits as unknown as Record<'streamsMax' | 'waitersPerPartitionMax', number>;
  const saved = { streamsMax: limits.streamsMax, waitersPerPartitionMax: limits.waitersPerPartitionMax };
  t.teardown(() => Object.assign(mutableLimits, saved));

  const server = await startServer(t, { bodyLimitBytes: 4096 });
  const url = server.url;
  await createTopic(url, 'errors', { partitions: 2 });
  await createTopic(url, 'tiny', { configs: { 'max.message.bytes': 512 } });
  await produce(url, 'errors', [{ value: 'a' }, { value: 'b' }], { partition: 0, idempotencyKey: 'once' });
  mutableLimits.waitersPerPartitionMax = 1;
  mutableLimits.streamsMax = 1;
  await createTopic(url, 'waiters');

  const call = (path: string, options: RequestOptions = {}) => () => requestJson(`${url}${path}`, options);
  const cases: ErrorCase[] = [
    { what: 'a body field of the wrong type', code: 'INVALID_REQUEST', call: call('/v1/topics', { body: { name: 'x', partitions: 'three' } }) },
    { what: 'an unknown query parameter', code: 'INVALID_REQUEST', call: call('/v1/topics/errors/partitions/0/records?from=0') },
    { what: 'a partition in the path that is not a number', code: 'INVALID_REQUEST', call: call('/v1/topics/errors/partitions/zero/records') },
    { what: 'a body that is not JSON', code: 'INVALID_JSON', call: () => postRaw(`${url}/v1/topics`, '{"name":', 'application/json') },
    { what: 'an NDJSON line that is not JSON', code: 'INVALID_JSON', call: () => postRaw(`${url}/v1/topics/errors/records`, '{"value":1}\nnope\n', 'application/x-ndjson') },
    { what: "a topic name with '/'", code: 'INVALID_TOPIC_NAME', call: call('/v1/topics', { body: { name: 'a/b' } }) },
    { what: 'more partitions than the limit', code: 'INVALID_PARTITIONS', call: call('/v1/topics', { body: { name: 'many', partitions: 1_000_000 } }) },
    { what: 'fewer partitions than now', code: 'INVALID_PARTITIONS', call: call('/v1/topics/errors', { method: 'PATCH', body: { partitions: 1 } }) },
    { what: 'two replicas on one node', code: 'INVALID_REPLICATION_FACTOR', call: call('/v1/topics', { body: { name: 'rf', replicationFactor: 2 } }) },
    { what: 'an unknown config', code: 'INVALID_CONFIG', call: call('/v1/topics', { body: { name: 'cfg', configs: { 'retention.hours': 1 } } }) },
    { what: 'a bad config value', code: 'INVALID_CONFIG', call: call('/v1/topics/errors', { method: 'PATCH', body: { configs: { 'retention.ms': 'forever' } } }) },
    { what: 'bad base64', code: 'INVALID_RECORD', call: call('/v1/topics/errors/records', { body: { records: [{ value: '@@' }], valueFormat: 'binary' } }) },
    { what: 'a negative offset', code: 'INVALID_OFFSET', call: call('/v1/topics/errors/partitions/0/records?offset=-1') },
    { what: 'no such route', code: 'NOT_FOUND', call: call('/v1/nothing-here') },
    { what: 'no such topic', code: 'TOPIC_NOT_FOUND', call: call('/v1/topics/missing') },
    { what: 'no such partition', code: 'PARTITION_NOT_FOUND', call: call('/v1/topics/errors/partitions/2/offsets') },
    { what: 'a method the route does not take', code: 'METHOD_NOT_ALLOWED', call: call('/v1/topics/errors', { method: 'PUT', body: { partitions: 3 } }) },
    { what: 'a topic that exists', code: 'TOPIC_EXISTS', call: call('/v1/topics', { body: { name: 'errors' } }) },
    { what: 'an Idempotency-Key reused for another body', code: 'IDEMPOTENCY_KEY_REUSED', call: call('/v1/topics/errors/partitions/0/records', { body: { records: [{ value: 'c' }] }, headers: { 'idempotency-key': 'once' } }) },
    { what: 'a body over the body limit', code: 'REQUEST_TOO_LARGE', call: call('/v1/topics/errors/records', { body: { records: [{ value: 'x'.repeat(5000) }] } }) },
    { what: 'a record over max.message.bytes', code: 'RECORD_TOO_LARGE', call: call('/v1/topics/tiny/records', { body: { records: [{ value: 'x'.repeat(1000) }] } }) },
    { what: 'a text/plain body', code: 'UNSUPPORTED_MEDIA_TYPE', call: () => postRaw(`${url}/v1/topics`, 'name=x', 'text/plain') },
    { what: 'an offset past the high watermark', code: 'OFFSET_OUT_OF_RANGE', call: call('/v1/topics/errors/partitions/0/records?offset=5') },
  ];

  const seen = new Set<ErrorCode>();
  for (const { what, code, call: send } of cases) {
    const response = await send();
    assertError(t, response, code, what);
    t.match(response.headers['content-type'], /^application\/json/, `${what}: JSON`);
    if (response.status === errorCatalogue[code].status && (response.body as any)?.error?.code === code) seen.add(code);
  }

  // TOO_MANY_WAITERS: one long-poll waits on waiters-0, a second is refused; one stream is open, a second is refused.
  // The readers that get aborted use their own client: undici opens a fresh connection
  // after an abort, and a connection that never sends a request holds up the node's
  // close until the client drops it (reported: src/http/app.ts shutdown).
  const agent = new Agent();
  t.teardown(() => agent.destroy());
  const notifier = server.broker.topics.partition('waiters', 0).notifier;
  const controller = new AbortController();
  const waiting = requestJson(`${url}/v1/topics/waiters/partitions/0/records?offset=latest&waitMs=20000`, { signal: controller.signal, timeoutMs: 25_000, dispatcher: agent }).catch(() => undefined);
  await until(() => notifier.waiterCount === 1, 'the first long-poll is waiting');
  const secondWaiter = await requestJson(`${url}/v1/topics/waiters/partitions/0/records?offset=latest&waitMs=20000`);
  assertError(t, secondWaiter, 'TOO_MANY_WAITERS', 'a second long-poll on a partition at its waiter limit');
  controller.abort();
  await waiting;
  await until(() => notifier.waiterCount === 0, 'the first long-poll is gone');

  const streamController = new AbortController();
  t.teardown(() => streamController.abort());
  const stream = await request(`${url}/v1/topics/errors/partitions/1/records?offset=latest`, {
    headers: { accept: 'application/x-ndjson' },
    signal: streamController.signal,
    dispatcher: agent,
  });
  stream.body.on('error', () => undefined);
  await until(() => server.runnel.streams.size === 1, 'the first stream is open');
  const secondStream = await requestJson(`${url}/v1/topics/errors/partitions/0/records`, { headers: { accept: 'text/event-stream' } });
  assertError(t, secondStream, 'TOO_MANY_WAITERS', 'a second stream on a node at its stream limit');
  if (secondWaiter.status === 429 && secondStream.status === 429) seen.add('TOO_MANY_WAITERS');
  streamController.abort();
  await until(() => server.runnel.streams.size === 0, 'the stream is closed');

  t.same([...seen].sort(), [...exercisedHere].sort(), 'every code this file claims was produced, with its status');
});

void t.test('errors the router raises before any route runs use the same shape', async (t) => {
  const server = await startServer(t);
  await createTopic(server.url, 'errors');
  assertError(t, await requestJson(`${server.url}/v1/topics/%E0%A4%A`), 'INVALID_TOPIC_NAME', 'a path with broken percent-encoding');
  assertError(t, await requestJson(`${server.url}/v1/topics/${'x'.repeat(300)}`), 'INVALID_TOPIC_NAME', 'a 300-character topic in the path');
  const after = await requestJson(`${server.url}/v1/topics/errors`);
  t.equal(after.status, 200, 'the node keeps serving');
});
