/**
 * Streams survive a leader change (issue 21): SSE and NDJSON streams opened on a
 * follower keep flowing while the partition's leader is SIGKILLed.
 *
 * Three real nodes, a topic of one partition at replicationFactor 3 and
 * min.insync.replicas 2. Both kinds of stream are opened at `earliest` on each of the
 * two followers (one of them becomes the new leader, the other stays a follower) before
 * the load; the project's client produces acks=all through every node's URL; the leader
 * is SIGKILLed; the load goes on until another node leads and more records are
 * acknowledged. Then each stream must have delivered:
 *   - every offset from 0 up to the last acknowledged one exactly once, in order (SSE:
 *     the event id is the offset; NDJSON: each line's offset), so no gap and no repeat;
 *   - every acknowledged record at its offset with its value;
 *   - no error event (SSE `event: error`, NDJSON an `{"error":...}` line), and the stream
 *     is still open.
 * Every wait is bounded; no timing is asserted.
 */
import t from 'tap';
import { startCluster } from '../../helpers/cluster.js';
import { produce, requestJson } from '../../helpers/http.js';
import { checkStreamsAcrossLeaderKill, ndjsonDelivered, openStream, partitionRoles, replicatedTopic, servedBy, sseDelivered, type WatchedStream } from './support.js';

t.setTimeout(90_000);

const TOPIC = 'streams';

void t.test('SSE and NDJSON streams on the followers deliver every acknowledged record once, in order, across a leader SIGKILL', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline(20_000);
  await replicatedTopic(cluster, TOPIC, { configs: { 'min.insync.replicas': 2 } });
  const { leader, followers } = await partitionRoles(cluster, TOPIC, 0);
  const pathOn = (nodeId: number): string => `${cluster.url(nodeId)}/v1/topics/${TOPIC}/partitions/0/records?offset=earliest`;
  // Opened on each follower's own log once it has heard from the leader (right after the
  // topic is made a follower hands reads to the leader until its first fetch is answered).
  // Both followers: one of them becomes the leader, the other stays a follower.
  await produce(cluster.url(leader), TOPIC, [{ value: 'before' }], { partition: 0, acks: 'all' });
  const streams: WatchedStream[] = [];
  for (const nodeId of followers) {
    await cluster.waitFor(async () => servedBy((await requestJson(pathOn(nodeId))).headers) === String(nodeId), 10_000, `node ${nodeId} to serve reads itself`);
    for (const [kind, accept, deliveredOf] of [['SSE', 'text/event-stream', sseDelivered], ['NDJSON', 'application/x-ndjson', ndjsonDelivered]] as const) {
      const stream = await openStream(t, pathOn(nodeId), { accept });
      const name = `${kind} on node ${nodeId}`;
      t.equal(stream.status, 200, `${name} (a follower): 200`);
      t.equal(servedBy(stream.headers), String(nodeId), `${name}: served by its own log`);
      streams.push({ name, stream, deliveredOf });
    }
  }

  await checkStreamsAcrossLeaderKill(t, cluster, TOPIC, leader, followers[0], streams);
});
