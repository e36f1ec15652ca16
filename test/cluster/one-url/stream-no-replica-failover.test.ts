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
import { checkStreamsAcrossLeaderKill, ndjsonDelivered, openStream, partitionRoles, replicatedTopic, servedBy, sseDelivered, type WatchedStream } from './support.js';

t.setTimeout(90_000);

const TOPIC = 'far-streams';

void t.test('SSE and NDJSON streams on a node with no replica deliver every acknowledged record once, in order, across a leader SIGKILL', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await replicatedTopic(cluster, TOPIC, { replicationFactor: 2 });
  const { leader, followers } = await partitionRoles(cluster, TOPIC, 0);
  const outsider = cluster.runningIds().find((nodeId) => nodeId !== leader && !followers.includes(nodeId))!;
  t.ok(outsider !== undefined, `node ${outsider} holds no replica (leader ${leader}, follower ${followers.join(', ')})`);
  await produce(cluster.url(leader), TOPIC, [{ value: 'before' }], { partition: 0, acks: 'all' });

  const streams: WatchedStream[] = [];
  for (const [kind, accept, deliveredOf] of [['SSE', 'text/event-stream', sseDelivered], ['NDJSON', 'application/x-ndjson', ndjsonDelivered]] as const) {
    const stream = await openStream(t, `${cluster.url(outsider)}/v1/topics/${TOPIC}/partitions/0/records?offset=earliest`, { accept });
    const name = `${kind} on node ${outsider}`;
    t.equal(stream.status, 200, `${name} (no replica): 200`);
    t.equal(servedBy(stream.headers), String(leader), `${name}: read from the leader, node ${leader}`);
    streams.push({ name, stream, deliveredOf });
  }

  await checkStreamsAcrossLeaderKill(t, cluster, TOPIC, leader, outsider, streams);
});
