/**
 * The cleaner's key → latest offset map in a fixed amount of memory (Kafka's
 * SkimpyOffsetMap): keys are stored as their 16-byte MD5 hash, with the offset as a
 * float64, 24 bytes per slot in two preallocated arrays; open addressing with linear
 * probing. It counts as full at 90% of its slots (Kafka's dedupe load factor), so
 * probes stay short. A partition with more keys than fit is cleaned in rounds: each
 * round maps as many dirty records as fit and cleans up to there.
 *
 * Two keys with the same 128-bit hash would share a slot (the older record of one
 * would go); at these sizes that is not a practical risk, as in Kafka.
 */
import { createHash } from 'node:crypto';

const HASH_BYTES = 16;
/** Bytes of memory per slot: the hash and the offset. */
export const OFFSET_MAP_SLOT_BYTES = HASH_BYTES + 8;
const LOAD_FACTOR = 0.9;

export class OffsetMap {
  readonly slots: number;
  /** Entries allowed before the map counts as full. */
  readonly maxEntries: number;
  private readonly hashes: Buffer;
  private readonly offsets: Float64Array;
  private entries = 0;

  constructor(memoryBytes: number) {
    this.slots = Math.max(2, Math.floor(memoryBytes / OFFSET_MAP_SLOT_BYTES));
    this.maxEntries = Math.max(1, Math.floor(this.slots * LOAD_FACTOR));
    this.hashes = Buffer.alloc(this.slots * HASH_BYTES);
    this.offsets = new Float64Array(this.slots).fill(-1);
  }

  get size(): number {
    return this.entries;
  }

  get isFull(): boolean {
    return this.entries >= this.maxEntries;
  }

  clear(): void {
    this.offsets.fill(-1);
    this.entries = 0;
  }

  /** Slot of the key hashed to `hash`: where it is, or the empty slot where it would go. */
  private slotOf(hash: Buffer): number {
    let slot = hash.readUInt32BE(0) % this.slots;
    for (;;) {
      if (this.offsets[slot] < 0) return slot;
      if (hash.compare(this.hashes, slot * HASH_BYTES, (slot + 1) * HASH_BYTES) === 0) return slot;
      slot = (slot + 1) % this.slots;
    }
  }

  /**
   * Maps `key` to `offset` (callers put offsets in increasing order, so the latest
   * wins). False, and nothing changed, when the key is new and the map is full.
   */
  tryPut(key: Buffer, offset: number): boolean {
    const hash = createHash('md5').update(key).digest();
    const slot = this.slotOf(hash);
    if (this.offsets[slot] < 0) {
      if (this.isFull) return false;
      this.entries += 1;
      this.hashes.set(hash, slot * HASH_BYTES);
    }
    this.offsets[slot] = offset;
    return true;
  }

  /** The latest offset mapped for `key`, or -1. */
  get(key: Buffer): number {
    return this.offsets[this.slotOf(createHash('md5').update(key).digest())];
  }
}
