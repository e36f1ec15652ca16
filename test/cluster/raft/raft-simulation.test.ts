/**
 * The seeded deterministic simulation of the metadata quorum's Raft core
 * (test/cluster/raft/simulation.ts): thousands of seeds, each a run of 3 or 5 nodes
 * under loss, delay, duplication, reordering, partitions, crashes, restarts and event
 * loop stalls, checked after every step for Raft's safety properties and at the end
 * for liveness; and, on a healthy network where only followers stall, that the first
 * leader keeps leading (KIP-996 pre-vote).
 *
 * RUNNEL_RAFT_SIM_RUNS=<n> sets the number of seeds (default 2000);
 * RUNNEL_RAFT_SIM_SEED=<n> runs that one seed (a failure message names its seed);
 * with it, RUNNEL_RAFT_SIM_TRACE=1 prints every delivery and effect to stderr.
 */
import t from 'tap';
import { runSimulation, type SimulationResult } from './simulation.js';

const stepsPerRun = 600;
const runCount = Number(process.env.RUNNEL_RAFT_SIM_RUNS ?? 2000);
const onlySeed = process.env.RUNNEL_RAFT_SIM_SEED;
const isTraced = onlySeed !== undefined && process.env.RUNNEL_RAFT_SIM_TRACE === '1';
const seeds: number[] = [];
if (onlySeed !== undefined && onlySeed !== '') {
  seeds.push(Number(onlySeed));
} else {
  for (let seed = 1; seed <= runCount; seed++) seeds.push(seed);
}

void t.test('every seed keeps election safety, log matching, leader completeness, state machine safety and a monotonic high watermark, then commits once healed', async (t) => {
  const startMs = Date.now();
  const failures: string[] = [];
  let committedCount = 0;
  let leaderEpochCount = 0;
  let stallCount = 0;
  let virtualMs = 0;
  for (const seed of seeds) {
    const result = runSimulation({ seed, steps: stepsPerRun, ...(isTraced ? { trace: printTrace } : {}) });
    if (result.failure !== null) failures.push(result.failure);
    committedCount += result.committedCount;
    leaderEpochCount += result.leaderEpochCount;
    stallCount += result.stallCount;
    virtualMs += result.virtualMs;
  }
  t.comment(`${seeds.length} seeds x ${stepsPerRun} steps in ${Date.now() - startMs} ms: ${leaderEpochCount} leader epochs, `
    + `${committedCount} committed entries, ${stallCount} event loop stalls, ${Math.round(virtualMs / 1000)} s of virtual time`);
  for (const failure of failures.slice(0, 10)) t.fail(`${failure} (reproduce: RUNNEL_RAFT_SIM_SEED=${failure.split(/[ :]/)[1]})`);
  t.equal(failures.length, 0, 'no seed broke a property');
  t.ok(committedCount > seeds.length, 'the runs commit entries, so the properties were checked on real logs');
});

void t.test('a follower whose event loop stalls past its election timeout no longer deposes the leader (KIP-996 pre-vote)', async (t) => {
  // Before pre-vote, 499 of the first 500 such seeds changed leader, reaching epoch 8 on
  // average: the loaded 2-core cluster whose epoch climbed from 2 to 20 in ten minutes.
  const seedCount = onlySeed !== undefined && onlySeed !== '' ? 1 : 200;
  const seedFirst = seeds[0];
  const failures: string[] = [];
  const deposed: string[] = [];
  let longStallCount = 0;
  for (let seed = seedFirst; seed < seedFirst + seedCount; seed++) {
    const result = runSimulation({ seed, steps: stepsPerRun, faults: 'follower-stalls', ...(isTraced ? { trace: printTrace } : {}) });
    if (result.failure !== null) failures.push(result.failure);
    if (result.leaderEpochCount !== 1) deposed.push(`seed ${seed}: ${result.leaderEpochCount} leader epochs, epoch ${result.epochMax}`);
    longStallCount += result.longStallCount;
  }
  t.same(failures, [], 'every property held');
  t.ok(longStallCount > seedCount, `followers stalled past twice the election timeout ${longStallCount} times`);
  t.same(deposed.slice(0, 10), [], 'in every run the leader first elected leads to the end, so the epoch never moves');
});

void t.test('a run is a pure function of its seed', async (t) => {
  const traceOf = (seed: number): { lines: string[]; result: SimulationResult } => {
    const lines: string[] = [];
    const result = runSimulation({ seed, steps: 200, trace: (line) => lines.push(line) });
    return { lines, result };
  };
  const first = traceOf(42);
  const second = traceOf(42);
  t.ok(first.lines.length > 100);
  t.same(second.lines, first.lines, 'the same messages and effects in the same order');
  t.same(second.result, first.result);
});

void t.test('the checker catches a voter that grants two votes in one epoch', async (t) => {
  const seedsMax = 200;
  let firstFailure: string | null = null;
  let electionSafetyFailure: string | null = null;
  for (let seed = 1; seed <= seedsMax && electionSafetyFailure === null; seed++) {
    const { failure } = runSimulation({ seed, steps: stepsPerRun, bugs: { grantsEveryVoteNodeId: 1 } });
    if (failure === null) continue;
    firstFailure ??= failure;
    if (failure.includes('election safety')) electionSafetyFailure = failure;
  }
  t.match(firstFailure, /^seed \d+: (election safety|leader completeness|log matching|state machine safety): /,
    'a broken vote breaks a named safety property within a few seeds');
  t.match(electionSafetyFailure, /^seed \d+: election safety: nodes \d and \d both led epoch \d+/,
    `two leaders in one epoch are seen within ${seedsMax} seeds`);
});

function printTrace(line: string): void {
  process.stderr.write(`${line}\n`);
}

void t.test('the checker catches a runtime that forgets the persisted vote on restart', async (t) => {
  // Rarer than a double grant: a voter must restart between voting and the end of the
  // election, then vote again in the same epoch for a rival candidate, and since
  // pre-vote rivals in one epoch are rare. With the bug on, voters restart right after
  // some votes (simulation.ts); about 1 seed in 50 then shows it (the first is 39); the
  // bound leaves room for changes to the simulation's draws.
  const seedsMax = 1000;
  let failure: string | null = null;
  for (let seed = 1; seed <= seedsMax && failure === null; seed++) {
    failure = runSimulation({ seed, steps: stepsPerRun, bugs: { isVoteForgottenOnRestart: true } }).failure;
  }
  t.match(failure, /^seed \d+: election safety: nodes \d and \d both led epoch \d+/,
    `two leaders in one epoch are seen within ${seedsMax} seeds`);
});
