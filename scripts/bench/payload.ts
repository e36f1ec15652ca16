/**
 * Record values. Every benchmark value is a JSON object whose serialised form is
 * exactly the stated size (100 B is `{"data":"xxxx…"}` of 100 bytes), produced with
 * valueFormat json, the API's default; Redis gets the same bytes as its field value.
 * MB/s everywhere counts these value bytes (10^6 bytes per MB), not HTTP framing.
 */

const OBJECT_OVERHEAD_BYTES = '{"data":""}'.length;

/** A JSON object of exactly `sizeBytes` bytes of UTF-8 (ASCII) text. */
export function jsonValueOfSize(sizeBytes: number): string {
  if (sizeBytes < OBJECT_OVERHEAD_BYTES) throw new Error(`a JSON value needs at least ${OBJECT_OVERHEAD_BYTES} bytes, got ${sizeBytes}`);
  const pad = 'abcdefghijklmnopqrstuvwxyz0123456789'.repeat(Math.ceil(sizeBytes / 36)).slice(0, sizeBytes - OBJECT_OVERHEAD_BYTES);
  const text = `{"data":"${pad}"}`;
  return text;
}

/**
 * A JSON object of exactly `sizeBytes` bytes that carries `sentAtMs` (a
 * performance.now() reading of this process) for end-to-end latency.
 */
export function timestampedValueOfSize(sentAtMs: number, sizeBytes: number): string {
  const head = `{"sentAtMs":${sentAtMs.toFixed(4)},"data":"`;
  const padLength = sizeBytes - head.length - 2;
  if (padLength < 0) throw new Error(`a timestamped value needs more than ${head.length + 2} bytes, got ${sizeBytes}`);
  return head + 'x'.repeat(padLength) + '"}';
}

export function sizeLabel(sizeBytes: number): string {
  return sizeBytes % 1024 === 0 ? `${sizeBytes / 1024} KiB` : `${sizeBytes} B`;
}
