/**
 * What a produce asks for and what it answers, as the broker sees it: the value types
 * shared by the producer, the replication that forwards records to their leaders, and
 * the HTTP routes. The acks levels are the public API's own.
 */
import type { Acks } from '../api/types.js';
import type { ScannedRecords } from '../record/produce-body-scan.js';
import type { ProduceRecord, ValueFormat } from './record-input.js';

export type { Acks };

export interface ProduceRequest {
  topic: string;
  /** From the path /partitions/{p}/records: every record goes there. */
  partition?: number;
  records: ProduceRecord[];
  /**
   * The records as a scanned body's spans (record/produce-body-scan.ts): the append
   * encodes from these, and `records` parses them only for a path that needs objects.
   */
  scanned?: ScannedRecords;
  keyFormat?: ValueFormat;
  valueFormat?: ValueFormat;
  acks?: Acks;
  idempotencyKey?: string;
  /** An idempotent producer's batch (POST /v1/producers): one partition, sequences from baseSequence. */
  producer?: { producerId: number; producerEpoch: number; baseSequence: number };
  /**
   * Sent on by another node (a cluster): every record names its partition, which must be
   * led here; it is never forwarded again.
   */
  isForwarded?: boolean;
}

/** A request of a scanned body's records; `records` is parsed from them on first use. */
export function scannedRequest(request: Omit<ProduceRequest, 'records' | 'scanned'>, scanned: ScannedRecords): ProduceRequest {
  return Object.defineProperty({ ...request, scanned }, 'records', { get: () => scanned.objects(), enumerable: true }) as ProduceRequest;
}

/** How many records a request holds, without parsing a scanned body's. */
export function recordCount(request: ProduceRequest): number {
  return request.scanned?.count ?? request.records.length;
}

/** Where one produced record landed. */
export interface RecordOffset {
  partition: number;
  offset: number;
  timestamp: number;
}

export interface ProduceResult {
  offsets: RecordOffset[];
  /** True when the answer was replayed for a repeated Idempotency-Key. */
  isReplay: boolean;
  /** Bytes of record batches appended (0 for a replay). */
  appendedBytes: number;
}
