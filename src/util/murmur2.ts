/**
 * MurmurHash2, 32-bit, exactly as Kafka's Java client computes it in
 * org.apache.kafka.common.utils.Utils.murmur2 (seed 0x9747b28c). Keyed records must land
 * on the partition a Java producer would choose, so this mirrors the Java code's int
 * arithmetic: Math.imul for the wrapping multiply, `>>>` for Java's unsigned shift,
 * and a signed int32 result, as Java returns.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of `data`, as a signed 32-bit integer. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // The last 1-3 bytes, as the Java switch's fall-through cases 3, 2, 1 mix them.
  const remainder = length & 3;
  if (remainder !== 0) {
    const tail = length - remainder;
    if (remainder === 3) h ^= data[tail + 2] << 16;
    if (remainder >= 2) h ^= data[tail + 1] << 8;
    h ^= data[tail];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/**
 * Kafka's Utils.toPositive: clears the sign bit. It is not Math.abs, and using abs
 * would send some keys to different partitions than a Java producer does.
 */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}
