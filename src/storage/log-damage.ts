/**
 * Damage found in a segment file: a stored batch that fails its CRC, whose framing
 * (length, header) cannot be right, or whose offsets do not continue the batch before.
 * Found by a read, it is an I/O fault, not a bug: the partition log refuses to serve
 * that batch (and to append, since the next start's recovery cuts the log there) and
 * asks for a full recovery scan at the next start; every other partition is untouched.
 * Found by recovery, it is where the log is truncated.
 *
 * Storage knows nothing of loggers: what it found is handed to an `onWarning`
 * callback as a sentence plus fields, and the node writes one warn line.
 */
import path from 'node:path';
import { RunnelError } from '../errors.js';
import { validateBatch, validateStoredBatch } from '../record/validate.js';
import { readBatchHeader } from '../record/header.js';

/** A read met a damaged batch: where it is, as precisely as the bytes allow. */
export class LogDamageError extends Error {
  override name = 'LogDamageError';

  constructor(
    /** Path of the segment's .log file. */
    readonly segmentPath: string,
    /** Byte position of the damaged batch in that file. */
    readonly position: number,
    /** The offset the damaged batch holds (the first one when several). */
    readonly offset: number,
    /** Base offset of the segment: recovery must start there. */
    readonly segmentBaseOffset: number,
    readonly problem: string,
  ) {
    super(`segment ${segmentPath}: the batch at byte position ${position} (offset ${offset}) is damaged: ${problem}`);
  }
}

/** Something storage found wrong with its files, for one warn line. */
export interface StorageWarning {
  message: string;
  details: Record<string, unknown>;
}

/**
 * Checks the whole batches in `buffer`, read from `segmentPath` at byte `filePosition`
 * for a reader that asked for `startOffset`: each batch must validate (header, length,
 * CRC), the first must hold `startOffset` and every next one must continue the offsets
 * of the one before; with `allowsGaps` (a compacted log) the first must end at or after
 * `startOffset` and every next one start after the one before. Returns the length of the sound batches before the first one that
 * does not, so a reader gets everything before the damage; throws LogDamageError when
 * the very first batch is damaged (the read that starts there).
 */
export function checkReadBatches(buffer: Buffer, segmentPath: string, segmentBaseOffset: number, filePosition: number, startOffset: number, allowsGaps = false): number {
  const validate = allowsGaps ? validateStoredBatch : validateBatch;
  let position = 0;
  let expectedBaseOffset: number | undefined;
  while (position < buffer.length) {
    const isFirst = expectedBaseOffset === undefined;
    let problem = validate(buffer, position, expectedBaseOffset);
    const header = problem === null ? readBatchHeader(buffer, position) : undefined;
    if (header !== undefined && isFirst && ((!allowsGaps && header.baseOffset > startOffset) || header.lastOffset < startOffset || header.baseOffset < segmentBaseOffset)) {
      problem = `the batch found for offset ${startOffset} holds offsets ${header.baseOffset}..${header.lastOffset}`;
    }
    if (problem !== null || header === undefined) {
      if (!isFirst) return position;
      throw new LogDamageError(segmentPath, filePosition + position, startOffset, segmentBaseOffset, problem ?? 'unreadable header');
    }
    expectedBaseOffset = header.lastOffset + 1;
    position += header.sizeBytes;
  }
  return position;
}

/** The damage reads found in one log: each batch counted once, and the lowest damaged segment, where the next recovery begins. */
export class FoundDamage {
  count = 0;
  recoverFrom: number | undefined;
  private readonly positions = new Set<string>();

  /** True the first time this batch is reported. */
  add(damage: LogDamageError): boolean {
    const key = `${damage.segmentPath}:${damage.position}`;
    if (this.positions.has(key)) return false;
    this.positions.add(key);
    this.count += 1;
    this.recoverFrom = Math.min(this.recoverFrom ?? Number.MAX_SAFE_INTEGER, damage.segmentBaseOffset);
    return true;
  }
}

export function damageWarning(damage: LogDamageError, recoverFrom: number): StorageWarning {
  const segment = path.basename(damage.segmentPath);
  return {
    message: `damaged batch in segment ${segment} at byte position ${damage.position} (offset ${damage.offset}): ${damage.problem}; ` +
      `it is not served, appends are refused, and the next start recovers the log from offset ${recoverFrom}`,
    details: { segment, position: damage.position, offset: damage.offset, problem: damage.problem },
  };
}

export function corruptLogError(logName: string, damage: LogDamageError): RunnelError {
  const segment = path.basename(damage.segmentPath);
  return new RunnelError('CORRUPT_LOG',
    `log ${logName}: the stored batch at offset ${damage.offset} (segment ${segment}, byte position ${damage.position}) is damaged ` +
    `and is not served: ${damage.problem}. The node re-validates this partition and truncates it there at its next start.`,
    { offset: damage.offset, segment });
}
