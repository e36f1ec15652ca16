/**
 * Writes fetched records as JSON text straight from batch bytes, without building an
 * object per record and stringifying it again (pino's "ready JSON fragments" habit).
 * json-format values are stored as JSON text and copied verbatim; string values are
 * escaped once; binary values become base64.
 */
import { decodeRecords, readBatchHeader, validateBatch, type ValueFormat } from '../storage/record-batch.js';
import { assert } from '../util/assert.js';

export interface EncodedRecords {
  /** Record objects, each a JSON text, joined by `separator`. */
  text: string;
  count: number;
  /** Offset after the last record written (the start offset when none was). */
  nextOffset: number;
  lastOffset: number;
}

function fieldJson(bytes: Buffer | null, format: ValueFormat): string {
  if (bytes === null) return 'null';
  switch (format) {
    case 'json':
      return bytes.length === 0 ? 'null' : bytes.toString('utf8');
    case 'string':
      return JSON.stringify(bytes.toString('utf8'));
    case 'binary':
      return '"' + bytes.toString('base64') + '"';
  }
}

function headersJson(headers: Array<[string, Buffer | null]>): string {
  if (headers.length === 0) return '{}';
  let text = '{';
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i];
    if (i > 0) text += ',';
    text += JSON.stringify(name) + ':' + (value === null ? 'null' : JSON.stringify(value.toString('utf8')));
  }
  return text + '}';
}

/**
 * Renders records of `batches` from `startOffset`, at most `maxRecords`, each as
 * `wrap(offset, recordJson)` (or the bare JSON) joined by `separator`.
 */
export function encodeRecords(
  batches: Buffer | null,
  partition: number,
  startOffset: number,
  maxRecords: number,
  separator: string,
  wrap?: (offset: number, json: string) => string,
): EncodedRecords {
  let text = '';
  let count = 0;
  let lastOffset = startOffset - 1;
  if (batches !== null) {
    const partitionPrefix = '{"partition":' + partition + ',"offset":';
    let position = 0;
    while (position < batches.length && count < maxRecords) {
      // Check data right after reading it: a batch that fails its CRC here was damaged
      // on disk after recovery, and serving it would hand out garbage.
      const problem = validateBatch(batches, position);
      assert(problem === null, () => `partition ${partition}: stored batch at read position ${position} is damaged: ${problem}`);
      const header = readBatchHeader(batches, position);
      const { keyFormat, valueFormat } = header;
      if (header.lastOffset >= startOffset) {
        for (const record of decodeRecords(batches, position)) {
          if (record.offset < startOffset) continue;
          assert(record.offset > lastOffset, () => `fetched offsets do not rise: ${record.offset} after ${lastOffset}`);
          const json = partitionPrefix + record.offset + ',"timestamp":' + record.timestampMs +
            ',"key":' + fieldJson(record.key, keyFormat) +
            ',"value":' + fieldJson(record.value, valueFormat) +
            ',"headers":' + headersJson(record.headers) + '}';
          if (count > 0) text += separator;
          text += wrap === undefined ? json : wrap(record.offset, json);
          lastOffset = record.offset;
          count += 1;
          if (count >= maxRecords) break;
        }
      }
      position += header.sizeBytes;
    }
  }
  return { text, count, nextOffset: lastOffset + 1, lastOffset };
}
