import t from 'tap';
import fc from 'fast-check';
import { crc32c } from '../../src/util/crc32c.js';
import { decodeRecords } from '../../src/record/decode.js';
import { encodeBatch, type EncodeBatchOptions, type RecordInput } from '../../src/record/encode.js';
import { CorruptBatchError, UnsupportedCompressionError } from '../../src/record/errors.js';
import { readBatchHeader } from '../../src/record/header.js';
import { ATTRIBUTES_OFFSET, CRC_OFFSET } from '../../src/record/layout.js';
import { validateBatch } from '../../src/record/validate.js';

// Bounded runs with fixed seeds: a failure prints its seed and path, so it replays.
const NUM_RUNS = 200;

const bytes = fc.uint8Array({ maxLength: 80 }).map((array) => Buffer.from(array));
const nullableBytes = fc.option(bytes, { nil: null, freq: 4 });
const header = fc.tuple(fc.string({ unit: 'grapheme', maxLength: 12 }), nullableBytes);
// Timestamps from "no timestamp" (-1) up to 2^50 ms keep every delta a safe integer.
const timestampMs = fc.oneof(fc.integer({ min: -1, max: 2 ** 31 - 1 }), fc.maxSafeNat().map((n) => n % 2 ** 50));

const recordInput: fc.Arbitrary<RecordInput> = fc.record({
  key: nullableBytes,
  value: nullableBytes,
  headers: fc.option(fc.array(header, { maxLength: 4 }), { nil: null }),
  timestampMs,
});

const format = fc.constantFrom('binary', 'string', 'json' as const);
const options: fc.Arbitrary<EncodeBatchOptions> = fc.record({
  baseOffset: fc.maxSafeNat().map((n) => n % 2 ** 52),
  leaderEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  timestampType: fc.constantFrom('CreateTime', 'LogAppendTime' as const),
  logAppendTimeMs: timestampMs,
  keyFormat: format,
  valueFormat: format,
  producerId: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
});

const batchInput = fc.tuple(fc.array(recordInput, { minLength: 1, maxLength: 20 }), options);

void t.test('any records round-trip through encode and decode', async (t) => {
  fc.assert(
    fc.property(batchInput, ([records, batchOptions]) => {
      const batch = encodeBatch(records, batchOptions);
      if (validateBatch(batch, 0, batchOptions.baseOffset) !== null) return false;
      const header = readBatchHeader(batch);
      const isLogAppendTime = batchOptions.timestampType === 'LogAppendTime';
      const decoded = decodeRecords(batch);
      const isSame = t.same(
        decoded,
        records.map((input, i) => ({
          offset: (batchOptions.baseOffset ?? 0) + i,
          timestampMs: isLogAppendTime ? batchOptions.logAppendTimeMs : input.timestampMs,
          key: input.key,
          value: input.value,
          headers: input.headers ?? [],
        })),
      );
      return (
        isSame &&
        header.sizeBytes === batch.length &&
        header.recordCount === records.length &&
        header.lastOffset === (batchOptions.baseOffset ?? 0) + records.length - 1 &&
        header.keyFormat === batchOptions.keyFormat &&
        header.valueFormat === batchOptions.valueFormat &&
        header.timestampType === batchOptions.timestampType &&
        header.partitionLeaderEpoch === batchOptions.leaderEpoch &&
        header.producerId === batchOptions.producerId &&
        header.producerEpoch === batchOptions.producerEpoch &&
        header.baseSequence === batchOptions.baseSequence &&
        header.maxTimestamp === (isLogAppendTime ? batchOptions.logAppendTimeMs : Math.max(...records.map((r) => r.timestampMs)))
      );
    }),
    { numRuns: NUM_RUNS, seed: 1125 },
  );
});

void t.test('any truncation of a batch fails validation and decoding with CorruptBatchError', async (t) => {
  fc.assert(
    fc.property(
      batchInput.chain(([records, batchOptions]) => {
        const batch = encodeBatch(records, batchOptions);
        return fc.tuple(fc.constant(batch), fc.integer({ min: 0, max: batch.length - 1 }));
      }),
      ([batch, keptBytes]) => {
        const truncated = batch.subarray(0, keptBytes);
        if (validateBatch(truncated) === null) return false;
        try {
          decodeRecords(truncated);
          return false;
        } catch (error) {
          return error instanceof CorruptBatchError;
        }
      },
    ),
    { numRuns: NUM_RUNS, seed: 2511 },
  );
  t.pass('every truncation was refused');
});

// A CRC stops random damage before the record parser sees it, so this property re-seals
// the damaged bytes: the parser itself must then refuse garbage with a typed error (or
// decode it within bounds), never loop, crash or read outside the batch.
void t.test('damaged records behind a valid CRC decode within bounds or throw a typed error', async (t) => {
  fc.assert(
    fc.property(
      batchInput.chain(([records, batchOptions]) => {
        const batch = encodeBatch(records, batchOptions);
        const damage = fc.tuple(fc.integer({ min: ATTRIBUTES_OFFSET, max: batch.length - 1 }), fc.integer({ min: 0, max: 255 }));
        return fc.tuple(fc.constant(batch), fc.array(damage, { minLength: 1, maxLength: 4 }));
      }),
      ([original, damages]) => {
        const batch = Buffer.from(original);
        for (const [position, byte] of damages) batch[position] = byte;
        batch.writeUInt32BE(crc32c(batch.subarray(ATTRIBUTES_OFFSET)), CRC_OFFSET);
        try {
          const decoded = decodeRecords(batch);
          const header = readBatchHeader(batch);
          return decoded.length === header.recordCount && decoded.every((r) => r.offset >= header.baseOffset && r.offset <= header.lastOffset);
        } catch (error) {
          return error instanceof CorruptBatchError || error instanceof UnsupportedCompressionError;
        }
      },
    ),
    { numRuns: NUM_RUNS * 5, seed: 3003 },
  );
  t.pass('the parser stayed within bounds');
});
