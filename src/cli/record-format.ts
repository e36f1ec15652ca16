/**
 * How `runnel consume` prints a record: the value alone (default), one JSON object
 * per line, or a kcat-style format string.
 */
import type { ConsumedRecord } from './client.js';
import { UsageError } from './exit-codes.js';

export type RecordRenderer = (record: ConsumedRecord) => string;

/** A key or value as text: strings as they are, null or absent as nothing, other JSON as JSON. */
export function payloadText(payload: unknown): string {
  if (payload === null || payload === undefined) return '';
  return typeof payload === 'string' ? payload : JSON.stringify(payload);
}

export function valueOnlyRenderer(): RecordRenderer {
  return (record) => payloadText(record.value) + '\n';
}

export function jsonRenderer(): RecordRenderer {
  return (record) => JSON.stringify({
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: record.key ?? null,
    value: record.value ?? null,
    headers: record.headers ?? {},
  }) + '\n';
}

const fieldsByLetter: Record<string, (record: ConsumedRecord) => string> = {
  t: (record) => record.topic,
  p: (record) => String(record.partition),
  o: (record) => String(record.offset),
  k: (record) => payloadText(record.key),
  s: (record) => payloadText(record.value),
  K: (record) => String(Buffer.byteLength(payloadText(record.key))),
  S: (record) => String(Buffer.byteLength(payloadText(record.value))),
  T: (record) => String(record.timestamp),
  h: (record) => Object.entries(record.headers ?? {}).map(([name, value]) => `${name}=${value ?? ''}`).join(','),
};

const escapes: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\' };

/**
 * Compiles a kcat -f format: %t topic, %p partition, %o offset, %k key, %s value,
 * %K / %S key / value length in bytes, %T timestamp (ms), %h headers (name=value,...),
 * %% a percent sign; \n \t \r \\ escapes. Like kcat, no newline is added.
 */
export function formatRenderer(format: string): RecordRenderer {
  const parts: Array<string | ((record: ConsumedRecord) => string)> = [];
  let literal = '';
  for (let index = 0; index < format.length; index++) {
    const character = format[index];
    const next = format[index + 1];
    if (character === '%' && next !== undefined && (next === '%' || Object.hasOwn(fieldsByLetter, next))) {
      if (next === '%') {
        literal += '%';
      } else {
        if (literal !== '') parts.push(literal);
        literal = '';
        parts.push(fieldsByLetter[next]);
      }
      index++;
    } else if (character === '%') {
      throw new UsageError(`--format: unknown field '%${next ?? ''}' (known: %t %p %o %k %s %K %S %T %h %%)`);
    } else if (character === '\\' && next !== undefined && Object.hasOwn(escapes, next)) {
      literal += escapes[next];
      index++;
    } else {
      literal += character;
    }
  }
  if (literal !== '') parts.push(literal);
  return (record) => {
    let text = '';
    for (const part of parts) text += typeof part === 'string' ? part : part(record);
    return text;
  };
}
