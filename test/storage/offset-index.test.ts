import t, { type Test } from 'tap';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { InvariantError } from '../../src/util/assert.js';
import { OffsetIndex, type IndexEntry } from '../../src/storage/offset-index.js';
import { makeTempDir } from './helpers.js';
import { runIndexContract } from './index-contract.js';

/** Kafka's OffsetIndexTest model: the floor entry of a sorted array, or the segment start. */
function floorOf(model: readonly IndexEntry[], baseOffset: number, offset: number): IndexEntry {
  let found: IndexEntry = { offset: baseOffset, position: 0 };
  for (const entry of model) {
    if (entry.offset > offset) break;
    found = entry;
  }
  return found;
}

/** Offsets worth asking about: every entry, its neighbours, and both ends. */
function probesFor(model: readonly IndexEntry[], baseOffset: number): number[] {
  const probes = new Set<number>([baseOffset, baseOffset + 1]);
  if (baseOffset > 0) probes.add(baseOffset - 1);
  for (const entry of model) {
    probes.add(entry.offset - 1);
    probes.add(entry.offset);
    probes.add(entry.offset + 1);
  }
  const last = model[model.length - 1];
  if (last !== undefined) probes.add(last.offset + 1000);
  return [...probes];
}

function checkAgainstModel(t: Test, index: OffsetIndex, model: readonly IndexEntry[], baseOffset: number): void {
  t.equal(index.count, model.length, 'entry count matches the model');
  t.same(index.lastEntry(), model[model.length - 1], 'last entry matches the model');
  let mismatches = 0;
  for (const offset of probesFor(model, baseOffset)) {
    const found = index.lookup(offset);
    const expected = floorOf(model, baseOffset, offset);
    if (found.offset !== expected.offset || found.position !== expected.position) {
      mismatches += 1;
      if (mismatches <= 3) t.same(found, expected, `lookup(${offset}) is the floor entry`);
    }
  }
  t.equal(mismatches, 0, 'every lookup returns the floor entry of the model');
}

runIndexContract<IndexEntry, OffsetIndex, [number, number]>(t, {
  label: 'offset-index',
  suffix: '.index',
  entryBytes: 8,
  open: (file, baseOffset) => OffsetIndex.open(file, baseOffset),
  append: (index, entry) => index.append(entry.offset, entry.position),
  offsetOf: (entry) => entry.offset,
  model: {
    name: 'lookups return the floor entry of a sorted-array model, before and after reopening',
    // Gaps between consecutive entries, in offsets and in bytes.
    steps: fc.array(fc.tuple(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 9000 })), { maxLength: 150 }),
    seed: 4101,
    passMessage: '150 random indexes answered every lookup as the model does',
    apply(index, baseOffset, gaps) {
      const entries: IndexEntry[] = [];
      let offset = baseOffset;
      let position = 0;
      for (const [offsetGap, positionGap] of gaps) {
        offset += offsetGap;
        position += positionGap;
        index.append(offset, position);
        entries.push({ offset, position });
      }
      return { entries, isConsistent: true };
    },
    matches(index, model, baseOffset) {
      if (index.count !== model.length) return false;
      for (const probe of probesFor(model, baseOffset)) {
        const found = index.lookup(probe);
        const expected = floorOf(model, baseOffset, probe);
        if (found.offset !== expected.offset || found.position !== expected.position) return false;
      }
      return true;
    },
  },
  layout: {
    name: 'entries are stored as big-endian (relative offset u32, position u32)',
    baseOffset: 100,
    entries: [{ offset: 105, position: 4200 }, { offset: 0x100000000 + 99, position: 0xfffffffe }],
    hex: '00000005' + '00001068' + 'ffffffff' + 'fffffffe',
  },
  truncation: {
    name: 'truncateTo removes exactly the entries at or above the offset, in memory and on disk',
    baseOffset: 50,
    entries: Array.from({ length: 80 }, (_, i) => ({ offset: 50 + (i + 1) * 3, position: (i + 1) * 100 })),
    cuts: [50 + 200, 50 + 121, 50 + 120, 50 + 4, 50],
    check: (t, index, model, baseOffset) => checkAgainstModel(t, index, model, baseOffset),
    entryAfterEmpty: { offset: 50 + 1, position: 10 },
    entryAfterEmptyMessage: 'after truncating everything an entry is accepted again',
  },
  tornTail: {
    entries: [{ offset: 5, position: 100 }, { offset: 9, position: 300 }],
    partialBytes: Buffer.from([0, 0, 0, 12, 0]),
    nextEntry: { offset: 12, position: 400 },
  },
});

