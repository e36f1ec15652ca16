/**
 * The client leaves a frozen or cut-off leader. Three real nodes (helpers/cluster.ts,
 * node-to-node traffic through fault proxies) serve a topic of one partition,
 * replicationFactor 3, min.insync.replicas 2. A batching producer (acks=all, client
 * retries on) talks to the partition's leader and keeps sending while that leader
 *   - is frozen (SIGSTOP): it accepts connections and never answers, and
 *   - is cut off from the other nodes: it still answers the client, but can commit
 *     nothing and never hears that the others elected a new leader.
 * The promise: acknowledgements of records sent after the fault began resume while the
 * fault lasts (the client gave up on that node after attemptTimeoutMs, read the
 * partition's leader from another node and followed the new one), and every
 * acknowledged record is in the log at its acknowledged offset. (Whether a retry across
 * leaders appends a record twice is another promise, tested with the idempotent
 * producer; this test does not count duplicates.)
 */
import t, { type Test } from 'tap';
import { Runnel, type RecordMetadata } from '../../src/index.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';

// Three child processes and two faults with their recoveries.
t.setTimeout(120_000);

const TOPIC = 'failover';
/** Records sent after the fault began that must be acknowledged before it ends. */
const ACKS_DURING_FAULT_MIN = 20;
/** How long the fault may last at most while the test waits for those acknowledgements. */
const FAULT_MS_MAX = 20_000;
/** Records per producer run, at most (the loop is bounded in count as well as in time). */
const RECORDS_MAX = 20_000;
/** Pause between two sends: a steady load that leaves the CPUs to the nodes. */
const SEND_PAUSE_MS = 5;

interface Acked {
  value: string;
  offset: number;
  isSentDuringFault: boolean;
}

/** Sends records until stopped; remembers every acknowledgement and whether its record was sent during the fault. */
class Load {
  readonly acked: Acked[] = [];
  failures: string[] = [];
  isFaultOn = false;
  private isStopped = false;
  private readonly sends: Array<Promise<void>> = [];
  private readonly loop: Promise<void>;

  constructor(private readonly runnel: Runnel, label: string) {
    const producer = runnel.producer({ acks: 'all', lingerMs: 5, maxInFlight: 5 });
    this.loop = (async () => {
      for (let index = 0; index < RECORDS_MAX && !this.isStopped; index++) {
        const value = `${label}-${index}`;
        const isSentDuringFault = this.isFaultOn;
        this.sends.push(producer.send(TOPIC, { value }).then(
          (metadata: RecordMetadata) => {
            this.acked.push({ value, offset: metadata.offset, isSentDuringFault });
          },
          (error: unknown) => {
            this.failures.push(`${value}: ${(error as Error).message}`);
          },
        ));
        await new Promise((resolve) => setTimeout(resolve, SEND_PAUSE_MS));
      }
      await producer.close();
    })();
  }

  get ackedDuringFault(): number {
    return this.acked.filter((ack) => ack.isSentDuringFault).length;
  }

  async stop(): Promise<void> {
    this.isStopped = true;
    await this.loop;
    await Promise.all(this.sends);
  }
}

async function leaderWithFullIsr(cluster: Cluster): Promise<number> {
  return cluster.waitFor(async () => {
    const view = await cluster.describeTopic(TOPIC);
    const [partition] = view.partitions;
    return partition.leader !== null && partition.leader > 0 && partition.isr.length === 3 ? partition.leader : undefined;
  }, 30_000, `a leader of ${TOPIC}-0 with all three replicas in its ISR`);
}

/**
 * Every acknowledged record is at its acknowledged offset (read through the client). The
 * node that serves the read may be a follower, whose high watermark trails the leader's
 * by a fetch: each read long-polls, so one just short of the last acknowledgement waits
 * for it there instead of ending the scan early.
 */
async function checkAcknowledged(t: Test, runnel: Runnel, acked: Acked[]): Promise<void> {
  const byOffset = new Map<number, unknown>();
  const lastOffset = Math.max(...acked.map((ack) => ack.offset));
  let offset = 0;
  for (let round = 0; round < 1_000 && offset <= lastOffset; round++) {
    const answer = await runnel.fetch(TOPIC, 0, { offset, maxRecords: 10_000, waitMs: 5_000 });
    for (const record of answer.records) byOffset.set(record.offset, record.value);
    if (answer.nextOffset === offset) break;
    offset = answer.nextOffset;
  }
  const missing = acked.filter((ack) => byOffset.get(ack.offset) !== ack.value);
  t.same(missing.slice(0, 10), [], `every one of the ${acked.length} acknowledged records is at its acknowledged offset`);
}

async function produceThroughFault(t: Test, cluster: Cluster, kind: 'pause' | 'cut'): Promise<void> {
  const leader = await leaderWithFullIsr(cluster);
  const others = cluster.urls().filter((url) => url !== cluster.url(leader));
  // The client starts at the leader, so the producer's requests go straight to it.
  const runnel = new Runnel({ urls: [cluster.url(leader), ...others], retries: 10, timeoutMs: 30_000 });
  t.teardown(() => runnel.close());
  const load = new Load(runnel, kind);
  await cluster.waitFor(() => load.acked.length >= ACKS_DURING_FAULT_MIN, 15_000, 'acknowledgements before the fault');

  const child = cluster.member(leader).child!;
  if (kind === 'pause') child.process.kill('SIGSTOP');
  else cluster.isolate(leader);
  load.isFaultOn = true;
  const faultStartedMs = Date.now();
  let ackedDuringFault = 0;
  try {
    ackedDuringFault = await cluster.waitFor(() => (load.ackedDuringFault >= ACKS_DURING_FAULT_MIN ? load.ackedDuringFault : undefined),
      FAULT_MS_MAX, `${ACKS_DURING_FAULT_MIN} acknowledgements of records sent while node ${leader} is ${kind === 'pause' ? 'frozen' : 'cut off'}`, 50);
  } catch (error) {
    t.fail(String(error), { failures: load.failures.slice(0, 5) });
  } finally {
    // Checked before the fault ends: the progress did not wait for the old leader.
    t.ok(ackedDuringFault >= ACKS_DURING_FAULT_MIN, `records sent while node ${leader} was ${kind === 'pause' ? 'frozen' : 'cut off'} were acknowledged before it came back`);
    t.comment(`${ackedDuringFault} acknowledgements of records sent during the fault, within ${Date.now() - faultStartedMs} ms of its start`);
    if (kind === 'pause') child.process.kill('SIGCONT');
    else cluster.heal(leader);
  }
  load.isFaultOn = false;
  await load.stop();
  t.not(await cluster.leaderOf(TOPIC, 0), null, 'the partition has a leader');
  t.same(load.failures.slice(0, 5), [], 'no send failed: the client rode out the fault with its retries');
  await checkAcknowledged(t, runnel, load.acked);
}

void t.test('a producer keeps producing through a frozen leader and a cut-off leader, and loses no acknowledged record', async (t) => {
  const cluster = await startCluster(t, { nodes: 3 });
  await cluster.waitForOnline();
  const admin = new Runnel({ urls: cluster.urls() });
  t.teardown(() => admin.close());
  await admin.topics.create({ name: TOPIC, partitions: 1, replicationFactor: 3, configs: { 'min.insync.replicas': '2' } });

  await t.test('the leader is frozen (SIGSTOP)', (t) => produceThroughFault(t, cluster, 'pause'));
  await t.test('the leader is cut off from the other nodes', (t) => produceThroughFault(t, cluster, 'cut'));
});
