/**
 * The leader's view of its followers, driven with a hand-made clock: the high
 * watermark is the least logEndOffset over the (maximal) ISR and never moves back;
 * Kafka's catch-up rule; shrink after replica.lag.time.max.ms, or after a follower's
 * fetch silence (a dead or frozen one), but not for the leader's own pause; expansion once a
 * follower reaches the high watermark and the epoch start; KIP-497's maximal ISR while
 * a change is in flight, and one change at a time.
 */
import t from 'tap';
import { limits } from '../../../src/limits.js';
import { PartitionLeaderState, type LeaderStateInit } from '../../../src/cluster/replication/leader-state.js';

const LAG_MS = 10_000;

function leaderState(overrides: Partial<LeaderStateInit> = {}): PartitionLeaderState {
  return new PartitionLeaderState({
    leaderId: 1, leaderEpoch: 3, partitionEpoch: 7, replicas: [1, 2, 3], isr: [1, 2, 3],
    // The silence rule is off (as long as the lag) except where a test turns it on.
    leaderEpochStartOffset: 0, replicaLagTimeMaxMs: LAG_MS, followerFetchSilenceMaxMs: Number.POSITIVE_INFINITY, nowMs: 1_000, ...overrides,
  });
}

void t.test('the high watermark is the least logEndOffset over the ISR, the leader included, and never moves back', async (t) => {
  const state = leaderState();
  t.equal(state.highWatermarkFor(10, 0), 0, 'followers that have not fetched yet hold it where it is');
  state.updateFollowerFetch(2, 8, 10, 1_100);
  t.equal(state.highWatermarkFor(10, 0), 0, 'follower 3 still unknown');
  state.updateFollowerFetch(3, 6, 10, 1_100);
  t.equal(state.highWatermarkFor(10, 0), 6, 'min(10, 8, 6)');
  state.updateFollowerFetch(3, 10, 10, 1_200);
  t.equal(state.highWatermarkFor(10, 6), 8, 'min(10, 8, 10)');
  state.updateFollowerFetch(2, 12, 12, 1_300);
  t.equal(state.highWatermarkFor(12, 8), 10, 'the leader\'s own end counts too');
  t.equal(state.highWatermarkFor(12, 11), 11, 'never below the current high watermark');
  const alone = leaderState({ replicas: [1, 2], isr: [1] });
  alone.updateFollowerFetch(2, 0, 5, 1_100);
  t.equal(alone.highWatermarkFor(5, 0), 5, 'a follower outside the ISR does not hold it back');
});

void t.test('a follower is caught up at the leader\'s end now, or at the leader\'s end of its previous fetch (Replica.updateFetchState)', async (t) => {
  const state = leaderState({ nowMs: 0 });
  state.updateFollowerFetch(2, 5, 5, 100);
  t.equal(state.follower(2)?.lastCaughtUpMs, 100, 'fetchOffset >= leader end: caught up now');
  state.updateFollowerFetch(2, 5, 9, 200);
  t.equal(state.follower(2)?.lastCaughtUpMs, 100, 'behind the new end and only at the previous one: unchanged (it was caught up at 100)');
  state.updateFollowerFetch(2, 9, 12, 300);
  t.equal(state.follower(2)?.lastCaughtUpMs, 200, 'reached the leader end of its previous fetch (9): caught up as of that fetch (200)');
  state.updateFollowerFetch(2, 10, 20, 400);
  t.equal(state.follower(2)?.lastCaughtUpMs, 200, 'short of both ends: no progress');
  t.same({ ...state.follower(2) }, { replicaId: 2, logEndOffset: 10, lastCaughtUpMs: 200, lastFetchLeaderLogEndOffset: 20, lastFetchMs: 400, lastHeardMs: 400 });
  state.updateFollowerFetch(2, 20, 20, 350);
  t.equal(state.follower(2)?.lastCaughtUpMs, 350, 'moves with the clock');
  const fresh = leaderState({ replicas: [1, 2], isr: [1], nowMs: 0 });
  fresh.updateFollowerFetch(2, 0, 4, 50);
  t.equal(fresh.follower(2)?.lastCaughtUpMs, -1, 'a first fetch below the end has no previous fetch to count');
  fresh.updateFollowerFetch(99, 0, 4, 50);
  t.equal(fresh.follower(99), undefined, 'a node that is not a replica gets no state');
});

