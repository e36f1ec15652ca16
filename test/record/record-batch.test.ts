import t from 'tap';
import { createRequire } from 'node:module';
import { InvariantError } from '../../src/util/assert.js';
import { crc32c } from '../../src/util/crc32c.js';
import { decodeRecords } from '../../src/record/decode.js';
import { encodeBatch, type RecordInput } from '../../src/record/encode.js';
import { CorruptBatchError, UnsupportedCompressionError } from '../../src/record/errors.js';
import { batchSizeAt, readBatchHeader, setBaseOffset, setLeaderEpoch } from '../../src/record/header.js';
import { ATTRIBUTES_OFFSET, BATCH_HEADER_BYTES, CRC_OFFSET, LAST_OFFSET_DELTA_OFFSET, MAGIC_OFFSET, RECORD_COUNT_OFFSET } from '../../src/record/layout.js';
import { validateBatch } from '../../src/record/validate.js';

const binary = { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'binary', valueFormat: 'binary' } as const;

function record(key: string | null, value: string | null, timestampMs: number, headers: RecordInput['headers'] = null): RecordInput {
  return { key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), headers, timestampMs };
}

/** Recomputes the CRC after a test rewrote CRC-covered bytes on purpose. */
function reseal(batch: Buffer): Buffer {
  batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
  return batch;
}

void t.test('a small batch encodes to the bytes the RecordBatch v2 spec prescribes', async (t) => {
  const batch = encodeBatch(
    [record('k', 'hi', 1000, [['h', Buffer.from('x')]]), record(null, '', 1003)],
    { baseOffset: 5, leaderEpoch: 2, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'json' },
  );
  const records = Buffer.from(
    '1a' + // record 0 length varint: 13
      '00' + '00' + '00' + // attributes, timestampDelta 0, offsetDelta 0
      '02' + '6b' + // key length 1, "k"
      '04' + '6869' + // value length 2, "hi"
      '02' + '02' + '68' + '02' + '78' + // 1 header: key length 1 "h", value length 1 "x"
      '0c' + // record 1 length varint: 6
      '00' + '06' + '02' + // attributes, timestampDelta 3, offsetDelta 1
      '01' + '00' + '00', // null key (-1), empty value (0), no headers
    'hex',
  );
  const afterCrc = Buffer.concat([
    Buffer.from('0900', 'hex'), // attributes: keyFormat string (1 << 8), valueFormat json (2 << 10)
    Buffer.from('00000001', 'hex'), // lastOffsetDelta
    Buffer.from('00000000000003e8', 'hex'), // baseTimestamp 1000
    Buffer.from('00000000000003eb', 'hex'), // maxTimestamp 1003
    Buffer.from('ffffffffffffffff', 'hex'), // producerId -1
    Buffer.from('ffff', 'hex'), // producerEpoch -1
    Buffer.from('ffffffff', 'hex'), // baseSequence -1
    Buffer.from('00000002', 'hex'), // recordCount
    records,
  ]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32c(afterCrc));
  const expected = Buffer.concat([
    Buffer.from('0000000000000005', 'hex'), // baseOffset
    Buffer.from('00000046', 'hex'), // batchLength 70 = 82 - 12
    Buffer.from('00000002', 'hex'), // partitionLeaderEpoch
    Buffer.from('02', 'hex'), // magic
    crc,
    afterCrc,
  ]);
  t.equal(batch.length, 82);
  t.same(batch, expected);
  t.equal(validateBatch(batch), null);
});

void t.test('the header reports every field', async (t) => {
  const batch = encodeBatch([record('a', 'b', 50), record('c', 'd', 40), record('e', 'f', 70)], {
    baseOffset: 2 ** 40,
    leaderEpoch: 9,
    timestampType: 'CreateTime',
    keyFormat: 'json',
    valueFormat: 'string',
    producerId: 2 ** 45 + 3,
    producerEpoch: 7,
    baseSequence: 11,
  });
  const header = readBatchHeader(batch, 0);
  t.match(header, {
    baseOffset: 2 ** 40,
    batchLength: batch.length - 12,
    sizeBytes: batch.length,
    lastOffsetDelta: 2,
    lastOffset: 2 ** 40 + 2,
    partitionLeaderEpoch: 9,
    magic: 2,
    crc: batch.readUInt32BE(CRC_OFFSET),
    compression: 0,
    timestampType: 'CreateTime',
    isTransactional: false,
    isControl: false,
    keyFormat: 'json',
    valueFormat: 'string',
    baseTimestamp: 50,
    maxTimestamp: 70,
    producerId: 2 ** 45 + 3,
    producerEpoch: 7,
    baseSequence: 11,
    recordCount: 3,
  });
  t.same(decodeRecords(batch).map((r) => [r.offset, r.timestampMs]), [[2 ** 40, 50], [2 ** 40 + 1, 40], [2 ** 40 + 2, 70]]);
});

