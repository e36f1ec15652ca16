/**
 * Racks (Kafka's broker.rack and client.rack, KIP-392), on real nodes:
 * - `--rack` / RUNNEL_RACK is validated at start: a bad one stops the node with a
 *   message naming the setting and what is allowed;
 * - GET /v1/cluster lists each node's rack (null without one), on a single node and on
 *   every node of a three-node cluster started with racks;
 * - a client given node 2's rack reads a partition led by another node from node 2 (a
 *   replica in its ISR): fetch, offsets and a stream go there, and node 2's log serves
 *   them (Runnel-Served-By); a write still goes to the leader;
 * - once node 2 is stopped, the same client's reads still succeed, from the others.
 */
import path from 'node:path';
import t from 'tap';
import { Agent, type Dispatcher } from 'undici';
import { Runnel } from '../../src/index.js';
import { loadSettings, SettingsError } from '../../src/node/settings.js';
import { startNode } from '../helpers/child-node.js';
import { startCluster, type ClusterDescription, type TopicView } from '../helpers/cluster.js';
import { produce, requestJson, requestOk } from '../helpers/http.js';
import { runCli } from '../ops/support.js';

const RACK_MESSAGE = /setting rack \(--rack \/ RUNNEL_RACK\) from the (command line|environment): expected 1-64 characters of A-Z, a-z, 0-9, "\.", "_" and "-"/;
const TOPIC = 'racked';
const PARTITION_COUNT = 3;
const rackOf = (nodeId: number): string => `zone-${nodeId}`;

/** One request the client's dispatcher sent: where to, and which node said it served it. */
interface SentRequest {
  origin: string;
  method: string;
  path: string;
  servedBy: string | undefined;
}

/** An Agent that records every request's origin and path, and the answer's Runnel-Served-By header. */
class RecordingAgent extends Agent {
  readonly sent: SentRequest[] = [];

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const entry: SentRequest = { origin: String(options.origin), method: options.method, path: options.path.split('?')[0], servedBy: undefined };
    this.sent.push(entry);
    const legacy = handler as { onHeaders?: (status: number, headers: Buffer[], ...rest: unknown[]) => boolean };
    const recording = new Proxy(handler, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (property === 'onHeaders' && typeof legacy.onHeaders === 'function') {
          return (status: number, headers: Buffer[], ...rest: unknown[]) => {
            for (let i = 0; i + 1 < headers.length; i += 2) {
              if (headers[i].toString('latin1').toLowerCase() === 'runnel-served-by') entry.servedBy = headers[i + 1].toString('latin1');
            }
            return legacy.onHeaders?.call(target, status, headers, ...rest);
          };
        }
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    return super.dispatch(options, recording);
  }

  /** Requests sent since `from`, whose method and path match. */
  matching(from: number, method: string, path: RegExp): SentRequest[] {
    return this.sent.slice(from).filter((request) => request.method === method && path.test(request.path));
  }
}

void t.test('--rack is validated when the node starts', async (t) => {
  for (const bad of ['eu west', 'a'.repeat(65), 'zone/1', 'zöne']) {
    t.throws(() => loadSettings(['--rack', bad], {}), RACK_MESSAGE, `--rack ${JSON.stringify(bad)} is refused`);
    t.throws(() => loadSettings([], { RUNNEL_RACK: bad }), SettingsError, `RUNNEL_RACK=${JSON.stringify(bad)} is refused`);
  }
  t.equal(loadSettings(['--rack', 'eu-west-1a'], {}).rack, 'eu-west-1a', 'a zone name is taken');
  t.equal(loadSettings([], { RUNNEL_RACK: 'Rack_7.b' }).rack, 'Rack_7.b', 'from the environment too');
  t.equal(loadSettings(['--rack', 'a'.repeat(64)], {}).rack, 'a'.repeat(64), '64 characters are taken');
  t.equal(loadSettings([], {}).rack, '', 'no rack by default');

  const dataDir = path.join(t.testdir(), 'data');
  const result = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--rack', 'eu west'], { timeoutMs: 30_000 });
  t.equal(result.isTimedOut, false, 'exits by itself');
  t.equal(result.code, 2, `exit code 2: ${result.stderr}`);
  t.match(result.stderr, RACK_MESSAGE, 'stderr names the setting and what a rack may hold');
  t.notMatch(result.stdout, /Server listening/, 'never listened');
});

void t.test('a single node lists its own rack in GET /v1/cluster, or null', async (t) => {
  for (const rack of ['dc-1', undefined]) {
    const node = await startNode({ dataDir: path.join(t.testdir(), rack ?? 'none'), t, args: rack === undefined ? [] : ['--rack', rack] });
    const { body } = await requestOk<ClusterDescription>(`${node.url}/v1/cluster`);
    t.same(body.nodes.map((each) => ({ nodeId: each.nodeId, rack: each.rack })), [{ nodeId: 1, rack: rack ?? null }], `rack ${rack ?? 'unset'}`);
    await node.stop();
  }
});

