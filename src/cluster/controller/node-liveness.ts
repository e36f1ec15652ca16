/**
 * NodeLiveness: when the active controller last heard from each node (KIP-631's broker
 * heartbeats), to fence the ones silent longer than the session timeout. It lives only
 * in the active controller's memory: a new controller starts every registered node
 * with a full session (`reset`), because it cannot know when the old one last heard
 * from them, and fencing them all at once would take every partition offline. The one
 * exception is the node that led the metadata quorum before: the election happened
 * because it went silent, so its session counts from the last time this node heard
 * from it (else a dead controller's partitions would wait an election plus a session).
 */
export interface LastContact {
  nodeId: number;
  atMs: number;
}

export class NodeLiveness {
  readonly #lastHeartbeatMs = new Map<number, number>();
  #activatedAtMs: number | null = null;

  constructor(readonly sessionTimeoutMs: number) {}

  get isActivated(): boolean {
    return this.#activatedAtMs !== null;
  }

  /**
   * Every node starts a full session at nowMs (a new active controller's grace period),
   * except `previousLeader`, whose session started when it was last heard from.
   */
  reset(nodeIds: Iterable<number>, nowMs: number, previousLeader?: LastContact): void {
    this.#activatedAtMs = nowMs;
    this.#lastHeartbeatMs.clear();
    for (const nodeId of nodeIds) this.#lastHeartbeatMs.set(nodeId, nowMs);
    if (previousLeader !== undefined && this.#lastHeartbeatMs.has(previousLeader.nodeId)) {
      this.#lastHeartbeatMs.set(previousLeader.nodeId, Math.min(nowMs, previousLeader.atMs));
    }
  }

  recordHeartbeat(nodeId: number, nowMs: number): void {
    // A heartbeat handled late must not move the session backwards.
    this.#lastHeartbeatMs.set(nodeId, Math.max(nowMs, this.#lastHeartbeatMs.get(nodeId) ?? nowMs));
  }

  /**
   * The controller itself could not listen for `pauseMs` (its event loop stalled, its
   * process was stopped): heartbeats sent meanwhile are still queued, so that time does
   * not count against anyone's session.
   */
  forgivePause(pauseMs: number, nowMs: number): void {
    for (const [nodeId, lastMs] of this.#lastHeartbeatMs) this.#lastHeartbeatMs.set(nodeId, Math.min(nowMs, lastMs + pauseMs));
  }

  /** Heard from within the session timeout (a node never heard from counts from activation). */
  hasSession(nodeId: number, nowMs: number): boolean {
    const lastMs = this.#lastHeartbeatMs.get(nodeId) ?? this.#activatedAtMs ?? nowMs;
    return nowMs - lastMs <= this.sessionTimeoutMs;
  }
}
