/**
 * Unit scenarios of src/cluster/raft/raft-core.ts, the metadata quorum's Raft in
 * KRaft's pull style (KIP-595): elections, commits, vote refusals, pre-votes (KIP-996),
 * divergence, snapshot installs, check quorum and NotLeaderError. A small in-test network delivers
 * messages in order and can cut nodes off; the seeded simulation covers the rest.
 */
import t from 'tap';
import { RaftCore } from '../../../src/cluster/raft/raft-core.js';
import {
  NotLeaderError, type LogEntry, type RaftEffects, type RaftMessage, type RaftOptions, type RaftStartState,
} from '../../../src/cluster/raft/types.js';

const electionTimeoutMs = 1000;
const fetchTimeoutMs = 1500;
const fetchMaxWaitMs = 200;

function options(nodeId: number, voters: number[], random: number): RaftOptions {
  return { nodeId, voters, electionTimeoutMs, fetchTimeoutMs, fetchMaxWaitMs, fetchEntriesMax: 3, random: () => random };
}

function emptyStart(): RaftStartState {
  return { persisted: { epoch: 0, votedFor: null }, entries: [], snapshot: null };
}

function entry(offset: number, epoch: number, data = `e${epoch}o${offset}`): LogEntry {
  return { offset, epoch, data };
}

/**
 * Nodes and an in-order network; `isolated` nodes neither send nor receive; `stalled`
 * nodes (an event loop stuck in a long task) are not ticked and their messages wait
 * for resume().
 */
class Cluster {
  readonly nodes = new Map<number, RaftCore>();
  readonly effects = new Map<number, RaftEffects[]>();
  readonly isolated = new Set<number>();
  readonly stalled = new Set<number>();
  queue: RaftMessage[] = [];
  waiting: RaftMessage[] = [];
  nowMs = 0;

  constructor(voters: number[], starts: Record<number, RaftStartState> = {}, randoms: Record<number, number> = {}) {
    for (const id of voters) {
      this.nodes.set(id, new RaftCore(options(id, voters, randoms[id] ?? 0.5), starts[id] ?? emptyStart(), 0));
      this.effects.set(id, []);
    }
  }

  node(id: number): RaftCore {
    return this.nodes.get(id)!;
  }

  record(id: number, effects: RaftEffects): RaftEffects {
    this.effects.get(id)!.push(effects);
    if (!this.isolated.has(id)) this.queue.push(...effects.messages);
    return effects;
  }

  /** Delivers until the network is quiet (held fetches stay parked until a tick expires them). */
  deliver(): void {
    for (let count = 0; this.queue.length > 0; count++) {
      if (count > 10_000) throw new Error('the network never went quiet');
      const message = this.queue.shift()!;
      if (this.isolated.has(message.to)) continue;
      if (this.stalled.has(message.to)) {
        this.waiting.push(message);
        continue;
      }
      this.record(message.to, this.node(message.to).receive(message, this.nowMs));
    }
  }

  /** Advances the clock in steps of 50 ms, ticking every node and delivering in between. */
  run(durationMs: number): void {
    const endMs = this.nowMs + durationMs;
    while (this.nowMs < endMs) {
      this.nowMs += 50;
      for (const [id, node] of this.nodes) {
        if (!this.stalled.has(id)) this.record(id, node.tick(this.nowMs));
      }
      this.deliver();
    }
  }

  /** The stalled node runs again: its timer first (Node's timers phase), then the messages that waited. */
  resume(id: number): void {
    this.stalled.delete(id);
    this.record(id, this.node(id).tick(this.nowMs));
    const waiting = this.waiting.filter((message) => message.to === id);
    this.waiting = this.waiting.filter((message) => message.to !== id);
    this.queue.unshift(...waiting);
    this.deliver();
  }

  epochs(): number[] {
    return [...this.nodes.values()].map((node) => node.status().epoch);
  }

  sent(id: number, fromIndex = 0): RaftMessage[] {
    return this.allEffects(id).slice(fromIndex).flatMap((effects) => effects.messages);
  }

  persisted(id: number, fromIndex = 0): RaftEffects['persistState'][] {
    return this.allEffects(id).slice(fromIndex).map((effects) => effects.persistState).filter((state) => state !== undefined);
  }

  leaders(): number[] {
    return [...this.nodes.values()].filter((node) => node.status().role === 'leader').map((node) => node.status().nodeId);
  }

