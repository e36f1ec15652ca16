/**
 * AppendNotifier: wakes long-polls and streams waiting on one partition when its high
 * watermark moves. No polling loop: a waiter is a promise resolved by notify(), or by
 * its own deadline, or by its abort signal (client gone, node stopping).
 *
 * The number of waiters is bounded (limits.waitersPerPartitionMax); past it, wait()
 * refuses with TOO_MANY_WAITERS instead of growing memory.
 */
import { RunnelError } from '../errors.js';

type Wake = (isNotified: boolean) => void;

export class AppendNotifier {
  private waiters = new Set<Wake>();

  constructor(private readonly waitersMax: number) {}

  get waiterCount(): number {
    return this.waiters.size;
  }

  /** Resolves true when notified, false at the deadline or when `signal` aborts. */
  wait(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted || timeoutMs <= 0) return Promise.resolve(false);
    if (this.waiters.size >= this.waitersMax) {
      return Promise.reject(new RunnelError('TOO_MANY_WAITERS', `more than ${this.waitersMax} readers are waiting on this partition`));
    }
    return new Promise((resolve) => {
      const finish: Wake = (isNotified) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(finish);
        resolve(isNotified);
      };
      const onAbort = (): void => finish(false);
      const timer = setTimeout(finish, timeoutMs, false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(finish);
    });
  }

  /** Wakes every current waiter. */
  notify(): void {
    if (this.waiters.size === 0) return;
    const woken = this.waiters;
    this.waiters = new Set();
    for (const wake of woken) wake(true);
  }
}
