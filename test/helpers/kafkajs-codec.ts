/**
 * A real Kafka client's RecordBatch v2 codec (kafkajs 2's protocol modules), for tests
 * of the record-batch media type: batches encoded exactly as kafkajs's producer encodes
 * them (produce v3 request: offsetDelta i, timestamp deltas from the first record, its
 * maxTimestamp), and fetched bytes decoded by its consumer's decoder.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface KafkaEncoder { buffer: Buffer }
interface KafkaDecoder { offset: number; buffer: Buffer }
interface DecodedKafkaRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
}
interface DecodedKafkaBatch {
  firstOffset: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  timestampType: number;
  records: DecodedKafkaRecord[];
}

const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch: (options: Record<string, unknown>) => Promise<KafkaEncoder>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (options: Record<string, unknown>) => KafkaEncoder;
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => KafkaDecoder;
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: KafkaDecoder) => Promise<DecodedKafkaBatch>;
const Long = require('kafkajs/src/utils/long') as { fromValue(value: number): unknown };

/** kafkajs's compression codec ids: 0 none, 1 gzip. */
export const KAFKA_COMPRESSION = { none: 0, gzip: 1 } as const;

export interface KafkaMessage {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, string | Buffer>;
  timestamp: number;
}

export interface KafkaBatchOptions {
  compression?: number;
  producerId?: number;
  producerEpoch?: number;
  firstSequence?: number;
  transactional?: boolean;
}

/** One batch as kafkajs's producer builds it for a produce request (protocol/requests/produce/v3). */
export async function encodeKafkaBatch(messages: KafkaMessage[], options: KafkaBatchOptions = {}): Promise<Buffer> {
  const firstTimestamp = messages[0].timestamp;
  const maxTimestamp = messages[messages.length - 1].timestamp;
  const records = messages.map((message, i) => Record({
    offsetDelta: i,
    timestampDelta: message.timestamp - firstTimestamp,
    key: message.key ?? null,
    value: message.value,
    headers: message.headers ?? {},
  }));
  const batch = await RecordBatch({
    compression: options.compression ?? KAFKA_COMPRESSION.none,
    records,
    firstTimestamp,
    maxTimestamp,
    lastOffsetDelta: records.length - 1,
    producerId: Long.fromValue(options.producerId ?? -1),
    producerEpoch: options.producerEpoch ?? 0,
    firstSequence: options.firstSequence ?? 0,
    transactional: options.transactional ?? false,
  });
  return batch.buffer;
}

/** Every batch of fetched bytes, by kafkajs's consumer decoder. */
export async function decodeKafkaBatches(bytes: Buffer): Promise<DecodedKafkaBatch[]> {
  const decoder = new Decoder(bytes);
  const batches: DecodedKafkaBatch[] = [];
  while (decoder.offset < bytes.length) batches.push(await decodeBatch(decoder));
  return batches;
}