  propose(id: number, data: string[]): number[] {
    const { effects, offsets } = this.node(id).propose(data, this.nowMs);
    this.record(id, effects);
    return offsets;
  }

  allEffects(id: number): RaftEffects[] {
    return this.effects.get(id)!;
  }
}

void t.test('a single voter elects itself at once and commits a proposal', async (t) => {
  const core = new RaftCore(options(1, [1], 0.3), emptyStart(), 0);
  t.equal(core.status().role, 'unattached');
  const elected = core.tick(0);
  t.same(elected.persistState, { epoch: 1, votedFor: 1 }, 'the vote for itself is persisted');
  t.same(elected.messages, [], 'it needs nobody\'s pre-vote or vote');
  t.equal(core.status().role, 'leader');
  t.same(elected.append, [{ offset: 0, epoch: 1, data: '', isControl: true }], 'the epoch starts with a control entry');
  t.equal(elected.highWatermark, 1, 'a lone voter commits what it appends');
  t.ok(core.isLeaderReady);
  const { effects, offsets } = core.propose(['a', 'b'], 1);
  t.same(offsets, [1, 2]);
  t.equal(effects.highWatermark, 3);
  t.same(core.entries(1, 10).map((e) => e.data), ['a', 'b']);
  t.equal(core.status().highWatermark, 3);
});

void t.test('three voters elect one leader, which commits a proposal on every voter', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.9, 3: 0.9 });
  cluster.run(1000);
  t.same(cluster.leaders(), [1], 'the voter whose timeout fires first wins');
  t.equal(cluster.node(2).status().leaderId, 1);
  t.equal(cluster.node(3).status().role, 'follower');
  t.ok(cluster.node(1).isLeaderReady, 'the control entry commits once a follower fetched it');
  t.same(cluster.propose(1, ['x']), [1]);
  cluster.deliver();
  t.equal(cluster.node(1).status().highWatermark, 2, 'a parked fetch answers at once and the next fetch commits');
  cluster.run(300);
  for (const id of [1, 2, 3]) {
    t.same(cluster.node(id).entries(0, 2).map((e) => e.data), ['', 'x'], `node ${id} has the committed entries`);
    t.equal(cluster.node(id).status().epoch, 1);
  }
  t.same(cluster.node(1).status().voterEndOffsets, { 1: 2, 2: 2, 3: 2 });
});

void t.test('a vote is refused to a candidate whose log is older or shorter, and granted once per epoch', async (t) => {
  const start: RaftStartState = { persisted: { epoch: 2, votedFor: null }, entries: [entry(0, 1), entry(1, 2)], snapshot: null };
  const voter = new RaftCore(options(1, [1, 2, 3, 4, 5], 0.5), start, 0);
  const vote = (from: number, epoch: number, lastEpoch: number, logEndOffset: number): RaftEffects =>
    voter.receive({ type: 'vote-request', from, to: 1, epoch, lastEpoch, logEndOffset }, 10);

  const older = vote(2, 3, 1, 5);
  t.same(older.persistState, { epoch: 3, votedFor: null }, 'the newer epoch is adopted even when the vote is refused');
  t.match(older.messages, [{ type: 'vote-response', to: 2, epoch: 3, isGranted: false }], 'last epoch 1 < 2: refused');
  t.match(vote(3, 3, 2, 1).messages, [{ isGranted: false }], 'same last epoch, shorter log: refused');
  const granted = vote(4, 3, 2, 2);
  t.match(granted.messages, [{ type: 'vote-response', to: 4, isGranted: true }], 'as up to date: granted');
  t.same(granted.persistState, { epoch: 3, votedFor: 4 }, 'the vote is persisted with the answer');
  t.match(vote(5, 3, 9, 9).messages, [{ isGranted: false }], 'one vote per epoch');
  t.match(vote(4, 3, 2, 2).messages, [{ isGranted: true }], 'a duplicated request gets the same answer');
  t.match(vote(2, 2, 9, 9).messages, [{ epoch: 3, isGranted: false }], 'a stale epoch is refused with the current one');
  t.equal(voter.status().votedFor, 4);
});

