/**
 * The metadata quorum's runtime on its own: a single voter (it elects itself) with the
 * real SQLite store. What it promises: a proposal resolves once committed and applied;
 * entries, votes and snapshots survive a restart, and a restarted node's state machine
 * comes back from its snapshot plus the entries after it, each applied once.
 */
import t from 'tap';
import path from 'node:path';
import { MetadataQuorum, type QuorumStateMachine } from '../../../src/cluster/quorum/metadata-quorum.js';
import { RaftStore } from '../../../src/cluster/quorum/raft-store.js';
import { PeerClient } from '../../../src/cluster/peer-client.js';
import type { LogEntry, Snapshot } from '../../../src/cluster/raft/types.js';

class ListMachine implements QuorumStateMachine {
  appliedOffset = 0;
  values: string[] = [];
  restores = 0;

  apply(entries: LogEntry[]): void {
    for (const entry of entries) {
      if (entry.offset !== this.appliedOffset) throw new Error(`applied ${entry.offset} after ${this.appliedOffset}`);
      if (entry.isControl !== true) this.values.push(entry.data);
      this.appliedOffset = entry.offset + 1;
    }
  }

  snapshotData(): string {
    return JSON.stringify({ appliedOffset: this.appliedOffset, values: this.values });
  }

  restore(snapshot: Snapshot): void {
    const state = JSON.parse(snapshot.data) as { appliedOffset: number; values: string[] };
    this.values = state.values;
    this.appliedOffset = snapshot.id.endOffset;
    this.restores += 1;
  }
}

async function waitFor(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function start(file: string, machine: QuorumStateMachine, snapshotIntervalEntries: number): { quorum: MetadataQuorum; store: RaftStore; peers: PeerClient } {
  const store = RaftStore.open(file);
  const peers = new PeerClient({ urls: new Map([[1, 'http://127.0.0.1:9']]) });
  const quorum = new MetadataQuorum({ nodeId: 1, voters: [1], store, peers, stateMachine: machine, electionTimeoutMs: 100, snapshotIntervalEntries });
  quorum.start();
  return { quorum, store, peers };
}

void t.test('a single voter commits proposals, snapshots, and comes back whole after a restart', async (t) => {
  const file = path.join(t.testdir(), 'metadata-log.db');
  const first = new ListMachine();
  const one = start(file, first, 50);
  await waitFor(() => one.quorum.isActiveLeader);
  const offsets: number[] = [];
  for (let i = 0; i < 120; i++) offsets.push(await one.quorum.propose([`value-${i}`]));
  t.same(first.values, Array.from({ length: 120 }, (_, i) => `value-${i}`), 'every proposal applied once, in order');
  t.ok(offsets.every((offset, i) => i === 0 || offset > offsets[i - 1]), 'offsets grow');
  const status = one.quorum.status();
  t.equal(status.role, 'leader');
  t.equal(status.appliedOffset, status.highWatermark, 'applied up to the high watermark');
  t.ok(status.logStartOffset >= 50, `a snapshot let the log start move (${status.logStartOffset})`);
  const snapshot = one.store.readSnapshot();
  t.ok(snapshot !== null && snapshot.id.endOffset <= status.highWatermark, 'the snapshot covers committed entries only');
  const epochBefore = status.epoch;
  one.quorum.stop();
  one.store.close();
  await one.peers.close();

  // A new process: the state machine starts empty and is rebuilt from the snapshot and the log.
  const second = new ListMachine();
  const two = start(file, second, 50);
  t.teardown(async () => {
    two.quorum.stop();
    two.store.close();
    await two.peers.close();
  });
  t.equal(second.restores, 1, 'the snapshot was restored');
  await waitFor(() => two.quorum.isActiveLeader);
  t.ok(two.quorum.status().epoch > epochBefore, 'a new epoch after the restart');
  await two.quorum.propose(['after-restart']);
  t.same(second.values, [...first.values, 'after-restart'], 'nothing lost, nothing applied twice');
});

void t.test('a proposal on a node that does not lead is refused with NotLeaderError', async (t) => {
  const store = RaftStore.open(path.join(t.testdir(), 'metadata-log.db'));
  const peers = new PeerClient({ urls: new Map([[1, 'http://127.0.0.1:9'], [2, 'http://127.0.0.1:9'], [3, 'http://127.0.0.1:9']]) });
  const quorum = new MetadataQuorum({ nodeId: 1, voters: [1, 2, 3], store, peers, stateMachine: new ListMachine(), electionTimeoutMs: 1000 });
  quorum.start();
  t.teardown(async () => {
    quorum.stop();
    store.close();
    await peers.close();
  });
  t.throws(() => quorum.propose(['x']), { name: 'NotLeaderError' }, 'alone of three voters, it cannot lead');
  t.equal(quorum.isActiveLeader, false);
});