void t.test('nulls, empty buffers and unicode header keys round-trip', async (t) => {
  const inputs: RecordInput[] = [
    record(null, null, 1),
    record('', '', 2, []),
    { key: Buffer.from([0, 255]), value: Buffer.alloc(300, 7), headers: [['ключ', null], ['🚀 launch', Buffer.alloc(0)], ['ключ', Buffer.from('dup')]], timestampMs: 3 },
  ];
  const decoded = decodeRecords(encodeBatch(inputs, binary));
  t.same(decoded, [
    { offset: 0, timestampMs: 1, key: null, value: null, headers: [] },
    { offset: 1, timestampMs: 2, key: Buffer.alloc(0), value: Buffer.alloc(0), headers: [] },
    {
      offset: 2,
      timestampMs: 3,
      key: Buffer.from([0, 255]),
      value: Buffer.alloc(300, 7),
      headers: [['ключ', null], ['🚀 launch', Buffer.alloc(0)], ['ключ', Buffer.from('dup')]],
    },
  ]);
});

void t.test('decoded keys and values are views into the batch, not copies', async (t) => {
  const batch = encodeBatch([record('key', 'value', 1)], binary);
  const [decoded] = decodeRecords(batch);
  t.equal(decoded.key?.buffer, batch.buffer);
  t.equal(decoded.value?.buffer, batch.buffer);
  batch[(decoded.value?.byteOffset ?? 0) - batch.byteOffset] = 0x56;
  t.equal(decoded.value?.toString(), 'Value', 'a write to the batch shows through');
});

void t.test('with LogAppendTime every record reports the batch maxTimestamp', async (t) => {
  const batch = encodeBatch([record('a', '1', 10), record('b', '2', 99)], {
    ...binary,
    timestampType: 'LogAppendTime',
    logAppendTimeMs: 1_700_000_000_123,
  });
  const header = readBatchHeader(batch);
  t.equal(header.timestampType, 'LogAppendTime');
  t.equal(header.baseTimestamp, 1_700_000_000_123);
  t.equal(header.maxTimestamp, 1_700_000_000_123);
  t.same(decodeRecords(batch).map((r) => r.timestampMs), [1_700_000_000_123, 1_700_000_000_123]);
  t.throws(() => encodeBatch([record('a', '1', 10)], { ...binary, timestampType: 'LogAppendTime' }), InvariantError);
});

void t.test('CreateTime keeps each record timestamp, including earlier than the first', async (t) => {
  const batch = encodeBatch([record(null, 'a', 1_700_000_000_000), record(null, 'b', 5), record(null, 'c', 1_800_000_000_000)], binary);
  t.same(decodeRecords(batch).map((r) => r.timestampMs), [1_700_000_000_000, 5, 1_800_000_000_000]);
  t.equal(readBatchHeader(batch).maxTimestamp, 1_800_000_000_000);
});

void t.test('setBaseOffset and setLeaderEpoch keep the CRC valid', async (t) => {
  const batch = encodeBatch([record('a', '1', 1), record('b', '2', 2)], binary);
  const crcBefore = batch.readUInt32BE(CRC_OFFSET);
  setBaseOffset(batch, 123_456_789_012);
  setLeaderEpoch(batch, 42);
  t.equal(batch.readUInt32BE(CRC_OFFSET), crcBefore, 'CRC bytes untouched');
  t.equal(validateBatch(batch, 0, 123_456_789_012), null);
  t.equal(validateBatch(batch), null, 'valid without an expected baseOffset too');
  t.equal(readBatchHeader(batch).partitionLeaderEpoch, 42);
  t.same(decodeRecords(batch).map((r) => r.offset), [123_456_789_012, 123_456_789_013]);
  t.match(validateBatch(batch, 0, 7), /not the expected 7/);
  t.throws(() => setBaseOffset(batch, -1), InvariantError);
  t.throws(() => setLeaderEpoch(batch, 2 ** 31), InvariantError);
});

