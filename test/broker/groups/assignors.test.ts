import t from 'tap';
import { assignors, ASSIGNOR_NAMES, type AssignorMember } from '../../../src/broker/groups/assignors.js';
import { partitionKey } from '../../../src/util/partition-key.js';

function members(count: number, topics: string[]): AssignorMember[] {
  return Array.from({ length: count }, (_, i) => ({ memberId: `m${i}`, topics: new Set(topics) }));
}

function sizes(assignment: Map<string, Set<string>>): number[] {
  return [...assignment.values()].map((keys) => keys.size);
}

function union(assignment: Map<string, Set<string>>): string[] {
  const all: string[] = [];
  for (const keys of assignment.values()) all.push(...keys);
  return all;
}

for (const name of ASSIGNOR_NAMES) {
  void t.test(`${name}: every subscribed partition goes to exactly one member, evenly`, async (t) => {
    for (const memberCount of [1, 2, 3, 4, 7]) {
      for (const partitionCount of [1, 5, 6, 12]) {
        const partitionCounts = new Map([['a', partitionCount], ['b', 3]]);
        const result = assignors[name]({ members: members(memberCount, ['a', 'b']), partitionCounts, previous: new Map() });
        const all = union(result);
        t.equal(all.length, partitionCount + 3, `${memberCount} members, ${partitionCount}+3 partitions: all assigned`);
        t.equal(new Set(all).size, all.length, 'no partition twice');
        const counts = sizes(result);
        // range balances per topic, so over two topics it may differ by 2.
        const spread = name === 'range' ? 2 : 1;
        t.ok(Math.max(...counts) - Math.min(...counts) <= spread, `${name} balanced: ${counts.join(',')}`);
      }
    }
  });

  void t.test(`${name}: a member only gets topics it subscribes to`, async (t) => {
    const partitionCounts = new Map([['a', 4], ['b', 4]]);
    const result = assignors[name]({
      members: [{ memberId: 'm0', topics: new Set(['a']) }, { memberId: 'm1', topics: new Set(['a', 'b']) }, { memberId: 'm2', topics: new Set(['missing']) }],
      partitionCounts,
      previous: new Map(),
    });
    for (const key of result.get('m0')!) t.ok(key.startsWith('a:'), `m0 got ${key}`);
    t.equal(result.get('m2')!.size, 0, 'a member of a missing topic gets nothing');
    t.equal(union(result).length, 8);
  });
}

void t.test('range gives contiguous runs per topic, as Kafka\'s RangeAssignor', async (t) => {
  const result = assignors.range({ members: members(2, ['t']), partitionCounts: new Map([['t', 5]]), previous: new Map() });
  t.same([...result.get('m0')!], ['t:0', 't:1', 't:2']);
  t.same([...result.get('m1')!], ['t:3', 't:4']);
});

void t.test('sticky keeps every partition it can when a member joins (only a fair share moves)', async (t) => {
  const partitionCounts = new Map([['t', 12]]);
  const before = assignors.sticky({ members: members(3, ['t']), partitionCounts, previous: new Map() });
  const after = assignors.sticky({ members: members(4, ['t']), partitionCounts, previous: before });
  let moved = 0;
  for (const [memberId, keys] of before) for (const key of keys) if (!after.get(memberId)!.has(key)) moved += 1;
  t.equal(moved, 3, 'exactly the newcomer\'s share of 3 moved');
  t.same(sizes(after), [3, 3, 3, 3]);
  const leaving = assignors.sticky({ members: members(4, ['t']).filter((m) => m.memberId !== 'm1'), partitionCounts, previous: after });
  for (const memberId of ['m0', 'm2', 'm3']) {
    for (const key of after.get(memberId)!) t.ok(leaving.get(memberId)!.has(key), `${memberId} keeps ${key} when m1 leaves`);
  }
  t.equal(union(leaving).length, 12);
});

void t.test('sticky ignores previous partitions of topics that no longer exist', async (t) => {
  const previous = new Map([['m0', new Set([partitionKey('gone', 0), partitionKey('t', 5)])]]);
  const result = assignors.sticky({ members: members(1, ['t', 'gone']), partitionCounts: new Map([['t', 2]]), previous });
  t.same([...result.get('m0')!].sort(), ['t:0', 't:1']);
});
