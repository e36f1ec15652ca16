/**
 * Every 503 a cluster gives carries Retry-After (whole seconds, at least 1) and a stable
 * code; NOT_LEADER bodies carry leaderId, leaderUrl and leaderEpoch (null when unknown).
 * Issue 21: "answers a client can act on". One test per code provoked in a real cluster.
 *
 * One cluster of three voters of which two run (node 3 never starts), so:
 *   - NOT_READY: with two of three nodes alive the controller does not create the
 *     consumer-offsets topic (it wants three replicas), so a group has no coordinator;
 *   - NOT_ENOUGH_REPLICAS: a topic whose min.insync.replicas (3) is above its replicas (2);
 *   - NOT_LEADER naming the leader: a read another node already handed over
 *     (Runnel-Forwarded-By) reaching a node that holds no replica of the partition is
 *     not handed on again;
 *   - NOT_LEADER with no leader: the only replica of a partition stopped (reads,
 *     a long-poll, a stream and a produce on the node left);
 *   - NOT_CONTROLLER: the node left alone (one of three voters) is asked to create a
 *     topic: no controller answers within the controller wait (15 s).
 * Not provoked here: REQUEST_TIMED_OUT (acks=all waits limits.acksAllTimeoutMs, 30 s, for
 * in-sync replicas that do not confirm: too long for this suite), OVERLOADED and
 * TOO_MANY_OPEN_FILES (node guard rails, test/ops/ and test/http/).
 */
import t, { type Test } from 'tap';
import { startCluster } from '../../helpers/cluster.js';
import { requestJson, type JsonResponse } from '../../helpers/http.js';
import { partitionRoles, replicatedTopic } from './support.js';

t.setTimeout(120_000);

type ErrorBody = { error?: { code?: string; message?: unknown; leaderId?: unknown; leaderUrl?: unknown; leaderEpoch?: unknown } };

/** A 503 with `code`, a message and Retry-After as whole seconds >= 1. */
function assert503(t: Test, response: JsonResponse<unknown>, code: string, what: string): ErrorBody['error'] {
  const body = response.body as ErrorBody | undefined;
  t.equal(response.status, 503, `${what}: 503 (got ${response.status} ${JSON.stringify(body).slice(0, 300)})`);
  t.equal(body?.error?.code, code, `${what}: code ${code}`);
  t.type(body?.error?.message, 'string', `${what}: a message`);
  const retryAfter = response.headers['retry-after'];
  t.ok(typeof retryAfter === 'string' && /^\d+$/.test(retryAfter) && Number(retryAfter) >= 1, `${what}: Retry-After in whole seconds >= 1 (got ${JSON.stringify(retryAfter)})`);
  return body?.error;
}

/** NOT_LEADER's fields are there, null when unknown. */
function assertLeaderFields(t: Test, error: ErrorBody['error'], expected: { leaderId: number | null; leaderUrl: string | null }, what: string): void {
  t.ok(error !== undefined && 'leaderId' in error && 'leaderUrl' in error && 'leaderEpoch' in error, `${what}: leaderId, leaderUrl and leaderEpoch are in the body`);
  t.equal(error?.leaderId, expected.leaderId, `${what}: leaderId ${expected.leaderId}`);
  t.equal(error?.leaderUrl, expected.leaderUrl, `${what}: leaderUrl ${expected.leaderUrl}`);
  const epoch = error?.leaderEpoch;
  if (expected.leaderId === null) t.ok(epoch === null || (Number.isInteger(epoch) && (epoch as number) >= 0), `${what}: leaderEpoch null or an epoch (got ${JSON.stringify(epoch)})`);
  else t.ok(Number.isInteger(epoch) && (epoch as number) >= 0, `${what}: leaderEpoch is the partition's epoch (got ${JSON.stringify(epoch)})`);
}

