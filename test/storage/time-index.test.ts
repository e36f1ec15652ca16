import t from 'tap';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { InvariantError } from '../../src/util/assert.js';
import { TimeIndex, type TimeIndexEntry } from '../../src/storage/time-index.js';
import { makeTempDir } from './helpers.js';
import { runIndexContract } from './index-contract.js';

/** The model: entries kept only when their timestamp beats the last kept one. */
function appendToModel(model: TimeIndexEntry[], timestampMs: number, offset: number): void {
  const last = model[model.length - 1];
  if (last === undefined || timestampMs > last.timestampMs) model.push({ timestampMs, offset });
}

/** The last model entry with a timestamp strictly below the target. */
function lookupBeforeModel(model: readonly TimeIndexEntry[], timestampMs: number): TimeIndexEntry | undefined {
  let found: TimeIndexEntry | undefined;
  for (const entry of model) if (entry.timestampMs < timestampMs) found = entry;
  return found;
}

function probesFor(model: readonly TimeIndexEntry[]): number[] {
  const probes = new Set<number>([-2, -1, 0, 2 ** 50]);
  for (const entry of model) {
    probes.add(entry.timestampMs - 1);
    probes.add(entry.timestampMs);
    probes.add(entry.timestampMs + 1);
  }
  return [...probes];
}

function matchesModel(index: TimeIndex, model: readonly TimeIndexEntry[]): boolean {
  if (index.count !== model.length) return false;
  for (let i = 0; i < model.length; i++) {
    const entry = index.entryAt(i);
    if (entry.timestampMs !== model[i].timestampMs || entry.offset !== model[i].offset) return false;
  }
  for (const probe of probesFor(model)) {
    const found = index.lookupBefore(probe);
    const expected = lookupBeforeModel(model, probe);
    if (found?.offset !== expected?.offset || found?.timestampMs !== expected?.timestampMs) return false;
  }
  return true;
}

runIndexContract<TimeIndexEntry, TimeIndex, [number, number]>(t, {
  label: 'time-index',
  suffix: '.timeindex',
  entryBytes: 12,
  open: (file, baseOffset) => TimeIndex.open(file, baseOffset),
  append: (index, entry) => index.maybeAppend(entry.timestampMs, entry.offset),
  offsetOf: (entry) => entry.offset,
  model: {
    name: 'lookupBefore returns the last entry earlier than the target, as a sorted-array model does, before and after reopening',
    // CreateTime timestamps may go backwards; offsets only move forward.
    steps: fc.array(fc.tuple(fc.integer({ min: -1, max: 2 ** 45 }), fc.integer({ min: 0, max: 30 })), { maxLength: 120 }),
    seed: 5202,
    passMessage: '150 random time indexes answered every lookup as the model does',
    apply(index, baseOffset, appends) {
      const entries: TimeIndexEntry[] = [];
      let offset = baseOffset;
      for (const [timestampMs, offsetGap] of appends) {
        offset += offsetGap;
        index.maybeAppend(timestampMs, offset);
        appendToModel(entries, timestampMs, offset);
      }
      return { entries, isConsistent: index.isConsistentWith(offset + 1) };
    },
    matches: (index, model) => matchesModel(index, model),
  },
  layout: {
    name: 'entries are stored as big-endian (timestamp i64, relative offset u32)',
    baseOffset: 1000,
    entries: [{ timestampMs: 1_700_000_000_000, offset: 1003 }, { timestampMs: 2 ** 42 + 5, offset: 1000 + 0xfffffff0 }],
    hex: '0000018bcfe56800' + '00000003' + '0000040000000005' + 'fffffff0',
  },
  truncation: {
    name: 'truncateTo removes the entries at or above the offset, in memory and on disk',
    baseOffset: 0,
    entries: Array.from({ length: 60 }, (_, i) => ({ timestampMs: 1000 + i * 10, offset: i * 2 })),
    cuts: [200, 81, 80, 1, 0],
    check: (t, index, model, _baseOffset, when) => t.ok(matchesModel(index, model), `${when} the index matches the model`),
    entryAfterEmpty: { timestampMs: 10, offset: 0 },
    entryAfterEmptyMessage: 'after truncating everything any timestamp is accepted again',
  },
  tornTail: {
    entries: [{ timestampMs: 100, offset: 1 }, { timestampMs: 200, offset: 5 }],
    partialBytes: Buffer.alloc(7, 0xff),
    nextEntry: { timestampMs: 300, offset: 9 },
  },
});

void t.test('a timestamp that does not grow adds no entry; a growing one at a lower offset is refused, naming the file and offsets', async (t) => {
  const directory = makeTempDir(t, 'time-index');
  const file = path.join(directory, '00000000000000000100.timeindex');
  const index = TimeIndex.open(file, 100);
  t.teardown(() => index.close());
  index.maybeAppend(5000, 120);
  index.maybeAppend(5000, 130);
  index.maybeAppend(4000, 140);
  t.equal(index.count, 1, 'equal and smaller timestamps are skipped');
  const before = fs.readFileSync(file);
  try {
    index.maybeAppend(6000, 110);
    t.fail('a larger timestamp at a smaller offset should be refused');
  } catch (error) {
    t.type(error, InvariantError);
    const message = (error as Error).message;
    t.match(message, file, 'the message names the time index file');
    t.match(message, /offset 110\b/, 'the message names the refused offset');
    t.match(message, /\b120\b/, 'the message names the last entry offset');
  }
  t.throws(() => index.maybeAppend(7000, 99), { message: /outside the segment starting at 100/ }, 'an offset below the base is refused');
  t.equal(index.count, 1, 'refused appends add nothing');
  t.same(fs.readFileSync(file), before, 'refused appends write nothing');
  index.maybeAppend(6000, 120);
  t.same(index.lastEntry(), { timestampMs: 6000, offset: 120 }, 'a larger timestamp at the same offset is accepted');
});

void t.test('isConsistentWith rejects entries at or past the next offset and entries that go backwards', async (t) => {
  const directory = makeTempDir(t, 'time-index');
  const index = TimeIndex.open(path.join(directory, 'sound.timeindex'), 10);
  t.teardown(() => index.close());
  index.maybeAppend(100, 12);
  index.maybeAppend(200, 15);
  t.ok(index.isConsistentWith(16));
  t.notOk(index.isConsistentWith(15), 'an entry at the next offset points at a record that does not exist');

  const backwardsFile = path.join(directory, 'backwards.timeindex');
  fs.writeFileSync(backwardsFile, Buffer.from('00000000000000c8' + '00000002' + '0000000000000064' + '00000003', 'hex'));
  const backwards = TimeIndex.open(backwardsFile, 0);
  t.teardown(() => backwards.close());
  t.notOk(backwards.isConsistentWith(100), 'a decreasing timestamp is refused');

  const offsetBackFile = path.join(directory, 'offset-back.timeindex');
  fs.writeFileSync(offsetBackFile, Buffer.from('0000000000000064' + '00000005' + '00000000000000c8' + '00000003', 'hex'));
  const offsetBack = TimeIndex.open(offsetBackFile, 0);
  t.teardown(() => offsetBack.close());
  t.notOk(offsetBack.isConsistentWith(100), 'a decreasing offset is refused');
});
