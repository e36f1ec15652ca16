/**
 * Consumer groups in a cluster, in process: the offsets applier against a real
 * PartitionLog of __consumer_offsets and a real meta.db, and the cluster offsets log
 * (coordinator placement, commit = append then store) on one broker that believes it
 * is in a cluster (a stand-in Replication: node 1, every append committed at once
 * unless the ISR is too small). The real three-process failover is
 * test/cluster/cluster-groups.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Broker, BrokerOptions } from '../../../src/broker/broker.js';
import { OffsetsApplier } from '../../../src/broker/groups/offsets-applier.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, groupKey, offsetKey, offsetsPartitionOf } from '../../../src/broker/groups/offsets-records.js';
import type { PartitionState } from '../../../src/broker/topic-state.js';
import { RunnelError } from '../../../src/errors.js';
import { GroupStore } from '../../../src/meta/group-store.js';
import { openBroker as openNodeBroker } from '../../../src/node/broker-assembly.js';
import { decodeRecords } from '../../../src/record/decode.js';
import type { Replication } from '../../../src/broker/replication.js';
import { clusterReplication } from './cluster-replication.js';

/**
 * A broker in a temp directory with a data topic `orders` (2 partitions) and the
 * offsets topic; with `replication`, one that believes it is in a cluster.
 */
function openBroker(t: Test, dataDir?: string, replication?: Replication): { broker: Broker; dataDir: string; store: GroupStore } {
  const directory = dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-offsets-'));
  if (dataDir === undefined) t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  const broker = openNodeBroker(brokerOptions(directory), replication === undefined ? undefined : () => ({ replication }));
  if (broker.topics.find('orders', 0) === undefined) {
    broker.topics.create({ name: 'orders', partitions: 2 });
    broker.topics.create({ name: OFFSETS_TOPIC, partitions: OFFSETS_TOPIC_PARTITIONS });
  }
  return { broker, dataDir: directory, store: new GroupStore(broker.store.database) };
}

function brokerOptions(dataDir: string): BrokerOptions {
  return { dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000 };
}


async function appendOffsetsRecords(broker: Broker, partition: number, records: Array<{ key: string; value: unknown }>): Promise<void> {
  await broker.producer.produce({ topic: OFFSETS_TOPIC, partition, records, keyFormat: 'string', valueFormat: 'json', acks: 'all' });
}

function offsetsPartition(broker: Broker, groupId: string): PartitionState {
  return broker.topics.partition(OFFSETS_TOPIC, offsetsPartitionOf(groupId));
}

function topicId(broker: Broker, topic: string): string {
  return broker.topics.get(topic).record.topicId;
}

void t.test('the applier replays commits, tombstones and group deletions in log order, into SQLite and the coordinator', async (t) => {
  const { broker, store } = openBroker(t);
  t.teardown(() => broker.close());
  const group = 'billing';
  const state = offsetsPartition(broker, group);
  const ordersId = topicId(broker, 'orders');
  await appendOffsetsRecords(broker, state.partition, [
    { key: offsetKey(group, 'orders', 0), value: { offset: 5, metadata: 'a', committedAtMs: 1000, topicId: ordersId } },
    { key: offsetKey(group, 'orders', 1), value: { offset: 7, metadata: '', committedAtMs: 1000, topicId: ordersId } },
  ]);
  await appendOffsetsRecords(broker, state.partition, [
    { key: offsetKey(group, 'orders', 0), value: { offset: 9, metadata: 'b', committedAtMs: 2000, topicId: ordersId } },
    { key: offsetKey(group, 'orders', 1), value: null },
    { key: 'not a json key', value: { offset: 1 } },
  ]);
  const applier = new OffsetsApplier({ store, sink: broker.groups, topicIdOf: (topic) => broker.topics.find(topic, 0) === undefined ? undefined : topicId(broker, topic) });
  const offsetsTopicId = topicId(broker, OFFSETS_TOPIC);

  const partial = applier.apply(state.partition, offsetsTopicId, state.log, 2);
  t.same(partial, { appliedOffset: 2, recordCount: 2, isHeldBack: false }, 'stops at the offset it is given (the high watermark)');
  t.same(store.listOffsets(group).map((row) => [row.partition, row.offset]), [[0, 5], [1, 7]], 'the first batch is in SQLite');
  t.same(broker.groups.offsets(group).map((view) => [view.partition, view.offset]), [[0, 5], [1, 7]], 'and in the coordinator, which had never seen the group');
  t.ok(store.listGroups().some((row) => row.groupId === group), 'the group row was created for the foreign key');

  const rest = applier.apply(state.partition, offsetsTopicId, state.log, state.log.highWatermark);
  t.same(rest, { appliedOffset: 5, recordCount: 3, isHeldBack: false }, 'a stray record is passed over, not stuck on');
  t.same(store.listOffsets(group).map((row) => [row.partition, row.offset, row.metadata]), [[0, 9, 'b']], 'the later commit wins; the tombstone deleted partition 1');
  t.same(broker.groups.offsets(group).map((view) => [view.partition, view.offset]), [[0, 9]], 'the coordinator agrees');
  t.same(store.appliedPosition(state.partition), { topicId: offsetsTopicId, appliedOffset: 5 }, 'the position is kept in SQLite');
  t.same(applier.apply(state.partition, offsetsTopicId, state.log, state.log.highWatermark).recordCount, 0, 'applying again applies nothing');

  await appendOffsetsRecords(broker, state.partition, [{ key: offsetKey(group, 'orders', 0), value: null }, { key: groupKey(group), value: null }]);
  applier.apply(state.partition, offsetsTopicId, state.log, state.log.highWatermark);
  t.notOk(store.listGroups().some((row) => row.groupId === group), 'a group tombstone deletes the group');
  t.throws(() => broker.groups.offsets(group), { code: 'GROUP_NOT_FOUND' }, 'in memory too');
});

