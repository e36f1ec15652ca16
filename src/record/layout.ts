/**
 * The layout of Kafka's RecordBatch v2 (magic 2, KIP-98), the unit Runnel appends,
 * stores, replicates and serves: every position, size and attribute bit of the format
 * is named here once, for the encoder, the decoder, validation, the file scanner and
 * the JSON writer. All integers are big-endian; positions are relative to the batch
 * start.
 *
 *   @0  baseOffset           int64   first offset of the batch; outside the CRC
 *   @8  batchLength          int32   bytes after this field (total size - 12)
 *   @12 partitionLeaderEpoch int32   outside the CRC
 *   @16 magic                int8    always 2
 *   @17 crc                  uint32  CRC-32C of the bytes from @21 to the end
 *   @21 attributes           int16   see below
 *   @23 lastOffsetDelta      int32   recordCount - 1; more once compaction removed records
 *   @27 baseTimestamp        int64   first record's timestamp
 *   @35 maxTimestamp         int64
 *   @43 producerId           int64   -1 when not idempotent
 *   @51 producerEpoch        int16   -1 when not idempotent
 *   @53 baseSequence         int32   -1 when not idempotent
 *   @57 recordCount          int32
 *   @61 records: length varint, attributes int8 (0), timestampDelta varlong,
 *       offsetDelta varint, keyLength varint (-1 = null) + key, valueLength varint
 *       (-1 = null) + value, headerCount varint, then per header keyLength varint +
 *       UTF-8 key, valueLength varint (-1 = null) + value.
 *
 * Attributes: bits 0-2 compression (Runnel writes 0 and refuses to decode anything
 * else), bit 3 timestampType (0 CreateTime, 1 LogAppendTime), bit 4 transactional,
 * bit 5 control, bit 6 Kafka's delete horizon (unused here). Runnel keeps Kafka's
 * spare bits 8-9 for keyFormat and 10-11 for valueFormat (0 binary, 1 string, 2 json)
 * so a fetch returns values in the format they were produced in; Kafka readers ignore
 * those bits.
 *
 * baseOffset and partitionLeaderEpoch lie outside the CRC on purpose: the leader stamps
 * them into a batch the broker encoded without recomputing its checksum, and followers
 * store the leader's bytes unchanged. With LogAppendTime every record reports the
 * batch's maxTimestamp (Kafka's rule), so the encoder writes zero timestamp deltas.
 *
 * Offsets and timestamps are JS numbers; an int64 outside +-(2^53 - 1) is treated as
 * corruption.
 */
import { assert } from '../util/assert.js';

export const MAGIC = 2;
export const BASE_OFFSET_OFFSET = 0;
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORD_COUNT_OFFSET = 57;
export const RECORDS_OFFSET = 61;
/** The fixed part of every batch, before its first record (Kafka's RECORD_BATCH_OVERHEAD). */
export const BATCH_HEADER_BYTES = 61;
/** baseOffset + batchLength: the bytes batchLength does not count (Kafka's LOG_OVERHEAD). */
export const LOG_OVERHEAD_BYTES = 12;
export const BATCH_LENGTH_MIN = BATCH_HEADER_BYTES - LOG_OVERHEAD_BYTES;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;
export const KEY_FORMAT_SHIFT = 8;
export const VALUE_FORMAT_SHIFT = 10;
export const FORMAT_MASK = 0x03;
/** length, attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount. */
export const RECORD_BYTES_MIN = 7;

export type ValueFormat = 'binary' | 'string' | 'json';
export type TimestampType = 'CreateTime' | 'LogAppendTime';
/** The key and value formats by their attribute bits' value. */
export const FORMATS: readonly ValueFormat[] = ['binary', 'string', 'json'];

const TWO_POW_32 = 4294967296;

export function writeInt64(buf: Buffer, value: number, position: number): void {
  assert(Number.isSafeInteger(value), () => `int64 field at ${position} must be a safe integer, got ${value}`);
  const high = Math.floor(value / TWO_POW_32);
  buf.writeInt32BE(high, position);
  buf.writeUInt32BE(value - high * TWO_POW_32, position + 4);
}

/** Returns the int64 at `position`, or NaN when it lies outside the safe integer range. */
export function readInt64(buf: Buffer, position: number): number {
  const value = buf.readInt32BE(position) * TWO_POW_32 + buf.readUInt32BE(position + 4);
  return Number.isSafeInteger(value) ? value : NaN;
}
