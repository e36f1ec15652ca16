/**
 * NodeLiveness: when the active controller last heard from each node (KIP-631's broker
 * heartbeats), to fence the ones silent longer than the session timeout. It lives only
 * in the active controller's memory: a new controller starts every registered node
 * with a full session (`reset`), because it cannot know when the old one last heard
 * from them, and fencing them all at once would take every partition offline.
 */
export class NodeLiveness {
  readonly #lastHeartbeatMs = new Map<number, number>();
  #activatedAtMs: number | null = null;

  constructor(readonly sessionTimeoutMs: number) {}

  get isActivated(): boolean {
    return this.#activatedAtMs !== null;
  }

  /** Every node starts a full session at nowMs (a new active controller's grace period). */
  reset(nodeIds: Iterable<number>, nowMs: number): void {
    this.#activatedAtMs = nowMs;
    this.#lastHeartbeatMs.clear();
    for (const nodeId of nodeIds) this.#lastHeartbeatMs.set(nodeId, nowMs);
  }

  recordHeartbeat(nodeId: number, nowMs: number): void {
    // A heartbeat handled late must not move the session backwards.
    this.#lastHeartbeatMs.set(nodeId, Math.max(nowMs, this.#lastHeartbeatMs.get(nodeId) ?? nowMs));
  }

  /** Heard from within the session timeout (a node never heard from counts from activation). */
  hasSession(nodeId: number, nowMs: number): boolean {
    const lastMs = this.#lastHeartbeatMs.get(nodeId) ?? this.#activatedAtMs ?? nowMs;
    return nowMs - lastMs <= this.sessionTimeoutMs;
  }
}
