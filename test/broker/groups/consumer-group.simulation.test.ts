/**
 * A seeded simulation of the group coordinator's state machine (TigerBeetle's VOPR
 * habit): random joins, leaves, heartbeats (acknowledging, listing owned partitions,
 * stale, silent), session and rebalance timeouts, and topic changes. After every step:
 * no partition has two owners (also asserted inside the code), members are assigned
 * only partitions they own and that are in their target, and owned partitions exist.
 * After each run the group is driven to rest: it must become Stable with every
 * subscribed partition owned exactly once.
 *
 * A failing seed is a bug report: RUNNEL_GROUP_SEED=<n> replays exactly that run.
 */
import t from 'tap';
import { ASSIGNOR_NAMES } from '../../../src/broker/groups/assignors.js';
import { ConsumerGroup, resolveSubscription, type Member, type Subscription, type TopicMetadata } from '../../../src/broker/groups/consumer-group.js';
import { partitionKey } from '../../../src/util/partition-key.js';

const RUN_COUNT = Number(process.env.RUNNEL_GROUP_RUNS ?? 1500);
const STEP_COUNT = 150;
const fixedSeed = process.env.RUNNEL_GROUP_SEED === undefined ? undefined : Number(process.env.RUNNEL_GROUP_SEED);

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

interface World {
  topics: Map<string, { partitionCount: number; topicId: string }>;
  nextTopicId: number;
}

/** `touched`: the member that just called, whose assignment must now be within its target. */
function checkStep(group: ConsumerGroup, world: World, touched?: Member): string | undefined {
  group.checkInvariant();
  const seen = new Map<string, string>();
  for (const member of group.members.values()) {
    for (const key of member.owned.keys()) {
      if (seen.has(key)) return `${key} owned by ${seen.get(key)} and ${member.memberId}`;
      seen.set(key, member.memberId);
      const [topic, partition] = [key.slice(0, key.lastIndexOf(':')), Number(key.slice(key.lastIndexOf(':') + 1))];
      const metadata = world.topics.get(topic);
      if (metadata === undefined || partition >= metadata.partitionCount) return `${member.memberId} owns ${key}, which does not exist`;
    }
    // Others learn of a new target at their next call; until then they keep what they were told.
    const target = group.targetOf(member.memberId);
    for (const key of member.assigned) {
      if (!member.owned.has(key)) return `${member.memberId} assigned ${key} without owning it`;
      if (member === touched && !target.has(key)) return `${member.memberId} assigned ${key} outside its target right after calling`;
    }
  }
  return undefined;
}