void t.test('a restarted node resumes applying where it stopped, and a new applier finds the same rows', async (t) => {
  const first = openBroker(t);
  const group = 'resumer';
  const state = offsetsPartition(first.broker, group);
  const ordersId = topicId(first.broker, 'orders');
  await appendOffsetsRecords(first.broker, state.partition, [{ key: offsetKey(group, 'orders', 0), value: { offset: 3, metadata: '', committedAtMs: 1, topicId: ordersId } }]);
  const applier = new OffsetsApplier({ store: first.store, sink: first.broker.groups, topicIdOf: () => ordersId });
  applier.apply(state.partition, topicId(first.broker, OFFSETS_TOPIC), state.log, state.log.highWatermark);
  await first.broker.close();

  const second = openBroker(t, first.dataDir);
  t.teardown(() => second.broker.close());
  const reopened = offsetsPartition(second.broker, group);
  await appendOffsetsRecords(second.broker, reopened.partition, [{ key: offsetKey(group, 'orders', 1), value: { offset: 4, metadata: '', committedAtMs: 2, topicId: ordersId } }]);
  const again = new OffsetsApplier({ store: second.store, sink: second.broker.groups, topicIdOf: () => ordersId });
  const result = again.apply(reopened.partition, topicId(second.broker, OFFSETS_TOPIC), reopened.log, reopened.log.highWatermark);
  t.same(result, { appliedOffset: 2, recordCount: 1, isHeldBack: false }, 'only the new record is applied');
  t.same(second.broker.groups.offsets(group).map((view) => [view.partition, view.offset]), [[0, 3], [1, 4]], 'the coordinator loaded the first from SQLite, the applier added the second');
});

void t.test('a commit of a topic this node does not know holds its partition back, then is skipped', async (t) => {
  const { broker, store } = openBroker(t);
  t.teardown(() => broker.close());
  const group = 'early';
  const state = offsetsPartition(broker, group);
  await appendOffsetsRecords(broker, state.partition, [
    { key: offsetKey(group, 'not-yet', 0), value: { offset: 1, metadata: '', committedAtMs: 1, topicId: 'x' } },
    { key: offsetKey(group, 'orders', 0), value: { offset: 2, metadata: '', committedAtMs: 1, topicId: topicId(broker, 'orders') } },
  ]);
  let nowMs = 0;
  const applier = new OffsetsApplier({ store, sink: broker.groups, topicIdOf: (topic) => broker.topics.find(topic, 0) === undefined ? undefined : topicId(broker, topic), topicWaitMs: 1000, nowMs: () => nowMs });
  const offsetsTopicId = topicId(broker, OFFSETS_TOPIC);
  t.same(applier.apply(state.partition, offsetsTopicId, state.log, 2), { appliedOffset: 0, recordCount: 0, isHeldBack: true }, 'held back: the metadata may be late');
  nowMs = 999;
  t.equal(applier.apply(state.partition, offsetsTopicId, state.log, 2).isHeldBack, true, 'still within topicWaitMs');
  nowMs = 1000;
  t.same(applier.apply(state.partition, offsetsTopicId, state.log, 2), { appliedOffset: 2, recordCount: 2, isHeldBack: false }, 'then skipped, and the rest applied');
  t.same(store.listOffsets(group).map((row) => [row.topic, row.offset]), [['orders', 2]]);
});