void t.test('a three-node cluster with racks', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, nodeArgs: (nodeId) => ['--rack', rackOf(nodeId)] });
  await cluster.waitForOnline(20_000);

  await t.test('every node lists every node with its rack', async (t) => {
    // Each node registers its rack with its first heartbeat; every node applies the registrations.
    const racks = await cluster.waitFor(async () => {
      const status = await cluster.clusterStatus();
      const seen = [...status.byNode.values()].map((answer) => typeof answer === 'string' ? answer : answer.nodes.map((node) => `${node.nodeId}:${node.rack}`).join(','));
      return seen.every((each) => each === '1:zone-1,2:zone-2,3:zone-3') ? seen : undefined;
    }, 10_000, 'every node lists racks zone-1, zone-2 and zone-3');
    t.equal(racks.length, 3, 'on all three nodes');
  });

  await requestOk(`${cluster.url(1)}/v1/topics`, { body: { name: TOPIC, partitions: PARTITION_COUNT, replicationFactor: 3 }, timeoutMs: 20_000 });
  // A partition led by another node, with node 2 in its ISR, once every node knows the topic.
  const view = await cluster.waitFor(async () => {
    let last: TopicView | undefined;
    for (const nodeId of [1, 2, 3]) {
      const topic = (await requestJson<TopicView>(`${cluster.url(nodeId)}/v1/topics/${TOPIC}`, { timeoutMs: 3_000 })).body;
      const isFull = topic.partitions?.length === PARTITION_COUNT && topic.partitions.every((partition) => partition.leader !== null && partition.isr.length === 3);
      if (!isFull) return undefined;
      last = topic;
    }
    return last;
  }, 20_000, 'every node listing every partition with a leader and three in-sync replicas');
  const chosen = view.partitions.find((partition) => partition.leader !== 2);
  if (chosen === undefined) throw new Error(`node 2 leads every partition: ${JSON.stringify(view.partitions)}`);
  const partition = chosen.partition;
  const leaderUrl = cluster.url(chosen.leader as number);
  await produce(leaderUrl, TOPIC, Array.from({ length: 10 }, (_, i) => ({ value: `record-${i}`, partition })), { timeoutMs: 10_000 });
  // A follower's high watermark trails the leader's by a fetch: the reads below start once every replica serves what was written.
  const everyReplicaServes = (count: number) => cluster.waitFor(async () => {
    for (const nodeId of cluster.runningIds()) {
      const offsets = await requestJson<{ highWatermark: number }>(`${cluster.url(nodeId)}/v1/topics/${TOPIC}/partitions/${partition}/offsets`, { timeoutMs: 3_000 });
      if (offsets.body.highWatermark !== count) return false;
    }
    return true;
  }, 10_000, `every replica's high watermark at ${count}`);
  await everyReplicaServes(10);

  const agent = new RecordingAgent();
  t.teardown(() => agent.close());
  const runnel = new Runnel({ urls: cluster.urls(), rack: rackOf(2), dispatcher: agent, timeoutMs: 20_000 });
  t.teardown(() => runnel.close());

  await t.test("a client in node 2's rack reads from node 2; its writes go to the leader", async (t) => {
    const from = agent.sent.length;
    const fetched = await runnel.fetch(TOPIC, partition, { offset: 0, maxRecords: 100 });
    t.same(fetched.records.map((record) => record.value), Array.from({ length: 10 }, (_, i) => `record-${i}`), 'every record, in order');
    const reads = agent.matching(from, 'GET', /\/partitions\/\d+\/records$/);
    t.equal(reads[0]?.origin, cluster.url(2), 'the read went to node 2');
    t.equal(reads.at(-1)?.servedBy, '2', "node 2's log served it (Runnel-Served-By)");

    const offsets = await runnel.offsets(TOPIC, partition);
    t.equal(offsets.highWatermark, 10, 'offsets: the high watermark');
    t.equal(agent.matching(from, 'GET', /\/offsets$/)[0]?.origin, cluster.url(2), 'offsets went to node 2');

    const streamFrom = agent.sent.length;
    const streamed: unknown[] = [];
    const controller = new AbortController();
    for await (const record of runnel.stream(TOPIC, partition, { offset: 0, signal: controller.signal })) {
      streamed.push(record.value);
      if (streamed.length === 10) controller.abort();
    }
    t.equal(streamed.length, 10, 'the stream delivered the ten records');
    const streams = agent.matching(streamFrom, 'GET', /\/partitions\/\d+\/records$/);
    t.equal(streams[0]?.origin, cluster.url(2), 'the stream was opened on node 2');

    const sendFrom = agent.sent.length;
    await runnel.send({ topic: TOPIC, partition, records: [{ value: 'written' }] });
    t.same(agent.matching(sendFrom, 'POST', /\/records$/).map((request) => request.origin), [leaderUrl], 'the write went to the leader only');
  });

  await t.test('with node 2 stopped, the same client still reads', async (t) => {
    await everyReplicaServes(11);
    await cluster.stop(2);
    for (let round = 0; round < 5; round++) {
      const fetched = await runnel.fetch(TOPIC, partition, { offset: 0, maxRecords: 100 });
      t.equal(fetched.records.length, 11, `read ${round + 1}: every record`);
    }
    const from = agent.sent.length;
    await runnel.fetch(TOPIC, partition, { offset: 10 });
    const last = agent.matching(from, 'GET', /\/partitions\/\d+\/records$/).at(-1);
    t.not(last?.origin, cluster.url(2), `the last read was served elsewhere (${last?.origin}, served by ${last?.servedBy})`);
  });
});