void t.test('an ISR follower that has not caught up for replica.lag.time.max.ms is shrunk out; the leader never is', async (t) => {
  const state = leaderState({ nowMs: 0 });
  state.updateFollowerFetch(2, 10, 10, 0);
  state.updateFollowerFetch(3, 10, 10, 0);
  t.equal(state.isrChangeToPropose(10, 10, LAG_MS), undefined, 'exactly at the lag limit: still in sync');
  state.updateFollowerFetch(2, 10, 10, 5_000);
  t.equal(state.isrChangeToPropose(10, 10, LAG_MS + 1), undefined, 'follower 3 stopped but the leader wrote nothing: at the leader\'s end counts as in sync');
  t.same(state.isrChangeToPropose(25, 10, LAG_MS + 1), { kind: 'shrink', isr: [1, 2], replicaIds: [3] },
    'follower 3 stopped at 10 while the log moved on: out after the lag');
  t.same(state.isrChangeToPropose(25, 10, 5_000 + LAG_MS + 1), { kind: 'shrink', isr: [1], replicaIds: [2, 3] },
    'both lagging: both out, the leader stays');
  const fresh = leaderState({ nowMs: 1_000 });
  t.equal(fresh.isrChangeToPropose(5, 0, 1_000 + LAG_MS), undefined, 'a new leader gives ISR members the lag time to fetch');
  t.same(fresh.isrChangeToPropose(5, 0, 1_001 + LAG_MS)?.isr, [1]);
});

void t.test('an ISR follower silent for followerFetchSilenceMaxMs is shrunk out even at the leader\'s end; the leader\'s own pause does not count', async (t) => {
  const SILENCE_MS = 1_500;
  const state = leaderState({ nowMs: 0, followerFetchSilenceMaxMs: SILENCE_MS });
  state.updateFollowerFetch(2, 10, 10, 0);
  state.updateFollowerFetch(3, 10, 10, 0);
  state.updateFollowerFetch(2, 10, 10, 1_000);
  t.equal(state.isrChangeToPropose(10, 10, SILENCE_MS), undefined, 'exactly at the silence limit: still in sync');
  t.same(state.isrChangeToPropose(10, 10, SILENCE_MS + 1), { kind: 'shrink', isr: [1, 2], replicaIds: [3] },
    'follower 3 sent nothing for longer: out, though nothing was written since (it would hold the next acks=all write back)');
  const paused = leaderState({ nowMs: 0, followerFetchSilenceMaxMs: SILENCE_MS });
  paused.updateFollowerFetch(2, 10, 10, 0);
  paused.updateFollowerFetch(3, 10, 10, 0);
  paused.forgivePause(5_000, 5_200);
  t.equal(paused.isrChangeToPropose(10, 10, 5_200), undefined, 'the leader did not run for 5 s: its followers\' fetches wait unread, nobody is shrunk');
  t.same(paused.isrChangeToPropose(10, 10, 6_501)?.replicaIds, [2, 3], 'silence after the pause counts again');
  const fresh = leaderState({ nowMs: 1_000, followerFetchSilenceMaxMs: SILENCE_MS });
  t.equal(fresh.isrChangeToPropose(0, 0, 1_000 + SILENCE_MS), undefined, 'a new leader gives ISR members the silence limit to fetch');
});

void t.test('a follower joins once it reaches the high watermark and the start of the leader\'s epoch, one at a time', async (t) => {
  const state = leaderState({ isr: [1], leaderEpochStartOffset: 8, nowMs: 0 });
  state.updateFollowerFetch(2, 5, 10, 10);
  state.updateFollowerFetch(3, 5, 10, 10);
  t.equal(state.isrChangeToPropose(10, 5, 20), undefined, 'at the high watermark but before the epoch start (8): not yet');
  state.updateFollowerFetch(2, 8, 10, 30);
  t.equal(state.isrChangeToPropose(10, 9, 40), undefined, 'at the epoch start but below the high watermark (9): not yet');
  state.updateFollowerFetch(3, 9, 10, 30);
  t.same(state.isrChangeToPropose(10, 9, 40), { kind: 'expand', isr: [1, 3], replicaIds: [3] });
  state.updateFollowerFetch(2, 10, 10, 50);
  t.same(state.isrChangeToPropose(10, 9, 60), { kind: 'expand', isr: [1, 2], replicaIds: [2] }, 'the first eligible replica in replicas order');
});

void t.test('a follower that stopped fetching is not proposed for the ISR, though its old end offset reaches the high watermark', async (t) => {
  const state = leaderState({ isr: [1], nowMs: 0 });
  state.updateFollowerFetch(2, 10, 10, 100);
  t.same(state.isrChangeToPropose(10, 10, 200), { kind: 'expand', isr: [1, 2], replicaIds: [2] }, 'fetching now: it joins');
  const quiet = leaderState({ isr: [1], nowMs: 0 });
  quiet.updateFollowerFetch(2, 10, 10, 100);
  t.equal(quiet.isrChangeToPropose(10, 10, 100 + 5_000), undefined, 'silent for 5 s (a dead node, fenced out of the ISR): not proposed');
});

