/**
 * Compaction's crash promise: a process SIGKILLed at any step of cleaning comes back
 * with every record that must survive (each key's latest acknowledged record, or a
 * later one that was in flight at the kill), no duplicate or out-of-order offsets, and
 * nothing that was not written.
 *
 * The built CLI runs as a child with RUNNEL_CLEANER_CRASH_AT=N: the cleaner kills the
 * process at the N-th of its crash points (storage/cleaner/segment-swap.ts: after a
 * cleaned file is written and fsynced, after its rename to .swap, after the old
 * indexes go, after the rename over the segment, after each checkpoint). Each run
 * produces keyed updates and tombstones to a compacted topic with small segments while
 * the cleaner works in the background, waits for the kill, restarts the node without
 * the hook and reads the partition back. N takes every value from 1 to
 * RUNNEL_CLEANER_CRASH_RUNS (default 8: each step of the first two segments swapped),
 * deterministically. A run costs about 13 s, most of it two node starts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startNode } from '../helpers/child-node.js';
import { createTopic, fetchAll, produce } from '../helpers/http.js';

const RUNS = Number(process.env.RUNNEL_CLEANER_CRASH_RUNS ?? 8);
const KEYS = 12;
const REQUESTS = 40;

interface Sent { key: string; value: { seq: number } | null }

async function oneRun(t: Test, crashAt: number): Promise<boolean> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-cleaner-crash-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const args = ['--cleaner-backoff-ms', '20', '--cleaner-dedupe-buffer-bytes', '1024'];
  const node = await startNode({ dataDir, t, args, env: { RUNNEL_CLEANER_CRASH_AT: String(crashAt) } });
  await createTopic(node.url, 'state', { configs: { 'cleanup.policy': 'compact', 'segment.bytes': 1024, 'min.cleanable.dirty.ratio': 0.01, 'delete.retention.ms': 0 } });
  const sentAt = new Map<number, Sent>();
  const latestAcked = new Map<string, number>();
  let inFlight: Sent[] = [];
  let seq = 0;
  for (let request = 0; request < REQUESTS && node.isRunning(); request++) {
    inFlight = Array.from({ length: 4 }, (_, i) => ({ key: `k${(request * 4 + i) % KEYS}`, value: (request + i) % 9 === 0 ? null : { seq: seq++ } }));
    try {
      const offsets = await produce(node.url, 'state', inFlight, { partition: 0, timeoutMs: 5_000 });
      inFlight.forEach((record, i) => {
        sentAt.set(offsets[i].offset, record);
        latestAcked.set(record.key, offsets[i].offset);
      });
      inFlight = [];
    } catch {
      break; // Killed while the request was in flight: its records may or may not be there.
    }
  }
  // The cleaner goes on after the last write; give it until the kill, or stop the node.
  const killed = await Promise.race([node.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 4_000))]);
  if (!killed) await node.stop();
  const status = await node.exited;
  const restarted = await startNode({ dataDir, t, args: ['--cleaner-backoff-ms', '600000'] });
  try {
    const { records } = await fetchAll(restarted.url, 'state', 0);
    const problems: string[] = [];
    const lastAckedOffset = Math.max(-1, ...sentAt.keys());
    const inFlightValues = new Set(inFlight.map((record) => JSON.stringify(record)));
    const lastInLog = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (i > 0 && record.offset <= records[i - 1].offset) problems.push(`offset ${record.offset} after ${records[i - 1].offset}`);
      const sent = sentAt.get(record.offset);
      const fingerprint = JSON.stringify({ key: record.key, value: record.value });
      if (sent !== undefined ? JSON.stringify(sent) !== fingerprint : !(record.offset > lastAckedOffset && inFlightValues.has(fingerprint))) {
        problems.push(`offset ${record.offset} holds ${fingerprint}, which was not written there`);
      }
      lastInLog.set(String(record.key), record.offset);
    }
    for (const [key, offset] of latestAcked) {
      const found = lastInLog.get(key);
      const isTombstone = sentAt.get(offset)?.value === null;
      // A tombstone may be gone (delete.retention.ms 0); a later in-flight record may have replaced it.
      if (found === undefined ? !isTombstone : found < offset) problems.push(`key ${key}: latest acknowledged record at ${offset}, the log's latest is ${found}`);
    }
    t.same(problems, [], `crash point ${crashAt} (${killed ? `killed, signal ${status.signal}` : 'not reached'}): ${records.length} records, ${latestAcked.size} keys`);
  } finally {
    await restarted.stop();
  }
  return killed;
}

void t.test('SIGKILL at each crash point of cleaning loses nothing that must survive', async (t) => {
  let killedRuns = 0;
  for (let crashAt = 1; crashAt <= RUNS; crashAt++) {
    await t.test(`crash point ${crashAt}`, async (t) => {
      if (await oneRun(t, crashAt)) killedRuns += 1;
    });
  }
  t.equal(killedRuns, RUNS, 'the cleaner reached every crash point asked for');
});
