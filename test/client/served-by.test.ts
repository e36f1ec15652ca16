/**
 * What the client learns from `Runnel-Served-By` (src/client/served-by.ts), as pure
 * routing logic over a Routing and a GET /v1/cluster source the test answers:
 * - a partition-path produce names the partition's leader and a group's request its
 *   coordinator: the next request of that partition or group goes there, once the
 *   node's URL is known (one cluster read, which the next request waits for);
 * - a read names the replica that served it, maybe a follower: never a leader; nor does
 *   a topic-level produce, nor an answer naming several nodes or none;
 * - advertised URLs are used only when one of the URLs the client was given is one
 *   (else it sits behind a proxy and keeps to the URLs it was given);
 * - unknown node ids are looked up at most every CLUSTER_MAX_AGE_MS.
 * The transport's own use of it runs on real nodes in served-by-cluster.test.ts.
 */
import t from 'tap';
import type { RackNode } from '../../src/client/rack-reads.js';
import { Routing, targetOf } from '../../src/client/routing.js';
import { CLUSTER_MAX_AGE_MS, leaderNamed, parseServedBy, ServedByLeaders, usableUrls } from '../../src/client/served-by.js';

const NODES: RackNode[] = [
  { nodeId: 1, url: 'http://10.0.0.1:9091' },
  { nodeId: 2, url: 'http://10.0.0.2:9092/' },
  { nodeId: 3, url: 'http://10.0.0.3:9093' },
];

const PRODUCE = targetOf('POST', '/v1/topics/orders/partitions/0/records');
const FETCH = targetOf('GET', '/v1/topics/orders/partitions/0/records');

/** A Routing given `urls`, a ServedByLeaders over it whose cluster reads answer `nodes` or nothing (counted), on a clock the test moves. */
function setUp(urls: string[], nodes: RackNode[] | 'no answer' = NODES) {
  let nowMs = 1_000;
  const routing = new Routing(urls, () => nowMs);
  const reads = { count: 0 };
  const servedBy = new ServedByLeaders(routing, async () => {
    reads.count += 1;
    return nodes === 'no answer' ? undefined : nodes;
  }, () => nowMs);
  return {
    routing, servedBy, reads,
    advance: (ms: number) => {
      nowMs += ms;
    },
    /** The URL a request of `target` goes to now. */
    urlFor: (target: ReturnType<typeof targetOf>) => routing.nodes[routing.nodeFor(target)].href,
  };
}

void t.test('Runnel-Served-By values: node ids in order; anything malformed names none', async (t) => {
  t.same(parseServedBy('2'), [2]);
  t.same(parseServedBy('3, 1,2'), [3, 1, 2]);
  t.same(parseServedBy(['1', '2']), [1, 2]);
  t.same(parseServedBy(undefined), []);
  t.same(parseServedBy(''), []);
  t.same(parseServedBy('2,x'), []);
  t.same(parseServedBy('-1'), []);
});

void t.test('only a partition-path produce and a group request name a leader', async (t) => {
  t.equal(PRODUCE.isPartitionProduce, true);
  t.equal(targetOf('POST', '/v1/topics/orders/partitions/0/records/').isPartitionProduce, true);
  t.same(leaderNamed(PRODUCE, 200, [2]), { key: PRODUCE.key, nodeId: 2 });
  t.same(leaderNamed(PRODUCE, 202, [3]), { key: PRODUCE.key, nodeId: 3 }, 'acks=none: the leader appended');
  t.same(leaderNamed(targetOf('POST', '/v1/groups/billing/members'), 200, [3]), { key: 'group billing', nodeId: 3 });
  t.same(leaderNamed(targetOf('GET', '/v1/groups/billing/offsets'), 404, [1]), { key: 'group billing', nodeId: 1 }, 'an error the coordinator gave');

  t.equal(leaderNamed(FETCH, 200, [3]), undefined, 'a read may be served by a follower');
  t.equal(leaderNamed(targetOf('GET', '/v1/topics/orders/partitions/0/offsets'), 200, [3]), undefined);
  t.equal(targetOf('POST', '/v1/topics/orders/records').isPartitionProduce, undefined);
  t.equal(leaderNamed(targetOf('POST', '/v1/topics/orders/records'), 200, [1]), undefined, 'a topic-level produce');
  t.equal(leaderNamed(targetOf('GET', '/v1/cluster'), 200, [1]), undefined);
  t.equal(leaderNamed(PRODUCE, 200, [1, 2]), undefined, 'several nodes');
  t.equal(leaderNamed(PRODUCE, 200, []), undefined, 'no header');
  t.equal(leaderNamed(PRODUCE, 503, [1]), undefined);
});

void t.test('advertised URLs are usable only when the client was given one of them', async (t) => {
  t.same([...usableUrls(new Set(['http://10.0.0.2:9092']), NODES)], [[1, 'http://10.0.0.1:9091'], [2, 'http://10.0.0.2:9092/'], [3, 'http://10.0.0.3:9093']]);
  t.same([...usableUrls(new Set(['http://runnel.example:80']), NODES)], [], 'a proxy');
  t.same([...usableUrls(new Set(['http://127.0.0.1:9091']), NODES)], [], 'another address of node 1: maybe a port mapping');
  t.same([...usableUrls(new Set(['http://10.0.0.1:9091']), [...NODES, { nodeId: 4, url: 'not a url' }])].map(([id]) => id), [1, 2, 3]);
});