void t.test('a follower with a divergent suffix truncates it (divergingEpoch) and takes the leader\'s entries', async (t) => {
  // Node 2 wrote offsets 2 and 3 in epoch 2 as a leader that never committed them.
  const cluster = new Cluster([1, 2, 3], {
    1: { persisted: { epoch: 2, votedFor: null }, entries: [entry(0, 1), entry(1, 1)], snapshot: null },
    2: { persisted: { epoch: 2, votedFor: 2 }, entries: [entry(0, 1), entry(1, 1), entry(2, 2), entry(3, 2)], snapshot: null },
    3: { persisted: { epoch: 2, votedFor: null }, entries: [entry(0, 1), entry(1, 1)], snapshot: null },
  }, { 1: 0, 2: 0.9, 3: 0.9 });
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  t.equal(cluster.node(1).status().epoch, 3);
  const truncations = cluster.allEffects(2).filter((effects) => effects.truncateTo !== undefined);
  t.same(truncations.map((effects) => effects.truncateTo), [2], 'node 2 truncates once, to the end of epoch 1');
  const divergences = cluster.allEffects(1).flatMap((effects) => effects.messages)
    .filter((message) => message.type === 'fetch-response' && message.divergingEpoch !== undefined);
  t.match(divergences, [{ to: 2, fetchOffset: 4, divergingEpoch: { epoch: 1, endOffset: 2 } }]);
  t.same(cluster.propose(1, ['y']), [3]);
  cluster.run(300);
  const expected = cluster.node(1).entries(0, 10);
  t.equal(expected.length, 4);
  t.same(cluster.node(2).entries(0, 10), expected, 'node 2 now holds the leader\'s log');
  t.same(cluster.node(3).entries(0, 10), expected);
});

void t.test('a duplicated divergingEpoch answer to an older fetch is dropped', async (t) => {
  const follower = new RaftCore(options(2, [1, 2, 3], 0.5),
    { persisted: { epoch: 3, votedFor: null }, entries: [entry(0, 1), entry(1, 1), entry(2, 2)], snapshot: null }, 0);
  follower.receive({ type: 'begin-epoch', from: 1, to: 2, epoch: 3, leaderId: 1 }, 0);
  const divergence: RaftMessage = {
    type: 'fetch-response', from: 1, to: 2, epoch: 3, leaderId: 1, fetchOffset: 3, lastFetchedEpoch: 2, entries: [],
    highWatermark: 2, divergingEpoch: { epoch: 1, endOffset: 2 },
  };
  t.equal(follower.receive(divergence, 1).truncateTo, 2);
  const fetched = follower.receive({
    type: 'fetch-response', from: 1, to: 2, epoch: 3, leaderId: 1, fetchOffset: 2, lastFetchedEpoch: 1,
    entries: [entry(2, 3, '')], highWatermark: 3,
  }, 2);
  t.equal(fetched.highWatermark, 3);
  t.match(fetched.messages, [{ type: 'fetch-request', fetchOffset: 3, lastFetchedEpoch: 3 }]);
  const duplicate = follower.receive(divergence, 3);
  t.equal(duplicate.truncateTo, undefined, 'same fetchOffset, other lastFetchedEpoch: not ours');
  t.equal(follower.status().logEndOffset, 3);
});

void t.test('a follower behind the leader\'s log start installs the leader\'s snapshot', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.9, 3: 0.99 });
  cluster.isolated.add(3);
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  cluster.propose(1, ['a', 'b', 'c', 'd']);
  cluster.run(200);
  const leader = cluster.node(1);
  t.equal(leader.status().highWatermark, 5);
  const snapshot = { id: { endOffset: 4, epoch: 1 }, data: JSON.stringify(['a', 'b', 'c']) };
  t.equal(leader.snapshotTaken(snapshot).deleteBefore, 4, 'the runtime may delete what the snapshot covers');
  t.equal(leader.status().logStartOffset, 4);

  cluster.isolated.delete(3);
  cluster.run(800);
  const installs = cluster.allEffects(3).filter((effects) => effects.installSnapshot !== undefined);
  t.same(installs.map((effects) => effects.installSnapshot), [snapshot], 'node 3 installs the snapshot once');
  const follower = cluster.node(3).status();
  t.match(follower, { role: 'follower', leaderId: 1, logStartOffset: 4, logEndOffset: 5, highWatermark: 5 });
  t.same(cluster.node(3).entries(4, 5).map((e) => e.data), ['d'], 'and fetches the entries after it');
});

