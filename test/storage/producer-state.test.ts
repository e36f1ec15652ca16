/**
 * Producer state (KIP-98) on a real partition log: what a leader asks before appending
 * a producer's batch, kept from the log's own batches (as leader or follower), rebuilt
 * after a restart from the snapshot written at each roll and at a clean close, dropped
 * with a truncated tail, and bounded by the node-wide budget.
 */
import fs from 'node:fs';
import t from 'tap';
import { encodeBatch } from '../../src/record/encode.js';
import { PartitionLog } from '../../src/storage/partition-log.js';
import { KEY_PRODUCER_ID_BASE, ProducerStateBudget } from '../../src/storage/producer-state.js';
import { makeTempDir, testConfig } from './helpers.js';

const NOW = Date.now();

function batch(producerId: number, producerEpoch: number, baseSequence: number, count: number, valueBytes = 20): Buffer {
  const records = Array.from({ length: count }, (_, i) => ({
    key: null, value: Buffer.from(`p${producerId}-s${baseSequence + i}`.padEnd(valueBytes, '.')), headers: null, timestampMs: NOW + i,
  }));
  return encodeBatch(records, { leaderEpoch: 0, timestampType: 'CreateTime', keyFormat: 'string', valueFormat: 'string', producerId, producerEpoch, baseSequence });
}

function open(directory: string, budget = new ProducerStateBudget(1000, 24 * 3600_000), segmentBytes = 4096): PartitionLog {
  return PartitionLog.open(directory, testConfig({ segmentBytes }), { nowMs: NOW, producerStates: budget });
}

void t.test('a producer batch is new, a duplicate of a remembered one, out of order, or fenced', async (t) => {
  const log = open(makeTempDir(t));
  t.teardown(() => log.closeAbruptly());
  const p = log.producers;
  t.same(p.check(7, 0, 0, 2, NOW), { kind: 'append' }, 'a new producer starts at sequence 0');
  log.appendAsLeader(batch(7, 0, 0, 3), 0, NOW);
  log.appendAsLeader(batch(9, 0, 0, 1), 0, NOW);
  log.appendAsLeader(batch(7, 0, 3, 2), 0, NOW);
  t.same(p.check(7, 0, 0, 2, NOW), { kind: 'duplicate', firstOffset: 0, lastOffset: 2 }, 'a retried first batch answers its offsets');
  t.same(p.check(7, 0, 3, 4, NOW), { kind: 'duplicate', firstOffset: 4, lastOffset: 5 }, 'the offsets follow the log, not the sequence');
  t.same(p.check(7, 0, 5, 6, NOW), { kind: 'append' }, 'the next sequence appends');
  t.match(p.check(7, 0, 9, 9, NOW), { kind: 'refused', code: 'OUT_OF_ORDER_SEQUENCE' }, 'a gap is refused');
  t.match(p.check(7, 1, 4, 4, NOW), { kind: 'refused', code: 'OUT_OF_ORDER_SEQUENCE' }, 'a new epoch must start at 0');
  t.same(p.check(7, 1, 0, 0, NOW), { kind: 'append' }, 'a new epoch starting at 0 appends');
  log.appendAsLeader(batch(7, 1, 0, 1), 0, NOW);
  t.match(p.check(7, 0, 5, 5, NOW), { kind: 'refused', code: 'PRODUCER_FENCED' }, 'the older epoch is fenced');
  t.match(p.check(11, 0, 4, 4, NOW), { kind: 'refused', code: 'UNKNOWN_PRODUCER_ID' }, 'an unknown producer must start at 0');
  t.equal(log.logEndOffset, 7, 'checks append nothing');
});

void t.test('an Idempotency-Key producer: any cut of its records is found, a different body is told apart', async (t) => {
  const log = open(makeTempDir(t));
  t.teardown(() => log.closeAbruptly());
  const key = KEY_PRODUCER_ID_BASE + 12345;
  log.appendAsLeader(batch(1, 0, 0, 2), 0, NOW);
  log.appendAsLeader(batch(key, 77, 0, 4), 0, NOW);
  log.appendAsLeader(batch(key, 77, 4, 4), 0, NOW);
  t.same(log.producers.check(key, 77, 0, 7, NOW), { kind: 'duplicate', firstOffset: 2, lastOffset: 9 }, 'one batch spanning both stored ones');
  t.same(log.producers.check(key, 77, 2, 5, NOW), { kind: 'duplicate', firstOffset: 4, lastOffset: 7 }, 'a middle cut');
  t.same(log.producers.check(key, 77, 8, 9, NOW), { kind: 'append' }, 'records past the stored ones append');
  t.match(log.producers.check(key, 78, 0, 7, NOW), { kind: 'refused', code: 'IDEMPOTENCY_KEY_REUSED' }, 'another body under the key');
});

