/**
 * The crash promise of DESIGN.md: "a process killed at any instant must come back
 * with every acknowledged record and no torn one".
 *
 * A real node (the built CLI, as the container starts it) takes produce load from
 * several concurrent producers: batches of 1..50 records with unique ids, keyed,
 * explicitly partitioned (in the body or the path) or neither, json/string/binary
 * values, acks=leader and acks=all, on two topics of 3 partitions whose segments are
 * small enough to roll during the test: one fsyncs before every acknowledgement
 * (flush.messages=1), one leaves flushing to the OS (a SIGKILL ends the process, not
 * the kernel, so bytes written are kept either way). At a seeded random instant the
 * node is SIGKILLed, restarted on the same data directory, and the whole log is read
 * back and checked against what the producers were told.
 *
 * Seed: RUNNEL_CRASH_SEED=<n> replays a run's kill times and records (the exact
 * interleaving still depends on timing). Rounds: RUNNEL_CRASH_ROUNDS (default 12).
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Agent } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { AckLedger, FailureList, pick, seededRandom } from '../helpers/ack-ledger.js';
import { startNode, type ChildNode } from '../helpers/child-node.js';
import { createTopic, fetchAll, produce, requestOk, type FetchedRecord, type ProduceRecord, type ValueFormat } from '../helpers/http.js';

const seed = Number(process.env.RUNNEL_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const roundCount = Number(process.env.RUNNEL_CRASH_ROUNDS ?? 12);
const PARTITION_COUNT = 3;
const PRODUCER_COUNT = 4;
/** Each round's load ends by this time even if the kill never came. */
const LOAD_MS_MAX = 3_000;
/** Requests per producer per round, at most. */
const REQUEST_COUNT_MAX = 2_000;
/** The whole run stops starting rounds after this. */
const RUN_MS_MAX = 90_000;
/** Failures listed in full; the count is always exact. */
const FAILURES_LISTED_MAX = 30;

const TOPIC_CONFIGS = { 'segment.bytes': 65_536, 'index.interval.bytes': 512 };
const topics = [
  { name: 'crash-fsynced', configs: { ...TOPIC_CONFIGS, 'flush.messages': 1 } },
  { name: 'crash-unflushed', configs: TOPIC_CONFIGS },
];

const ID_PATTERN = /^r\d+\.w\d+\.\d+$/;

/** What a producer sent, to recognise it when it is read back. */
interface SentRecord {
  topic: string;
  /** JSON of [key, value, headers] exactly as a fetch must return them. */
  fingerprint: string;
  /** The partition the request named (body or path), if any. */
  explicitPartition: number | undefined;
  /** Set once the node acknowledged the record. */
  ack: { partition: number; offset: number; timestamp: number } | undefined;
}

interface Placement {
  topic: string;
  partition: number;
  offset: number;
}

const sent = new Map<string, SentRecord>();
/** Records never acknowledged (their request was in flight at the kill) but read back after a restart: they must stay put. */
const pinned = new Map<string, Placement>();
/** highWatermark per topic/partition at the last verification: later acks must come after it. */
const highWatermarkAtStart = new Map<string, number>();
const failures = new FailureList(FAILURES_LISTED_MAX);
const fail = (message: string): void => failures.fail(message);
/** topic/partition/offset -> id, for every acknowledged record. */
const ledger = new AckLedger(failures);

function where(topic: string, partition: number, offset?: number): string {
  return offset === undefined ? `${topic}-${partition}` : `${topic}-${partition}@${offset}`;
}

function fingerprintOf(key: unknown, value: unknown, headers: unknown): string {
  return JSON.stringify([key ?? null, value ?? null, headers ?? {}]);
}

/** The id inside a fetched value, whatever format it was produced in; undefined when none parses. */
function idOf(record: FetchedRecord): string | undefined {
  const candidates: unknown[] = [record.value];
  if (typeof record.value === 'string') {
    for (const text of [record.value, Buffer.from(record.value, 'base64').toString('utf8')]) {
      try {
        candidates.push(JSON.parse(text));
      } catch {
        // Not this format.
      }
    }
  }
  for (const candidate of candidates) {
    const id = (candidate as { id?: unknown } | null)?.id;
    if (typeof id === 'string' && ID_PATTERN.test(id)) return id;
  }
  return undefined;
}