void t.test('a leader cut off from the majority resigns, then stands for election', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.7, 3: 0.9 });
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  cluster.isolated.add(1);
  cluster.run(fetchTimeoutMs);
  t.equal(cluster.node(1).status().role, 'resigned', 'no fetch from a majority within fetchTimeoutMs');
  t.throws(() => cluster.node(1).propose(['late'], cluster.nowMs), NotLeaderError);
  const effectsBefore = cluster.allEffects(1).length;
  cluster.run(2 * electionTimeoutMs);
  const asked = cluster.allEffects(1).slice(effectsBefore).flatMap((effects) => effects.messages)
    .filter((message) => message.type === 'vote-request');
  t.ok(asked.length > 0 && asked.every((message) => message.type === 'vote-request' && message.isPreVote === true && message.epoch === 2),
    'after its election timeout it asks for pre-votes for epoch 2');
  t.match(cluster.node(1).status(), { role: 'resigned', epoch: 1 }, 'unanswered, it neither stands as a candidate nor raises its epoch');
  t.same(cluster.leaders(), [2], 'the other two elected one of themselves');
  t.equal(cluster.node(2).status().epoch, 2);
});

void t.test('propose on a follower throws NotLeaderError naming the leader', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0.9, 2: 0, 3: 0.9 });
  cluster.run(1000);
  t.same(cluster.leaders(), [2]);
  const error = t.throws(() => cluster.node(3).propose(['x'], cluster.nowMs)) as NotLeaderError;
  t.ok(error instanceof NotLeaderError);
  t.equal(error.leaderId, 2);
  t.equal(error.epoch, 1);
});

void t.test('a new leader refuses proposals until its epoch-start control entry is committed', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.9, 3: 0.9 });
  cluster.isolated.add(2);
  cluster.isolated.add(3);
  const preVote = cluster.nodes.get(1)!.tick(1000);
  const preVoteRound = preVote.messages[0].type === 'vote-request' ? preVote.messages[0].preVoteRound : undefined;
  // Node 1 asks for pre-votes, then votes; grant them by hand so nothing else gets delivered.
  const candidate = cluster.node(1).receive({
    type: 'vote-response', from: 3, to: 1, epoch: 0, isGranted: true, leaderId: null, isPreVote: true, preVoteRound,
  }, 1000);
  t.same(candidate.persistState, { epoch: 1, votedFor: 1 });
  const elected = cluster.node(1).receive({ type: 'vote-response', from: 2, to: 1, epoch: 1, isGranted: true, leaderId: null }, 1001);
  t.equal(cluster.node(1).status().role, 'leader');
  t.match(elected.messages, [{ type: 'begin-epoch', to: 2 }, { type: 'begin-epoch', to: 3 }]);
  t.notOk(cluster.node(1).isLeaderReady);
  const error = t.throws(() => cluster.node(1).propose(['x'], 1002)) as NotLeaderError;
  t.equal(error.leaderId, 1, 'it leads, but is not ready');
  const fetched = cluster.node(1).receive({
    type: 'fetch-request', from: 2, to: 1, epoch: 1, fetchOffset: 1, lastFetchedEpoch: 1, maxWaitMs: 100,
  }, 1003);
  t.equal(fetched.highWatermark, 1);
  t.ok(cluster.node(1).isLeaderReady);
});

void t.test('messages from unknown nodes or for another node are ignored', async (t) => {
  const core = new RaftCore(options(1, [1, 2, 3], 0.5), emptyStart(), 0);
  const before = core.status();
  const unknown = core.receive({ type: 'vote-request', from: 9, to: 1, epoch: 5, lastEpoch: 0, logEndOffset: 0 }, 1);
  const elsewhere = core.receive({ type: 'vote-request', from: 2, to: 3, epoch: 5, lastEpoch: 0, logEndOffset: 0 }, 1);
  t.same(unknown, { append: [], messages: [] });
  t.same(elsewhere, { append: [], messages: [] });
  t.same(core.status(), before);
});

