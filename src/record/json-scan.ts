/**
 * A byte-level JSON value scanner for produce bodies. It walks one value in a UTF-8
 * buffer without building it, checking the grammar JSON.parse checks (RFC 8259: no
 * trailing commas, no comments, no leading zeros, no raw control characters in
 * strings, escapes as the grammar lists them), and reports whether the value's text is
 * already what JSON.stringify(JSON.parse(text)) would write, so a produce can store the
 * bytes as sent instead of parsing and re-stringifying them.
 *
 * The scanner accepts a subset of what JSON.parse accepts and never more: where it is
 * not sure (a nesting past the depth limit, an unusual number), it stops and the caller
 * takes the parsing path. "Canonical" is answered conservatively too: a value it calls
 * canonical is byte-identical to JSON.stringify's output; a value it does not may still
 * be, and is then re-serialised (still correct, only slower). Not canonical are: any
 * whitespace inside the value, any string with an escape, a number with a fraction, an
 * exponent, a minus zero or more than 15 digits, an object with a repeated key or a key
 * starting with a digit (JSON.stringify writes integer-like keys first), or with more
 * keys than are compared for repeats. The buffer must be valid UTF-8 (the caller checks
 * once): then a string without escapes is stored as JSON.stringify writes it.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * Bytes a string's scan stops at: the closing quote, a backslash, and the raw control
 * characters JSON does not allow in a string. One table lookup per byte instead of three tests.
 */
const STRING_STOP = new Uint8Array(256);
for (let byte = 0; byte < 0x20; byte++) STRING_STOP[byte] = 1;
STRING_STOP[QUOTE] = 1;
STRING_STOP[BACKSLASH] = 1;

/** Strings of up to this many bytes are walked byte by byte even when a search could find their end. */
const SHORT_STRING_BYTES = 16;

/**
 * True when `bytes` holds a backslash or a byte below 0x20 anywhere. Below 0x20 is
 * tested four bytes at a time (a word has such a byte when (w - 0x20202020) & ~w &
 * 0x80808080 is not 0), the backslash by a native search.
 */
function hasStringStop(bytes: Buffer): boolean {
  if (bytes.indexOf(BACKSLASH) >= 0) return true;
  const head = Math.min(bytes.length, (4 - (bytes.byteOffset & 3)) & 3);
  for (let i = 0; i < head; i++) if (bytes[i] < 0x20) return true;
  const wordCount = (bytes.length - head) >>> 2;
  const words = new Int32Array(bytes.buffer, bytes.byteOffset + head, wordCount);
  for (let i = 0; i < wordCount; i++) {
    const word = words[i];
    if ((((word - 0x20202020) | 0) & ~word & 0x80808080) !== 0) return true;
  }
  for (let i = head + wordCount * 4; i < bytes.length; i++) if (bytes[i] < 0x20) return true;
  return false;
}

/** Returned instead of a position: the text is not one the scanner takes. */
export const DECLINED = -1;

/** Integers up to this many digits are exact doubles and written back unchanged by JSON.stringify. */
const CANONICAL_DIGITS_MAX = 15;
/** Objects with more keys than this are not compared for repeats: they count as not canonical. */
const COMPARED_KEYS_MAX = 16;

/** Bytes JSON allows between tokens: space, tab, line feed, carriage return. */
export function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/** Scans are synchronous: one scratch array of key spans serves them all. */
let sharedKeySpans = new Int32Array(0);

function keySpansFor(depthMax: number): Int32Array {
  const size = (depthMax + 1) * COMPARED_KEYS_MAX * 2;
  if (sharedKeySpans.length < size) sharedKeySpans = new Int32Array(size);
  return sharedKeySpans;
}

function isDigit(byte: number): boolean {
  return byte >= DIGIT_0 && byte <= DIGIT_9;
}

function isHexDigit(byte: number): boolean {
  return isDigit(byte) || (byte >= 0x61 && byte <= 0x66) || (byte >= 0x41 && byte <= 0x46);
}

