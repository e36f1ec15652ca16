/**
 * Share groups across a SIGKILL (issue 19): a real node (the built CLI) serves
 * consumers that acquire records and accept some of them while others stay held; the
 * node is killed with SIGKILL while requests are in flight and restarted on the same
 * data directory. Then, draining the group:
 *   - no record whose accept was acknowledged is delivered again;
 *   - every record acquired and not acknowledged comes back, with deliveryCount + 1;
 *   - every record is either accepted before the kill or delivered after it (none lost).
 * Requests in flight at the kill may or may not have taken effect; their records are
 * allowed either way.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startNode } from '../helpers/child-node.js';
import { createTopic, produce, requestOk } from '../helpers/http.js';

const PARTITIONS = 2;
const RECORDS_PER_PARTITION = 150;
const WORKERS = 3;
/** The kill comes once this many accepts were acknowledged. */
const ACCEPTED_BEFORE_KILL = 80;
const ROUNDS_MAX = 500;
const GROUP = 'crash-queue';

interface Acquired {
  topic: string;
  partition: number;
  offset: number;
  deliveryCount: number;
}

const id = (record: { partition: number; offset: number }): string => `${record.partition}@${record.offset}`;

void t.test('accepted records stay done and held records come back after a SIGKILL', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-share-crash-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  const node = await startNode({ dataDir, t, startTimeoutMs: 60_000 });
  await createTopic(node.url, 'work', { partitions: PARTITIONS });
  for (let partition = 0; partition < PARTITIONS; partition++) {
    await produce(node.url, 'work', Array.from({ length: RECORDS_PER_PARTITION }, (_, i) => ({ value: { partition, i } })), { partition });
  }
  await requestOk(`${node.url}/v1/share-groups/${GROUP}`, { method: 'PATCH', body: { configs: { 'share.auto.offset.reset': 'earliest' } } });

  /** Acknowledged accepts. */
  const accepted = new Set<string>();
  /** Held: acquired (the answer was received) and not acknowledged; with the delivery count seen. */
  const held = new Map<string, number>();
  /** Records whose acquire or accept was in flight at the kill: either outcome is allowed. */
  const uncertain = new Set<string>();
  let isKilled = false;

  async function worker(index: number): Promise<void> {
    const consumerId = `w${index}`;
    for (let round = 0; round < ROUNDS_MAX && !isKilled; round++) {
      let records: Acquired[];
      try {
        records = (await requestOk<{ records: Acquired[] }>(`${node.url}/v1/share-groups/${GROUP}/records?topics=work&maxRecords=10&consumerId=${consumerId}`)).body.records;
      } catch {
        return; // The kill: whatever that acquire took is uncertain, and nobody saw it.
      }
      if (records.length === 0) return;
      // Accept the even offsets, keep the odd ones held.
      const toAccept = records.filter((record) => record.offset % 2 === 0);
      for (const record of records) if (record.offset % 2 === 1) held.set(id(record), record.deliveryCount);
      for (const record of toAccept) uncertain.add(id(record));
      const byPartition = new Map<number, number[]>();
      for (const record of toAccept) byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), record.offset]);
      const acknowledgements = [...byPartition].map(([partition, offsets]) => ({ topic: 'work', partition, offsets, type: 'accept' }));
      if (acknowledgements.length === 0) continue;
      let results: Array<{ partition: number; records: Array<{ offset: number; errorCode: string | null }> }>;
      try {
        results = (await requestOk<{ results: typeof results }>(`${node.url}/v1/share-groups/${GROUP}/acknowledgements`, { method: 'POST', body: { consumerId, acknowledgements } })).body.results;
      } catch {
        return; // In flight at the kill: these stay uncertain.
      }
      for (const result of results) {
        for (const record of result.records) {
          const key = id({ partition: result.partition, offset: record.offset });
          uncertain.delete(key);
          if (record.errorCode === null) accepted.add(key);
          else held.set(key, 1);
        }
      }
    }
  }

  const killer = (async (): Promise<void> => {
    const deadline = Date.now() + 60_000;
    while (accepted.size < ACCEPTED_BEFORE_KILL && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    isKilled = true;
    await node.kill();
  })();
  await Promise.all([killer, ...Array.from({ length: WORKERS }, (_, i) => worker(i))]);
  t.ok(accepted.size >= ACCEPTED_BEFORE_KILL, `${accepted.size} accepts acknowledged before the kill`);
  t.ok(held.size > 0, `${held.size} records held at the kill`);

  const restarted = await startNode({ dataDir, t, startTimeoutMs: 60_000 });
  const delivered = new Map<string, number>();
  for (let round = 0; round < 100; round++) {
    const records = (await requestOk<{ records: Acquired[] }>(`${restarted.url}/v1/share-groups/${GROUP}/records?topics=work&maxRecords=500&consumerId=drain`)).body.records;
    if (records.length === 0) break;
    for (const record of records) delivered.set(id(record), record.deliveryCount);
    const byPartition = new Map<number, number[]>();
    for (const record of records) byPartition.set(record.partition, [...(byPartition.get(record.partition) ?? []), record.offset]);
    await requestOk(`${restarted.url}/v1/share-groups/${GROUP}/acknowledgements`, {
      method: 'POST',
      body: { consumerId: 'drain', acknowledgements: [...byPartition].map(([partition, offsets]) => ({ topic: 'work', partition, offsets, type: 'accept' })) },
    });
  }

  const redelivered = [...accepted].filter((key) => delivered.has(key));
  t.same(redelivered, [], 'no acknowledged accept is delivered again');
  const wrongCount = [...held].filter(([key, count]) => !uncertain.has(key) && delivered.get(key) !== count + 1).map(([key, count]) => `${key}: held with deliveryCount ${count}, after the restart ${delivered.get(key) ?? 'not delivered'}`);
  t.same(wrongCount, [], 'every held record comes back with deliveryCount + 1');
  const lost: string[] = [];
  for (let partition = 0; partition < PARTITIONS; partition++) {
    for (let offset = 0; offset < RECORDS_PER_PARTITION; offset++) {
      const key = id({ partition, offset });
      if (!accepted.has(key) && !delivered.has(key) && !uncertain.has(key)) lost.push(key);
    }
  }
  t.same(lost, [], 'no record is lost: each was accepted before the kill or delivered after it');
  const describe = (await requestOk<{ partitions: Array<{ lag: number }> }>(`${restarted.url}/v1/share-groups/${GROUP}`)).body;
  t.same(describe.partitions.map((partition) => partition.lag), [0, 0], 'all done after the drain');
  await restarted.stop();
});