void t.test('in a cluster a commit is a record of __consumer_offsets before SQLite, and only the coordinator takes it', async (t) => {
  const { broker, store } = openBroker(t, undefined, clusterReplication());
  t.teardown(() => broker.close());
  await broker.producer.produce({ topic: 'orders', partition: 0, records: Array.from({ length: 10 }, (_, i) => ({ value: i })) });
  const group = 'payments';
  const state = offsetsPartition(broker, group);
  broker.offsetsLog.requireCoordinator(group);
  t.ok(broker.offsetsLog.isCoordinating(group), 'node 1 leads the partition: it coordinates the group');

  const committed = await broker.groups.commit(group, { offsets: [{ topic: 'orders', partition: 0, offset: 6, metadata: 'm' }] });
  t.equal(committed[0].offset, 6);
  const batches = state.log.read(0, 1 << 20, state.log.highWatermark);
  t.ok(batches !== null, 'the commit is in the offsets partition');
  const [record] = decodeRecords(batches as Buffer);
  t.equal(record.key?.toString(), offsetKey(group, 'orders', 0), 'keyed ["offset", group, topic, partition]');
  t.match(JSON.parse(record.value?.toString() ?? 'null'), { offset: 6, metadata: 'm', topicId: topicId(broker, 'orders') });
  t.same(store.listOffsets(group).map((row) => row.offset), [6], 'and stored');
  t.equal(broker.groups.topicMetadata().size, 2);

  // acks=all refused: fewer in-sync replicas than min.insync.replicas. Nothing is stored.
  broker.topics.get(OFFSETS_TOPIC).effective['min.insync.replicas'] = '2';
  await t.rejects(broker.groups.commit(group, { offsets: [{ topic: 'orders', partition: 0, offset: 8 }] }), { code: 'NOT_ENOUGH_REPLICAS' }, 'the append fails the commit');
  t.same(store.listOffsets(group).map((row) => row.offset), [6], 'nothing stored');
  t.same(broker.groups.offsets(group).map((view) => view.offset), [6], 'nothing remembered');
  await t.rejects(broker.groups.commit('brand-new', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] }), { code: 'NOT_ENOUGH_REPLICAS' });
  t.notOk(broker.groups.list().some((entry) => entry.groupId === 'brand-new'), 'a group the failed commit would have made is not left behind');
  broker.topics.get(OFFSETS_TOPIC).effective['min.insync.replicas'] = '1';

  // Another node leads the partition now: the group's routes point there, its members go.
  const member = broker.groups.join(group, { subscription: { topics: ['orders'] } });
  state.leader = 2;
  state.leaderEpoch += 1;
  const refusal = t.throws(() => broker.offsetsLog.requireCoordinator(group)) as unknown as RunnelError;
  t.equal(refusal.code, 'NOT_LEADER');
  t.match(refusal.details, { leaderId: 2, leaderUrl: 'http://node-2.test:8080' }, 'names the coordinator');
  t.match(refusal.message, `node 2 coordinates group '${group}'`);
  broker.offsetsLog.tick();
  t.throws(() => broker.groups.heartbeat(group, member.memberId, {}), { code: 'UNKNOWN_MEMBER' }, 'the old coordinator dropped the member');

  // Leadership comes back at a new epoch, with a record node 2 wrote (replicated here,
  // not yet committed): the node loads to the log end first.
  state.leader = 1;
  await appendOffsetsRecords(broker, state.partition, [{ key: offsetKey(group, 'orders', 1), value: { offset: 0, metadata: 'by node 2', committedAtMs: 5, topicId: topicId(broker, 'orders') } }]);
  state.log.updateHighWatermark(state.log.highWatermark - 1); // Not yet committed when leadership moves.
  state.leaderEpoch += 1;
  broker.offsetsLog.requireCoordinator(group);
  t.same(broker.groups.offsets(group).map((view) => [view.partition, view.offset]), [[0, 6], [1, 0]], 'the new coordinator applied to the log end before serving');
});

