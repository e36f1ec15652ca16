/**
 * The bookkeeping the crash and fault tests share: the seeded PRNG (seeded-random.ts) so a
 * failing run can be replayed, a failure list that counts every failure but keeps only the first few in
 * full, and a ledger of acknowledgements that catches the two ways an acknowledgement
 * can already be wrong when it arrives — one place acknowledged for two records, and
 * the records of one request not consecutive within a partition (one request is one
 * batch per partition, so its records there get consecutive offsets in request order).
 */

export { pick, seededRandom } from './seeded-random.js';

/** Every failure counted; the first `listedMax` kept in full for the report. */
export class FailureList {
  count = 0;
  readonly listed: string[] = [];

  constructor(private readonly listedMax = 30) {}

  fail(message: string): void {
    this.count += 1;
    if (this.listed.length < this.listedMax) this.listed.push(message);
  }
}

export interface AckedRecord {
  id: string;
  partition: number;
  offset: number;
}

/** place (a string naming topic, partition and offset) -> the id acknowledged there. */
export class AckLedger {
  private readonly idAt = new Map<string, string>();

  constructor(private readonly failures: FailureList) {}

  /** Who was acknowledged at `place`, if anyone. */
  holderOf(place: string): string | undefined {
    return this.idAt.get(place);
  }

  get size(): number {
    return this.idAt.size;
  }

  /**
   * Notes the acknowledgements one request got, in request order, and fails for a place
   * acknowledged twice or offsets that are not consecutive within a partition.
   * `placeOf` names a record's place in the failure messages and the ledger's keys.
   */
  noteRequest(acks: readonly AckedRecord[], placeOf: (ack: AckedRecord) => string, label = ''): void {
    const prefix = label === '' ? '' : `${label}: `;
    const lastOffsetByPartition = new Map<number, number>();
    for (const ack of acks) {
      const place = placeOf(ack);
      const holder = this.idAt.get(place);
      if (holder !== undefined) this.failures.fail(`${prefix}${place} acknowledged twice: for ${holder} and for ${ack.id}`);
      this.idAt.set(place, ack.id);
      const previous = lastOffsetByPartition.get(ack.partition);
      if (previous !== undefined && ack.offset !== previous + 1) {
        this.failures.fail(`${prefix}${ack.id} acknowledged at ${place}, not right after ${previous} (same request, same partition)`);
      }
      lastOffsetByPartition.set(ack.partition, ack.offset);
    }
  }
}