void t.test('a pre-vote changes the state of neither the pre-candidate nor the voter (KIP-996)', async (t) => {
  const candidate = new RaftCore(options(1, [1, 2, 3], 0.5),
    { persisted: { epoch: 4, votedFor: 3 }, entries: [entry(0, 1), entry(1, 4)], snapshot: null }, 0);
  const asked = candidate.tick(1500);
  t.equal(asked.persistState, undefined, 'nothing is persisted: neither a new epoch nor a vote');
  t.match(candidate.status(), { role: 'unattached', epoch: 4, votedFor: 3 });
  t.match(asked.messages, [
    { type: 'vote-request', to: 2, epoch: 5, lastEpoch: 4, logEndOffset: 2, isPreVote: true },
    { type: 'vote-request', to: 3, epoch: 5, lastEpoch: 4, logEndOffset: 2, isPreVote: true },
  ], 'it asks for the next epoch, with its log');

  const voter = new RaftCore(options(2, [1, 2, 3], 0.5),
    { persisted: { epoch: 2, votedFor: null }, entries: [entry(0, 1), entry(1, 2)], snapshot: null }, 0);
  const preVote = (epoch: number, lastEpoch: number, logEndOffset: number): RaftEffects => voter.receive({
    type: 'vote-request', from: 1, to: 2, epoch, lastEpoch, logEndOffset, isPreVote: true, preVoteRound: 77,
  }, 10);
  const granted = preVote(9, 2, 2);
  t.same(granted.messages, [{
    type: 'vote-response', from: 2, to: 1, epoch: 2, isGranted: true, leaderId: null, isPreVote: true, preVoteRound: 77,
  }], 'granted: the voter answers with its own epoch and echoes the round');
  t.equal(granted.persistState, undefined, 'a higher epoch in a pre-vote is not adopted and no vote is recorded');
  t.match(voter.status(), { role: 'unattached', epoch: 2, votedFor: null });
  t.match(preVote(3, 1, 9).messages, [{ isGranted: false, isPreVote: true }], 'an older last epoch: refused');
  t.match(preVote(3, 2, 1).messages, [{ isGranted: false, isPreVote: true }], 'a shorter log: refused');
  t.match(preVote(2, 2, 2).messages, [{ isGranted: false, isPreVote: true }], 'an epoch the voter has reached: refused');
  const vote = voter.receive({ type: 'vote-request', from: 3, to: 2, epoch: 3, lastEpoch: 2, logEndOffset: 2 }, 11);
  t.match(vote.messages, [{ isGranted: true }], 'the real vote of epoch 3 is still free to give');
  t.same(vote.persistState, { epoch: 3, votedFor: 3 });
});

void t.test('a leader, and a follower that heard from it within the election timeout, refuse pre-votes and keep their state', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.9, 3: 0.9 });
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  const preVote = (to: number): RaftEffects => cluster.node(to).receive({
    type: 'vote-request', from: 3, to, epoch: 7, lastEpoch: 1, logEndOffset: 99, isPreVote: true, preVoteRound: 1,
  }, cluster.nowMs);
  const fromLeader = preVote(1);
  t.match(fromLeader.messages, [{ type: 'vote-response', epoch: 1, isGranted: false, leaderId: 1, isPreVote: true }],
    'the leader refuses, naming itself');
  t.equal(fromLeader.persistState, undefined);
  t.match(cluster.node(1).status(), { role: 'leader', epoch: 1 }, 'a pre-vote with a higher epoch does not make the leader step down');
  t.match(preVote(2).messages, [{ epoch: 1, isGranted: false, leaderId: 1, isPreVote: true }],
    'a follower whose fetch was just answered refuses');
  t.match(cluster.node(2).status(), { role: 'follower', epoch: 1, leaderId: 1 });
});

void t.test('a follower whose event loop stalls past its election timeout comes back without deposing the leader', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.5, 3: 0.5 });
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  cluster.propose(1, ['before']);
  cluster.run(200);
  const effectsBefore = cluster.allEffects(3).length;
  cluster.stalled.add(3);
  cluster.run(3 * electionTimeoutMs);
  cluster.propose(1, ['during']);
  cluster.run(200);
  cluster.resume(3);
  const preVotes = cluster.sent(3, effectsBefore).filter((message) => message.type === 'vote-request');
  t.ok(preVotes.length > 0 && preVotes.every((message) => message.type === 'vote-request' && message.isPreVote === true),
    'its election timer fired on resuming, and it asked for pre-votes only');
  cluster.run(2 * electionTimeoutMs);
  t.same(cluster.leaders(), [1], 'the leader still leads');
  t.same(cluster.epochs(), [1, 1, 1], 'and the epoch did not move');
  t.same(cluster.persisted(3, effectsBefore), [], 'the stalled node persisted no new epoch or vote');
  t.match(cluster.node(3).status(), { role: 'follower', leaderId: 1 });
  t.same(cluster.node(3).entries(1, 10).map((e) => e.data), ['before', 'during'], 'and it caught up');
});

