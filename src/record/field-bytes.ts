/**
 * A record's key or value as stored, for the format it was sent in. One encoder for the
 * node (a JSON produce body) and the client (a record batch it builds), so both store
 * the same bytes for the same input:
 *  - json:   any JSON value; stored as its JSON text.
 *  - string: a string; stored as UTF-8.
 *  - binary: a base64 string (RFC 4648, padded); stored as the decoded bytes.
 * A null or absent field stays null, whatever the format (a null value is a tombstone).
 */
import type { ValueFormat } from './layout.js';

export const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Encodes one key or value; `what` names it in messages ("records[3].value"), and
 * `invalid` makes the caller's own error for an input the format refuses.
 */
export function fieldBytes(input: unknown, format: ValueFormat, what: string, invalid: (message: string) => Error): Buffer | null {
  if (input === null || input === undefined) return null;
  switch (format) {
    case 'json': {
      const text = JSON.stringify(input) as string | undefined;
      if (text === undefined) throw invalid(`${what} is not a JSON value (a ${typeof input})`);
      return Buffer.from(text, 'utf8');
    }
    case 'string':
      if (typeof input !== 'string') throw invalid(`${what} must be a string when its format is 'string', got ${typeof input}`);
      return Buffer.from(input, 'utf8');
    case 'binary':
      if (typeof input !== 'string' || !BASE64_PATTERN.test(input)) throw invalid(`${what} must be base64 (RFC 4648, padded) when its format is 'binary'`);
      return Buffer.from(input, 'base64');
  }
}