/** Scans JSON values in one buffer; `isCanonical` and `hasEscape` describe the last value scanned. */
export class JsonScanner {
  /** False once the current value holds something JSON.stringify would write differently. */
  isCanonical = true;
  /** True when the last string scanned held an escape. */
  hasEscape = false;
  /** Key spans of the objects being scanned, two entries per key, per nesting level. */
  private readonly keySpans: Int32Array;

  constructor(
    readonly bytes: Buffer,
    /** The deepest nesting of arrays and objects a value may have (a scalar is 0, `[]` 1). */
    private readonly depthMax: number,
  ) {
    this.keySpans = keySpansFor(depthMax);
    this.hasNoStops = !hasStringStop(bytes);
  }

  /**
   * True when the buffer holds no backslash and no byte below 0x20 at all (compact JSON
   * as JSON.stringify writes it): then a string ends at the next quote, found natively.
   */
  private readonly hasNoStops: boolean;

  /** The position of the first byte at or after `position` that is not JSON whitespace. */
  skipSpace(position: number): number {
    const { bytes } = this;
    if (position < bytes.length && bytes[position] > 0x20) return position;
    while (position < bytes.length && isJsonSpace(bytes[position])) position++;
    return position;
  }

  /** Scans one value at `position` (no whitespace before it); returns the position after it, or DECLINED. */
  value(position: number): number {
    this.isCanonical = true;
    this.hasEscape = false;
    return this.anyValue(position, 0);
  }

  /** Scans a string at `position` (its opening quote); returns the position after its closing quote, or DECLINED. */
  string(position: number): number {
    const { bytes } = this;
    if (bytes[position] !== QUOTE) return DECLINED;
    this.hasEscape = false;
    const end = bytes.length;
    let index = position + 1;
    if (this.hasNoStops) {
      // Short strings (names) are quicker to walk than to search.
      const walkEnd = Math.min(end, index + SHORT_STRING_BYTES);
      while (index < walkEnd && bytes[index] !== QUOTE) index++;
      if (index < walkEnd) return index + 1;
      const close = bytes.indexOf(QUOTE, index);
      return close < 0 ? DECLINED : close + 1;
    }
    for (;;) {
      while (index < end && STRING_STOP[bytes[index]] === 0) index++;
      if (index >= end) return DECLINED;
      const byte = bytes[index];
      if (byte === QUOTE) return index + 1;
      if (byte !== BACKSLASH) return DECLINED;
      index = this.escape(index + 1);
      if (index === DECLINED) return DECLINED;
    }
  }

  /** The escape after a backslash at `position`; returns the position after it. */
  private escape(position: number): number {
    const { bytes } = this;
    this.hasEscape = true;
    this.isCanonical = false;
    switch (bytes[position]) {
      case QUOTE: case BACKSLASH: case 0x2f: case 0x62: case 0x66: case 0x6e: case 0x72: case 0x74:
        return position + 1;
      case 0x75:
        if (position + 4 >= bytes.length) return DECLINED;
        for (let i = 1; i <= 4; i++) if (!isHexDigit(bytes[position + i])) return DECLINED;
        return position + 5;
      default:
        return DECLINED;
    }
  }

  private anyValue(position: number, depth: number): number {
    const byte = this.bytes[position];
    if (byte === QUOTE) return this.string(position);
    if (byte === OPEN_BRACE) return depth >= this.depthMax ? DECLINED : this.object(position, depth + 1);
    if (byte === OPEN_BRACKET) return depth >= this.depthMax ? DECLINED : this.array(position, depth + 1);
    if (byte === MINUS || isDigit(byte)) return this.number(position);
    if (byte === 0x74) return this.literal(position, 'true');
    if (byte === 0x66) return this.literal(position, 'false');
    if (byte === 0x6e) return this.literal(position, 'null');
    return DECLINED;
  }

