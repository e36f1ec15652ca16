/**
 * CRC-32C (Castagnoli), the checksum of Kafka's RecordBatch v2 (KIP-98) and of
 * iSCSI (RFC 3720). It wraps @node-rs/crc32, a native implementation that uses the
 * CPU's CRC32 instructions (SSE4.2 / ARMv8), because a pure-JS table loop is several
 * times slower and every byte appended, replicated or fetched goes through here.
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * Returns the unsigned 32-bit CRC-32C of `buf`. Passing the CRC of earlier bytes as
 * `initial` continues that checksum, so crc32c(b, crc32c(a)) equals crc32c(a ++ b);
 * callers checksum a slice of a larger buffer with `buf.subarray(start, end)`, which
 * is a view and copies nothing.
 */
export function crc32c(buf: Uint8Array, initial = 0): number {
  // The native function already returns an unsigned value; `>>> 0` pins the type
  // to uint32 for callers that compare against Buffer.readUInt32BE.
  return nativeCrc32c(buf, initial) >>> 0;
}
