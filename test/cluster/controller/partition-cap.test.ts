/**
 * The per-node partition cap in a cluster: the controller refuses a topic create or
 * partition add whole when a node it would place replicas on would hold more than the
 * cap, counting every replica it already holds; within the cap nothing is refused.
 */
import t from 'tap';
import { checkPartitionsPerNode } from '../../../src/cluster/controller/partition-cap.js';
import { ClusterModel } from './cluster-model.js';

void t.test('a create or add that would put more than the cap on a node is refused; up to the cap is not', async (t) => {
  const model = ClusterModel.started([1, 2, 3], () => 0);
  model.createTopic('a', 6, 2); // 12 replicas over 3 nodes: 4 each
  const create = (partitions: number, replicationFactor: number) =>
    model.logic.createTopic(model.image, { name: 'b', partitions, replicationFactor }, model.nowMs);

  t.doesNotThrow(() => checkPartitionsPerNode(model.image, create(3, 3), 7), '4 + 3 on each node fits a cap of 7');
  t.throws(() => checkPartitionsPerNode(model.image, create(4, 3), 7), {
    name: 'RunnelError', code: 'TOO_MANY_PARTITIONS', message: /node \d holds 4 partitions and takes at most 7 .*; 4 more placed on it do not fit/,
  }, '4 + 4 on a node does not');
  t.throws(() => checkPartitionsPerNode(model.image, create(1, 1), 4), { code: 'TOO_MANY_PARTITIONS' }, 'one more on a full node');
  const grow = model.logic.alterTopic(model.image, 'a', { partitions: 9 });
  t.doesNotThrow(() => checkPartitionsPerNode(model.image, grow, 6), 'adding 3 partitions (6 replicas) puts 6 on each node');
  t.throws(() => checkPartitionsPerNode(model.image, grow, 5), { code: 'TOO_MANY_PARTITIONS' }, 'but not under a cap of 5');
  t.doesNotThrow(() => checkPartitionsPerNode(model.image, model.logic.alterTopic(model.image, 'a', { configs: { 'retention.ms': '1000' } }), 1), 'a config change adds nothing');
});
