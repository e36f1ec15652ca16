/**
 * Exit codes scripts can rely on (documented in the README's "Command line" section).
 */
export const exitCodes = {
  /** Done. */
  ok: 0,
  /** The node refused the request (an API error, printed as `runnel: <CODE>: <message>`), or the input was invalid. */
  refused: 1,
  /** The command line is wrong: unknown command or option, bad or missing value. */
  usage: 2,
  /** The node cannot be reached: nothing listening, connection refused or dropped, no answer in time. */
  unreachable: 3,
} as const;

/** A command line that parses but makes no sense (e.g. `--group` with `--partition`): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Input the CLI refuses before sending it (e.g. a line that is not JSON with --value-format json): exit 1. */
export class InputError extends Error {
  override name = 'InputError';

  constructor(readonly code: string, message: string) {
    super(message);
  }
}
