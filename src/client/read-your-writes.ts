/**
 * Read-your-writes: a fetch never misses a record the client's own produce was
 * acknowledged for. Reads are served up to the serving replica's high watermark, and
 * the acknowledgement may come before that high watermark passes the record: acks=leader
 * (and none) answer once the leader appended, before the followers have it; and any
 * in-sync replica serves reads, whose high watermark may trail the leader's by a replica
 * fetch (a node hands a read past what it knows to the leader). A fetch sent right after
 * the produce, with waitMs 0, could so come back empty, on the leader too.
 *
 * The rule: the client remembers, per partition, the end of its acknowledged writes
 * (the highest offset a produce answer gave it, plus one). A fetch of that partition
 * from an offset below that end ('earliest' included) waits for the record at least
 * READ_YOUR_WRITES_WAIT_MS (its waitMs is raised to that). A replica holding the record
 * answers at once, as without a wait; one whose high watermark trails answers as soon
 * as it passes the offset (milliseconds). Nothing else changes: a fetch from past the
 * client's writes keeps its own waitMs, and any replica may still serve every read,
 * behind a proxy too. (An acks=leader write lost in a leader failover makes a fetch of
 * its offset wait READ_YOUR_WRITES_WAIT_MS, until new records fill that offset.)
 */
import { partitionLeaderKey, remember, targetOf } from './routing.js';
import type { RequestSpec } from './exchange.js';

/** The least wait of a fetch of the client's own acknowledged records. */
export const READ_YOUR_WRITES_WAIT_MS = 1_000;
/** Most partitions whose write end is remembered (the least recently written is forgotten first). */
const REMEMBERED_PARTITIONS_MAX = 10_000;

const RECORDS_PATH = /\/records\/?$/;

export class WrittenOffsets {
  /** The end of the client's acknowledged writes (last offset + 1), by partition key (routing.ts). */
  private readonly ends = new Map<string, number>();

  /** A produce answered (POST .../records, 200): remembers where its records landed. */
  onProduced(spec: Pick<RequestSpec, 'method' | 'path'>, answer: unknown): void {
    const target = targetOf(spec.method, spec.path);
    if (!(target.isTopicProduce || target.isPartitionProduce === true) || target.topic === undefined) return;
    // A JSON body's answer lists each record's offset; a record-batch body's each batch's lastOffset.
    const { offsets, batches } = (answer ?? {}) as { offsets?: unknown; batches?: unknown };
    const entries = Array.isArray(offsets) ? offsets : Array.isArray(batches) ? batches : undefined;
    if (entries === undefined) return;
    for (const entry of entries as Array<{ partition?: unknown; offset?: unknown; lastOffset?: unknown }>) {
      const { partition } = entry;
      const offset = entry.offset ?? entry.lastOffset;
      if (typeof partition !== 'number' || typeof offset !== 'number' || offset < 0) continue;
      const key = partitionLeaderKey(target.topic, partition);
      if (offset + 1 > (this.ends.get(key) ?? 0)) remember(this.ends, key, offset + 1, REMEMBERED_PARTITIONS_MAX);
    }
  }

  /** The fetch to send: `spec`, or with waitMs raised when it reads the client's own acknowledged records. */
  fetchSpec(spec: RequestSpec): RequestSpec {
    if (spec.method !== 'GET' || !RECORDS_PATH.test(spec.path)) return spec;
    const { key } = targetOf(spec.method, spec.path);
    const end = key === undefined ? undefined : this.ends.get(key);
    if (end === undefined || (spec.waitMs ?? 0) >= READ_YOUR_WRITES_WAIT_MS) return spec;
    const offset = spec.query?.offset ?? 'earliest';
    if (!(offset === 'earliest' || (typeof offset === 'number' && offset < end))) return spec;
    return { ...spec, query: { ...spec.query, waitMs: READ_YOUR_WRITES_WAIT_MS }, waitMs: READ_YOUR_WRITES_WAIT_MS };
  }
}
