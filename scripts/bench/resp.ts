/**
 * A tiny RESP2 client for the Redis Streams comparison (the project has no Redis
 * dependency, and the benchmark needs only pipelining): commands are written as
 * pre-encoded bytes, replies are parsed incrementally and handed to the request
 * they answer, in order.
 *
 * The parser is resumable: a reply split over TCP chunks keeps its partial arrays on
 * a stack and only the unfinished token's bytes are carried over, so a large XRANGE
 * answer costs linear time. Everything is bounded: bulk string size, array length,
 * nesting depth, requests in flight, and how long a request may wait for its
 * replies (after which the connection is destroyed and every waiter rejected).
 */
import net from 'node:net';

export type RespValue = string | number | Buffer | null | RespError | RespValue[];

export class RespError extends Error {
  override name = 'RespError';
}

const CR = 13;
/** Redis's own proto-max-bulk-len default. */
const BULK_BYTES_MAX = 512 * 1024 * 1024;
const ARRAY_LENGTH_MAX = 10_000_000;
const NESTING_DEPTH_MAX = 16;
const IN_FLIGHT_REQUESTS_MAX = 100_000;
const REQUEST_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 5_000;

interface Pending {
  remaining: number;
  replies: RespValue[] | undefined;
  firstError: RespError | undefined;
  deadline: number;
  resolve(replies: RespValue[]): void;
  reject(error: Error): void;
}

interface Frame {
  items: RespValue[];
  expected: number;
}

/** `*<n>\r\n$<len>\r\n<arg>\r\n...`: one command in RESP, ready to write (or to repeat for a pipeline). */
export function encodeCommand(args: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const argument of args) {
    const bytes = typeof argument === 'string' ? Buffer.from(argument) : argument;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

export class RespClient {
  private readonly pending: Pending[] = [];
  private readonly frames: Frame[] = [];
  private leftover: Buffer | undefined;
  private failure: Error | undefined;
  private readonly watchdog: NodeJS.Timeout;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('redis connection closed')));
    this.watchdog = setInterval(() => {
      const oldest = this.pending[0];
      if (oldest !== undefined && performance.now() > oldest.deadline) this.fail(new Error(`redis did not answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, 1_000);
    this.watchdog.unref();
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host });
      const timer = setTimeout(() => socket.destroy(new Error(`connecting to redis at ${host}:${port} took over ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespClient(socket));
      });
    });
  }

  /** One command; resolves with its reply, rejects on an error reply. */
  async command(...args: Array<string | Buffer>): Promise<RespValue> {
    const [reply] = await this.pipeline(encodeCommand(args), 1);
    return reply;
  }

  /**
   * Writes `payload` (`replyCount` encoded commands) in one write and resolves once
   * all their replies are in; rejects with the first error reply. With
   * `keepReplies` false only the count is kept (for XADD floods).
   */
  pipeline(payload: Buffer, replyCount: number, keepReplies = true): Promise<RespValue[]> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (replyCount < 1) return Promise.reject(new Error(`a pipeline needs at least one command, got ${replyCount}`));
    if (this.pending.length >= IN_FLIGHT_REQUESTS_MAX) return Promise.reject(new Error(`more than ${IN_FLIGHT_REQUESTS_MAX} redis requests in flight`));
    return new Promise((resolve, reject) => {
      this.pending.push({
        remaining: replyCount,
        replies: keepReplies ? [] : undefined,
        firstError: undefined,
        deadline: performance.now() + REQUEST_TIMEOUT_MS,
        resolve,
        reject,
      });
      this.socket.write(payload);
    });
  }

  async close(): Promise<void> {
    clearInterval(this.watchdog);
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 1_000).unref();
    });
  }

  private fail(error: Error): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    clearInterval(this.watchdog);
    this.socket.destroy();
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
  }

  private onData(chunk: Buffer): void {
    if (this.failure !== undefined) return;
    const buffer = this.leftover === undefined ? chunk : Buffer.concat([this.leftover, chunk]);
    this.leftover = undefined;
    let position = 0;
    try {
      while (position < buffer.length) {
        const lineEnd = buffer.indexOf(CR, position + 1);
        if (lineEnd === -1 || lineEnd + 1 >= buffer.length) break;
        const type = buffer[position];
        let value: RespValue;
        let next = lineEnd + 2;
        if (type === 0x2b /* + */) {
          value = buffer.toString('latin1', position + 1, lineEnd);
        } else if (type === 0x2d /* - */) {
          value = new RespError(buffer.toString('utf8', position + 1, lineEnd));
        } else if (type === 0x3a /* : */) {
          value = Number(buffer.toString('latin1', position + 1, lineEnd));
        } else if (type === 0x24 /* $ */) {
          const length = Number(buffer.toString('latin1', position + 1, lineEnd));
          if (length === -1) {
            value = null;
          } else {
            if (!Number.isInteger(length) || length < 0 || length > BULK_BYTES_MAX) throw new Error(`bad RESP bulk length ${length}`);
            if (next + length + 2 > buffer.length) break;
            value = buffer.subarray(next, next + length);
            next += length + 2;
          }
        } else if (type === 0x2a /* * */) {
          const length = Number(buffer.toString('latin1', position + 1, lineEnd));
          if (length === -1) {
            value = null;
          } else {
            if (!Number.isInteger(length) || length < 0 || length > ARRAY_LENGTH_MAX) throw new Error(`bad RESP array length ${length}`);
            if (length > 0) {
              if (this.frames.length >= NESTING_DEPTH_MAX) throw new Error(`RESP arrays nested deeper than ${NESTING_DEPTH_MAX}`);
              this.frames.push({ items: [], expected: length });
              position = next;
              continue;
            }
            value = [];
          }
        } else {
          throw new Error(`unexpected RESP type byte 0x${(type ?? 0).toString(16)}`);
        }
        position = next;
        this.complete(value);
      }
    } catch (error) {
      this.fail(error as Error);
      return;
    }
    if (position < buffer.length) this.leftover = buffer.subarray(position);
  }

  /** A value is whole: it fills the innermost open array, or it is a reply. */
  private complete(value: RespValue): void {
    let item = value;
    while (this.frames.length > 0) {
      const frame = this.frames[this.frames.length - 1];
      frame.items.push(item);
      if (frame.items.length < frame.expected) return;
      this.frames.pop();
      item = frame.items;
    }
    const waiter = this.pending[0];
    if (waiter === undefined) throw new Error('redis sent a reply nobody asked for');
    if (item instanceof RespError) waiter.firstError ??= item;
    waiter.replies?.push(item);
    waiter.remaining -= 1;
    if (waiter.remaining === 0) {
      this.pending.shift();
      if (waiter.firstError !== undefined) waiter.reject(waiter.firstError);
      else waiter.resolve(waiter.replies ?? []);
    }
  }
}
