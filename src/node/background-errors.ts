/**
 * Where failures of the node's background loops go (the metadata quorum's run loop,
 * the controller, follower fetchers, the log manager's retention, flush and checkpoint
 * timers, the offsets applier, group expiry). Two kinds, never mixed (TIGER_STYLE):
 *
 * - an ordinary failure (an I/O error, a peer that does not answer, a damaged batch)
 *   is logged and the loop retries on its next turn, as before;
 * - an InvariantError is a bug: the loop must not carry on over state it no longer
 *   understands. It gets one fatal line naming the loop, and the node stops through
 *   the same hook a broken invariant on the request path uses (`runnel serve` exits 70).
 */
import { InvariantError } from '../util/assert.js';

export type BackgroundErrorHandler = (error: unknown, context: string) => void;

/** The logger part this needs (the app's pino logger, once it exists). */
export interface FatalLog {
  fatal(object: object, message: string): void;
}

/**
 * Wraps `report` (the retry-and-log path) so an InvariantError is logged as fatal and
 * handed to `onInvariantBroken` instead. Only the first one is: the process is stopping.
 */
export function stopOnInvariantBroken(
  log: () => FatalLog | undefined,
  onInvariantBroken: (error: InvariantError) => void,
  report: BackgroundErrorHandler,
): BackgroundErrorHandler {
  let isStopping = false;
  return (error, context) => {
    if (!(error instanceof InvariantError)) {
      report(error, context);
      return;
    }
    if (isStopping) return;
    isStopping = true;
    log()?.fatal({ err: error, context }, `invariant broken in background ${context}; stopping`);
    onInvariantBroken(error);
  };
}

/**
 * Without a process to stop (a node embedded in tests or tools): the error is thrown
 * outside every catch, which ends the process as an uncaught exception would.
 */
export function throwOutsideTheLoop(error: InvariantError): void {
  setImmediate(() => {
    throw error;
  });
}
