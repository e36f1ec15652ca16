/**
 * Every answer that names a leader names its advertised URL: the URL the node
 * registered (its own --peers entry), which clients can reach, never the address
 * another node uses to reach it. In the proxied test cluster (helpers/cluster.ts) the
 * two differ for every pair of nodes: node 1 reaches node 2 through a fault proxy, so
 * an answer of node 1 built from its --peers list would name the proxy.
 *
 * One test per answer that carries leaderUrl:
 *   - a topic's description (GET /v1/topics/{t} on every node), and the answers to
 *     create and alter sent to a node that is not the controller (forwarded to it);
 *   - 503 NOT_LEADER for a produce to one partition, a fetch, a stream and the offsets
 *     of a partition, sent to a follower;
 *   - 503 NOT_LEADER for a group request sent to a node that does not coordinate it;
 *   - 503 NOT_LEADER for a topic-level produce whose leader the node could not reach.
 * The NOT_LEADER of an acks=all produce that was appended and then lost its leader
 * (the replica manager's) is tested in replication/leadership.test.ts, where the
 * leadership change can be placed exactly; there too peers and clients use other URLs.
 */
import t, { type Test } from 'tap';
import { startCluster, type Cluster, type TopicView } from '../helpers/cluster.js';
import { requestJson, requestOk } from '../helpers/http.js';

// Three child processes and one leadership change.
t.setTimeout(90_000);

const TOPIC = 'advertised';
const PARTITION_COUNT = 3;

interface NotLeaderBody {
  error: { code: string; message: string; leaderId: number | null; leaderUrl: string | null };
}

function checkNotLeader(t: Test, cluster: Cluster, answer: { status: number; headers: Record<string, unknown>; body: unknown }, leaderId: number, what: string): void {
  const body = answer.body as NotLeaderBody;
  t.equal(answer.status, 503, `${what}: 503`);
  t.ok(Number(answer.headers['retry-after']) >= 1, `${what}: Retry-After ${String(answer.headers['retry-after'])}`);
  t.equal(body?.error?.code, 'NOT_LEADER', `${what}: NOT_LEADER`);
  t.equal(body?.error?.leaderId, leaderId, `${what}: names node ${leaderId}`, { answer: body });
  t.equal(body?.error?.leaderUrl, cluster.url(leaderId), `${what}: leaderUrl is node ${leaderId}'s advertised URL, not a --peers address`);
}

function checkDescription(t: Test, cluster: Cluster, view: TopicView, what: string): void {
  t.equal(view.partitions.length, PARTITION_COUNT, `${what}: every partition`);
  for (const partition of view.partitions) {
    t.not(partition.leader, null, `${what}: partition ${partition.partition} has a leader`);
    t.equal(partition.leaderUrl, cluster.url(partition.leader!), `${what}: partition ${partition.partition}'s leaderUrl is its leader's advertised URL`);
  }
}

async function fullyReplicated(cluster: Cluster): Promise<TopicView> {
  return cluster.waitFor(async () => {
    const view = await cluster.describeTopic(TOPIC);
    return view.partitions.every((partition) => partition.leader !== null && partition.leader > 0 && partition.isr.length === 3) ? view : undefined;
  }, 30_000, `every partition of ${TOPIC} led, with three replicas in its ISR`);
}

