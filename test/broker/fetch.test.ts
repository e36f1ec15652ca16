/**
 * The broker's fetch checks a read in Kafka's order: the partition, then leadership,
 * then the offset range. A follower asked for any offset, in range or not, answers
 * 503 NOT_LEADER naming the leader (never 416 OFFSET_OUT_OF_RANGE, which would send a
 * client to reset its position on the wrong node's say), and answers at once rather
 * than after a long-poll.
 */
import t, { type Test } from 'tap';
import path from 'node:path';
import { AppendNotifier } from '../../src/broker/append-notifier.js';
import { Fetcher } from '../../src/broker/fetch.js';
import type { Replication } from '../../src/broker/replication.js';
import type { PartitionState } from '../../src/broker/topic-state.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { makeTempDir, testConfig } from '../storage/helpers.js';

const LEADER_ID = 1;
const LEADER_URL = 'http://127.0.0.1:9091';

/** A replication seen from node `nodeId` of a cluster. */
function replicationOf(nodeId: number): Replication {
  return {
    nodeId,
    isClustered: true,
    nodeUrl: (id) => (id === LEADER_ID ? LEADER_URL : null),
    onAppend: () => undefined,
    waitForHighWatermark: async () => undefined,
    forwardProduce: async () => [],
  };
}

/** Partition 0 of 'orders', led by node 1, with an empty log (highWatermark 0). */
function partitionState(t: Test): PartitionState {
  const log = PartitionLog.open(path.join(makeTempDir(t, 'fetch'), 'orders-0'), testConfig());
  t.teardown(() => log.closeAbruptly());
  return {
    topic: 'orders',
    partition: 0,
    log,
    notifier: new AppendNotifier(10),
    leader: LEADER_ID,
    leaderEpoch: 0,
    replicas: [1, 2, 3],
    isr: [1, 2, 3],
    partitionEpoch: 0,
    notifyReaders: () => undefined,
  };
}

function fetcherOn(state: PartitionState, nodeId: number): Fetcher {
  return new Fetcher({ partition: () => state }, replicationOf(nodeId));
}

const notLeader = { code: 'NOT_LEADER', status: 503, details: { leaderId: LEADER_ID, leaderUrl: LEADER_URL } };

await t.test('a follower asked for an out-of-range offset answers 503 NOT_LEADER, not 416', async (t) => {
  const state = partitionState(t);
  const follower = fetcherOn(state, 2);
  await t.rejects(follower.fetch({ topic: 'orders', partition: 0, offset: 1000 }), notLeader, 'fetch');
  t.throws(() => follower.position('orders', 0, 1000), notLeader, 'a stream starts with the same checks');
});

await t.test('a follower answers NOT_LEADER at once instead of long-polling first', async (t) => {
  const state = partitionState(t);
  const startedMs = Date.now();
  await t.rejects(fetcherOn(state, 2).fetch({ topic: 'orders', partition: 0, offset: 'latest', waitMs: 5_000 }), notLeader);
  t.ok(Date.now() - startedMs < 1_000, 'refused without waiting');
});

await t.test('the leader checks the offset range', async (t) => {
  const state = partitionState(t);
  const leader = fetcherOn(state, LEADER_ID);
  await t.rejects(leader.fetch({ topic: 'orders', partition: 0, offset: 1000 }), { code: 'OFFSET_OUT_OF_RANGE', status: 416 });
  const empty = await leader.fetch({ topic: 'orders', partition: 0, offset: 'earliest' });
  t.equal(empty.batches, null, 'an in-range read of an empty log finds nothing');
  t.equal(empty.startOffset, 0);
});
