/**
 * Streams opened on a node that holds no replica of the partition survive a leader
 * change (issue 21, "streams survive a leader change" with the replication factor below
 * the cluster's size). The node follows the partition itself, reading from the in-sync
 * replicas, so when the leader it reads from is SIGKILLed it goes on at the same offset
 * at the other replica.
 *
 * Three real nodes, a topic of one partition at replicationFactor 2: SSE and NDJSON
 * streams are opened at `earliest` on the third node; the project's client produces
 * acks=all through every node's URL; the leader is SIGKILLed; the load goes on until the
 * other replica leads and more records are acknowledged. Each stream must have
 * delivered every offset from 0 to the last acknowledged one exactly once, in order,
 * each acknowledged record with its value, no error event, and still be open.
 * Every wait is bounded; no timing is asserted.
 */
import t from 'tap';
import { startCluster } from '../../helpers/cluster.js';
import { produce } from '../../helpers/http.js';
import {
  lastAckedOffset, ndjsonDelivered, newLeader, openStream, partitionRoles, replicatedTopic, servedBy, sseDelivered, startLoad, type Delivered, type OpenStream,
} from './support.js';

t.setTimeout(90_000);

const TOPIC = 'far-streams';
const ACKS_BEFORE_KILL = 20;
const ACKS_AFTER_FAILOVER = 20;

void t.test('SSE and NDJSON streams on a node with no replica deliver every acknowledged record once, in order, across a leader SIGKILL', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await replicatedTopic(cluster, TOPIC, { replicationFactor: 2 });
  const { leader, followers } = await partitionRoles(cluster, TOPIC, 0);
  const outsider = cluster.runningIds().find((nodeId) => nodeId !== leader && !followers.includes(nodeId))!;
  t.ok(outsider !== undefined, `node ${outsider} holds no replica (leader ${leader}, follower ${followers.join(', ')})`);
  await produce(cluster.url(leader), TOPIC, [{ value: 'before' }], { partition: 0, acks: 'all' });

  const streams: Array<{ name: string; stream: OpenStream; deliveredOf: (stream: OpenStream) => Delivered }> = [];
  for (const [kind, accept, deliveredOf] of [['SSE', 'text/event-stream', sseDelivered], ['NDJSON', 'application/x-ndjson', ndjsonDelivered]] as const) {
    const stream = await openStream(t, `${cluster.url(outsider)}/v1/topics/${TOPIC}/partitions/0/records?offset=earliest`, { accept });
    const name = `${kind} on node ${outsider}`;
    t.equal(stream.status, 200, `${name} (no replica): 200`);
    t.equal(servedBy(stream.headers), String(leader), `${name}: read from the leader, node ${leader}`);
    streams.push({ name, stream, deliveredOf });
  }

  const load = startLoad(cluster, TOPIC, 0, 'far');
  let next: number | undefined;
  try {
    await cluster.waitFor(() => load.acked.size >= ACKS_BEFORE_KILL, 15_000, `${ACKS_BEFORE_KILL} records acknowledged before the kill`);
    await cluster.kill(leader);
    next = await cluster.waitFor(() => newLeader(cluster, TOPIC, 0, leader, outsider), 20_000, `a leader other than node ${leader}`);
    const ackedAtFailover = load.acked.size;
    await cluster.waitFor(() => load.acked.size >= ackedAtFailover + ACKS_AFTER_FAILOVER, 20_000, `${ACKS_AFTER_FAILOVER} more records acknowledged after node ${next} took over`);
  } finally {
    await load.stop();
  }
  const lastAcked = lastAckedOffset(load);
  t.comment(`node ${leader} led and was killed, node ${next} took over; ${load.acked.size} records acknowledged up to offset ${lastAcked}, ${load.failedSendCount} sends failed ${JSON.stringify(load.errors.slice(0, 2))}`);

  for (const { name, stream, deliveredOf } of streams) {
    await stream.reader.waitFor(() => {
      const delivered = deliveredOf(stream);
      return delivered.errors.length > 0 || (delivered.offsets.at(-1) ?? -1) >= lastAcked;
    }, `the ${name} to reach offset ${lastAcked}`, 15_000).catch((error: Error) => t.fail(error.message));
    const delivered = deliveredOf(stream);
    t.same(delivered.errors, [], `${name}: no error event`);
    const expected = Array.from({ length: delivered.offsets.length }, (_, index) => index);
    t.same(delivered.offsets, expected, `${name}: offsets 0..${delivered.offsets.length - 1}, each once, in order`);
    const missed = [...load.acked].filter(([offset, value]) => delivered.values.get(offset) !== value);
    t.same(missed.slice(0, 10), [], `${name}: every acknowledged record at its offset with its value (${missed.length} not)`);
    t.notOk(stream.reader.isEnded, `${name}: the stream is still open`);
    await stream.close();
  }
});
