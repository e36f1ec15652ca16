/**
 * Paces the cleaner's reads and writes: after each bounded chunk of work it gives the
 * event loop back (setImmediate), and when the bytes moved so far run ahead of the
 * bytes/s limit it sleeps until they no longer do. So cleaning never holds up produce
 * or fetch for more than one chunk, and its disk bandwidth stays under the limit.
 */
export class CleaningAborted extends Error {
  constructor(reason: string) {
    super(`cleaning stopped: ${reason}`);
  }
}

export class IoPacer {
  private startMs = Date.now();
  private bytes = 0;
  /** Every byte read or written since the pacer was made (a metric). */
  totalBytes = 0;

  constructor(private readonly bytesPerSecond: number, private readonly abortReason: () => string | undefined) {}

  /** Starts a new pacing window (one per cleaning round). */
  reset(): void {
    this.startMs = Date.now();
    this.bytes = 0;
  }

  /** Counts `bytes` just moved, then yields (and sleeps when over the limit). Throws CleaningAborted when asked to stop. */
  async spend(bytes: number): Promise<void> {
    this.bytes += bytes;
    this.totalBytes += bytes;
    this.throwIfAborted();
    const waitMs = this.bytesPerSecond > 0 ? this.startMs + (this.bytes / this.bytesPerSecond) * 1000 - Date.now() : 0;
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 1000)));
    else await new Promise((resolve) => setImmediate(resolve));
    this.throwIfAborted();
  }

  throwIfAborted(): void {
    const reason = this.abortReason();
    if (reason !== undefined) throw new CleaningAborted(reason);
  }
}