interface RoundContext {
  round: number;
  url: string;
  dispatcher: Agent;
  /** Set just before the SIGKILL: from then on, failed requests are expected. */
  isKilled: boolean;
  loadDeadlineMs: number;
  ackedRequestCount: number;
  ackedRecordCount: number;
  unansweredRecordCount: number;
}

/** One producer: sends requests until the kill (or its bounds), recording every acknowledgement. */
async function producerLoop(context: RoundContext, worker: number): Promise<void> {
  const random = seededRandom(seed ^ Math.imul(context.round + 1, 0x9e3779b1) ^ Math.imul(worker + 1, 0x85ebca6b));
  let sequence = 0;
  for (let requestIndex = 0; requestIndex < REQUEST_COUNT_MAX; requestIndex++) {
    if (context.isKilled || Date.now() >= context.loadDeadlineMs) return;
    const topic = pick(random, topics).name;
    const pathPartition = random() < 0.2 ? Math.floor(random() * PARTITION_COUNT) : undefined;
    const valueFormat = pick<ValueFormat>(random, ['json', 'json', 'string', 'binary']);
    const acks = pick(random, ['leader', 'all'] as const);
    const size = 1 + Math.floor(random() * 50);
    const ids: string[] = [];
    const records: ProduceRecord[] = [];
    for (let index = 0; index < size; index++) {
      const id = `r${context.round}.w${worker}.${sequence++}`;
      const body = { id, pad: 'x'.repeat(Math.floor(random() * 200)) };
      const value = valueFormat === 'json' ? body : valueFormat === 'string' ? JSON.stringify(body) : Buffer.from(JSON.stringify(body)).toString('base64');
      const record: ProduceRecord = { value };
      const mode = random();
      if (mode < 0.4) record.key = `k${Math.floor(random() * 25)}`;
      else if (mode < 0.7 && pathPartition === undefined) record.partition = Math.floor(random() * PARTITION_COUNT);
      if (random() < 0.3) record.headers = { id, kind: 'crash-test' };
      if (random() < 0.2) record.timestamp = Date.now() - Math.floor(random() * 60_000);
      records.push(record);
      ids.push(id);
      sent.set(id, {
        topic,
        fingerprint: fingerprintOf(record.key, value, record.headers),
        explicitPartition: pathPartition ?? record.partition,
        ack: undefined,
      });
    }
    let offsets;
    try {
      offsets = await produce(context.url, topic, records, { partition: pathPartition, acks, valueFormat, dispatcher: context.dispatcher, timeoutMs: 10_000 });
    } catch (error) {
      context.unansweredRecordCount += size;
      if (context.isKilled) return;
      fail(`round ${context.round}: a produce to ${topic} failed while the node was up: ${String(error)}`);
      // Keep going: one refused request must not end the load (nor hide a later loss).
      continue;
    }
    context.ackedRequestCount += 1;
    context.ackedRecordCount += size;
    for (let index = 0; index < size; index++) {
      const id = ids[index];
      const { partition, offset, timestamp } = offsets[index];
      const record = sent.get(id)!;
      record.ack = { partition, offset, timestamp };
      const place = where(topic, partition, offset);
      if (record.explicitPartition !== undefined && partition !== record.explicitPartition) {
        fail(`round ${context.round}: ${id} asked for partition ${record.explicitPartition}, acknowledged in ${place}`);
      }
      if (records[index].timestamp !== undefined && timestamp !== records[index].timestamp) {
        fail(`round ${context.round}: ${id} sent with timestamp ${records[index].timestamp}, acknowledged with ${timestamp}`);
      }
      const startHighWatermark = highWatermarkAtStart.get(where(topic, partition)) ?? 0;
      if (offset < startHighWatermark) {
        fail(`round ${context.round}: ${id} acknowledged at ${place}, below the highWatermark ${startHighWatermark} the restarted node reported`);
      }
    }
    ledger.noteRequest(ids.map((id, index) => ({ id, partition: offsets[index].partition, offset: offsets[index].offset })),
      (ack) => where(topic, ack.partition, ack.offset), `round ${context.round}`);
  }
}

interface VerifyStats {
  recordCount: number;
  unackedPresentCount: number;
}

/**
 * Reads every partition back and checks it against every acknowledgement so far:
 * contiguous offsets from logStartOffset (0: nothing is old enough for retention) to
 * the high watermark; each record whole, known and present once; each acknowledged
 * record at exactly its acknowledged offset.
 */
