/**
 * __consumer_offsets is compacted (issue 16), in process: one broker that believes it
 * is node 1 of a cluster (as offsets-log.test.ts), its offsets topic made with the
 * configs the controller gives it (offsetsTopicConfigs; smaller segments here, so the
 * cleaner gets closed ones within a test). 100,000 commits of one group, cleaned as
 * they go (2,000 commit requests of 50 partitions each), keep the group's offsets
 * partition below a stated bound; a deleted and an
 * expired group leave tombstones that the cleaner removes too; a restart recovers the
 * last committed offsets, and a replica that never saw the commits rebuilds exactly
 * those offsets from the compacted log (gaps and all).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Broker, BrokerOptions } from '../../../src/broker/broker.js';
import { OffsetsApplier } from '../../../src/broker/groups/offsets-applier.js';
import { OFFSETS_TOPIC, OFFSETS_TOPIC_PARTITIONS, offsetsPartitionOf, offsetsTopicConfigs, offsetsTopicUpgrade } from '../../../src/broker/groups/offsets-records.js';
import type { PartitionState } from '../../../src/broker/topic-state.js';
import { GroupStore } from '../../../src/meta/group-store.js';
import { openBroker as openNodeBroker } from '../../../src/node/broker-assembly.js';
import { skipFsyncs } from '../../storage/helpers.js';
import { clusterReplication } from './cluster-replication.js';

/** Offset commits of one group: COMMIT_REQUESTS commits of PARTITIONS offsets each (one batch of PARTITIONS records each). */
const COMMITS = 100_000;
const PARTITIONS = 50;
const COMMIT_REQUESTS = COMMITS / PARTITIONS;
/** Commit requests between two cleanings (and size checks). */
const CLEAN_EVERY = 400;
const SEGMENT_BYTES = 256 * 1024;
/**
 * The stated bound for the group's offsets partition after the cleaner ran: the active
 * segment (at most segment.bytes) plus what cleaning leaves of the closed ones (the
 * first segment and one record per key), well under a second segment. Without
 * compaction the 100,000 commits take about 11 MB, some 20 times this.
 */
const SIZE_BOUND_BYTES = 2 * SEGMENT_BYTES;

// Nothing here is about a power loss (the restart is a clean one): the cleaner's
// fsync of every rewritten segment would only make this test slow.
skipFsyncs(t);

function brokerOptions(dataDir: string): BrokerOptions {
  return { dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000, offsetsRetentionMs: 600_000, cleaner: { backoffMs: 600_000 } };
}

function tempDir(t: Test): string {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-offsets-compaction-'));
  t.teardown(() => fs.rmSync(directory, { recursive: true, force: true }));
  return directory;
}

/** Runs the node's cleaner until nothing is due (bounded), once every rolled segment is on disk. */
async function cleanAll(broker: Broker, state: PartitionState): Promise<number> {
  await state.log.flushUpTo();
  let rounds = 0;
  // Later than now: tombstones of segments written just now may expire (delete.retention.ms 0).
  while (rounds < 50 && (await broker.logs.cleaner.cleanOnce(Date.now() + 1000)) !== undefined) rounds += 1;
  return rounds;
}

