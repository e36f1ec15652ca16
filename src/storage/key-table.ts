/**
 * KeyTable: key fingerprint → offset, in typed arrays with a fixed cost per slot, for
 * the key index of a compacted partition (key-index.ts). A key is stored as a 64-bit
 * fingerprint (two 32-bit MurmurHash3 of its bytes with different seeds), never as its
 * bytes, so a key of any size costs the same:
 *
 *   16 bytes per slot: 8 of fingerprint (Uint32Array, two lanes) + 8 of offset (Float64Array).
 *
 * Open addressing with linear probing; the table doubles when 3/4 full, so it holds
 * keys at 3/8 to 3/4 of its slots: 21 to 43 bytes per key, plus a 64-slot (1 KiB)
 * minimum per partition. Deletion shifts the following entries back (no tombstone
 * slots), so probes stay short after many deletes. Every byte of every table is taken
 * from one KeyIndexBudget per node before it is allocated: a table that may not grow
 * refuses new keys (and its partition's index is then incomplete), never memory.
 *
 * Two keys with the same fingerprint share a slot. The index reads the record an
 * offset points at and compares its key before answering (key-lookup.ts), so a shared
 * slot is noticed, never served as the other key's value.
 *
 * Concurrency: one table per partition, used from the event loop only.
 */
import { assert } from '../util/assert.js';

/** Bytes of memory per slot: the 64-bit fingerprint and the offset. */
export const KEY_TABLE_SLOT_BYTES = 16;
const SLOTS_MIN = 64;
/** Grow (or refuse a new key) at this load. */
const LOAD_MAX = 0.75;
const EMPTY = -1;

/** The node's memory for key tables, shared by every compacted partition (--key-index-memory-bytes). */
export class KeyIndexBudget {
  private used = 0;

  constructor(readonly bytesMax: number) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax >= 0, () => `key index budget must be a non-negative integer of bytes, got ${bytesMax}`);
  }

  static unbounded(): KeyIndexBudget {
    return new KeyIndexBudget(Number.MAX_SAFE_INTEGER);
  }

  get bytesUsed(): number {
    return this.used;
  }

  /** Takes `bytes` from the budget; false (and nothing taken) when they do not fit. */
  tryTake(bytes: number): boolean {
    if (this.used + bytes > this.bytesMax) return false;
    this.used += bytes;
    return true;
  }

  give(bytes: number): void {
    this.used -= bytes;
    assert(this.used >= 0, () => `key index budget: more bytes given back than taken (${this.used})`);
  }
}

/** The 64-bit fingerprint of a key, as two unsigned 32-bit lanes (MurmurHash3 x86_32, two seeds). */
export function fingerprint(key: Uint8Array): [number, number] {
  return [murmur3(key, 0x3c6ef372), murmur3(key, 0x9e3779b9)];
}

function mix(k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, 0x1b873593);
}

