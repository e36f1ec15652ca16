/**
 * Zig-zag variable-length integers, as Kafka's ByteUtils writes them in RecordBatch v2
 * records (the protobuf `sint32`/`sint64` encoding): the signed value is mapped to an
 * unsigned one by zig-zag (0 -> 0, -1 -> 1, 1 -> 2, -2 -> 3, ...), which is then written
 * little-endian in 7-bit groups, the high bit of each byte saying "more follows".
 *
 * - varint: a 32-bit signed value, at most 5 bytes.
 * - varlong: a 64-bit signed value, at most 10 bytes. JavaScript numbers hold integers
 *   exactly only within +-(2^53 - 1), which is enough for the offset and timestamp
 *   deltas Runnel stores, so varlongs are JS numbers and anything outside that range is
 *   refused rather than silently rounded.
 *
 * Reading is allocation-free: `readVarint` and `readVarlong` return the value and leave
 * the offset just past it in the live binding `varintNextOffset`. Read that binding
 * right after the call, before the next read overwrites it. Returning an object or an
 * array per value would allocate once per record field on the decode hot path.
 *
 * Malformed input (running past the end, longer than 5/10 bytes, a value that does not
 * fit) throws a RangeError; callers that decode untrusted bytes turn it into their own
 * typed error.
 */

export const VARINT_BYTES_MAX = 5;
export const VARLONG_BYTES_MAX = 10;

/** The offset just past the value decoded by the last readVarint/readVarlong call. */
export let varintNextOffset = 0;

/**
 * Writes `value` (an int32) at `offset` and returns the offset just past it. The
 * caller sizes the buffer with sizeOfVarint; writing past its end throws instead of
 * dropping bytes the way a typed-array store out of range silently would.
 */
export function writeVarint(buf: Buffer, value: number, offset: number): number {
  if ((value | 0) !== value) {
    throw new RangeError(`varint expects a 32-bit signed integer, got ${value}`);
  }
  let zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  let position = offset;
  while (zigzag > 0x7f) {
    buf[position++] = (zigzag & 0x7f) | 0x80;
    zigzag >>>= 7;
  }
  buf[position++] = zigzag;
  if (position > buf.length) {
    throw new RangeError(`varint written at ${offset} runs past the end of a ${buf.length}-byte buffer`);
  }
  return position;
}

/** Reads an int32 varint at `offset`; the offset after it is left in varintNextOffset. */
export function readVarint(buf: Buffer, offset: number): number {
  let zigzag = 0;
  let shift = 0;
  let position = offset;
  while (true) {
    if (position >= buf.length) {
      throw new RangeError(`varint at ${offset} runs past the end of a ${buf.length}-byte buffer`);
    }
    const byte = buf[position++];
    // The fifth byte carries the top 4 of 32 bits and must end the value; anything
    // larger is either overlong or out of the int32 range.
    if (shift === 28 && byte > 0x0f) {
      throw new RangeError(`varint at ${offset} is longer than ${VARINT_BYTES_MAX} bytes or exceeds 32 bits`);
    }
    zigzag |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
    shift += 7;
  }
  varintNextOffset = position;
  return (zigzag >>> 1) ^ -(zigzag & 1);
}

/** The number of bytes writeVarint uses for `value` (an int32). */
export function sizeOfVarint(value: number): number {
  const zigzag = ((value << 1) ^ (value >> 31)) >>> 0;
  if (zigzag < 0x80) return 1;
  if (zigzag < 0x4000) return 2;
  if (zigzag < 0x200000) return 3;
  if (zigzag < 0x10000000) return 4;
  return 5;
}

/**
 * Writes `value` (a safe integer) as a varlong at `offset` and returns the offset just
 * past it. Values in the int32 range have the same bytes as a varint, so they take the
 * integer fast path; larger ones are split with exact floating-point arithmetic,
 * because the zig-zag form of a 53-bit value needs 54 bits and does not fit a number.
 */
export function writeVarlong(buf: Buffer, value: number, offset: number): number {
  if ((value | 0) === value) return writeVarint(buf, value, offset);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`varlong expects a safe integer, got ${value}`);
  }
  // zigzag = 2 * magnitude + sign, so its low 7 bits are the low 6 bits of the
  // magnitude and the sign, and the rest is magnitude / 64.
  const isNegative = value < 0;
  const magnitude = isNegative ? -value - 1 : value;
  let position = offset;
  buf[position++] = ((magnitude % 64) * 2 + (isNegative ? 1 : 0)) | 0x80;
  let rest = Math.floor(magnitude / 64);
  while (rest > 0x7f) {
    buf[position++] = (rest % 128) | 0x80;
    rest = Math.floor(rest / 128);
  }
  buf[position++] = rest;
  if (position > buf.length) {
    throw new RangeError(`varlong written at ${offset} runs past the end of a ${buf.length}-byte buffer`);
  }
  return position;
}

/**
 * Reads a varlong at `offset`; the offset after it is left in varintNextOffset. Throws
 * a RangeError if the value lies outside +-(2^53 - 1).
 */
export function readVarlong(buf: Buffer, offset: number): number {
  // The first four bytes hold 28 bits, which integer arithmetic handles exactly; most
  // timestamp deltas end here.
  let zigzag = 0;
  let shift = 0;
  let position = offset;
  while (shift < 28) {
    if (position >= buf.length) {
      throw new RangeError(`varlong at ${offset} runs past the end of a ${buf.length}-byte buffer`);
    }
    const byte = buf[position++];
    zigzag |= (byte & 0x7f) << shift;
    if (byte < 0x80) {
      varintNextOffset = position;
      return (zigzag >>> 1) ^ -(zigzag & 1);
    }
    shift += 7;
  }
  // Beyond 28 bits, accumulate magnitude = zigzag / 2 in a number: every term is an
  // exact multiple of a power of two, and a sum that passes 2^53 can only round to a
  // value that is still out of range, which the final check refuses.
  const isNegative = (zigzag & 1) === 1;
  let magnitude = zigzag >>> 1;
  let multiplier = 2 ** 27;
  let byteCount = 4;
  while (true) {
    if (position >= buf.length) {
      throw new RangeError(`varlong at ${offset} runs past the end of a ${buf.length}-byte buffer`);
    }
    if (byteCount === VARLONG_BYTES_MAX) {
      throw new RangeError(`varlong at ${offset} is longer than ${VARLONG_BYTES_MAX} bytes`);
    }
    const byte = buf[position++];
    byteCount++;
    magnitude += (byte & 0x7f) * multiplier;
    if (byte < 0x80) break;
    multiplier *= 128;
  }
  const value = isNegative ? -magnitude - 1 : magnitude;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`varlong at ${offset} is outside the safe integer range`);
  }
  varintNextOffset = position;
  return value;
}

/** The number of bytes writeVarlong uses for `value` (a safe integer). */
export function sizeOfVarlong(value: number): number {
  if ((value | 0) === value) return sizeOfVarint(value);
  const magnitude = value < 0 ? -value - 1 : value;
  let rest = Math.floor(magnitude / 64);
  let size = 2;
  while (rest > 0x7f) {
    rest = Math.floor(rest / 128);
    size++;
  }
  return size;
}