void t.test('while an expansion is in flight the maximal ISR counts the joining follower, and nothing else is proposed', async (t) => {
  const state = leaderState({ isr: [1, 2], nowMs: 0 });
  state.updateFollowerFetch(2, 20, 20, 10);
  state.updateFollowerFetch(3, 12, 20, 10);
  t.equal(state.highWatermarkFor(20, 12), 20, 'before: follower 3 is outside the ISR');
  const change = state.isrChangeToPropose(20, 12, 20);
  t.same(change, { kind: 'expand', isr: [1, 2, 3], replicaIds: [3] });
  const id = state.beginIsrChange(change!);
  t.ok(state.isIsrChangeInFlight);
  t.same(state.isr, [1, 2], 'the committed ISR is unchanged until metadata says so');
  t.same(state.maximalIsr, [1, 2, 3]);
  t.equal(state.highWatermarkFor(25, 12), 12, 'the high watermark waits for the joining member (KIP-497)');
  t.equal(state.isrChangeToPropose(25, 12, LAG_MS * 5), undefined, 'one change at a time, even with follower 2 lagging');
  t.throws(() => state.beginIsrChange({ kind: 'shrink', isr: [1], replicaIds: [2] }), { name: 'InvariantError' });
  state.commitIsrChange(id, 30);
  t.same(state.maximalIsr, [1, 2, 3], 'committed but not yet in metadata: still counted');
  state.applyMetadata({ partitionEpoch: 8, replicas: [1, 2, 3], isr: [1, 2, 3] }, 40);
  t.notOk(state.isIsrChangeInFlight, 'the new partitionEpoch ends it');
  t.same(state.isr, [1, 2, 3]);
  t.equal(state.partitionEpoch, 8);
  state.applyMetadata({ partitionEpoch: 7, replicas: [1, 2, 3], isr: [1, 2] }, 50);
  t.same(state.isr, [1, 2, 3], 'older metadata is ignored');
});

void t.test('a shrink in flight keeps the leaving member in the maximal ISR', async (t) => {
  const state = leaderState({ nowMs: 0 });
  state.updateFollowerFetch(2, 30, 30, 0);
  state.updateFollowerFetch(3, 10, 10, 0);
  const change = state.isrChangeToPropose(30, 10, LAG_MS + 1)!;
  t.same(change.isr, [1, 2]);
  state.beginIsrChange(change);
  t.same(state.maximalIsr, [1, 2, 3]);
  t.equal(state.highWatermarkFor(30, 10), 10, 'still held by follower 3 until the shrink is committed');
  state.applyMetadata({ partitionEpoch: 8, replicas: [1, 2, 3], isr: [1, 2] }, LAG_MS + 2);
  t.equal(state.highWatermarkFor(30, 10), 30);
});

void t.test('a refused change is dropped and proposed again after a pause; a stale answer is ignored', async (t) => {
  const state = leaderState({ isr: [1], nowMs: 0 });
  state.updateFollowerFetch(2, 5, 5, 10);
  const first = state.beginIsrChange(state.isrChangeToPropose(5, 5, 10)!);
  state.failIsrChange(first, 20);
  t.same(state.maximalIsr, [1]);
  t.equal(state.isrChangeToPropose(5, 5, 20 + limits.isrChangeRetryBackoffMs - 1), undefined, 'not during the pause');
  const change = state.isrChangeToPropose(5, 5, 20 + limits.isrChangeRetryBackoffMs);
  t.same(change?.isr, [1, 2]);
  const second = state.beginIsrChange(change!);
  state.failIsrChange(first, 500);
  t.ok(state.isIsrChangeInFlight, 'the answer to an earlier change does not end the current one');
  state.commitIsrChange(second, 600);
  t.equal(state.isrChangeToPropose(5, 5, 600 + LAG_MS), undefined, 'committed, waiting for metadata');
  t.ok(state.isIsrChangeInFlight);
  state.isrChangeToPropose(5, 5, 601 + LAG_MS);
  t.notOk(state.isIsrChangeInFlight, 'metadata that never came: the commit expires after the lag time');
});

void t.test('metadata that removes a replica drops its state; one that adds a replica to the ISR counts it as caught up now', async (t) => {
  const state = leaderState({ replicas: [1, 2], isr: [1, 2], nowMs: 0 });
  state.updateFollowerFetch(2, 3, 3, 5);
  state.applyMetadata({ partitionEpoch: 8, replicas: [1, 3], isr: [1, 3] }, 100);
  t.same(state.followerStates().map((f) => f.replicaId), [3]);
  t.equal(state.follower(3)?.lastCaughtUpMs, 100);
  t.throws(() => leaderState({ isr: [2, 3] }), { name: 'InvariantError', message: /leader 1 is not in its ISR/ });
});