void t.test('__consumer_offsets stays small over 100,000 commits of one group, and a restart or a new replica recovers the last offsets', async (t) => {
  const dataDir = tempDir(t);
  let broker = openNodeBroker(brokerOptions(dataDir), () => ({ replication: clusterReplication() }));
  t.teardown(() => broker.close());
  broker.topics.create({ name: 'orders', partitions: PARTITIONS });
  broker.topics.create({ name: OFFSETS_TOPIC, partitions: OFFSETS_TOPIC_PARTITIONS, configs: { ...offsetsTopicConfigs(1), 'segment.bytes': String(SEGMENT_BYTES), 'delete.retention.ms': '0' } });
  t.equal(broker.topics.get(OFFSETS_TOPIC).effective['cleanup.policy'], 'compact', 'the offsets topic is compacted');
  for (let partition = 0; partition < PARTITIONS; partition++) await broker.producer.produce({ topic: 'orders', partition, records: Array.from({ length: 10 }, (_, i) => ({ value: i })) });

  // Tombstones: one group deleted, one expired, both before the busy group starts.
  const group = 'busy';
  const others = ['deleted', 'expired'].map((name) => {
    let id = name;
    for (let i = 0; offsetsPartitionOf(id) !== offsetsPartitionOf(group) && i < 1000; i++) id = `${name}-${i}`;
    return id;
  });
  t.ok(others.every((id) => offsetsPartitionOf(id) === offsetsPartitionOf(group)), 'the three groups share an offsets partition');
  for (const id of [group, ...others]) broker.offsetsLog.requireCoordinator(id);
  for (const id of others) await broker.groups.commit(id, { offsets: [{ topic: 'orders', partition: 1, offset: 1 }, { topic: 'orders', partition: 2, offset: 1 }] });
  await broker.groups.delete(others[0]);
  // The busy group does not exist yet: only the idle one expires.
  t.same(broker.groups.expireOffsets(Date.now() + 3_600_000), [others[1]], 'the idle group expires');
  for (let waits = 0; waits < 100 && broker.groups.list().some((entry) => entry.groupId === others[1]); waits++) await new Promise((resolve) => setTimeout(resolve, 10));

  const state = broker.topics.partition(OFFSETS_TOPIC, offsetsPartitionOf(group));
  const last = new Map<number, number>();
  let maxSizeBytes = 0;
  for (let i = 0; i < COMMIT_REQUESTS; i++) {
    const offsets = Array.from({ length: PARTITIONS }, (_, partition) => ({ topic: 'orders', partition, offset: (i + partition) % 11, metadata: `commit ${i}` }));
    await broker.groups.commit(group, { offsets });
    for (const { partition, offset } of offsets) last.set(partition, offset);
    if ((i + 1) % CLEAN_EVERY === 0) {
      await cleanAll(broker, state);
      maxSizeBytes = Math.max(maxSizeBytes, state.log.sizeBytes);
      t.ok(state.log.sizeBytes <= SIZE_BOUND_BYTES, `after ${(i + 1) * PARTITIONS} offset commits and a cleaning: ${state.log.sizeBytes} bytes, at most ${SIZE_BOUND_BYTES}`);
    }
  }
  t.equal(state.log.logEndOffset >= COMMITS, true, `${state.log.logEndOffset} records were written to the partition`);
  t.ok(broker.logs.cleaner.stats.recordsRemoved > COMMITS * 0.9, `the cleaner removed ${broker.logs.cleaner.stats.recordsRemoved} records`);

  const expected = [...last].sort(([a], [b]) => a - b).map(([partition, offset]) => [partition, offset]);
  const committed = (store: GroupStore, id: string): number[][] => store.listOffsets(id).map((row) => [row.partition, row.offset]).sort(([a], [b]) => a - b);
  t.same(committed(new GroupStore(broker.store.database), group), expected, 'the last commit of each partition is stored');

  await broker.close();
  broker = openNodeBroker(brokerOptions(dataDir), () => ({ replication: clusterReplication() }));
  broker.offsetsLog.requireCoordinator(group);
  t.same(broker.groups.offsets(group).filter((view) => view.offset !== null).map((view) => [view.partition, view.offset]), expected, 'after a restart the coordinator has the last committed offsets');
  for (const id of others) t.throws(() => broker.groups.offsets(id), { code: 'GROUP_NOT_FOUND' }, `and group ${id} stays gone`);

  // A replica that never saw the commits rebuilds the groups from the compacted log alone.
  const reopened = broker.topics.partition(OFFSETS_TOPIC, state.partition);
  const replicaDir = tempDir(t);
  const replica = openNodeBroker(brokerOptions(replicaDir));
  t.teardown(() => replica.close());
  replica.topics.create({ name: 'orders', partitions: PARTITIONS });
  const replicaStore = new GroupStore(replica.store.database);
  const ordersId = broker.topics.get('orders').record.topicId;
  const applier = new OffsetsApplier({ store: replicaStore, sink: replica.groups, topicIdOf: (topic) => (topic === 'orders' ? ordersId : undefined) });
  const applied = applier.apply(state.partition, broker.topics.get(OFFSETS_TOPIC).record.topicId, reopened.log, reopened.log.highWatermark);
  t.equal(applied.appliedOffset, reopened.log.highWatermark, 'the new replica applied the whole log');
  // What is left: the active segment's records (at most segment.bytes of them) and one per key in the closed ones.
  t.ok(applied.recordCount < COMMITS / 20, `from ${applied.recordCount} records, not ${COMMITS}`);
  t.same(committed(replicaStore, group), expected, 'and has the same last committed offsets');
  for (const id of others) t.same(replicaStore.listOffsets(id), [], `and nothing of group ${id}`);
  t.comment(`largest size after a cleaning: ${maxSizeBytes} bytes`);
});

void t.test('an offsets topic an older version made (every commit kept) is switched to compaction, keeping its other configs', async (t) => {
  const upgraded = offsetsTopicUpgrade({ 'min.insync.replicas': '2', 'retention.ms': '-1' }, 3);
  t.same(upgraded, { 'min.insync.replicas': '2', 'cleanup.policy': 'compact', 'segment.bytes': String(100 * 1024 * 1024) }, 'compacted, retention.ms -1 gone');
  t.equal(offsetsTopicUpgrade(offsetsTopicConfigs(3), 3), undefined, 'one made by this version is left alone');
  t.equal(offsetsTopicUpgrade(upgraded!, 3), undefined, 'and so is one switched already');
});