void t.test('corrupting any single byte from the magic byte on fails validation and decoding', async (t) => {
  const batch = encodeBatch([record('key', 'value', 1, [['h', Buffer.from('v')]]), record(null, 'x', 2)], binary);
  let failures = 0;
  for (let position = MAGIC_OFFSET; position < batch.length; position++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const corrupted = Buffer.from(batch);
      corrupted[position] ^= flip;
      if (validateBatch(corrupted) === null) t.fail(`flipping 0x${flip.toString(16)} at ${position} went unnoticed`);
      else failures++;
      t.throws(() => decodeRecords(corrupted), CorruptBatchError);
    }
  }
  t.equal(failures, (batch.length - MAGIC_OFFSET) * 3, 'every corruption detected');
});

void t.test('validation names the problem', async (t) => {
  const batch = encodeBatch([record('a', '1', 1), record('b', '2', 2)], binary);
  t.match(validateBatch(batch.subarray(0, 60)), /fewer than a 61-byte header/);
  t.match(validateBatch(batch.subarray(0, batch.length - 1)), /runs past the end/);
  const badLength = Buffer.from(batch);
  badLength.writeInt32BE(48, 8);
  t.match(validateBatch(badLength), /below the minimum 49/);
  const badMagic = Buffer.from(batch);
  badMagic[MAGIC_OFFSET] = 1;
  t.match(validateBatch(badMagic), /magic 1 is not 2/);
  const badDelta = Buffer.from(batch);
  badDelta.writeInt32BE(5, LAST_OFFSET_DELTA_OFFSET);
  t.match(validateBatch(reseal(badDelta)), /lastOffsetDelta 5/);
  const noRecords = Buffer.from(batch);
  noRecords.writeInt32BE(0, RECORD_COUNT_OFFSET);
  t.match(validateBatch(reseal(noRecords)), /recordCount 0/);
  const badFormat = Buffer.from(batch);
  badFormat.writeInt16BE(0x0300, ATTRIBUTES_OFFSET);
  t.match(validateBatch(reseal(badFormat)), /unknown key or value format/);
  t.throws(() => readBatchHeader(badFormat), CorruptBatchError);
  const hugeOffset = Buffer.from(batch);
  hugeOffset.writeInt32BE(0x7fffffff, 0);
  t.match(validateBatch(hugeOffset), /safe integer range/);
  t.throws(() => readBatchHeader(hugeOffset), CorruptBatchError);
  t.throws(() => readBatchHeader(batch.subarray(0, BATCH_HEADER_BYTES - 1)), CorruptBatchError);
  t.equal(readBatchHeader(batch.subarray(0, BATCH_HEADER_BYTES)).recordCount, 2, 'a header alone is readable');
});

void t.test('a sound batch whose records do not parse throws CorruptBatchError', async (t) => {
  const batch = encodeBatch([record('a', '1', 1)], binary);
  const overlongKey = Buffer.from(batch);
  overlongKey[BATCH_HEADER_BYTES + 4] = 0x7e; // key length 63 in a 9-byte record
  t.throws(() => decodeRecords(reseal(overlongKey)), CorruptBatchError);
  const runaway = Buffer.from(batch);
  runaway.fill(0xff, BATCH_HEADER_BYTES);
  t.throws(() => decodeRecords(reseal(runaway)), CorruptBatchError);
});

void t.test('a record count the batch cannot hold is refused before allocating', async (t) => {
  const batch = encodeBatch([record('a', '1', 1)], binary);
  batch.writeInt32BE(1_000_000, RECORD_COUNT_OFFSET);
  batch.writeInt32BE(999_999, LAST_OFFSET_DELTA_OFFSET);
  t.throws(() => decodeRecords(reseal(batch)), { name: 'CorruptBatchError', message: /cannot fit/ });
});

void t.test('a batch of thousands of records round-trips', async (t) => {
  const inputs: RecordInput[] = [];
  for (let i = 0; i < 5000; i++) inputs.push(record(`key-${i}`, `value-${i}`, 1_700_000_000_000 + i));
  const decoded = decodeRecords(encodeBatch(inputs, { ...binary, baseOffset: 100 }));
  t.equal(decoded.length, 5000);
  t.equal(decoded[4999].offset, 5099);
  t.equal(decoded[4999].key?.toString(), 'key-4999');
  t.equal(decoded[4999].timestampMs, 1_700_000_004_999);
});

void t.test('a compressed batch is refused with a typed error', async (t) => {
  const batch = encodeBatch([record('a', '1', 1)], binary);
  batch.writeInt16BE(4, ATTRIBUTES_OFFSET); // zstd
  reseal(batch);
  t.equal(readBatchHeader(batch).compression, 4);
  t.throws(() => decodeRecords(batch), new UnsupportedCompressionError(4));
});

