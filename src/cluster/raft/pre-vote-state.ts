/**
 * What a node tracks during one KIP-996 pre-vote round (Kafka's ProspectiveState): the
 * round's id, which the voters echo, and who granted. Made when the election timer
 * fires, dropped when the round wins (the node stands as a candidate), when the next
 * round starts, or when the node changes role or epoch, so a grant counts only in the
 * round that asked for it: an older round's answer may no longer hold (the voter has
 * since heard from a leader, or its log has grown).
 */
export class PreVoteState {
  readonly round: number;
  readonly #granted: Set<number>;

  constructor(round: number, nodeId: number) {
    this.round = round;
    // The node would vote for itself.
    this.#granted = new Set([nodeId]);
  }

  get grantedCount(): number {
    return this.#granted.size;
  }

  /** Counts a grant if it answers this round; returns whether it did. */
  granted(voterId: number, round: number | undefined): boolean {
    if (round !== this.round) return false;
    this.#granted.add(voterId);
    return true;
  }
}
