/**
 * Share groups in a cluster, in process (broker/share/share-placement.ts): one broker
 * that believes it is node 1 of a cluster (a stand-in Replication whose appends commit
 * at once), its __share_group_state partitions' leadership moved by hand. The real
 * three-process failover is test/cluster/share-groups-cluster.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { alterShareGroupConfigs, describeShareGroup } from '../../../src/broker/share/share-admin.js';
import { SHARE_STATE_TOPIC, shareStatePartitionOf } from '../../../src/broker/share/share-state-records.js';
import { openBroker } from '../../../src/node/broker-assembly.js';
import { clusterReplication } from '../groups/cluster-replication.js';

const GROUP = 'pickers';

void t.test('a coordinator that lost the state partition answers NOT_LEADER and forgets the group; leading it again, it rebuilds the group from the log', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-share-placement-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const broker = openBroker({ dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000 }, () => ({ replication: clusterReplication() }));
  t.teardown(() => broker.close());
  broker.topics.create({ name: 'orders', partitions: 1 });
  await broker.producer.produce({ topic: 'orders', partition: 0, records: [{ value: 0 }, { value: 1 }, { value: 2 }], keyFormat: 'string', valueFormat: 'json', acks: 'all' });
  const shares = broker.shareGroups;
  const { placement } = shares.stateLog;

  await alterShareGroupConfigs(shares, GROUP, { 'share.auto.offset.reset': 'earliest' });
  t.ok(broker.topics.findTopic(SHARE_STATE_TOPIC) !== undefined, 'the first share call made the state topic');
  const acquired = await shares.acquire(GROUP, { topics: ['orders'], consumerId: 'a' });
  t.same(acquired[0]?.acquisitions.map((each) => each.offset), [0, 1, 2]);
  await shares.acknowledge(GROUP, 'a', [{ topic: 'orders', partition: 0, offsets: [0], type: 'accept' }]);

  const state = broker.topics.partition(SHARE_STATE_TOPIC, shareStatePartitionOf(GROUP));
  state.leader = 2;
  state.leaderEpoch += 1;
  t.equal(placement.coordinatorElsewhere(GROUP), 2, 'node 2 coordinates the group now');
  await t.rejects(shares.acknowledge(GROUP, 'a', [{ topic: 'orders', partition: 0, offsets: [1], type: 'accept' }]), { code: 'NOT_LEADER' }, 'an acknowledgement is refused, not applied to stale memory');
  await t.rejects(shares.stateLog.append(GROUP, [{ key: 'x', value: null }]), { code: 'NOT_LEADER' }, 'a state write is refused, not forwarded to the new leader');
  placement.tick();
  t.notOk(shares.groups.has(GROUP), 'the next tick forgot the group');

  state.leader = 1;
  state.leaderEpoch += 1;
  const described = describeShareGroup(shares, GROUP);
  t.match(described.partitions, [{ startOffset: 1, available: 2, acquired: 0 }], 'leading it again, the group is rebuilt from the log: the accepted record done, the held ones available');
  const again = await shares.acquire(GROUP, { topics: ['orders'], consumerId: 'b' });
  t.same(again[0]?.acquisitions.map((each) => [each.offset, each.deliveryCount]), [[1, 2], [2, 2]], 'delivered again with their delivery counted');
});
