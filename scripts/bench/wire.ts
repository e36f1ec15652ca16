/**
 * The two ways records travel, for scenarios measured both ways with the same sizes:
 * JSON bodies and answers (what curl sends), and the record-batch media type (Kafka
 * RecordBatch v2 bytes, what the TS client sends by default). Each wire builds a produce
 * body once, checks one produce answer against the contract, and takes the next offset
 * from a fetch answer (checking the records of the first answer of a pass in full).
 */
import { decodeRecords } from '../../src/record/decode.js';
import { encodeBatch } from '../../src/record/encode.js';
import { jsonValueOfSize } from './payload.js';
import { checkProduceAnswer, produceBody } from './runnel-http.js';

export interface BenchWire {
  /** Added to scenario names ('' for JSON: 'produce'; '-binary': 'produce-binary'). */
  suffix: '' | '-binary';
  mediaType: string;
  /** `count` records, each value `valueBytes` of JSON text. */
  produceBody(valueBytes: number, count: number): Buffer;
  /** Throws unless a produce answer covers `count` records as the contract says. */
  checkProduceAnswer(text: string, count: number, what: string): void;
  /**
   * The next offset a fetch answer gives; with `isFullCheck`, the records are checked
   * too: the first at `offset` with a `valueBytes` value.
   */
  nextOffset(body: Buffer, headers: Record<string, string | string[] | undefined>, isFullCheck: boolean, offset: number, valueBytes: number, what: string): number;
}

/** How far from the end of a JSON fetch answer nextOffset is looked for. */
const TAIL_BYTES = 256;

export const JSON_WIRE: BenchWire = {
  suffix: '',
  mediaType: 'application/json',
  produceBody: (valueBytes, count) => produceBody(jsonValueOfSize(valueBytes), count),
  checkProduceAnswer,
  nextOffset(body, _headers, isFullCheck, offset, valueBytes, what) {
    if (!isFullCheck) {
      const match = /"nextOffset":(\d+)/.exec(body.toString('latin1', Math.max(0, body.length - TAIL_BYTES)));
      if (match !== null) return Number(match[1]);
    }
    const answer = JSON.parse(body.toString('utf8')) as { records?: Array<{ offset: number; value: unknown }>; nextOffset?: number };
    if (!Array.isArray(answer.records) || typeof answer.nextOffset !== 'number') {
      throw new Error(`${what}: expected {"records":[...],"nextOffset":N,...}, got ${body.toString('utf8', 0, 300)}`);
    }
    if (isFullCheck) {
      const first = answer.records[0];
      if (first === undefined || first.offset !== offset || JSON.stringify(first.value).length !== valueBytes) {
        throw new Error(`${what}: the first record should have offset ${offset} and a ${valueBytes} B value, got ${JSON.stringify(first)?.slice(0, 300)}`);
      }
      if (answer.records.length !== answer.nextOffset - offset) {
        throw new Error(`${what}: ${answer.records.length} records but nextOffset ${answer.nextOffset} from offset ${offset}`);
      }
    }
    return answer.nextOffset;
  },
};

export const RECORD_BATCH_WIRE: BenchWire = {
  suffix: '-binary',
  mediaType: 'application/vnd.runnel.record-batch',
  /** One batch, binary key and value formats: a plain Kafka batch, as any Kafka producer sends. */
  produceBody(valueBytes, count) {
    const value = Buffer.from(jsonValueOfSize(valueBytes));
    const nowMs = Date.now();
    const records = Array.from({ length: count }, () => ({ key: null, value, headers: null, timestampMs: nowMs }));
    return encodeBatch(records, { leaderEpoch: -1, timestampType: 'CreateTime', keyFormat: 'binary', valueFormat: 'binary' });
  },
  checkProduceAnswer(text, count, what) {
    const answer = JSON.parse(text) as { batches?: Array<{ lastOffset: number; baseOffset: number }> };
    if (answer.batches?.length !== 1 || answer.batches[0].lastOffset - answer.batches[0].baseOffset !== count - 1) {
      throw new Error(`${what}: expected {"batches":[one of ${count} records]}, got ${text.slice(0, 300)}`);
    }
  },
  nextOffset(body, headers, isFullCheck, offset, valueBytes, what) {
    if (isFullCheck) {
      const first = decodeRecords(body, 0).find((record) => record.offset >= offset);
      if (first?.offset !== offset || first.value?.length !== valueBytes) {
        throw new Error(`${what}: the first record should have offset ${offset} and a ${valueBytes} B value, got offset ${first?.offset}`);
      }
    }
    const nextOffset = Number(headers['runnel-next-offset']);
    if (!Number.isSafeInteger(nextOffset)) throw new Error(`${what}: no Runnel-Next-Offset header`);
    return nextOffset;
  },
};

export const WIRES = [JSON_WIRE, RECORD_BATCH_WIRE] as const;
