/**
 * Topic patterns (src/broker/groups/topic-pattern.ts, issue 12 item 2): a group matches
 * each topic name once per pattern, when the name first appears, not on every sweep
 * (the old code ran a RegExp over every topic every 200 ms); names of deleted topics
 * and patterns no member uses are forgotten; a refused pattern matches nothing.
 */
import t from 'tap';
import { RE2JS } from 're2js';
import { ConsumerGroup, type JoinInput, type TopicMetadata } from '../../../src/broker/groups/consumer-group.js';
import { TopicPatternMatcher, compileTopicPattern } from '../../../src/broker/groups/topic-pattern.js';
import { RunnelError } from '../../../src/errors.js';

function topicsOf(names: string[]): TopicMetadata {
  return new Map(names.map((name) => [name, { partitionCount: 1, topicId: `id-${name}` }]));
}

function joinInput(memberId: string, topicPattern: string): JoinInput {
  return { memberId, clientId: 'c', subscription: { topicPattern }, sessionTimeoutMs: 60_000, rebalanceTimeoutMs: 60_000, assignor: 'sticky', autoOffsetReset: 'latest' };
}

/** Counts the matches re2js runs while `body` runs. */
function countMatches(body: () => void): number {
  const original = RE2JS.prototype.testExact;
  let count = 0;
  RE2JS.prototype.testExact = function (this: RE2JS, input) {
    count += 1;
    return original.call(this, input);
  };
  try {
    body();
  } finally {
    RE2JS.prototype.testExact = original;
  }
  return count;
}

void t.test('a group matches each topic once per pattern, not on every sweep', async (t) => {
  const names = Array.from({ length: 200 }, (_, i) => `orders.${i}`);
  let topics = topicsOf([...names, 'other']);
  const group = new ConsumerGroup('g', 0);
  const onJoin = countMatches(() => group.join(joinInput('m1', 'orders\\.[0-9]+'), 0, topics));
  t.equal(onJoin, 201, 'the join matches every topic name once');
  t.equal(group.targetOf('m1').size, 200);

  const onSweeps = countMatches(() => {
    for (let sweep = 1; sweep <= 100; sweep++) group.expire(sweep * 200, topics);
  });
  t.equal(onSweeps, 0, '100 sweeps over unchanged topics match nothing again');

  topics = topicsOf([...names, 'other', 'orders.999']);
  const onCreate = countMatches(() => group.expire(30_000, topics));
  t.equal(onCreate, 1, 'a created topic is matched once');
  t.ok(group.targetOf('m1').has('orders.999:0'));

  const onSecondMember = countMatches(() => group.join(joinInput('m2', 'orders\\.[0-9]+'), 30_000, topics));
  t.equal(onSecondMember, 0, 'a second member with the same pattern reuses the matches');
});

void t.test('the matcher forgets deleted topics and unused patterns; a refused pattern matches nothing', async (t) => {
  const matcher = new TopicPatternMatcher();
  t.equal(matcher.matches('a+', 'aaa'), true);
  t.equal(matcher.matches('a+', 'aab'), false, 'a whole-name match');
  t.equal(countMatches(() => matcher.matches('a+', 'aaa')), 0, 'cached');
  matcher.retain(new Set(['a+']), new Map([['aab', {}]]));
  t.equal(countMatches(() => matcher.matches('a+', 'aaa')), 1, 'a name no longer a topic is matched again when it comes back');
  matcher.retain(new Set(), new Map());
  t.equal(countMatches(() => matcher.matches('a+', 'aaa')), 1, 'an unused pattern is forgotten');
  t.equal(matcher.matches('(?=a)a', 'a'), false, 'a refused pattern (saved by an older version) matches nothing');
  t.throws(() => compileTopicPattern('(a)\\1'), RunnelError);
  t.throws(() => compileTopicPattern('a'.repeat(1001)), /at most 1000/);
});
