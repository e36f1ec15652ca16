/**
 * What a follower of one epoch tracks (KIP-595's FollowerState): its leader, and the
 * one fetch (or snapshot fetch) it has in flight. Only an answer to that fetch is
 * acted on: answers to older fetches, duplicated or delayed by the network, would
 * apply entries or truncations computed for a log this follower no longer has.
 */
import type { FetchResponse, FetchSnapshotResponse, SnapshotId } from './types.js';

interface FetchInFlight {
  fetchOffset: number;
  lastFetchedEpoch: number;
  sentAtMs: number;
}

interface SnapshotFetchInFlight {
  snapshotId: SnapshotId;
  sentAtMs: number;
}

export class FollowerState {
  readonly leaderId: number;
  #fetch: FetchInFlight | null = null;
  #snapshotFetch: SnapshotFetchInFlight | null = null;

  constructor(leaderId: number) {
    this.leaderId = leaderId;
  }

  get snapshotIdInFlight(): SnapshotId | null {
    return this.#snapshotFetch === null ? null : this.#snapshotFetch.snapshotId;
  }

  fetchSent(fetchOffset: number, lastFetchedEpoch: number, nowMs: number): void {
    this.#fetch = { fetchOffset, lastFetchedEpoch, sentAtMs: nowMs };
    this.#snapshotFetch = null;
  }

  snapshotFetchSent(snapshotId: SnapshotId, nowMs: number): void {
    this.#snapshotFetch = { snapshotId, sentAtMs: nowMs };
    this.#fetch = null;
  }

  /** Messages can be lost: is nothing in flight, or has the answer been due for retryMs? */
  isFetchDue(nowMs: number, retryMs: number): boolean {
    const sentAtMs = this.#snapshotFetch?.sentAtMs ?? this.#fetch?.sentAtMs ?? null;
    return sentAtMs === null || nowMs - sentAtMs >= retryMs;
  }

  /**
   * Is this the answer to the fetch in flight, sent from the log as it still is? The
   * leader echoes lastFetchedEpoch: two fetches of one epoch may share a fetchOffset
   * (before and after a truncation) and only the echo tells their answers apart.
   */
  isAnswerToFetch(response: FetchResponse, logEndOffset: number, lastEpoch: number): boolean {
    const fetch = this.#fetch;
    return fetch !== null && response.from === this.leaderId
      && response.fetchOffset === fetch.fetchOffset && fetch.fetchOffset === logEndOffset && fetch.lastFetchedEpoch === lastEpoch
      && (response.lastFetchedEpoch === undefined || response.lastFetchedEpoch === fetch.lastFetchedEpoch);
  }

  isAnswerToSnapshotFetch(response: FetchSnapshotResponse): boolean {
    const snapshotFetch = this.#snapshotFetch;
    if (snapshotFetch === null || response.from !== this.leaderId) return false;
    const snapshot = response.snapshot;
    return snapshot === undefined
      || (snapshot.id.endOffset === snapshotFetch.snapshotId.endOffset && snapshot.id.epoch === snapshotFetch.snapshotId.epoch);
  }

  /** The answer came: nothing is in flight until the next fetch. */
  answered(): void {
    this.#fetch = null;
    this.#snapshotFetch = null;
  }

  /** The leader refused (it resigned): keep the fetch as in flight so it is retried after retryMs. */
  refused(nowMs: number): void {
    if (this.#fetch !== null) this.#fetch.sentAtMs = nowMs;
  }
}
