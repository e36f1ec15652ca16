/**
 * A seeded simulation of one share-partition against a model: random consumers acquire,
 * accept, release, reject and renew; the log grows (with gaps, as compaction leaves),
 * retention moves its start, the clock runs past locks, and the node restarts from its
 * snapshot. After every step:
 * - no record is held by two consumers at once;
 * - an accepted, rejected or archived record is never delivered again;
 * - each delivery's count is the record's previous deliveries plus one, never past the
 *   limit; a record released or expired at the limit is archived;
 * - only the consumer holding a live lock may acknowledge, and the refusals say why;
 * - the state of every in-flight record equals the model's, the start offset never
 *   passes a record that is not done, and at most maxRecordLocks records are in flight.
 * At the end a diligent consumer drains the partition: every record the log holds ends
 * accepted or archived (liveness). Replay one run with RUNNEL_SHARE_SEED=<seed>.
 */
import t, { type Test } from 'tap';
import { SharePartition, type AcknowledgeType, type ShareSettings } from '../../../src/broker/share/share-partition.js';
import { pick as pickFrom, seededRandom } from '../../helpers/seeded-random.js';

interface ModelRecord {
  deliveries: number;
  done: 'accepted' | 'archived' | 'gone' | undefined;
  holder: { consumer: string; acquisitionId: number; lockExpiresAtMs: number } | undefined;
}

const CONSUMERS = ['c0', 'c1', 'c2'];
const TYPES: AcknowledgeType[] = ['accept', 'accept', 'accept', 'release', 'reject', 'renew'];