function runSimulation(seed: number): string | undefined {
  const random = mulberry32(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
  const world: World = { topics: new Map(), nextTopicId: 0 };
  const addTopic = (name: string, partitionCount: number): void => {
    world.topics.set(name, { partitionCount, topicId: `id${world.nextTopicId++}` });
  };
  addTopic('a', 1 + Math.floor(random() * 8));
  addTopic('b', 1 + Math.floor(random() * 4));
  addTopic('logs.x', 2);
  const metadata = (): TopicMetadata => new Map(world.topics);
  const subscriptions: Subscription[] = [{ topics: ['a'] }, { topics: ['a', 'b'] }, { topicPrefix: 'logs.' }, { topicPattern: 'a|b|c' }, { topics: ['c'] }];
  let nowMs = 1_000_000;
  let memberSequence = 0;
  const group = new ConsumerGroup('sim', nowMs);
  const members = (): Member[] => [...group.members.values()];

  for (let step = 0; step < STEP_COUNT; step++) {
    nowMs += Math.floor(random() * 300);
    const roll = random();
    const live = members();
    let action: string;
    let touched: Member | undefined;
    if (roll < 0.15 || live.length === 0) {
      action = 'join';
      if (live.length < 8) {
        group.join({
          memberId: `m${memberSequence++}`,
          clientId: 'sim',
          subscription: pick(subscriptions),
          sessionTimeoutMs: 1000 + Math.floor(random() * 3000),
          rebalanceTimeoutMs: 1000 + Math.floor(random() * 3000),
          assignor: pick([...ASSIGNOR_NAMES]),
          autoOffsetReset: 'earliest',
        }, nowMs, metadata());
      }
    } else if (roll < 0.22) {
      action = 'leave';
      group.leave(pick(live).memberId, nowMs, metadata());
    } else if (roll < 0.55) {
      action = 'heartbeat (implicit)';
      const member = pick(live);
      touched = member;
      group.touch(member, nowMs, { isImplicit: true }, metadata());
      group.delivered(member);
    } else if (roll < 0.68) {
      action = 'heartbeat (owned list)';
      const member = pick(live);
      touched = member;
      // Keeps a random part of what it owns, as a consumer still finishing some.
      const owned = [...member.owned.keys()].filter(() => random() < 0.5);
      group.touch(member, nowMs, { ownedPartitions: owned }, metadata());
      group.delivered(member);
    } else if (roll < 0.74) {
      action = 'heartbeat (stale generation)';
      const member = pick(live);
      touched = member;
      group.touch(member, nowMs, { generation: Math.max(0, member.generation - 1 - Math.floor(random() * 3)) }, metadata());
    } else if (roll < 0.8) {
      action = 'reply lost';
      const member = pick(live);
      touched = member;
      group.touch(member, nowMs, { isImplicit: true }, metadata());
    } else if (roll < 0.86) {
      action = 'time passes';
      nowMs += Math.floor(random() * 5000);
      group.expire(nowMs, metadata());
    } else if (roll < 0.9 && world.topics.size > 0) {
      action = 'add partitions';
      const name = pick([...world.topics.keys()]);
      const topic = world.topics.get(name)!;
      world.topics.set(name, { ...topic, partitionCount: topic.partitionCount + 1 + Math.floor(random() * 3) });
      group.refreshTopics(metadata());
    } else if (roll < 0.93) {
      action = 'delete or re-create topic';
      const name = pick(['a', 'b', 'c', 'logs.x', 'logs.y']);
      if (world.topics.has(name) && random() < 0.5) world.topics.delete(name);
      else addTopic(name, 1 + Math.floor(random() * 6));
      group.refreshTopics(metadata());
    } else {
      action = 'sweep';
      group.expire(nowMs, metadata());
    }
    const problem = checkStep(group, world, touched !== undefined && group.members.has(touched.memberId) ? touched : undefined);
    if (problem !== undefined) return `seed ${seed} step ${step} (${action}): ${problem}`;
  }

  // Rest: every member calls and acknowledges repeatedly; the group must settle.
  for (let round = 0; round < 10; round++) {
    for (const member of members()) {
      group.touch(member, nowMs, { isImplicit: true }, metadata());
      group.delivered(member);
    }
  }
  const problem = checkStep(group, world);
  if (problem !== undefined) return `seed ${seed} at rest: ${problem}`;
  if (group.members.size > 0 && group.state !== 'Stable') return `seed ${seed}: group is ${group.state} at rest`;
  const wanted = new Set<string>();
  for (const member of members()) {
    for (const topic of resolveSubscription(member.subscription, metadata())) {
      for (let partition = 0; partition < world.topics.get(topic)!.partitionCount; partition++) wanted.add(partitionKey(topic, partition));
    }
  }
  for (const key of wanted) {
    if (group.ownerOf(key) === undefined) return `seed ${seed} at rest: subscribed partition ${key} has no owner`;
  }
  return undefined;
}

void t.test('no partition is ever owned by two members, and a group at rest owns every subscribed partition once', async (t) => {
  const seeds = fixedSeed !== undefined ? [fixedSeed] : Array.from({ length: RUN_COUNT }, (_, i) => 1 + i * 7919);
  const failures: string[] = [];
  for (const seed of seeds) {
    let problem: string | undefined;
    try {
      problem = runSimulation(seed);
    } catch (error) {
      problem = `seed ${seed}: ${(error as Error).message}`;
    }
    if (problem !== undefined) failures.push(problem);
    if (failures.length >= 5) break;
  }
  t.same(failures, [], `${seeds.length} seeded runs of ${STEP_COUNT} steps (replay one with RUNNEL_GROUP_SEED=<seed>)`);
});

void t.test('a revoked partition reaches its new owner only after the old owner releases it', async (t) => {
  const topics: TopicMetadata = new Map([['t', { partitionCount: 4, topicId: 'x' }]]);
  const group = new ConsumerGroup('g', 0);
  const base = { clientId: 'c', subscription: { topics: ['t'] }, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, assignor: 'sticky' as const, autoOffsetReset: 'earliest' as const };
  const a = group.join({ ...base, memberId: 'a' }, 0, topics);
  group.delivered(a);
  t.equal(a.assigned.size, 4);
  const b = group.join({ ...base, memberId: 'b' }, 1, topics);
  group.delivered(b);
  t.equal(b.assigned.size, 0, 'b gets nothing while a still owns everything');
  t.equal(group.state, 'Reconciling');
  group.touch(a, 2, { ownedPartitions: [...a.owned.keys()] }, topics);
  group.delivered(a);
  t.equal(a.assigned.size, 2, 'a is told to give up two');
  t.equal(a.owned.size, 4, 'a still owns them until it releases them');
  group.touch(b, 3, { isImplicit: true }, topics);
  t.equal(b.assigned.size, 0, 'b still waits');
  const generationBefore = a.generation;
  t.notOk(group.canCommit(a, [...a.owned.keys()].find((key) => !a.assigned.has(key))!, generationBefore + 1), 'a future generation cannot commit');
  group.touch(a, 4, { generation: a.generation }, topics);
  t.equal(a.owned.size, 2, 'acknowledging the generation releases them');
  group.touch(b, 5, { isImplicit: true }, topics);
  t.equal(b.assigned.size, 2, 'b now gets its two');
  t.equal(group.state, 'Stable');
});

void t.test('a member holding a revoked partition past its rebalance timeout is removed', async (t) => {
  const topics: TopicMetadata = new Map([['t', { partitionCount: 2, topicId: 'x' }]]);
  const group = new ConsumerGroup('g', 0);
  const base = { clientId: 'c', subscription: { topics: ['t'] }, sessionTimeoutMs: 60_000, rebalanceTimeoutMs: 1000, assignor: 'sticky' as const, autoOffsetReset: 'earliest' as const };
  const a = group.join({ ...base, memberId: 'a' }, 0, topics);
  group.join({ ...base, memberId: 'b' }, 0, topics);
  group.touch(a, 10, { ownedPartitions: [...a.owned.keys()] }, topics);
  t.same(group.expire(500, topics), [], 'still within the rebalance timeout');
  group.touch(a, 600, { ownedPartitions: [...a.owned.keys()] }, topics);
  t.same(group.expire(1200, topics), ['a'], 'removed once it has held on too long');
});
