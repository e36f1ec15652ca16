/**
 * The contract every sparse segment index keeps (offset index and time index alike),
 * run by each index's own test file: entries match a plain-array model before and
 * after reopening, the file holds exactly the entries in big-endian, truncation cuts
 * memory and file together, and a torn tail is cut on open. Each index's own rules
 * (what it refuses, how it looks up) are tested in its file.
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { Test } from 'tap';
import { makeTempDir } from './helpers.js';

/** What the two indexes have in common. */
export interface SegmentIndex<Entry> {
  readonly count: number;
  entryAt(index: number): Entry;
  lastEntry(): Entry | undefined;
  truncateTo(offset: number): void;
  close(): void;
}

export interface IndexContract<Entry, Index extends SegmentIndex<Entry>, Step> {
  /** Names the temp directory and the tests, e.g. 'offset-index'. */
  label: string;
  suffix: '.index' | '.timeindex';
  entryBytes: number;
  open(file: string, baseOffset: number): Index;
  /** Appends through the index's own append path. */
  append(index: Index, entry: Entry): void;
  offsetOf(entry: Entry): number;

  /** The random appends of the model test, the test's name, its seed and what it passes with. */
  model: {
    name: string;
    steps: fc.Arbitrary<Step[]>;
    seed: number;
    passMessage: string;
    /** Applies `steps` to the index; returns the model (the entries it must hold) and whether it is consistent. */
    apply(index: Index, baseOffset: number, steps: readonly Step[]): { entries: Entry[]; isConsistent: boolean };
    /** True when the index holds the model's entries and answers every lookup as the model. */
    matches(index: Index, model: readonly Entry[], baseOffset: number): boolean;
  };
  /** Entries at known values and the bytes the file must hold for them. */
  layout: { name: string; baseOffset: number; entries: Entry[]; hex: string };
  truncation: {
    name: string;
    baseOffset: number;
    entries: Entry[];
    cuts: number[];
    /** Asserts that the index holds exactly `model` and answers lookups as it does; `when` names the moment. */
    check(t: Test, index: Index, model: readonly Entry[], baseOffset: number, when: string): void;
    /** Appended after everything was truncated: any entry is accepted again. */
    entryAfterEmpty: Entry;
    entryAfterEmptyMessage: string;
  };
  tornTail: { entries: [Entry, Entry]; partialBytes: Buffer; nextEntry: Entry };
}

export function runIndexContract<Entry, Index extends SegmentIndex<Entry>, Step>(
  t: Test,
  contract: IndexContract<Entry, Index, Step>,
): void {
  const { label, suffix, entryBytes } = contract;

  void t.test(contract.model.name, async (t) => {
    const directory = makeTempDir(t, label);
    let run = 0;
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), contract.model.steps, (baseOffset, steps) => {
        const file = path.join(directory, `${run++}${suffix}`);
        const index = contract.open(file, baseOffset);
        const { entries: model, isConsistent } = contract.model.apply(index, baseOffset, steps);
        let isMatching = contract.model.matches(index, model, baseOffset) && isConsistent;
        index.close();
        if (fs.statSync(file).size !== model.length * entryBytes) isMatching = false;
        const reopened = contract.open(file, baseOffset);
        isMatching &&= contract.model.matches(reopened, model, baseOffset);
        reopened.close();
        fs.rmSync(file);
        return isMatching;
      }),
      { numRuns: 150, seed: contract.model.seed },
    );
    t.pass(contract.model.passMessage);
  });

  void t.test(contract.layout.name, async (t) => {
    const directory = makeTempDir(t, label);
    const file = path.join(directory, `layout${suffix}`);
    const index = contract.open(file, contract.layout.baseOffset);
    for (const entry of contract.layout.entries) contract.append(index, entry);
    index.close();
    t.same(fs.readFileSync(file), Buffer.from(contract.layout.hex, 'hex'));
  });

  void t.test(contract.truncation.name, async (t) => {
    const { baseOffset, entries, cuts, check, entryAfterEmpty } = contract.truncation;
    const directory = makeTempDir(t, label);
    const file = path.join(directory, `truncate${suffix}`);
    const index = contract.open(file, baseOffset);
    for (const entry of entries) contract.append(index, entry);
    t.equal(index.count, entries.length, 'every entry of the truncation test is kept');
    for (const cut of cuts) {
      index.truncateTo(cut);
      const kept = entries.filter((entry) => contract.offsetOf(entry) < cut);
      check(t, index, kept, baseOffset, `after truncateTo(${cut})`);
      t.equal(fs.statSync(file).size, kept.length * entryBytes, `the file is cut after truncateTo(${cut})`);
    }
    contract.append(index, entryAfterEmpty);
    t.same(index.lastEntry(), entryAfterEmpty, contract.truncation.entryAfterEmptyMessage);
    index.close();
    const reopened = contract.open(file, baseOffset);
    t.teardown(() => reopened.close());
    check(t, reopened, [entryAfterEmpty], baseOffset, 'after reopening');
  });

  void t.test('a torn tail (a partial entry) is cut off on open and the whole entries are kept', async (t) => {
    const { entries, partialBytes, nextEntry } = contract.tornTail;
    const directory = makeTempDir(t, label);
    const file = path.join(directory, `torn${suffix}`);
    const index = contract.open(file, 0);
    for (const entry of entries) contract.append(index, entry);
    index.close();
    fs.appendFileSync(file, partialBytes);
    const reopened = contract.open(file, 0);
    t.teardown(() => reopened.close());
    t.equal(reopened.count, 2);
    t.same(reopened.lastEntry(), entries[1]);
    t.equal(fs.statSync(file).size, 2 * entryBytes, 'the partial entry is removed from the file');
    contract.append(reopened, nextEntry);
    t.equal(fs.statSync(file).size, 3 * entryBytes, 'the next entry lands right after the whole ones');
  });
}