void t.test('a node cut off for many election timeouts rejoins without raising the cluster\'s epoch', async (t) => {
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.3, 3: 0.6 });
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  const effectsBefore = cluster.allEffects(3).length;
  cluster.isolated.add(3);
  cluster.run(20 * electionTimeoutMs);
  cluster.propose(1, ['while-away']);
  const rounds = cluster.sent(3, effectsBefore).filter((message) => message.type === 'vote-request' && message.to === 1);
  t.ok(rounds.length >= 10, `it asked for pre-votes round after round (${rounds.length} rounds)`);
  t.equal(cluster.node(3).status().epoch, 1, 'without raising its own epoch');
  cluster.isolated.delete(3);
  cluster.run(2 * electionTimeoutMs);
  t.same(cluster.leaders(), [1], 'once healed, the leader still leads');
  t.same(cluster.epochs(), [1, 1, 1]);
  t.match(cluster.node(3).status(), { role: 'follower', leaderId: 1 });
  t.same(cluster.node(3).entries(1, 10).map((e) => e.data), ['while-away']);
});

void t.test('pre-vote answers from an older round, and late votes of an election that timed out, are not counted', async (t) => {
  const core = new RaftCore(options(1, [1, 2, 3], 0), emptyStart(), 0);
  const roundOf = (effects: RaftEffects): number | undefined => {
    const request = effects.messages[0];
    return request?.type === 'vote-request' && request.isPreVote === true ? request.preVoteRound : undefined;
  };
  const grant = (preVoteRound: number | undefined, nowMs: number): RaftEffects => core.receive({
    type: 'vote-response', from: 2, to: 1, epoch: 0, isGranted: true, leaderId: null, isPreVote: true, preVoteRound,
  }, nowMs);
  const firstRound = roundOf(core.tick(1000));
  const secondRound = roundOf(core.tick(2000));
  t.ok(firstRound !== undefined && secondRound !== undefined && firstRound !== secondRound, 'each round has its own id');
  const stale = grant(firstRound, 2001);
  t.equal(stale.persistState, undefined, 'a grant of the first round, arriving late, does not count');
  t.match(core.status(), { role: 'unattached', epoch: 0 });
  t.same(grant(undefined, 2002).persistState, undefined, 'nor does a grant that names no round');
  const current = grant(secondRound, 2003);
  t.same(current.persistState, { epoch: 1, votedFor: 1 }, 'a grant of the round in progress makes a majority: a real candidate');
  t.match(current.messages, [{ type: 'vote-request', to: 2, epoch: 1 }, { type: 'vote-request', to: 3, epoch: 1 }]);
  t.notOk(current.messages.some((message) => message.type === 'vote-request' && message.isPreVote === true), 'real vote requests');
  t.equal(core.status().role, 'candidate');

  core.tick(3003);
  t.match(core.status(), { role: 'unattached', epoch: 1, votedFor: 1 }, 'its election timed out: it waits, still voted for itself');
  core.receive({ type: 'vote-response', from: 3, to: 1, epoch: 1, isGranted: true, leaderId: null }, 3004);
  t.equal(core.status().role, 'unattached', 'a late vote of the election that timed out does not make it leader');
});

void t.test('a voter left in an epoch the leader never saw makes the leader step down, so it is not shut out for good', async (t) => {
  // With pre-vote it cannot win an election while the others hear from the leader, and
  // its epoch cannot go back: the leader must learn the newer epoch (etcd answers a
  // stale heartbeat the same way). Node 3 stepped up to epoch 2 for a vote request of
  // an election that went nowhere, while cut off from the leader of epoch 1.
  const cluster = new Cluster([1, 2, 3], {}, { 1: 0, 2: 0.5, 3: 0.5 });
  cluster.isolated.add(3);
  cluster.run(1000);
  t.same(cluster.leaders(), [1]);
  cluster.node(3).receive({ type: 'vote-request', from: 2, to: 3, epoch: 2, lastEpoch: 0, logEndOffset: 0 }, cluster.nowMs);
  t.match(cluster.node(3).status(), { role: 'unattached', epoch: 2, votedFor: 2 });
  cluster.isolated.delete(3);
  cluster.run(6 * electionTimeoutMs);
  const leaders = cluster.leaders();
  t.equal(leaders.length, 1, 'one leader');
  const epoch = cluster.node(leaders[0]).status().epoch;
  t.ok(epoch > 2, `of an epoch past node 3's (${epoch})`);
  t.same(cluster.epochs(), [epoch, epoch, epoch]);
  t.match(cluster.node(3).status(), { role: leaders[0] === 3 ? 'leader' : 'follower', leaderId: leaders[0] });
});
