/** isJsonDeeperThan: depth as documented, and no stack overflow on any depth. */
import t from 'tap';
import { isJsonDeeperThan } from '../../src/util/json-depth.js';

void t.test('depth counts arrays and objects; scalars are depth 0', (t) => {
  t.notOk(isJsonDeeperThan(1, 0));
  t.notOk(isJsonDeeperThan(null, 0));
  t.notOk(isJsonDeeperThan('[[[[', 0), 'a string is not parsed');
  t.ok(isJsonDeeperThan([], 0));
  t.notOk(isJsonDeeperThan([], 1));
  t.notOk(isJsonDeeperThan({ a: [1, { b: 2 }] }, 3));
  t.ok(isJsonDeeperThan({ a: [1, { b: [] }] }, 3), 'the deepest branch counts, not the first');
  t.end();
});

void t.test('a value a million levels deep is measured without recursion', (t) => {
  let deep: unknown = 1;
  for (let level = 0; level < 1_000_000; level++) deep = level % 2 === 0 ? [deep] : { a: deep };
  t.ok(isJsonDeeperThan(deep, 128));
  t.notOk(isJsonDeeperThan(deep, 1_000_000));
  t.ok(isJsonDeeperThan(deep, 999_999));
  t.end();
});