void t.test('an index of many entries (past its initial capacity) matches the model entry by entry', async (t) => {
  const directory = makeTempDir(t, 'offset-index');
  const baseOffset = 1_000_000;
  const index = OffsetIndex.open(path.join(directory, 'big.index'), baseOffset);
  t.teardown(() => index.close());
  const model: IndexEntry[] = [];
  for (let i = 1; i <= 500; i++) {
    const entry = { offset: baseOffset + i * 7, position: i * 4099 };
    index.append(entry.offset, entry.position);
    model.push(entry);
  }
  checkAgainstModel(t, index, model, baseOffset);
  for (let i = 0; i < model.length; i++) t.same(index.entryAt(i), model[i]);
});

void t.test('an append whose offset or position does not increase is refused, naming the file and both entries', async (t) => {
  const directory = makeTempDir(t, 'offset-index');
  const file = path.join(directory, '00000000000000000010.index');
  const index = OffsetIndex.open(file, 10);
  t.teardown(() => index.close());
  index.append(20, 500);
  const before = fs.readFileSync(file);

  t.throws(() => index.append(20, 600), InvariantError, 'an equal offset is refused');
  t.throws(() => index.append(19, 600), InvariantError, 'a smaller offset is refused');
  t.throws(() => index.append(21, 500), InvariantError, 'an equal position is refused');
  t.throws(() => index.append(21, 499), InvariantError, 'a smaller position is refused');
  try {
    index.append(19, 600);
    t.fail('append(19, 600) after (20, 500) should throw');
  } catch (error) {
    const message = (error as Error).message;
    t.match(message, file, 'the message names the index file');
    t.match(message, /offset 19\b/, 'the message names the refused offset');
    t.match(message, /offset 20\b/, 'the message names the last offset');
    t.match(message, /position 600\b/);
    t.match(message, /position 500\b/);
  }
  t.throws(() => index.append(9, 1000), { message: /outside the segment starting at 10/ }, 'an offset below the base is refused');
  t.throws(() => index.append(10 + 0x100000000, 1000), InvariantError, 'a relative offset past u32 is refused');
  t.equal(index.count, 1, 'refused appends add nothing');
  t.same(fs.readFileSync(file), before, 'refused appends write nothing');
  index.append(21, 501);
  t.equal(index.count, 2, 'a following entry is still accepted');
});

void t.test('isConsistentWith accepts a sound index and rejects one that points past the log or goes backwards', async (t) => {
  const directory = makeTempDir(t, 'offset-index');
  const sound = OffsetIndex.open(path.join(directory, 'sound.index'), 0);
  t.teardown(() => sound.close());
  t.ok(sound.isConsistentWith(0), 'an empty index fits any log');
  sound.append(3, 100);
  sound.append(8, 250);
  t.ok(sound.isConsistentWith(251), 'positions inside the log are fine');
  t.notOk(sound.isConsistentWith(250), 'a position at the end of the log is not a batch start');
  t.notOk(sound.isConsistentWith(120), 'a position past the end of the log is refused');

  // Entries that no append could have written, put straight into the file.
  const backwardsFile = path.join(directory, 'backwards.index');
  fs.writeFileSync(backwardsFile, Buffer.from('00000008' + '000000fa' + '00000003' + '00000064', 'hex'));
  const backwards = OffsetIndex.open(backwardsFile, 0);
  t.teardown(() => backwards.close());
  t.notOk(backwards.isConsistentWith(10_000), 'decreasing offsets and positions are refused');

  const equalFile = path.join(directory, 'equal.index');
  fs.writeFileSync(equalFile, Buffer.from('00000003' + '00000064' + '00000003' + '000000fa', 'hex'));
  const equal = OffsetIndex.open(equalFile, 0);
  t.teardown(() => equal.close());
  t.notOk(equal.isConsistentWith(10_000), 'a repeated offset is refused');
});

void t.test('reset empties the index and its file', async (t) => {
  const directory = makeTempDir(t, 'offset-index');
  const file = path.join(directory, 'reset.index');
  const index = OffsetIndex.open(file, 0);
  t.teardown(() => index.close());
  index.append(1, 10);
  index.append(2, 20);
  index.reset();
  t.equal(index.count, 0);
  t.equal(fs.statSync(file).size, 0);
  t.same(index.lookup(2), { offset: 0, position: 0 }, 'lookups fall back to the segment start');
  index.append(1, 10);
  t.same(index.lookup(5), { offset: 1, position: 10 }, 'appends start again from scratch');
});