void t.test('batchSizeAt walks concatenated batches and shows where a trailing partial one is cut', async (t) => {
  const first = encodeBatch([record('a', '1', 1)], { ...binary, baseOffset: 0 });
  const second = encodeBatch([record('b', '2', 2), record('c', '3', 3)], { ...binary, baseOffset: 1 });
  const joined = Buffer.concat([first, second, second.subarray(0, 20)]);
  const positions: number[] = [];
  for (let position = 0; ;) {
    const sizeBytes = batchSizeAt(joined, position);
    if (sizeBytes < 0 || sizeBytes > joined.length - position) break;
    positions.push(position);
    position += sizeBytes;
  }
  t.same(positions, [0, first.length]);
  t.same(positions.flatMap((position) => decodeRecords(joined, position).map((r) => r.offset)), [0, 1, 2]);
  t.equal(validateBatch(joined, first.length, 1), null);
  t.equal(batchSizeAt(joined, first.length), second.length);
  t.equal(batchSizeAt(joined, joined.length - 5), -1);
  const garbage = Buffer.alloc(30);
  t.throws(() => batchSizeAt(garbage, 0), CorruptBatchError, 'a length below the minimum cannot be skipped');
});

void t.test('encodeBatch refuses what no batch can hold', async (t) => {
  t.throws(() => encodeBatch([], binary), InvariantError);
  t.throws(() => encodeBatch([record('a', '1', 2 ** 53)], binary), InvariantError);
  t.throws(() => encodeBatch([record('a', '1', 1)], { ...binary, keyFormat: 'xml' as 'json' }), InvariantError);
});

// kafkajs is only a dev-time reference: its RecordBatch v2 encoder and decoder are an
// independent implementation of the same format, so agreeing with it byte for byte
// checks our reading of the spec.
void t.test('batches match kafkajs byte for byte and decode each other', async (t) => {
  const require = createRequire(import.meta.url);
  type KafkajsRecord = { offsetDelta: number; timestampDelta: number; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> };
  const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as {
    RecordBatch: (args: Record<string, unknown>) => Promise<{ buffer: Buffer }>;
  };
  const KafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (record: KafkajsRecord) => unknown;
  const decodeKafkajs = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (decoder: unknown) => Promise<{
    records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer> }>;
  }>;
  const KafkajsDecoder = require('kafkajs/src/protocol/decoder.js') as new (buffer: Buffer) => unknown;
  const Long = require('kafkajs/src/utils/long.js') as { fromValue(value: number): unknown };

  const inputs: RecordInput[] = [
    record('user-1', '{"a":1}', 1_700_000_000_000, [['trace-id', Buffer.from('abc')], ['ünïcode', Buffer.alloc(0)]]),
    record(null, 'no key', 1_700_000_000_050),
    record('user-2', null, 1_699_999_999_990, []),
    { key: Buffer.alloc(200, 1), value: Buffer.alloc(5000, 2), headers: null, timestampMs: 1_700_000_000_001 },
  ];
  const ours = encodeBatch(inputs, { ...binary, baseOffset: 17, leaderEpoch: 3 });
  const theirs = (
    await RecordBatch({
      firstOffset: Long.fromValue(17),
      firstTimestamp: 1_700_000_000_000,
      maxTimestamp: 1_700_000_000_050,
      partitionLeaderEpoch: 3,
      lastOffsetDelta: inputs.length - 1,
      producerId: Long.fromValue(-1),
      producerEpoch: -1,
      firstSequence: -1,
      records: inputs.map((input, i) =>
        KafkajsRecord({
          offsetDelta: i,
          timestampDelta: input.timestampMs - 1_700_000_000_000,
          key: input.key,
          value: input.value,
          headers: Object.fromEntries((input.headers ?? []).map(([key, value]) => [key, value as Buffer])),
        }),
      ),
    })
  ).buffer;
  t.same(ours, theirs, 'identical bytes');
  t.equal(validateBatch(theirs), null, 'their batch validates');
  t.same(decodeRecords(theirs), decodeRecords(ours));

  const decodedByThem = await decodeKafkajs(new KafkajsDecoder(ours));
  t.same(
    decodedByThem.records.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]),
    inputs.map((input, i) => [
      String(17 + i),
      String(input.timestampMs),
      input.key,
      input.value,
      Object.fromEntries((input.headers ?? []).map(([key, value]) => [key, value])),
    ]),
  );
});
