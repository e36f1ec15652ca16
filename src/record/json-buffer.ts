/**
 * JsonBuffer: the one growing Buffer a fetch answer is written into, byte by byte, by
 * the JSON writer. Its small-write paths avoid Buffer's per-call costs, which dominated
 * fetch profiles.
 */

/** An append-only byte buffer that grows by doubling. */
export class JsonBuffer {
  private buffer: Buffer;
  length = 0;

  constructor(initialBytes = 4096) {
    this.buffer = Buffer.allocUnsafe(Math.max(256, initialBytes));
  }

  private reserve(bytes: number): void {
    const needed = this.length + bytes;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  /**
   * Text known to be ASCII (field names, numbers, base64). Short texts are written
   * char by char: Buffer#write's per-call cost dominated fetch profiles.
   */
  ascii(text: string): void {
    const length = text.length;
    this.reserve(length);
    if (length > 64) {
      this.length += this.buffer.write(text, this.length, 'latin1');
      return;
    }
    const buffer = this.buffer;
    let at = this.length;
    for (let i = 0; i < length; i++) buffer[at++] = text.charCodeAt(i);
    this.length = at;
  }

  utf8(text: string): void {
    this.reserve(Buffer.byteLength(text, 'utf8'));
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  bytes(source: Buffer, start: number, end: number): void {
    const length = end - start;
    this.reserve(length);
    if (length > 256) {
      this.length += source.copy(this.buffer, this.length, start, end);
      return;
    }
    // Small copies byte by byte: Buffer#copy's argument checks cost more than the copy.
    const buffer = this.buffer;
    let at = this.length;
    for (let i = start; i < end; i++) buffer[at++] = source[i];
    this.length = at;
  }

  byte(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** The bytes written (a view: do not write more after handing it out). */
  toBuffer(): Buffer {
    return this.buffer.subarray(0, this.length);
  }
}
