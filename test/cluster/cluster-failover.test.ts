/**
 * Failover with the product's DEFAULT settings (no FAST_CLUSTER_ARGS), three real
 * nodes: a partition leader is frozen with SIGSTOP (no answer, no timer, its
 * connections stay open). What a user relies on, without timing assertions:
 * - the partitions it does not lead keep taking acks=all writes (its followers' leaders
 *   drop it from their ISRs rather than wait for it);
 * - the partitions it led get a new leader that takes acks=all writes;
 * - resumed with SIGCONT, it rejoins every ISR, and every acknowledged record is where
 *   it was acknowledged, on every replica, the resumed node's included (it leads its
 *   preferred partitions again and serves them).
 * Every wait is bounded.
 */
import t from 'tap';
import { startCluster, type Cluster, type TopicView } from '../helpers/cluster.js';
import { createTopic, fetchAll, produce } from '../helpers/http.js';

const TOPIC = 'failover';
const PARTITIONS = 3;
const NODE_IDS = [1, 2, 3];
const WAIT_MS = 30_000;

async function settledView(cluster: Cluster, what: string): Promise<TopicView> {
  return cluster.waitFor(async () => {
    const views = await Promise.all(NODE_IDS.map((nodeId) => cluster.describeTopic(TOPIC, nodeId)));
    const isSettled = views.every((view) => view.partitions.length === PARTITIONS && view.partitions.every((partition, index) =>
      partition.isr.length === NODE_IDS.length && partition.leader === partition.replicas[0] && partition.leader === views[0].partitions[index].leader));
    return isSettled ? views[0] : undefined;
  }, WAIT_MS, what, 100);
}

void t.test('a frozen leader: other partitions keep taking acks=all writes, its partitions move, and it rejoins with nothing lost', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, isProxied: false, isDefaultSettings: true });
  await cluster.waitForOnline(WAIT_MS);
  await createTopic(cluster.url(1), TOPIC, { partitions: PARTITIONS, replicationFactor: 3, configs: { 'min.insync.replicas': 2 } });
  const before = await settledView(cluster, 'every partition on its preferred leader with a full ISR');
  const leaders = new Map(before.partitions.map((partition) => [partition.partition, partition.leader!]));
  const acknowledged: Array<{ partition: number; offset: number; value: string }> = [];
  const write = async (partition: number, leader: number, value: string): Promise<void> => {
    const [entry] = await produce(cluster.url(leader), TOPIC, [{ value }], { partition, acks: 'all', timeoutMs: WAIT_MS });
    acknowledged.push({ partition, offset: entry.offset, value });
  };
  for (const [partition, leader] of leaders) await write(partition, leader, `before-${partition}`);

  const victim = leaders.get(0)!;
  const victimPartitions = [...leaders].filter(([, leader]) => leader === victim).map(([partition]) => partition);
  const others = [...leaders].filter(([, leader]) => leader !== victim);
  t.ok(others.length > 0, `node ${victim} leads partitions [${victimPartitions}], the others are led elsewhere`);
  const frozen = cluster.member(victim).child!;
  process.kill(frozen.pid, 'SIGSTOP');
  t.teardown(() => {
    if (frozen.isRunning()) process.kill(frozen.pid, 'SIGCONT');
  });

  // Its followers' leaders drop it from their ISRs: writes there are acknowledged while it is frozen.
  for (const [partition, leader] of others) await write(partition, leader, `while-frozen-${partition}`);
  t.pass(`partitions [${others.map(([partition]) => partition)}] took acks=all writes while node ${victim} was frozen`);

  const survivor = NODE_IDS.find((nodeId) => nodeId !== victim)!;
  for (const partition of victimPartitions) {
    const leader = await cluster.waitFor(async () => {
      const view = await cluster.describeTopic(TOPIC, survivor);
      const next = view.partitions[partition].leader;
      return next !== null && next !== victim ? next : undefined;
    }, WAIT_MS, `a new leader for partition ${partition}`, 100);
    await write(partition, leader, `new-leader-${partition}`);
  }
  t.pass(`partitions [${victimPartitions}] moved off node ${victim} and took acks=all writes`);

  process.kill(frozen.pid, 'SIGCONT');
  const after = await settledView(cluster, `node ${victim} back in every ISR and leading its preferred partitions again`);
  t.same(after.partitions.map((partition) => partition.leader), before.partitions.map((partition) => partition.leader), 'leadership is back where it was');
  for (const partition of victimPartitions) await write(partition, victim, `after-${partition}`);

  for (let partition = 0; partition < PARTITIONS; partition++) {
    const leader = after.partitions[partition].leader!;
    const read = await fetchAll(cluster.url(leader), TOPIC, partition);
    const byOffset = new Map(read.records.map((record) => [record.offset, record.value]));
    const lost = acknowledged.filter((entry) => entry.partition === partition && byOffset.get(entry.offset) !== entry.value);
    t.same(lost, [], `partition ${partition}: every acknowledged record at its offset on node ${leader}`);
    t.equal(read.records.length, new Set(read.records.map((record) => record.value)).size, `partition ${partition}: no record twice`);
  }
  // The resumed node's replicas end where their leaders' do.
  await cluster.waitFor(async () => {
    const own = await cluster.describeTopic(TOPIC, victim);
    const views = await Promise.all(after.partitions.map((partition) => cluster.describeTopic(TOPIC, partition.leader!)));
    return own.partitions.every((partition, index) => partition.logEndOffset === views[index].partitions[index].logEndOffset);
  }, WAIT_MS, `node ${victim}'s replicas caught up`, 100);
  t.pass(`node ${victim}'s replicas hold what their leaders hold`);
});
