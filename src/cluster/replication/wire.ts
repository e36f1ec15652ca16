/**
 * The replica fetch exchange between nodes (Kafka's Fetch from a follower, over HTTP).
 *
 * Request: POST /internal/v1/replication/fetch with a JSON body
 *   {"replicaId", "maxWaitMs", "maxBytes", "partitions": [{"topic", "partition",
 *    "currentLeaderEpoch", "fetchOffset", "lastFetchedEpoch"}]}
 *
 * Answer: 200 application/octet-stream, framed so the record batches travel untouched:
 *   u32 big-endian N | N bytes of JSON {"partitions": [{"topic", "partition", "error"?,
 *   "highWatermark", "logStartOffset", "logEndOffset", "divergingEpoch"?, "byteLength"}]}
 *   | the partitions' batch bytes, concatenated in the order of that list.
 *
 * The batches are never parsed or re-serialised on the way (the leader reads them from
 * its segments, the follower appends them byte for byte), so the JSON header carries
 * only lengths. decodeFetchResponse checks the frame whole before anything is used: a
 * truncated or malformed answer is a ReplicaWireError naming what is wrong.
 */

export const REPLICA_FETCH_PATH = '/internal/v1/replication/fetch';
export const CLUSTER_SECRET_HEADER = 'x-runnel-cluster-secret';

/** Kafka's per-partition fetch errors a leader answers a follower with. */
export const replicaFetchErrors = [
  /** This node does not lead the partition (any more). */
  'NOT_LEADER',
  /** The request's currentLeaderEpoch is older than the leader's: the follower waits for new metadata. */
  'FENCED_LEADER_EPOCH',
  /** The request's currentLeaderEpoch is newer than the leader's: the leader's metadata is behind. */
  'UNKNOWN_LEADER_EPOCH',
  /** The fetching node is not in the partition's replicas. */
  'NOT_REPLICA',
  /** fetchOffset is outside [logStartOffset, logEndOffset] of the leader. */
  'OFFSET_OUT_OF_RANGE',
  /** The node has no such partition. */
  'UNKNOWN_PARTITION',
  /** A stored batch the follower asked for is damaged on the leader's disk (Kafka's KAFKA_STORAGE_ERROR): retry later. */
  'CORRUPT_LOG',
] as const;

export type ReplicaFetchError = typeof replicaFetchErrors[number];

export interface ReplicaFetchPartitionRequest {
  topic: string;
  partition: number;
  /** The leader epoch the follower knows (KIP-320: fences fetches across leader changes). */
  currentLeaderEpoch: number;
  /** The follower's logEndOffset: where the answer's batches must start. */
  fetchOffset: number;
  /** The epoch of the follower's last batch, -1 for an empty log (KIP-320 divergence check). */
  lastFetchedEpoch: number;
}

export interface ReplicaFetchRequest {
  replicaId: number;
  /** How long the leader may park the request when none of its partitions has new bytes. */
  maxWaitMs: number;
  /** Bytes of batches in the answer (the first partition's first batch is sent whole in any case). */
  maxBytes: number;
  partitions: ReplicaFetchPartitionRequest[];
}

export interface EpochEndOffset {
  epoch: number;
  endOffset: number;
}

export interface ReplicaFetchPartitionResponse {
  topic: string;
  partition: number;
  error?: ReplicaFetchError;
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
  /** KIP-320: the follower's log diverges from the leader's; truncate, then fetch again. */
  divergingEpoch?: EpochEndOffset;
  /** Bytes of this partition's batches in the answer's body. */
  byteLength: number;
}

export interface ReplicaFetchResponseHeader {
  partitions: ReplicaFetchPartitionResponse[];
}

/** A decoded answer: the header's entries, each with its batches (a slice of the answer). */
export interface DecodedFetchResponse {
  partitions: Array<ReplicaFetchPartitionResponse & { records: Buffer }>;
}

/** The answer could not be read: a bug or a truncated transfer, never data to append. */
export class ReplicaWireError extends Error {
  override name = 'ReplicaWireError';
}

const HEADER_LENGTH_BYTES = 4;
const partitionFields = {
  type: 'object',
  additionalProperties: false,
  required: ['topic', 'partition', 'currentLeaderEpoch', 'fetchOffset', 'lastFetchedEpoch'],
  properties: {
    topic: { type: 'string', minLength: 1, maxLength: 249 },
    partition: { type: 'integer', minimum: 0 },
    currentLeaderEpoch: { type: 'integer', minimum: -1 },
    fetchOffset: { type: 'integer', minimum: 0 },
    lastFetchedEpoch: { type: 'integer', minimum: -1 },
  },
} as const;

/** The request body's JSON schema (the route validates with it; hidden from the OpenAPI document). */
export const replicaFetchRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['replicaId', 'maxWaitMs', 'maxBytes', 'partitions'],
  properties: {
    replicaId: { type: 'integer', minimum: 0 },
    maxWaitMs: { type: 'integer', minimum: 0 },
    maxBytes: { type: 'integer', minimum: 1 },
    partitions: { type: 'array', maxItems: 100_000, items: partitionFields },
  },
} as const;

