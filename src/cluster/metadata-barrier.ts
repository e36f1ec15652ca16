/**
 * Read-your-writes for metadata across nodes. A topic created through one node is known
 * to the others a moment later, when their copy of the metadata log has applied the
 * create. A request naming a topic this node does not know may be one of those moments:
 * before answering TOPIC_NOT_FOUND the node asks the controller for its high watermark
 * (Raft's read index: every decision answered so far lies below it) and waits until it
 * has applied that far.
 *
 * One barrier runs at a time per node. A caller joins the next one to start after its
 * call (one that began earlier may have asked before the caller's topic existed), so
 * however many requests name unknown topics, the controller sees at most one barrier
 * per round trip from this node, and each waits at most timeoutMs.
 */
export class MetadataBarrier {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  /** `ask`: one barrier round trip (rejects or resolves; either way it is over). */
  constructor(private readonly ask: () => Promise<unknown>) {}

  /** Resolves once this node applied every metadata decision made before the call, or the barrier gave up. */
  sync(): Promise<void> {
    if (this.next !== undefined) return this.next;
    if (this.running === undefined) return this.start();
    this.next = this.running.then(() => {
      this.next = undefined;
      return this.start();
    });
    return this.next;
  }

  private start(): Promise<void> {
    const run: Promise<void> = this.ask().then(() => undefined, () => undefined).finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