void t.test('a produce through a follower: the next request of that partition goes to the leader it names', async (t) => {
  const { servedBy, reads, urlFor } = setUp(['http://10.0.0.1:9091']);
  t.equal(urlFor(PRODUCE), 'http://10.0.0.1:9091');
  servedBy.onAnswer(PRODUCE, 200, '2');
  t.equal(reads.count, 1, 'the nodes are read once to learn node 2’s URL');
  const pending = servedBy.pendingRead(PRODUCE.key);
  t.ok(pending, 'the next request of the partition waits for that read');
  t.equal(servedBy.pendingRead('partition orders-1'), undefined, 'other partitions do not wait');
  await pending;
  t.equal(servedBy.pendingRead(PRODUCE.key), undefined);
  t.equal(urlFor(PRODUCE), 'http://10.0.0.2:9092');
  t.equal(urlFor(FETCH), 'http://10.0.0.2:9092', 'reads of the partition go to its leader, as when NOT_LEADER named it');
  t.equal(urlFor(targetOf('POST', '/v1/topics/orders/partitions/1/records')), 'http://10.0.0.1:9091');

  servedBy.onAnswer(PRODUCE, 200, '3');
  t.equal(reads.count, 1, 'a known node: no read');
  t.equal(urlFor(PRODUCE), 'http://10.0.0.3:9093', 'a new leader is followed at once');
});

void t.test('a read names a follower: the partition keeps its leader', async (t) => {
  const { servedBy, reads, urlFor } = setUp(['http://10.0.0.1:9091']);
  servedBy.onAnswer(PRODUCE, 200, '2');
  await servedBy.pendingRead(PRODUCE.key);
  servedBy.onAnswer(FETCH, 200, '3');
  servedBy.onAnswer(targetOf('GET', '/v1/topics/orders/partitions/0/offsets'), 200, '1');
  t.equal(urlFor(PRODUCE), 'http://10.0.0.2:9092');
  t.equal(reads.count, 1);
});

void t.test('a group request names the coordinator', async (t) => {
  const { servedBy, urlFor } = setUp(['http://10.0.0.1:9091', 'http://10.0.0.2:9092']);
  const join = targetOf('POST', '/v1/groups/billing/members');
  servedBy.onAnswer(join, 200, '3');
  await servedBy.pendingRead(join.key);
  t.equal(urlFor(targetOf('POST', '/v1/groups/billing/members/m-1/heartbeat')), 'http://10.0.0.3:9093');
  t.equal(urlFor(targetOf('POST', '/v1/groups/other/members')), 'http://10.0.0.1:9091');
});

void t.test('behind a proxy the client keeps to the URL it was given', async (t) => {
  const { servedBy, reads, routing, urlFor, advance } = setUp(['http://runnel.example/prefix']);
  servedBy.onAnswer(PRODUCE, 200, '2');
  await servedBy.pendingRead(PRODUCE.key);
  t.equal(urlFor(PRODUCE), 'http://runnel.example/prefix');
  t.same(routing.nodes.map((node) => node.href), ['http://runnel.example/prefix'], 'no node URL was added');
  servedBy.onAnswer(PRODUCE, 200, '3');
  t.equal(reads.count, 1, 'the node list is not read again while fresh');
  t.equal(servedBy.pendingRead(PRODUCE.key), undefined);
  advance(CLUSTER_MAX_AGE_MS);
  servedBy.onAnswer(PRODUCE, 200, '3');
  t.equal(reads.count, 2, 'read again once stale');
  await servedBy.pendingRead(PRODUCE.key);
  t.equal(urlFor(PRODUCE), 'http://runnel.example/prefix');
});

void t.test('a cluster read that fails leaves the request where it went and is tried again a second later', async (t) => {
  const { servedBy, reads, urlFor, advance } = setUp(['http://10.0.0.1:9091'], 'no answer');
  servedBy.onAnswer(PRODUCE, 200, '2');
  await servedBy.pendingRead(PRODUCE.key);
  t.equal(urlFor(PRODUCE), 'http://10.0.0.1:9091');
  servedBy.onAnswer(PRODUCE, 200, '2');
  t.equal(reads.count, 1);
  advance(1_000);
  servedBy.onAnswer(PRODUCE, 200, '2');
  t.equal(reads.count, 2);
});

void t.test('readCluster: one read at a time, shared with rack reads', async (t) => {
  const { servedBy, reads, urlFor } = setUp(['http://10.0.0.3:9093']);
  const [first, second] = await Promise.all([servedBy.readCluster(), servedBy.readCluster()]);
  t.equal(reads.count, 1);
  t.same(first, NODES);
  t.equal(second, first);
  servedBy.onAnswer(PRODUCE, 200, '1');
  t.equal(reads.count, 1, 'the URL is known from that read');
  t.equal(urlFor(PRODUCE), 'http://10.0.0.1:9091');
});
