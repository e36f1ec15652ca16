/**
 * ControllerChannel: how any node asks the active controller to do something (create a
 * topic, record a heartbeat, change an ISR). The request goes to the metadata quorum's
 * leader — this node itself, or a peer over POST /internal/v1/controller/<operation> —
 * and is retried on NOT_CONTROLLER and network errors until a deadline, as a controller
 * election takes a moment. The answer carries the metadata offset that holds the
 * decision; the caller may wait until its own image has applied it (read your writes).
 */
import { RunnelError } from '../errors.js';
import { InvariantError } from '../util/assert.js';
import { limits } from '../limits.js';
import { PeerRequestError, runnelErrorFromPeer, type PeerClient } from './peer-client.js';

export type ControllerOperation = 'heartbeat' | 'create-topic' | 'alter-topic' | 'delete-topic' | 'alter-partition' | 'controlled-shutdown' | 'allocate-producer-ids'
  | 'create-api-key' | 'delete-api-key' | 'metadata-barrier';

export interface ControllerAnswer {
  /** Every record of the decision is below this metadata offset (0: nothing was written). */
  appliedOffset: number;
  /** allocate-producer-ids: the block given to the node, ids firstProducerId .. firstProducerId + producerIdCount - 1. */
  firstProducerId?: number;
  producerIdCount?: number;
}

export interface ControllerChannelOptions {
  nodeId: number;
  peers: PeerClient;
  /** The quorum's current leader (the active controller), or null while there is none. */
  leaderId: () => number | null;
  /** Runs an operation on this node's controller (throws NOT_CONTROLLER when it is not active). */
  local: (operation: ControllerOperation, body: unknown) => Promise<ControllerAnswer>;
  /** This node's applied metadata offset. */
  appliedOffset: () => number;
  /** Resolves when appliedOffset reaches `offset` (or the signal aborts). */
  waitForApplied: (offset: number, timeoutMs: number) => Promise<boolean>;
}

export class ControllerChannel {
  private isClosed = false;

  constructor(private readonly options: ControllerChannelOptions) {}

  /**
   * Sends `operation` to the active controller, retrying until `timeoutMs`; with
   * `isReadYourWrites`, also waits until this node has applied the decision.
   */
  async request(operation: ControllerOperation, body: unknown, timeoutMs: number, isReadYourWrites = true): Promise<ControllerAnswer> {
    const deadline = Date.now() + timeoutMs;
    let lastProblem = 'no controller is elected yet';
    while (!this.isClosed) {
      const leaderId = this.options.leaderId();
      try {
        let answer: ControllerAnswer | undefined;
        if (leaderId === this.options.nodeId) {
          answer = await this.options.local(operation, body);
        } else if (leaderId !== null) {
          answer = await this.options.peers.post<ControllerAnswer>(leaderId, `/internal/v1/controller/${operation}`, body, Math.max(100, deadline - Date.now()));
        }
        if (answer !== undefined) {
          if (isReadYourWrites && answer.appliedOffset > this.options.appliedOffset()) {
            await this.options.waitForApplied(answer.appliedOffset, Math.max(0, deadline - Date.now()));
          }
          return answer;
        }
      } catch (error) {
        if (!isRetriable(error)) throw runnelErrorFromPeer(error) ?? error;
        lastProblem = (error as Error).message;
      }
      if (Date.now() + limits.controllerRetryDelayMs > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, limits.controllerRetryDelayMs));
    }
    throw new RunnelError('NOT_CONTROLLER', `the cluster's controller did not answer in ${timeoutMs} ms (${lastProblem}); retry shortly`, { controllerId: this.options.leaderId() });
  }

  close(): void {
    this.isClosed = true;
  }
}

function isRetriable(error: unknown): boolean {
  // A broken invariant in this node's own controller is a bug, not a peer that went away.
  if (error instanceof InvariantError) return false;
  if (error instanceof RunnelError) return error.code === 'NOT_CONTROLLER';
  if (error instanceof PeerRequestError) {
    const code = (error.body as { error?: { code?: string } } | undefined)?.error?.code;
    return error.status === 0 || code === 'NOT_CONTROLLER' || code === 'NOT_READY' || code === 'OVERLOADED' || error.status >= 500 && code === undefined;
  }
  // Network failures, timeouts, a peer that went away.
  return true;
}
