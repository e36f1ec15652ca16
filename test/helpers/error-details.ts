/**
 * The fields an error body carries besides code and message, per code, as the README's
 * Errors section documents them: `always` in every answer with that code, `sometimes`
 * only where they apply (the full node's id of TOO_MANY_PARTITIONS exists in a cluster).
 */
import type { ErrorCode } from '../../src/api/error-codes.js';

export interface ErrorDetails {
  always: string[];
  sometimes?: string[];
}

export const ERROR_DETAILS: Partial<Record<ErrorCode, ErrorDetails>> = {
  OFFSET_OUT_OF_RANGE: { always: ['highWatermark', 'logStartOffset'] },
  NOT_LEADER: { always: [], sometimes: ['leaderId', 'leaderUrl', 'leaderEpoch'] },
  NOT_CONTROLLER: { always: ['controllerId'] },
  NOT_ENOUGH_REPLICAS: { always: ['insyncReplicas', 'minInsyncReplicas'] },
  TOO_MANY_PARTITIONS: { always: ['partitions', 'partitionsMax'], sometimes: ['nodeId'] },
  CORRUPT_LOG: { always: [], sometimes: ['offset', 'segment'] },
};

/** Why the fields of an error body with `code` are not the documented ones, or undefined. */
export function detailProblem(code: ErrorCode, fields: string[]): string | undefined {
  const details = ERROR_DETAILS[code] ?? { always: [] };
  const allowed = new Set(['code', 'message', ...details.always, ...(details.sometimes ?? [])]);
  const undocumented = fields.filter((field) => !allowed.has(field));
  if (undocumented.length > 0) return `undocumented fields ${JSON.stringify(undocumented)} for ${code}`;
  const missing = ['code', 'message', ...details.always].filter((field) => !fields.includes(field));
  if (missing.length > 0) return `missing fields ${JSON.stringify(missing)} for ${code}`;
  return undefined;
}
