/**
 * The broker's fetch checks a read in Kafka's order: the partition, then who serves it
 * (KIP-392: the leader, or an in-sync follower that heard from its leader lately; any
 * other node hands the read to the in-sync replicas), then the offset range. A follower
 * serves up to its own high watermark; an offset past it but within the leader's (as
 * the follower last learnt it) waits for the records instead of answering 416.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { AppendNotifier } from '../../src/broker/append-notifier.js';
import { Fetcher } from '../../src/broker/fetch.js';
import { chooseReadRoute, type Replication } from '../../src/broker/replication.js';
import type { PartitionState } from '../../src/broker/topic-state.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { encodeRecords, makeTempDir, testConfig } from '../storage/helpers.js';

const LEADER_ID = 1;
const LEADER_URL = 'http://127.0.0.1:9091';
const READ_LAG_MAX_MS = 10_000;

interface Contact {
  ageMs: number;
  highWatermark: number;
}

/** A replication seen from node `nodeId` of a cluster, whose follower side last heard `contact` from the leader. */
function replicationOf(nodeId: number, contact?: Contact): Replication {
  const replication: Replication = {
    nodeId,
    isClustered: true,
    nodeUrl: (id) => (id === LEADER_ID ? LEADER_URL : null),
    readRoute: (state, isHandedOver) => chooseReadRoute(replication, state, isHandedOver, contact, READ_LAG_MAX_MS),
    leaderHighWatermark: (state) => Math.max(state.log.highWatermark, contact?.highWatermark ?? -1),
    onAppend: () => undefined,
    waitForHighWatermark: async () => undefined,
    forwardProduce: async () => [],
    readRemote: async () => {
      throw new Error('no other node in this test');
    },
    remoteOffsets: async () => {
      throw new Error('no other node in this test');
    },
  };
  return replication;
}

/** Partition 0 of 'orders', led by node 1 on nodes 1-3, with `records` records of which `committed` are below the high watermark. */
function partitionState(t: Test, records = 0, committed = records): PartitionState {
  const log = PartitionLog.open(path.join(makeTempDir(t, 'fetch'), 'orders-0'), testConfig());
  t.teardown(() => log.closeAbruptly());
  if (records > 0) {
    // One record per batch: a batch is read once all of it is below the high watermark.
    for (let offset = 0; offset < records; offset++) {
      log.appendAsFollower(encodeRecords([{ key: null, value: `v${offset}`, timestampMs: 1_000 + offset }], offset, 0));
    }
    log.updateHighWatermark(committed);
  }
  return {
    topic: 'orders',
    partition: 0,
    log,
    notifier: new AppendNotifier(10),
    leader: LEADER_ID,
    leaderEpoch: 4,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    partitionEpoch: 0,
    notifyReaders: () => undefined,
  };
}

function fetcherOn(state: PartitionState, nodeId: number, contact?: Contact): Fetcher {
  return new Fetcher({ partition: () => state }, replicationOf(nodeId, contact));
}

const fresh = (highWatermark: number): Contact => ({ ageMs: 100, highWatermark });

await t.test('an in-sync follower that heard from its leader serves reads up to its own high watermark', async (t) => {
  const state = partitionState(t, 5, 3);
  const follower = fetcherOn(state, 2, fresh(3));
  t.same(follower.route('orders', 0, 0, false), { kind: 'local' });
  const read = await follower.fetch({ topic: 'orders', partition: 0, offset: 0 });
  t.equal(read.highWatermark, 3);
  t.ok(read.batches !== null, 'records below the high watermark are read');
  const offsets = follower.offsets('orders', 0);
  t.same(offsets, { logStartOffset: 0, highWatermark: 3, logEndOffset: 5 });
  t.equal(follower.position('orders', 0, 'latest').startOffset, 3, 'latest is the high watermark here, never an uncommitted offset');
});

await t.test('an offset past the follower\'s high watermark but within the leader\'s waits for the records, not 416', async (t) => {
  const state = partitionState(t, 5, 3);
  const follower = fetcherOn(state, 2, fresh(5));
  t.same(follower.route('orders', 0, 4, false), { kind: 'local' });
  t.equal(follower.position('orders', 0, 'latest').startOffset, 5, 'latest is the leader\'s high watermark as last learnt, where the leader\'s own readers start');
  const reading = follower.fetch({ topic: 'orders', partition: 0, offset: 4, waitMs: 5_000 });
  // One move of the high watermark (to 4) is not enough: the record at 4 is not committed yet.
  state.log.updateHighWatermark(4);
  state.notifier.notify();
  await new Promise((resolve) => setImmediate(resolve));
  state.log.updateHighWatermark(5);
  state.notifier.notify();
  const read = await reading;
  t.equal(read.highWatermark, 5);
  t.ok(read.batches !== null, 'the read answered with the record once it was committed here');
  const empty = await follower.fetch({ topic: 'orders', partition: 0, offset: 5, waitMs: 0 });
  t.equal(empty.batches, null, 'at the high watermark without waitMs: empty, not an error');
});