async function verify(url: string, dispatcher: Agent, label: string): Promise<VerifyStats> {
  const seenAt = new Map<string, string>();
  let recordCount = 0;
  let unackedPresentCount = 0;
  for (const { name: topic } of topics) {
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      const partitionName = where(topic, partition);
      const offsets = (await requestOk<{ logStartOffset: number; highWatermark: number; logEndOffset: number }>(
        `${url}/v1/topics/${topic}/partitions/${partition}/offsets`, { dispatcher },
      )).body;
      const { records, logStartOffset, highWatermark } = await fetchAll(url, topic, partition, { dispatcher, timeoutMs: 20_000 });
      if (logStartOffset !== 0) fail(`${label}: ${partitionName} logStartOffset is ${logStartOffset}, expected 0 (no retention applies)`);
      if (offsets.highWatermark !== highWatermark || offsets.logEndOffset !== highWatermark) {
        fail(`${label}: ${partitionName} offsets disagree: fetch highWatermark ${highWatermark}, offsets endpoint ${JSON.stringify(offsets)} (one node: logEndOffset = highWatermark)`);
      }
      const previousHighWatermark = highWatermarkAtStart.get(partitionName) ?? 0;
      if (highWatermark < previousHighWatermark) {
        fail(`${label}: ${partitionName} highWatermark went back from ${previousHighWatermark} to ${highWatermark}`);
      }
      if (records.length !== highWatermark - logStartOffset) {
        fail(`${label}: ${partitionName} holds ${records.length} records between logStartOffset ${logStartOffset} and highWatermark ${highWatermark}`);
      }
      for (let index = 0; index < records.length; index++) {
        const record = records[index];
        const place = where(topic, partition, record.offset);
        if (record.offset !== logStartOffset + index) {
          fail(`${label}: ${partitionName} offsets not contiguous: record ${index} has offset ${record.offset}, expected ${logStartOffset + index}`);
          break;
        }
        if (record.partition !== partition) fail(`${label}: ${place} says partition ${record.partition}`);
        const id = idOf(record);
        if (id === undefined) {
          fail(`${label}: ${place} is torn or foreign: no id in ${JSON.stringify(record).slice(0, 200)}`);
          continue;
        }
        const expected = sent.get(id);
        if (expected === undefined) {
          fail(`${label}: ${place} holds ${id}, which no producer sent`);
          continue;
        }
        const duplicate = seenAt.get(id);
        if (duplicate !== undefined) fail(`${label}: ${id} appears twice: at ${duplicate} and at ${place}`);
        seenAt.set(id, place);
        recordCount += 1;
        if (expected.topic !== topic) fail(`${label}: ${id} was sent to ${expected.topic}, found at ${place}`);
        if (expected.explicitPartition !== undefined && expected.explicitPartition !== partition) {
          fail(`${label}: ${id} was sent to partition ${expected.explicitPartition}, found at ${place}`);
        }
        const fingerprint = fingerprintOf(record.key, record.value, record.headers);
        if (fingerprint !== expected.fingerprint) {
          fail(`${label}: ${place} (${id}) differs from what was sent: got ${fingerprint.slice(0, 200)}, sent ${expected.fingerprint.slice(0, 200)}`);
        }
        if (expected.ack !== undefined) {
          const ackedPlace = where(topic, expected.ack.partition, expected.ack.offset);
          if (ackedPlace !== place) fail(`${label}: ${id} acknowledged at ${ackedPlace}, found at ${place}`);
          else if (record.timestamp !== expected.ack.timestamp) fail(`${label}: ${place} timestamp ${record.timestamp}, acknowledged ${expected.ack.timestamp}`);
        } else {
          unackedPresentCount += 1;
          const pinnedPlace = pinned.get(id);
          if (pinnedPlace === undefined) pinned.set(id, { topic, partition, offset: record.offset });
          else if (where(pinnedPlace.topic, pinnedPlace.partition, pinnedPlace.offset) !== place) {
            fail(`${label}: ${id} (in flight at a kill) was read at ${where(pinnedPlace.topic, pinnedPlace.partition, pinnedPlace.offset)} before, now at ${place}`);
          }
        }
      }
      highWatermarkAtStart.set(partitionName, highWatermark);
    }
  }
  for (const [id, record] of sent) {
    if (record.ack !== undefined && !seenAt.has(id)) {
      fail(`${label}: LOST ${id}, acknowledged at ${where(record.topic, record.ack.partition, record.ack.offset)}`);
    }
  }
  for (const [id, place] of pinned) {
    if (!seenAt.has(id)) fail(`${label}: ${id} (in flight at a kill, later visible at ${where(place.topic, place.partition, place.offset)}) is gone`);
  }
  return { recordCount, unackedPresentCount };
}