void t.test('without the offsets topic a cluster node answers NOT_READY; a single node keeps serving every group', async (t) => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-offsets-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  const broker = openNodeBroker(brokerOptions(directory));
  t.teardown(() => broker.close());
  t.doesNotThrow(() => broker.offsetsLog.requireCoordinator('anything'), 'single node: no placement');
  await broker.close();
  const clustered = openNodeBroker(brokerOptions(directory), () => ({ replication: clusterReplication() }));
  t.teardown(() => clustered.close());
  t.throws(() => clustered.offsetsLog.requireCoordinator('anything'), { code: 'NOT_READY', message: /creating its offsets topic/ });
});

void t.test('in a cluster deleting or expiring a group writes tombstones first; the coordinator then forgets it', async (t) => {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-offsets-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  const broker = openNodeBroker({ ...brokerOptions(directory), offsetsRetentionMs: 1000 }, () => ({ replication: clusterReplication() }));
  t.teardown(() => broker.close());
  broker.topics.create({ name: 'orders', partitions: 2 });
  broker.topics.create({ name: OFFSETS_TOPIC, partitions: OFFSETS_TOPIC_PARTITIONS });
  await broker.producer.produce({ topic: 'orders', partition: 0, records: [{ value: 1 }, { value: 2 }] });
  const keysIn = (state: PartitionState): Array<[string, boolean]> => {
    const batches = state.log.read(0, 1 << 20, state.log.highWatermark);
    if (batches === null) return [];
    const records = [];
    for (let at = 0; at < batches.length;) {
      const size = batches.readInt32BE(at + 8) + 12;
      records.push(...decodeRecords(batches, at));
      at += size;
    }
    return records.map((record) => [record.key?.toString() ?? '', record.value === null]);
  };

  for (const group of ['to-delete', 'to-expire']) {
    broker.offsetsLog.requireCoordinator(group);
    await broker.groups.commit(group, { offsets: [{ topic: 'orders', partition: 0, offset: 2 }] });
  }
  await broker.groups.delete('to-delete');
  t.same(keysIn(offsetsPartition(broker, 'to-delete')).slice(-2), [[offsetKey('to-delete', 'orders', 0), true], [groupKey('to-delete'), true]], 'delete: an offset tombstone and a group tombstone');
  t.notOk(broker.groups.list().some((entry) => entry.groupId === 'to-delete'), 'then the group is gone');

  t.same(broker.groups.expireOffsets(Date.now() + 60_000), ['to-expire'], 'expiry begins for the group this node coordinates');
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.same(keysIn(offsetsPartition(broker, 'to-expire')).slice(-2), [[offsetKey('to-expire', 'orders', 0), true], [groupKey('to-expire'), true]], 'expiry: tombstones too');
  t.notOk(broker.groups.list().some((entry) => entry.groupId === 'to-expire'), 'then the group is gone');
});

void t.test('a member polling a partition this node follows waits at a committed offset past the local high watermark instead of resetting', async (t) => {
  const { broker } = openBroker(t, undefined, clusterReplication());
  t.teardown(() => broker.close());
  await broker.producer.produce({ topic: 'orders', partition: 0, records: Array.from({ length: 10 }, (_, i) => ({ value: i })) });
  const group = 'followers';
  broker.offsetsLog.requireCoordinator(group);
  await broker.groups.commit(group, { offsets: [{ topic: 'orders', partition: 0, offset: 8 }] });
  // Node 2 leads orders-0 now; this replica has not yet learnt that the high watermark reached 8.
  const orders = broker.topics.partition('orders', 0);
  orders.leader = 2;
  orders.log.updateHighWatermark(5);
  const member = broker.groups.join(group, { subscription: { topics: ['orders'] }, autoOffsetReset: 'earliest' });
  const first = await broker.poller.poll(group, member.memberId, { waitMs: 0, autoCommit: true });
  t.same(first.partitions.filter((polled) => polled.partition === 0), [], 'nothing to read yet at offset 8');
  await broker.poller.poll(group, member.memberId, { waitMs: 0, autoCommit: true, ack: first.pollId });
  t.same(broker.groups.offsets(group).find((view) => view.partition === 0)?.offset, 8, 'the committed offset did not move back (earliest would have rewound it to 0)');
  orders.log.updateHighWatermark(10);
  const caughtUp = await broker.poller.poll(group, member.memberId, { waitMs: 0, autoCommit: true });
  t.equal(caughtUp.partitions.find((polled) => polled.partition === 0)?.startOffset, 8, 'once the high watermark passes it, reading starts at the committed offset');
});