await t.test('an offset past what the follower knows of the leader goes to the leader, which alone can say 416', async (t) => {
  const state = partitionState(t, 5, 3);
  const follower = fetcherOn(state, 2, fresh(5));
  t.same(follower.route('orders', 0, 1_000, false), { kind: 'remote', nodeIds: [1] });
  t.same(follower.route('orders', 0, 'latest', false), { kind: 'local' }, 'latest is served here');
  t.throws(() => follower.position('orders', 0, 1_000), { code: 'OFFSET_OUT_OF_RANGE', status: 416 }, 'handed over to it, the follower answers 416 itself');
  const leader = fetcherOn(state, LEADER_ID);
  await t.rejects(leader.fetch({ topic: 'orders', partition: 0, offset: 1000 }), { code: 'OFFSET_OUT_OF_RANGE', status: 416 });
});

await t.test('a lagging follower, one out of the ISR and a node without a replica hand the read to the in-sync replicas', async (t) => {
  const state = partitionState(t, 5, 3);
  t.same(fetcherOn(state, 2, { ageMs: READ_LAG_MAX_MS + 1, highWatermark: 3 }).route('orders', 0, 0, false), { kind: 'remote', nodeIds: [1, 3] }, 'lagging: the leader first');
  t.same(fetcherOn(state, 2).route('orders', 0, 0, false), { kind: 'remote', nodeIds: [1, 3] }, 'never heard from the leader');
  state.isr = [1, 3];
  t.same(fetcherOn(state, 2, fresh(3)).route('orders', 0, 0, false), { kind: 'remote', nodeIds: [1, 3] }, 'out of the ISR');
  t.same(fetcherOn(state, 4, fresh(3)).route('orders', 0, 0, false), { kind: 'remote', nodeIds: [1, 3] }, 'no replica');
  t.same(fetcherOn(state, 2, { ageMs: READ_LAG_MAX_MS + 1, highWatermark: 3 }).route('orders', 0, 0, true), { kind: 'local' },
    'a read handed over to a replica is served there, never handed on');
});

await t.test('a node that cannot serve and has nobody to hand to answers 503 NOT_LEADER at once, with the leader and its epoch', async (t) => {
  const state = partitionState(t);
  const notLeader = { code: 'NOT_LEADER', status: 503, details: { leaderId: LEADER_ID, leaderUrl: LEADER_URL, leaderEpoch: 4 } };
  t.throws(() => fetcherOn(state, 4).route('orders', 0, 0, true), notLeader, 'handed over to a node without a replica');
  t.throws(() => fetcherOn(state, 4).position('orders', 0, 0), notLeader, 'a stream on a node without a replica');
  const startedMs = Date.now();
  await t.rejects(fetcherOn(state, 4).fetch({ topic: 'orders', partition: 0, offset: 'latest', waitMs: 5_000 }), notLeader);
  t.ok(Date.now() - startedMs < 1_000, 'refused without waiting');
  state.leader = -1;
  state.isr = [2];
  t.throws(() => fetcherOn(state, 2).route('orders', 0, 0, false), { code: 'NOT_LEADER', details: { leaderId: null, leaderUrl: null, leaderEpoch: null } },
    'no leader and no other in-sync replica');
});

await t.test('the leader checks the offset range', async (t) => {
  const state = partitionState(t);
  const leader = fetcherOn(state, LEADER_ID);
  t.same(leader.route('orders', 0, 1_000, false), { kind: 'local' });
  await t.rejects(leader.fetch({ topic: 'orders', partition: 0, offset: 1000 }), { code: 'OFFSET_OUT_OF_RANGE', status: 416 });
  const empty = await leader.fetch({ topic: 'orders', partition: 0, offset: 'earliest' });
  t.equal(empty.batches, null, 'an in-range read of an empty log finds nothing');
  t.equal(empty.startOffset, 0);
});