  private literal(position: number, word: string): number {
    const { bytes } = this;
    if (position + word.length > bytes.length) return DECLINED;
    for (let i = 1; i < word.length; i++) if (bytes[position + i] !== word.charCodeAt(i)) return DECLINED;
    return position + word.length;
  }

  /** `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as RFC 8259 writes it. */
  private number(start: number): number {
    const { bytes } = this;
    let position = start;
    const isNegative = bytes[position] === MINUS;
    if (isNegative) position++;
    const digitsStart = position;
    if (bytes[position] === DIGIT_0) {
      position++;
    } else if (isDigit(bytes[position])) {
      while (isDigit(bytes[position])) position++;
    } else {
      return DECLINED;
    }
    const digitCount = position - digitsStart;
    // -0 is written back as 0.
    if (digitCount > CANONICAL_DIGITS_MAX || (isNegative && digitCount === 1 && bytes[digitsStart] === DIGIT_0)) this.isCanonical = false;
    if (bytes[position] === DOT) {
      this.isCanonical = false;
      position++;
      if (!isDigit(bytes[position])) return DECLINED;
      while (isDigit(bytes[position])) position++;
    }
    if (bytes[position] === 0x65 || bytes[position] === 0x45) {
      this.isCanonical = false;
      position++;
      if (bytes[position] === PLUS || bytes[position] === MINUS) position++;
      if (!isDigit(bytes[position])) return DECLINED;
      while (isDigit(bytes[position])) position++;
    }
    return position;
  }

  /** Like skipSpace, but whitespace inside a value makes it not canonical. */
  private space(position: number): number {
    const after = this.skipSpace(position);
    if (after !== position) this.isCanonical = false;
    return after;
  }

  private array(start: number, depth: number): number {
    const { bytes } = this;
    let position = this.space(start + 1);
    if (bytes[position] === CLOSE_BRACKET) return position + 1;
    for (;;) {
      position = this.anyValue(position, depth);
      if (position === DECLINED) return DECLINED;
      position = this.space(position);
      const byte = bytes[position];
      if (byte === CLOSE_BRACKET) return position + 1;
      if (byte !== COMMA) return DECLINED;
      position = this.space(position + 1);
    }
  }

  private object(start: number, depth: number): number {
    const { bytes } = this;
    let position = this.space(start + 1);
    if (bytes[position] === CLOSE_BRACE) return position + 1;
    for (let keyCount = 0; ; keyCount++) {
      const keyStart = position;
      position = this.string(position);
      if (position === DECLINED) return DECLINED;
      this.noteKey(depth, keyCount, keyStart + 1, position - 1);
      position = this.space(position);
      if (bytes[position] !== COLON) return DECLINED;
      position = this.space(position + 1);
      position = this.anyValue(position, depth);
      if (position === DECLINED) return DECLINED;
      position = this.space(position);
      const byte = bytes[position];
      if (byte === CLOSE_BRACE) return position + 1;
      if (byte !== COMMA) return DECLINED;
      position = this.space(position + 1);
    }
  }

  /**
   * JSON.parse keeps a repeated key's last value at its first place, and JSON.stringify
   * writes integer-like keys first: either makes the text not canonical.
   */
  private noteKey(depth: number, keyIndex: number, start: number, end: number): void {
    if (!this.isCanonical) return;
    if (keyIndex >= COMPARED_KEYS_MAX || (end > start && isDigit(this.bytes[start]))) {
      this.isCanonical = false;
      return;
    }
    const spans = this.keySpans;
    const base = depth * COMPARED_KEYS_MAX * 2;
    const length = end - start;
    for (let i = 0; i < keyIndex; i++) {
      const otherStart = spans[base + 2 * i];
      if (spans[base + 2 * i + 1] - otherStart === length && this.bytes.compare(this.bytes, otherStart, otherStart + length, start, end) === 0) {
        this.isCanonical = false;
        return;
      }
    }
    spans[base + 2 * keyIndex] = start;
    spans[base + 2 * keyIndex + 1] = end;
  }
}