function segmentCounts(dataDir: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { name } of topics) {
    for (let partition = 0; partition < PARTITION_COUNT; partition++) {
      const directory = path.join(dataDir, 'logs', `${name}-${partition}`);
      counts[`${name}-${partition}`] = fs.existsSync(directory) ? fs.readdirSync(directory).filter((file) => file.endsWith('.log')).length : 0;
    }
  }
  return counts;
}

void t.test('an acknowledged record survives SIGKILL at any instant, exactly once, at its acknowledged offset', async (t) => {
  t.comment(`seed ${seed} (replay with RUNNEL_CRASH_SEED=${seed}), ${roundCount} rounds`);
  const random = seededRandom(seed);
  const dataDir = t.testdir();
  const runStartedAtMs = Date.now();
  let node: ChildNode = await startNode({ dataDir, t });
  for (const topic of topics) {
    await createTopic(node.url, topic.name, { partitions: PARTITION_COUNT, configs: topic.configs });
  }

  let roundsRun = 0;
  for (let round = 0; round < roundCount && Date.now() - runStartedAtMs < RUN_MS_MAX; round++) {
    const dispatcher = new Agent({ connections: PRODUCER_COUNT + 2, keepAliveTimeout: 1_000 });
    try {
      if (round > 0) {
        node = await startNode({ dataDir, t });
        const recovered = node.logs().find((line) => line.msg === 'storage recovered');
        const stats = await verify(node.url, dispatcher, `after kill ${round}`);
        t.comment(`round ${round}: restarted (recovery ${JSON.stringify(recovered?.recovery ?? 'not logged')}); ${stats.recordCount} records read back, ${stats.unackedPresentCount} of them unacknowledged`);
      }
      // A fifth of the kills come almost at once (while the first requests land), the rest anywhere in the load.
      const killDelayMs = random() < 0.2 ? Math.floor(random() * 30) : 50 + Math.floor(random() * 1_200);
      const context: RoundContext = {
        round, url: node.url, dispatcher, isKilled: false, loadDeadlineMs: Date.now() + LOAD_MS_MAX,
        ackedRequestCount: 0, ackedRecordCount: 0, unansweredRecordCount: 0,
      };
      const producers = Array.from({ length: PRODUCER_COUNT }, (_, worker) => producerLoop(context, worker));
      await sleep(killDelayMs);
      context.isKilled = true;
      const status = await node.kill();
      t.equal(status.signal, 'SIGKILL', `round ${round}: the node died of the SIGKILL (not before it)`);
      const settled = await Promise.race([Promise.all(producers).then(() => true), sleep(15_000).then(() => false)]);
      t.ok(settled, `round ${round}: producers stop once the node is gone`);
      t.comment(`round ${round}: killed after ${killDelayMs} ms; ${context.ackedRequestCount} requests (${context.ackedRecordCount} records) acknowledged, ${context.unansweredRecordCount} records unanswered`);
      roundsRun += 1;
    } finally {
      await dispatcher.destroy();
    }
  }

  node = await startNode({ dataDir, t });
  const dispatcher = new Agent({ connections: 2 });
  try {
    const stats = await verify(node.url, dispatcher, 'after the last kill');
    t.comment(`final: ${stats.recordCount} records read back, ${stats.unackedPresentCount} unacknowledged; ${[...sent.values()].filter((r) => r.ack !== undefined).length} acknowledged of ${sent.size} sent`);
  } finally {
    await dispatcher.destroy();
  }
  await node.stop();

  t.ok(roundsRun >= Math.min(roundCount, 10), `ran ${roundsRun} kill rounds in ${Date.now() - runStartedAtMs} ms`);
  const segments = segmentCounts(dataDir);
  t.ok(Object.values(segments).some((count) => count > 1), `segments rolled during the test: ${JSON.stringify(segments)}`);
  t.ok([...sent.values()].some((record) => record.ack !== undefined), 'some records were acknowledged');
  t.equal(failures.count, 0, 'every acknowledged record is there exactly once, at its offset, whole');
  t.strictSame(failures.listed, [], 'failures (first ones)');
});