void t.test('the state is rebuilt after a restart: from the snapshots and the batches after them, or from the log alone', async (t) => {
  const directory = makeTempDir(t);
  let log = open(directory, undefined, 512);
  for (let sequence = 0; sequence < 40; sequence += 2) log.appendAsLeader(batch(5, 3, sequence, 2, 60), 0, NOW);
  t.ok(log.producers.check(5, 3, 40, 41, NOW).kind === 'append', 'loaded');
  for (let sequence = 40; sequence < 60; sequence += 2) log.appendAsLeader(batch(5, 3, sequence, 2, 60), 0, NOW);
  t.ok(log.segmentCount > 3, `rolled (${log.segmentCount} segments)`);
  const snapshotsWhileRunning = fs.readdirSync(directory).filter((name) => name.endsWith('.snapshot'));
  t.ok(snapshotsWhileRunning.length >= 1 && snapshotsWhileRunning.length <= 2, `at most two snapshots are kept (${snapshotsWhileRunning.join(', ')})`);
  await log.close();
  log = open(directory, undefined, 512);
  t.same(log.producers.check(5, 3, 58, 59, NOW), { kind: 'duplicate', firstOffset: 58, lastOffset: 59 }, 'after a clean close');
  t.same(log.producers.check(5, 3, 60, 61, NOW), { kind: 'append' }, 'the next sequence follows on');
  log.closeAbruptly();
  for (const name of fs.readdirSync(directory).filter((entry) => entry.endsWith('.snapshot'))) fs.rmSync(`${directory}/${name}`);
  log = open(directory, undefined, 512);
  t.teardown(() => log.closeAbruptly());
  t.same(log.producers.check(5, 3, 56, 57, NOW), { kind: 'duplicate', firstOffset: 56, lastOffset: 57 }, 'without snapshots, from the batches');
});

void t.test('a truncated tail takes its batches out of the state; a follower keeps the state from what it appends', async (t) => {
  const leader = open(makeTempDir(t, 'leader'));
  const follower = open(makeTempDir(t, 'follower'));
  t.teardown(() => { leader.closeAbruptly(); follower.closeAbruptly(); });
  follower.producers.check(4, 0, 0, 0, NOW);
  for (let sequence = 0; sequence < 6; sequence += 2) leader.appendAsLeader(batch(4, 0, sequence, 2), 0, NOW);
  follower.appendAsFollower(leader.read(0, 1 << 20, leader.logEndOffset)!, NOW);
  t.same(follower.producers.check(4, 0, 4, 5, NOW), { kind: 'duplicate', firstOffset: 4, lastOffset: 5 }, 'the follower finds the leader\'s batch');
  follower.truncateTo(4);
  t.same(follower.producers.check(4, 0, 4, 5, NOW), { kind: 'append' }, 'a batch truncated away is new again');
  t.same(follower.producers.check(4, 0, 2, 3, NOW), { kind: 'duplicate', firstOffset: 2, lastOffset: 3 }, 'the batches kept are still found');
});

void t.test('the node-wide budget evicts the least recently written producer; silent producers expire', async (t) => {
  const budget = new ProducerStateBudget(3, 60_000);
  const log = open(makeTempDir(t), budget);
  t.teardown(() => log.closeAbruptly());
  log.producers.check(1, 0, 0, 0, NOW);
  for (const id of [1, 2, 3]) log.appendAsLeader(batch(id, 0, 0, 1), 0, NOW);
  log.appendAsLeader(batch(1, 0, 1, 1), 0, NOW);
  log.appendAsLeader(batch(4, 0, 0, 1), 0, NOW);
  t.equal(budget.count, 3, 'the budget holds');
  t.equal(budget.evictedCount, 1, 'one producer was evicted');
  t.match(log.producers.check(2, 0, 1, 1, NOW), { kind: 'refused', code: 'UNKNOWN_PRODUCER_ID' }, 'the least recently written one (2)');
  t.same(log.producers.check(1, 0, 1, 1, NOW), { kind: 'duplicate', firstOffset: 3, lastOffset: 3 }, 'producer 1 wrote again and was kept');
  t.match(log.producers.check(1, 0, 1, 1, NOW + 61_000), { kind: 'refused', code: 'UNKNOWN_PRODUCER_ID' }, 'silent past the expiry: forgotten');
  t.equal(budget.count, 0, 'expired producers leave the budget');
});