void t.test('every 503 of a cluster carries Retry-After and a code a client can act on', async (t) => {
  const cluster = await startCluster(t, { nodes: 3, downAtStart: [3] });
  await cluster.waitForOnline(20_000);
  const [first, second] = cluster.runningIds();

  await t.test('NOT_READY: no coordinator while the consumer-offsets topic cannot be made', async (t) => {
    for (const nodeId of [first, second]) {
      assert503(t, await requestJson(`${cluster.url(nodeId)}/v1/groups/billing/offsets`), 'NOT_READY', `GET group offsets on node ${nodeId}`);
      const join = await requestJson(`${cluster.url(nodeId)}/v1/groups/billing/members`, { body: { topics: ['orders'], autoOffsetReset: 'earliest' } });
      assert503(t, join, 'NOT_READY', `a join on node ${nodeId}`);
    }
  });

  await t.test('NOT_ENOUGH_REPLICAS: min.insync.replicas above the ISR', async (t) => {
    await replicatedTopic(cluster, 'strict', { replicationFactor: 2, configs: { 'min.insync.replicas': 3 } });
    const { leader } = await partitionRoles(cluster, 'strict', 0);
    const produced = await requestJson(`${cluster.url(leader)}/v1/topics/strict/partitions/0/records?acks=all`, { body: { records: [{ value: 1 }] } });
    assert503(t, produced, 'NOT_ENOUGH_REPLICAS', `an acks=all produce on the leader, node ${leader}`);
  });

  // RF 1, two partitions: spread over the two nodes, each held by one of them only.
  await replicatedTopic(cluster, 'pinned', { partitions: 2, replicationFactor: 1 });
  const { leader: owner } = await partitionRoles(cluster, 'pinned', 0);
  const other = owner === first ? second : first;
  const partitionPath = (nodeId: number): string => `${cluster.url(nodeId)}/v1/topics/pinned/partitions/0`;

  // (Produce is forwarded to leaders over the internal route, not handed over: a produce
  // never meets this case.)
  await t.test('NOT_LEADER naming the leader: a handed-over read is not handed on again', async (t) => {
    const forwarded = { 'runnel-forwarded-by': String(owner) };
    const read = await requestJson(`${partitionPath(other)}/records?offset=0`, { headers: forwarded });
    assertLeaderFields(t, assert503(t, read, 'NOT_LEADER', `a forwarded read on node ${other}`), { leaderId: owner, leaderUrl: cluster.url(owner) }, 'the read');
  });

  await t.test('NOT_LEADER with no leader, and NOT_CONTROLLER: the only replica stopped, one voter of three left', async (t) => {
    await cluster.stop(owner);
    let seen = 'nothing yet';
    await cluster.waitFor(async () => {
      const view = (await cluster.describeTopic('pinned', other)).partitions[0];
      seen = JSON.stringify(view);
      // GET /v1/topics/{t} says leader -1 (and leaderUrl null) for a partition without one.
      return view.leader === null || view.leader < 0;
    }, 10_000, `node ${other} to see partition 0 without a leader`).catch((error: Error) => {
      throw new Error(`${error.message}; partition 0 as node ${other} sees it: ${seen}\n${cluster.output(other, 15)}`);
    });
    const noLeader = { leaderId: null, leaderUrl: null };
    const timeoutMs = 45_000;
    // Together: a produce forwarded to a partition without a leader and a topic create
    // without a controller are answered at their deadlines (tens of seconds).
    const [records, longPoll, offsets, stream, produced, created] = await Promise.all([
      requestJson(`${partitionPath(other)}/records?offset=0`, { timeoutMs }),
      requestJson(`${partitionPath(other)}/records?offset=0&waitMs=5000`, { timeoutMs }),
      requestJson(`${partitionPath(other)}/offsets`, { timeoutMs }),
      requestJson(`${partitionPath(other)}/records?offset=earliest`, { headers: { accept: 'text/event-stream' }, timeoutMs }),
      requestJson(`${partitionPath(other)}/records`, { body: { records: [{ value: 1 }] }, timeoutMs }),
      requestJson(`${cluster.url(other)}/v1/topics`, { body: { name: 'late', partitions: 1, replicationFactor: 1 }, timeoutMs }),
    ]);
    assertLeaderFields(t, assert503(t, records, 'NOT_LEADER', 'a fetch'), noLeader, 'the fetch');
    assertLeaderFields(t, assert503(t, longPoll, 'NOT_LEADER', 'a long-poll'), noLeader, 'the long-poll');
    assertLeaderFields(t, assert503(t, offsets, 'NOT_LEADER', 'GET offsets'), noLeader, 'GET offsets');
    assertLeaderFields(t, assert503(t, stream, 'NOT_LEADER', 'an SSE stream'), noLeader, 'the stream');
    assertLeaderFields(t, assert503(t, produced, 'NOT_LEADER', 'a partition-path produce'), noLeader, 'the produce');
    assert503(t, created, 'NOT_CONTROLLER', `a topic create on node ${other}, alone`);
  });
});