void t.test('every leaderUrl is the advertised URL of the leader', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  const status = await cluster.waitForOnline();
  const controller = status.controller!;
  const notController = [1, 2, 3].find((nodeId) => nodeId !== controller)!;
  for (const from of [1, 2, 3]) {
    for (const to of [1, 2, 3]) {
      if (from !== to) t.not(cluster.proxy(from, to).url, cluster.url(to), `node ${from} reaches node ${to} at another URL than the one it advertises`);
    }
  }

  await t.test('topic create and alter through a node that is not the controller, and describe on every node', async (t) => {
    const created = await requestOk<TopicView>(`${cluster.url(notController)}/v1/topics`, {
      body: { name: TOPIC, partitions: PARTITION_COUNT, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } },
      timeoutMs: 20_000,
    });
    checkDescription(t, cluster, created.body, `create through node ${notController}`);
    const altered = await requestOk<TopicView>(`${cluster.url(notController)}/v1/topics/${TOPIC}`, {
      method: 'PATCH',
      body: { configs: { 'retention.ms': '3600000' } },
      timeoutMs: 20_000,
    });
    checkDescription(t, cluster, altered.body, `alter through node ${notController}`);
    await fullyReplicated(cluster);
    for (const nodeId of [1, 2, 3]) checkDescription(t, cluster, await cluster.describeTopic(TOPIC, nodeId), `describe on node ${nodeId}`);
  });

  const view = await fullyReplicated(cluster);
  const { partition, leader } = view.partitions.find((each) => each.leader !== controller) ?? view.partitions[0];
  const leaderId = leader!;
  const follower = [1, 2, 3].find((nodeId) => nodeId !== leaderId)!;
  const partitionUrl = `${cluster.url(follower)}/v1/topics/${TOPIC}/partitions/${partition}`;

  await t.test('a produce to a partition, and a read of a partition with no replica here, when the node cannot reach the leader', async (t) => {
    const proxy = cluster.proxy(follower, leaderId);
    proxy.block();
    try {
      const answer = await requestJson(`${partitionUrl}/records`, { body: { records: [{ value: 'x' }] }, timeoutMs: 20_000 });
      checkNotLeader(t, cluster, answer, leaderId, 'produce to the partition');
    } finally {
      proxy.unblock();
    }
    // A topic with one replica: the other nodes hand its reads to that one.
    const solo = await requestOk<TopicView>(`${cluster.url(1)}/v1/topics`, { body: { name: 'solo', partitions: 1, replicationFactor: 1 }, timeoutMs: 20_000 });
    const soloLeader = solo.body.partitions[0].leader!;
    const other = [1, 2, 3].find((nodeId) => nodeId !== soloLeader)!;
    const read = await cluster.waitFor(async () => {
      const answer = await requestJson(`${cluster.url(other)}/v1/topics/solo/partitions/0/offsets`);
      return answer.status === 200 ? answer : undefined;
    }, 20_000, `node ${other} to know topic solo`);
    t.equal(read.headers['runnel-served-by'], String(soloLeader), `node ${other}, without a replica, handed the read to node ${soloLeader}`);
    const soloProxy = cluster.proxy(other, soloLeader);
    soloProxy.block();
    try {
      checkNotLeader(t, cluster, await requestJson(`${cluster.url(other)}/v1/topics/solo/partitions/0/records?offset=0`, { timeoutMs: 20_000 }), soloLeader, 'a read nobody could serve');
    } finally {
      soloProxy.unblock();
    }
  });

  await t.test('a group request sent to a node that cannot reach the coordinator', async (t) => {
    // The offsets topic is created with the first group request; its partitions need leaders first.
    const first = await cluster.waitFor(async () => {
      const answer = await requestJson(`${cluster.url(1)}/v1/groups/billing/offsets`);
      return answer.headers['runnel-served-by'] !== undefined ? answer : undefined;
    }, 20_000, 'a coordinator for group billing');
    const coordinator = Number(first.headers['runnel-served-by']);
    for (const nodeId of [1, 2, 3].filter((each) => each !== coordinator)) {
      const handed = await requestJson(`${cluster.url(nodeId)}/v1/groups/billing/offsets`);
      t.equal(handed.headers['runnel-served-by'], String(coordinator), `node ${nodeId} hands the group's request to its coordinator`);
      const proxy = cluster.proxy(nodeId, coordinator);
      proxy.block();
      try {
        checkNotLeader(t, cluster, await requestJson(`${cluster.url(nodeId)}/v1/groups/billing/offsets`, { timeoutMs: 20_000 }), coordinator, `group offsets on node ${nodeId}`);
      } finally {
        proxy.unblock();
      }
    }
  });

  await t.test('a topic-level produce whose partition leader the node cannot reach', async (t) => {
    const proxy = cluster.proxy(follower, leaderId);
    proxy.block();
    try {
      const answer = await requestJson(`${cluster.url(follower)}/v1/topics/${TOPIC}/records`, { body: { records: [{ value: 'forwarded', partition }] }, timeoutMs: 20_000 });
      checkNotLeader(t, cluster, answer, leaderId, 'forwarded produce');
    } finally {
      proxy.unblock();
    }
  });

});