function simulate(t: Test, seed: number, steps: number): void {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]): T => pickFrom(random, items);
  const settings: ShareSettings = { lockDurationMs: 1_000, deliveryCountLimit: 1 + Math.floor(random() * 4), maxRecordLocks: 5 + Math.floor(random() * 40) };
  let partition = new SharePartition(settings, 0);
  let nowMs = 1_000_000;
  const log: number[] = [];
  let logStart = 0;
  const model = new Map<number, ModelRecord>();
  const fail = (what: string): void => {
    t.fail(`seed ${seed}: ${what}`);
    throw new Error(`seed ${seed}: ${what}`);
  };
  const isLive = (record: ModelRecord): boolean => record.holder !== undefined && record.holder.lockExpiresAtMs > nowMs;
  // Locks that ran out: the record is available again, or archived at the limit (what the partition does lazily).
  const expire = (): void => {
    for (const record of model.values()) {
      if (record.holder === undefined || isLive(record)) continue;
      record.holder = undefined;
      if (record.deliveries >= settings.deliveryCountLimit) record.done = 'archived';
    }
  };
  const append = (count: number): void => {
    let next = log.length === 0 ? 0 : log[log.length - 1] + 1;
    for (let i = 0; i < count; i++) {
      if (random() < 0.15) next += 1 + Math.floor(random() * 3); // a gap
      log.push(next);
      model.set(next, { deliveries: 0, done: undefined, holder: undefined });
      next += 1;
    }
  };
  const acquire = (consumer: string): void => {
    const from = partition.firstAvailableOffset(nowMs);
    const offsets = log.filter((offset) => offset >= from && offset >= logStart);
    const maxRecords = 1 + Math.floor(random() * 8);
    const acquired = partition.acquire(consumer, offsets, maxRecords, nowMs);
    if (acquired.length > maxRecords) fail(`acquired ${acquired.length} > maxRecords ${maxRecords}`);
    expire();
    for (const acquisition of acquired) {
      const record = model.get(acquisition.offset);
      if (record === undefined) return fail(`acquired offset ${acquisition.offset}, which the log does not hold`);
      if (record.done !== undefined) fail(`offset ${acquisition.offset} delivered again after it was ${record.done}`);
      if (isLive(record)) fail(`offset ${acquisition.offset} acquired by ${consumer} while ${record.holder?.consumer} holds it`);
      if (acquisition.deliveryCount !== record.deliveries + 1) fail(`offset ${acquisition.offset}: delivery count ${acquisition.deliveryCount} after ${record.deliveries} deliveries`);
      if (acquisition.deliveryCount > settings.deliveryCountLimit) fail(`offset ${acquisition.offset} delivered ${acquisition.deliveryCount} times, limit ${settings.deliveryCountLimit}`);
      if (acquisition.lockExpiresAtMs !== nowMs + settings.lockDurationMs) fail(`offset ${acquisition.offset}: lock until ${acquisition.lockExpiresAtMs}`);
      record.deliveries += 1;
      record.holder = { consumer, acquisitionId: acquisition.acquisitionId, lockExpiresAtMs: acquisition.lockExpiresAtMs };
    }
  };
  const acknowledge = (consumer: string): void => {
    // Offsets it holds or held, and now and then one it never had.
    const candidates = [...model].filter(([, record]) => record.holder?.consumer === consumer).map(([offset]) => offset);
    if (random() < 0.2 && log.length > 0) candidates.push(pick(log));
    const offsets = [...new Set(candidates.filter(() => random() < 0.7))].sort((a, b) => a - b);
    if (offsets.length === 0) return;
    const type = pick(TYPES);
    const outcomes = partition.acknowledge(consumer, offsets, type, nowMs);
    expire();
    for (const outcome of outcomes) {
      const record = model.get(outcome.offset);
      const mayAcknowledge = record !== undefined && record.done === undefined && record.holder?.consumer === consumer && isLive(record);
      if (mayAcknowledge !== (outcome.refusal === undefined)) fail(`${consumer} ${type} of ${outcome.offset}: refusal ${outcome.refusal}, model says ${mayAcknowledge ? 'allowed' : 'refused'}`);
      if (!mayAcknowledge || record === undefined) continue;
      if (type === 'renew') {
        (record.holder as NonNullable<ModelRecord['holder']>).lockExpiresAtMs = nowMs + settings.lockDurationMs;
        continue;
      }
      record.holder = undefined;
      if (type === 'accept') record.done = 'accepted';
      else if (type === 'reject' || record.deliveries >= settings.deliveryCountLimit) record.done = 'archived';
    }
  };
  const check = (step: string): void => {
    expire();
    partition.expireLocks(nowMs); // the partition expires lazily, on its next call
    const counts = partition.counts();
    const inFlight = counts.available + counts.acquired + counts.acknowledged + counts.archived;
    if (inFlight > settings.maxRecordLocks) fail(`${step}: ${inFlight} records in flight, more than maxRecordLocks ${settings.maxRecordLocks}`);

    for (const [offset, record] of model) {
      if (offset < logStart) continue;
      const state = partition.stateOf(offset);
      if (offset < partition.startOffset) {
        if (record.done === undefined) fail(`${step}: the start offset ${partition.startOffset} passed offset ${offset}, which is not done`);
        continue;
      }
      const expected = record.done === 'accepted' ? 'acknowledged' : record.done === 'archived' ? 'archived' : isLive(record) ? 'acquired' : record.deliveries > 0 ? 'available' : undefined;
      if (state !== expected) fail(`${step}: offset ${offset} is ${state}, the model says ${expected}`);
    }
  };

  append(5);
  for (let step = 0; step < steps; step++) {
    const roll = random();
    const consumer = pick(CONSUMERS);
    let what: string;
    if (roll < 0.3) {
      what = `${consumer} acquires`;
      acquire(consumer);
    } else if (roll < 0.6) {
      what = `${consumer} acknowledges`;
      acknowledge(consumer);
    } else if (roll < 0.75) {
      what = 'the clock runs';
      nowMs += Math.floor(random() * settings.lockDurationMs * 1.5);
    } else if (roll < 0.88) {
      what = 'the log grows';
      append(1 + Math.floor(random() * 6));
    } else if (roll < 0.96) {
      what = 'restart';
      const snapshot = JSON.parse(JSON.stringify(partition.snapshot())) as ReturnType<SharePartition['snapshot']>;
      partition = SharePartition.restore(settings, snapshot);
      // The locks died with the node: as if they ran out.
      for (const record of model.values()) if (record.holder !== undefined) record.holder.lockExpiresAtMs = nowMs;
    } else {
      what = 'retention';
      const kept = log.filter((offset) => offset >= logStart);
      if (kept.length > 3) {
        logStart = kept[Math.floor(random() * (kept.length / 2))];
        partition.advanceLogStart(logStart);
        for (const [offset, record] of model) if (offset < logStart && record.done === undefined) record.done = 'gone';
      }
    }
    check(`step ${step} (${what})`);
  }

  // Liveness: a consumer that accepts everything drains the partition.
  for (let round = 0; round < 10_000; round++) {
    nowMs += settings.lockDurationMs; // any lock still held runs out
    const from = partition.firstAvailableOffset(nowMs);
    const acquired = partition.acquire('drain', log.filter((offset) => offset >= from && offset >= logStart), 50, nowMs);
    if (acquired.length === 0) break;
    partition.acknowledge('drain', acquired.map((acquisition) => acquisition.offset), 'accept', nowMs);
  }
  const kept = log.filter((offset) => offset >= logStart);
  const last = kept.length === 0 ? logStart - 1 : kept[kept.length - 1];
  if (partition.startOffset !== last + 1) fail(`after draining, the start offset is ${partition.startOffset}, not ${last + 1}`);
  if (partition.counts().acquired + partition.counts().available !== 0) fail('after draining, records are still in flight');
}


void t.test('a seeded simulation keeps every share-partition invariant and drains in the end', async (t) => {
  const replay = process.env.RUNNEL_SHARE_SEED;
  const seeds = replay === undefined ? Array.from({ length: 200 }, (_, i) => ((Math.random() * 2 ** 32) ^ i) >>> 0) : [Number(replay)];
  t.comment(`seeds ${seeds[0]}..., replay one with RUNNEL_SHARE_SEED`);
  for (const seed of seeds) simulate(t, seed, 400);
  t.pass(`${seeds.length} runs of 400 steps`);
});