function murmur3(data: Uint8Array, seed: number): number {
  const length = data.length;
  let h = seed;
  const blocks = length >>> 2;
  for (let i = 0; i < blocks; i++) {
    const at = i * 4;
    h ^= mix(data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24));
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks * 4;
  const remainder = length & 3;
  if (remainder > 0) {
    let k = 0;
    if (remainder === 3) k ^= data[tail + 2] << 16;
    if (remainder >= 2) k ^= data[tail + 1] << 8;
    k ^= data[tail];
    h ^= mix(k);
  }
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class KeyTable {
  private fingerprints: Uint32Array;
  private offsets: Float64Array;
  private entries = 0;
  /** True once a new key was refused for want of memory: the table does not hold every key. */
  isMissingKeys = false;
  private isReleased = false;

  private constructor(private readonly budget: KeyIndexBudget, slots: number) {
    this.fingerprints = new Uint32Array(slots * 2);
    this.offsets = new Float64Array(slots).fill(EMPTY);
  }

  /** A table of the minimum size, or undefined when even that does not fit the budget. */
  static create(budget: KeyIndexBudget): KeyTable | undefined {
    if (!budget.tryTake(SLOTS_MIN * KEY_TABLE_SLOT_BYTES)) return undefined;
    return new KeyTable(budget, SLOTS_MIN);
  }

  get size(): number {
    return this.entries;
  }

  get slots(): number {
    return this.offsets.length;
  }

  get memoryBytes(): number {
    return this.slots * KEY_TABLE_SLOT_BYTES;
  }

  /** The slot holding `high`/`low`, or the empty slot where it would go. */
  private slotOf(high: number, low: number): number {
    const mask = this.offsets.length - 1;
    let slot = low & mask;
    while (this.offsets[slot] !== EMPTY && (this.fingerprints[slot * 2] !== high || this.fingerprints[slot * 2 + 1] !== low)) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  /** The offset held for the fingerprint, or -1. */
  get(high: number, low: number): number {
    return this.offsets[this.slotOf(high, low)];
  }

  /** Maps the fingerprint to `offset`; false when it is a new key and there is no memory for it. */
  put(high: number, low: number, offset: number): boolean {
    let slot = this.slotOf(high, low);
    if (this.offsets[slot] === EMPTY) {
      if (this.entries + 1 > this.offsets.length * LOAD_MAX) {
        if (!this.resize(this.offsets.length * 2)) {
          this.isMissingKeys = true;
          return false;
        }
        slot = this.slotOf(high, low);
      }
      this.fingerprints[slot * 2] = high;
      this.fingerprints[slot * 2 + 1] = low;
      this.entries += 1;
    }
    this.offsets[slot] = offset;
    return true;
  }

  /** Forgets the fingerprint (a tombstone); the entries after it in its run move back. */
  remove(high: number, low: number): void {
    let hole = this.slotOf(high, low);
    if (this.offsets[hole] === EMPTY) return;
    const mask = this.offsets.length - 1;
    this.offsets[hole] = EMPTY;
    this.entries -= 1;
    for (let slot = (hole + 1) & mask; this.offsets[slot] !== EMPTY; slot = (slot + 1) & mask) {
      const home = this.fingerprints[slot * 2 + 1] & mask;
      // The entry may fill the hole unless its home lies cyclically in (hole, slot].
      const isHomeBetween = hole <= slot ? home > hole && home <= slot : home > hole || home <= slot;
      if (isHomeBetween) continue;
      this.fingerprints[hole * 2] = this.fingerprints[slot * 2];
      this.fingerprints[hole * 2 + 1] = this.fingerprints[slot * 2 + 1];
      this.offsets[hole] = this.offsets[slot];
      this.offsets[slot] = EMPTY;
      hole = slot;
    }
  }

  /** Removes every entry whose offset is below `offset` (retention moved the log start past it). */
  removeBelow(offset: number): void {
    const fingerprints = this.fingerprints;
    const offsets = this.offsets;
    this.fingerprints = new Uint32Array(fingerprints.length);
    this.offsets = new Float64Array(offsets.length).fill(EMPTY);
    this.entries = 0;
    for (let slot = 0; slot < offsets.length; slot++) {
      if (offsets[slot] >= offset) this.put(fingerprints[slot * 2], fingerprints[slot * 2 + 1], offsets[slot]);
    }
  }

  /** Rehashes into `slots` slots; false when the budget cannot take the larger table. */
  private resize(slots: number): boolean {
    const extra = (slots - this.offsets.length) * KEY_TABLE_SLOT_BYTES;
    if (extra > 0 && !this.budget.tryTake(extra)) return false;
    const fingerprints = this.fingerprints;
    const offsets = this.offsets;
    this.fingerprints = new Uint32Array(slots * 2);
    this.offsets = new Float64Array(slots).fill(EMPTY);
    this.entries = 0;
    for (let slot = 0; slot < offsets.length; slot++) {
      if (offsets[slot] !== EMPTY) this.put(fingerprints[slot * 2], fingerprints[slot * 2 + 1], offsets[slot]);
    }
    if (extra < 0) this.budget.give(-extra);
    return true;
  }

  /** Gives the table's memory back to the budget; the table must not be used after. */
  release(): void {
    if (this.isReleased) return;
    this.isReleased = true;
    this.budget.give(this.memoryBytes);
  }
}
