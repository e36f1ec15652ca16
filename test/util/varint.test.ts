import t from 'tap';
import fc from 'fast-check';
import {
  readVarint,
  readVarlong,
  sizeOfVarint,
  sizeOfVarlong,
  varintNextOffset,
  writeVarint,
  writeVarlong,
} from '../../src/util/varint.js';

// A slow, obviously correct reference encoder in BigInt arithmetic, straight from the
// protobuf description: zig-zag to unsigned, then 7-bit groups, low group first.
function referenceEncode(value: number, bits: 32 | 64): Buffer {
  const width = BigInt(bits);
  const mask = (1n << width) - 1n;
  const big = BigInt(value);
  let zigzag = ((big << 1n) ^ (big >> (width - 1n))) & mask;
  const bytes: number[] = [];
  while (zigzag > 0x7fn) {
    bytes.push(Number(zigzag & 0x7fn) | 0x80);
    zigzag >>= 7n;
  }
  bytes.push(Number(zigzag));
  return Buffer.from(bytes);
}

function encodeVarint(value: number): Buffer {
  const buf = Buffer.alloc(sizeOfVarint(value));
  if (writeVarint(buf, value, 0) !== buf.length) throw new Error(`writeVarint(${value}) does not end where sizeOfVarint says`);
  return buf;
}

function encodeVarlong(value: number): Buffer {
  const buf = Buffer.alloc(sizeOfVarlong(value));
  if (writeVarlong(buf, value, 0) !== buf.length) throw new Error(`writeVarlong(${value}) does not end where sizeOfVarlong says`);
  return buf;
}

void t.test('varints match the protobuf and Kafka ByteUtilsTest byte vectors', async (t) => {
  const vectors: Array<[number, number[]]> = [
    [0, [0x00]],
    [-1, [0x01]],
    [1, [0x02]],
    [-2, [0x03]],
    [15, [0x1e]],
    [63, [0x7e]],
    [-64, [0x7f]],
    [64, [0x80, 0x01]],
    [300, [0xd8, 0x04]],
    [2147483647, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
    [-2147483648, [0xff, 0xff, 0xff, 0xff, 0x0f]],
  ];
  for (const [value, bytes] of vectors) {
    const expected = Buffer.from(bytes);
    t.same(encodeVarint(value), expected, `varint ${value}`);
    t.same(encodeVarlong(value), expected, `varlong ${value} has the varint bytes`);
    t.equal(readVarint(expected, 0), value, `readVarint ${value}`);
    t.equal(varintNextOffset, bytes.length);
    t.equal(readVarlong(expected, 0), value, `readVarlong ${value}`);
    t.equal(varintNextOffset, bytes.length);
  }
});

void t.test('varlongs at the edges of the safe integer range round-trip byte-exactly', async (t) => {
  const edges = [
    Number.MAX_SAFE_INTEGER,
    -Number.MAX_SAFE_INTEGER,
    2 ** 31,
    -(2 ** 31) - 1,
    2 ** 32,
    -(2 ** 32),
    2 ** 35 - 1,
    1_700_000_000_000,
    -1_700_000_000_000,
  ];
  for (const value of edges) {
    const encoded = encodeVarlong(value);
    t.same(encoded, referenceEncode(value, 64), `bytes of ${value}`);
    t.equal(readVarlong(encoded, 0), value, `value ${value}`);
    t.equal(varintNextOffset, encoded.length);
  }
  // 2^53 - 1 zig-zags to 2^54 - 2: seven full 7-bit groups and 5 bits in the eighth.
  t.same(encodeVarlong(Number.MAX_SAFE_INTEGER), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x1f]));
});

void t.test('reads start at the given offset and report the offset after the value', async (t) => {
  const buf = Buffer.from([0xaa, 0xd8, 0x04, 0x01, 0xbb]);
  t.equal(readVarint(buf, 1), 300);
  t.equal(varintNextOffset, 3);
  t.equal(readVarint(buf, 3), -1);
  t.equal(varintNextOffset, 4);
  const out = Buffer.alloc(6, 0xee);
  t.equal(writeVarint(out, 300, 2), 4);
  t.same(out, Buffer.from([0xee, 0xee, 0xd8, 0x04, 0xee, 0xee]), 'neighbouring bytes untouched');
});

void t.test('malformed varints throw a RangeError', async (t) => {
  t.throws(() => readVarint(Buffer.alloc(0), 0), RangeError, 'empty buffer');
  t.throws(() => readVarint(Buffer.from([0x80, 0x80]), 0), RangeError, 'continuation past the end');
  t.throws(() => readVarint(Buffer.from([0x01]), 1), RangeError, 'offset at the end');
  t.throws(() => readVarint(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0), RangeError, 'six bytes');
  t.throws(() => readVarint(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f]), 0), RangeError, 'more than 32 bits');
  t.throws(() => writeVarint(Buffer.alloc(8), 2 ** 31, 0), RangeError, 'int32 max + 1');
  t.throws(() => writeVarint(Buffer.alloc(8), 1.5, 0), RangeError, 'fraction');
  t.throws(() => writeVarint(Buffer.alloc(1), 300, 0), RangeError, 'buffer too small');
});

void t.test('malformed varlongs throw a RangeError', async (t) => {
  t.throws(() => readVarlong(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80]), 0), RangeError, 'past the end');
  t.throws(() => readVarlong(Buffer.alloc(11, 0x80), 0), RangeError, 'eleven bytes');
  const longMax = Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  const longMin = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  t.throws(() => readVarlong(longMax, 0), RangeError, 'Long.MAX_VALUE is outside the safe range');
  t.throws(() => readVarlong(longMin, 0), RangeError, 'Long.MIN_VALUE is outside the safe range');
  t.throws(() => readVarlong(referenceEncode(-(2 ** 53), 64), 0), RangeError, '-2^53');
  t.throws(() => readVarlong(referenceEncode(2 ** 53, 64), 0), RangeError, '2^53');
  t.throws(() => writeVarlong(Buffer.alloc(10), 2 ** 53, 0), RangeError, 'unsafe value');
  t.throws(() => writeVarlong(Buffer.alloc(3), 2 ** 40, 0), RangeError, 'buffer too small');
});

void t.test('any int32 round-trips as a varint with the reference bytes', async (t) => {
  fc.assert(
    fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
      const buf = Buffer.alloc(sizeOfVarint(value));
      writeVarint(buf, value, 0);
      return buf.equals(referenceEncode(value, 32)) && readVarint(buf, 0) === value && varintNextOffset === buf.length;
    }),
    { numRuns: 2000, seed: 42 },
  );
  t.pass('property held');
});

void t.test('any safe integer round-trips as a varlong with the reference bytes', async (t) => {
  fc.assert(
    fc.property(fc.maxSafeInteger(), (value) => {
      const buf = Buffer.alloc(sizeOfVarlong(value));
      writeVarlong(buf, value, 0);
      return buf.equals(referenceEncode(value, 64)) && readVarlong(buf, 0) === value && varintNextOffset === buf.length;
    }),
    { numRuns: 2000, seed: 42 },
  );
  t.pass('property held');
});

void t.test('arbitrary bytes either decode within bounds or throw a RangeError', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (bytes) => {
      const buf = Buffer.from(bytes);
      for (const read of [readVarint, readVarlong]) {
        try {
          const value = read(buf, 0);
          if (!Number.isSafeInteger(value) || varintNextOffset > buf.length || varintNextOffset < 1) return false;
        } catch (error) {
          if (!(error instanceof RangeError)) return false;
        }
      }
      return true;
    }),
    { numRuns: 2000, seed: 7 },
  );
  t.pass('property held');
});