/**
 * Frames an answer: the length-prefixed JSON header, then the batches as given (not
 * copied). Returns the chunks to write in order; their total is `byteLength`.
 */
export function encodeFetchResponse(header: ReplicaFetchResponseHeader, body: readonly Buffer[]): { chunks: Buffer[]; byteLength: number } {
  let bodyBytes = 0;
  for (const chunk of body) bodyBytes += chunk.length;
  let declaredBytes = 0;
  for (const entry of header.partitions) declaredBytes += entry.byteLength;
  if (declaredBytes !== bodyBytes) {
    throw new ReplicaWireError(`fetch answer declares ${declaredBytes} bytes of batches but carries ${bodyBytes}`);
  }
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(HEADER_LENGTH_BYTES + json.length);
  prefix.writeUInt32BE(json.length, 0);
  json.copy(prefix, HEADER_LENGTH_BYTES);
  return { chunks: [prefix, ...body], byteLength: prefix.length + bodyBytes };
}

/** Reads a whole answer; every partition's `records` is a slice of `answer`. */
export function decodeFetchResponse(answer: Buffer): DecodedFetchResponse {
  if (answer.length < HEADER_LENGTH_BYTES) {
    throw new ReplicaWireError(`fetch answer is ${answer.length} bytes, shorter than its ${HEADER_LENGTH_BYTES}-byte header length`);
  }
  const headerBytes = answer.readUInt32BE(0);
  const bodyStart = HEADER_LENGTH_BYTES + headerBytes;
  if (bodyStart > answer.length) {
    throw new ReplicaWireError(`fetch answer is truncated: its header needs ${headerBytes} bytes, ${answer.length - HEADER_LENGTH_BYTES} are there`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.toString('utf8', HEADER_LENGTH_BYTES, bodyStart));
  } catch (error) {
    throw new ReplicaWireError(`fetch answer header is not JSON: ${(error as Error).message}`);
  }
  if (!isObject(parsed) || !Array.isArray(parsed.partitions)) {
    throw new ReplicaWireError('fetch answer header has no "partitions" list');
  }
  const partitions: DecodedFetchResponse['partitions'] = [];
  let position = bodyStart;
  for (const [index, entry] of parsed.partitions.entries()) {
    const response = checkPartitionResponse(entry, index);
    const end = position + response.byteLength;
    if (end > answer.length) {
      throw new ReplicaWireError(`fetch answer is truncated: ${response.topic}-${response.partition} needs bytes ` +
        `${position - bodyStart}..${end - bodyStart} of the body, which has ${answer.length - bodyStart}`);
    }
    partitions.push({ ...response, records: answer.subarray(position, end) });
    position = end;
  }
  if (position !== answer.length) {
    throw new ReplicaWireError(`fetch answer has ${answer.length - position} bytes after the last partition's batches`);
  }
  return { partitions };
}

function checkPartitionResponse(entry: unknown, index: number): ReplicaFetchPartitionResponse {
  const where = `fetch answer partition #${index}`;
  if (!isObject(entry)) throw new ReplicaWireError(`${where} is not an object`);
  if (typeof entry.topic !== 'string' || entry.topic.length === 0) throw new ReplicaWireError(`${where}: "topic" must be a non-empty string`);
  for (const field of ['partition', 'byteLength', 'highWatermark', 'logStartOffset', 'logEndOffset'] as const) {
    const value = entry[field];
    if (!Number.isSafeInteger(value) || (value as number) < (field === 'highWatermark' || field === 'logStartOffset' || field === 'logEndOffset' ? -1 : 0)) {
      throw new ReplicaWireError(`${where} (${entry.topic}): "${field}" must be an integer, got ${JSON.stringify(value)}`);
    }
  }
  const response: ReplicaFetchPartitionResponse = {
    topic: entry.topic,
    partition: entry.partition as number,
    highWatermark: entry.highWatermark as number,
    logStartOffset: entry.logStartOffset as number,
    logEndOffset: entry.logEndOffset as number,
    byteLength: entry.byteLength as number,
  };
  if (entry.error !== undefined) {
    if (!(replicaFetchErrors as readonly unknown[]).includes(entry.error)) {
      throw new ReplicaWireError(`${where} (${entry.topic}-${response.partition}): unknown error ${JSON.stringify(entry.error)}`);
    }
    response.error = entry.error as ReplicaFetchError;
  }
  if (entry.divergingEpoch !== undefined) {
    const diverging = entry.divergingEpoch;
    if (!isObject(diverging) || !Number.isSafeInteger(diverging.epoch) || !Number.isSafeInteger(diverging.endOffset)) {
      throw new ReplicaWireError(`${where} (${entry.topic}-${response.partition}): "divergingEpoch" must be {epoch, endOffset} integers`);
    }
    response.divergingEpoch = { epoch: diverging.epoch as number, endOffset: diverging.endOffset as number };
  }
  if ((response.error !== undefined || response.divergingEpoch !== undefined) && response.byteLength !== 0) {
    throw new ReplicaWireError(`${where} (${entry.topic}-${response.partition}): an error or divergence carries no batches, got ${response.byteLength} bytes`);
  }
  return response;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
