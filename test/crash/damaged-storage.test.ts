/**
 * Damaged storage on a real node (issue 13, items 4 and 5): the built CLI as a child
 * process, its data directory damaged between a clean stop and a restart.
 *
 * - One byte flipped in an old segment, or the last 20 bytes of the active one
 *   overwritten: the fetch that reaches the damage answers 500 CORRUPT_LOG naming the
 *   offset, while the other partition serves and takes records, /health/live answers,
 *   the process stays up, runnel_log_corruptions_total counts it and one warn line
 *   names partition, segment and offset. After a restart the recovery scan truncates
 *   that partition at the damaged batch, logs it, and every record before it is served
 *   (never the damaged bytes).
 * - A tail torn by 7 bytes after a clean stop: the restart logs one warn line with the
 *   offsets and bytes removed, and truncatedBytes is the torn batch's size minus 7.
 */
import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startNode, type ChildNode } from '../helpers/child-node.js';
import { createTopic, fetchAll, produce, requestJson, requestOk } from '../helpers/http.js';

const TOPIC = 'events';
const REQUEST_COUNT = 24;
const RECORDS_PER_REQUEST = 3;

function tempDir(t: Test): string {
  return path.join(t.testdir(), 'data');
}

/** A node with TOPIC (2 partitions, 1 KiB segments) holding REQUEST_COUNT batches in each partition, stopped cleanly. */
async function cleanlyStoppedNode(t: Test): Promise<{ dataDir: string; port: number }> {
  const dataDir = tempDir(t);
  const node = await startNode({ dataDir, t });
  await createTopic(node.url, TOPIC, { partitions: 2, configs: { 'segment.bytes': 1024 } });
  for (let request = 0; request < REQUEST_COUNT; request++) {
    for (const partition of [0, 1]) {
      const records = Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({ value: `p${partition}-r${request}-${i}-${'x'.repeat(30)}` }));
      await produce(node.url, TOPIC, records, { partition, valueFormat: 'string' });
    }
  }
  const status = await node.stop();
  t.same(status, { code: 0, signal: null }, 'the node stopped cleanly');
  return { dataDir, port: node.port };
}

function partitionDirectory(dataDir: string, partition: number): string {
  return path.join(dataDir, 'logs', `${TOPIC}-${partition}`);
}

function segmentFiles(directory: string): string[] {
  return fs.readdirSync(directory).filter((name) => name.endsWith('.log')).sort();
}

/** Walks partition 0 from the start; returns the offsets served before the first non-200 answer, and that answer. */
async function readUntilError(node: ChildNode, partition: number): Promise<{ offsets: number[]; status: number; body: any }> {
  const offsets: number[] = [];
  let offset = 0;
  for (let round = 0; round < REQUEST_COUNT * RECORDS_PER_REQUEST + 2; round++) {
    const answer = await requestJson<any>(`${node.url}/v1/topics/${TOPIC}/partitions/${partition}/records?offset=${offset}&maxRecords=1`);
    if (answer.status !== 200) return { offsets, status: answer.status, body: answer.body };
    if (answer.body.records.length === 0) break;
    for (const record of answer.body.records) offsets.push(record.offset);
    offset = answer.body.nextOffset;
  }
  return { offsets, status: 200, body: undefined };
}

/** Waits for the "storage recovered" line: it may still be in the pipe when /health/ready answers. */
async function recoveredLine(node: ChildNode): Promise<void> {
  await node.waitForLine((line) => line.includes('"storage recovered"'), 10_000);
}

function range(count: number): number[] {
  return Array.from({ length: count }, (_, i) => i);
}

async function corruptionsMetric(node: ChildNode, partition: number): Promise<number | undefined> {
  const response = await request(`${node.url}/metrics`, { headersTimeout: 10_000, bodyTimeout: 10_000 });
  const text = await response.body.text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`runnel_log_corruptions_total{topic="${TOPIC}",partition="${partition}"}`));
  return line === undefined ? undefined : Number(line.split(' ').pop());
}

/**
 * A group member assigned both partitions gets every record of the sound one and those
 * before the damage; once nothing else is left, its poll answers CORRUPT_LOG.
 */
async function expectGroupPollsOtherPartitions(t: Test, node: ChildNode, damagedOffset: number): Promise<void> {
  const groupUrl = `${node.url}/v1/groups/damage-readers`;
  const joined = await requestJson<any>(`${groupUrl}/members`, { method: 'POST', body: { topics: [TOPIC], autoOffsetReset: 'earliest' } });
  t.equal(joined.status, 201, 'a group member joins');
  const seen = new Map<number, number[]>([[0, []], [1, []]]);
  let last: { status: number; body: any } = { status: 0, body: undefined };
  for (let round = 0; round < 40; round++) {
    last = await requestJson<any>(`${groupUrl}/members/${joined.body.memberId}/records?maxRecords=20`);
    if (last.status !== 200) break;
    for (const record of last.body.records) seen.get(record.partition)?.push(record.offset);
  }
  t.same(seen.get(1), range(REQUEST_COUNT * RECORDS_PER_REQUEST + 1), 'the group poll served every record of the sound partition');
  t.same(seen.get(0), range(damagedOffset), 'and every record before the damage');
  t.equal(last.body?.error?.code, 'CORRUPT_LOG', 'then, with nothing else to serve, the poll answers CORRUPT_LOG');
}

/**
 * The promises shared by both kinds of damage: CORRUPT_LOG on that partition only, the
 * node up, counted and warned about; then a restart that truncates there and serves
 * everything before. Returns the first offset that was not served.
 */
async function expectDamageHandled(t: Test, dataDir: string, damagedSegment: string): Promise<void> {
  const node = await startNode({ dataDir, t });
  const { offsets, status, body } = await readUntilError(node, 0);
  t.equal(status, 500, 'the fetch that reaches the damage answers 500');
  t.equal(body?.error?.code, 'CORRUPT_LOG', 'with the stable code CORRUPT_LOG');
  const damagedOffset = offsets.length;
  t.same(offsets, range(damagedOffset), 'every offset before the damage was served, in order');
  t.equal(body?.error?.offset, damagedOffset, 'the body names the damaged offset');
  t.equal(body?.error?.segment, damagedSegment, 'and the segment file');
  t.match(body?.error?.message, new RegExp(`${TOPIC}-0.*offset ${damagedOffset}\\b`), 'the message names partition and offset');

  // Everything else keeps working, and the process stays up.
  const other = await fetchAll(node.url, TOPIC, 1);
  t.equal(other.records.length, REQUEST_COUNT * RECORDS_PER_REQUEST, 'the other partition serves every record');
  const [late] = await produce(node.url, TOPIC, [{ value: 'after the damage' }], { partition: 1, valueFormat: 'string' });
  t.equal(late.offset, REQUEST_COUNT * RECORDS_PER_REQUEST, 'the other partition takes records');
  const refused = await requestJson<any>(`${node.url}/v1/topics/${TOPIC}/partitions/0/records`, { method: 'POST', body: { records: [{ value: 'x' }] } });
  t.equal(refused.body?.error?.code, 'CORRUPT_LOG', 'the damaged partition refuses appends (the restart will cut the log there)');
  await expectGroupPollsOtherPartitions(t, node, damagedOffset);
  t.equal((await requestJson(`${node.url}/health/live`)).status, 200, '/health/live answers');
  t.equal(await corruptionsMetric(node, 0), 1, 'runnel_log_corruptions_total counts the damaged batch');
  const again = await readUntilError(node, 0);
  t.equal(again.body?.error?.code, 'CORRUPT_LOG', 'asking again gets the same answer');
  t.equal(await corruptionsMetric(node, 0), 1, 'the same batch is counted once');
  t.ok(node.isRunning(), 'the process is still up');
  const warnings = node.logs().filter((line) => line.level === 40 && String(line.msg).includes('damaged batch'));
  t.equal(warnings.length, 1, 'one warn line for the damaged batch');
  t.match(warnings[0], { partition: `${TOPIC}-0`, segment: damagedSegment, offset: damagedOffset }, 'it names partition, segment and offset');
  t.same(await node.stop(), { code: 0, signal: null }, 'a clean stop still works');

  const restarted = await startNode({ dataDir, t });
  await recoveredLine(restarted);
  const truncation = restarted.logs().find((line) => line.level === 40 && String(line.msg).includes('recovery truncated'));
  t.match(truncation, { partition: `${TOPIC}-0`, segment: damagedSegment, fromOffset: damagedOffset }, 'the recovery scan logged the truncation of that partition');
  const recovered = restarted.logs().find((line) => line.msg === 'storage recovered') as any;
  t.equal(recovered?.recovery?.cleanPartitions, 1, 'only the other partition counted as clean');
  t.equal(recovered?.recovery?.truncatedBytes, truncation?.truncatedBytes, 'the summary counts the bytes the warn line names');
  const after = await fetchAll(restarted.url, TOPIC, 0);
  t.same(after.records.map((record) => record.offset), range(damagedOffset), 'the data before the damage is served, nothing after it');
  t.equal(after.highWatermark, damagedOffset, 'the partition ends where the damage was');
  const [next] = await produce(restarted.url, TOPIC, [{ value: 'new' }], { partition: 0, valueFormat: 'string' });
  t.equal(next.offset, damagedOffset, 'the recovered partition takes records again');
  await restarted.stop();
}

void t.test('a byte flipped in an old segment: CORRUPT_LOG for that partition, the node stays up, the restart truncates there', async (t) => {
  const { dataDir } = await cleanlyStoppedNode(t);
  const directory = partitionDirectory(dataDir, 0);
  const files = segmentFiles(directory);
  t.ok(files.length >= 3, `partition 0 has ${files.length} segments`);
  const damaged = files[1];
  const bytes = fs.readFileSync(path.join(directory, damaged));
  bytes[bytes.length - 5] ^= 0x01;
  fs.writeFileSync(path.join(directory, damaged), bytes);
  await expectDamageHandled(t, dataDir, damaged);
});

void t.test('the last 20 bytes of the active segment overwritten: CORRUPT_LOG, then the restart cuts that batch', async (t) => {
  const { dataDir } = await cleanlyStoppedNode(t);
  const directory = partitionDirectory(dataDir, 0);
  const files = segmentFiles(directory);
  const active = files[files.length - 1];
  const bytes = fs.readFileSync(path.join(directory, active));
  bytes.fill(0, bytes.length - 20);
  fs.writeFileSync(path.join(directory, active), bytes);
  await expectDamageHandled(t, dataDir, active);
});

void t.test('a tail torn by 7 bytes after a clean stop: the restart warns with offsets and bytes removed and counts them', async (t) => {
  const { dataDir } = await cleanlyStoppedNode(t);
  const directory = partitionDirectory(dataDir, 0);
  const files = segmentFiles(directory);
  const active = path.join(directory, files[files.length - 1]);
  const sizeBefore = fs.statSync(active).size;
  fs.truncateSync(active, sizeBefore - 7);

  const node = await startNode({ dataDir, t });
  await recoveredLine(node);
  const total = REQUEST_COUNT * RECORDS_PER_REQUEST;
  const lastBatchStart = total - RECORDS_PER_REQUEST;
  const warnings = node.logs().filter((line) => line.level === 40 && String(line.msg).includes('recovery truncated'));
  t.equal(warnings.length, 1, 'one warn line');
  const warning = warnings[0] as any;
  t.match(warning, { partition: `${TOPIC}-0`, fromOffset: lastBatchStart, removedBatch: { baseOffset: lastBatchStart, lastOffset: total - 1 } },
    'it names the partition and the offsets removed');
  const sizeAfter = fs.statSync(active).size;
  const lastBatchBytes = sizeBefore - sizeAfter;
  // truncatedBytes is what recovery removed from disk: the rest of the torn batch, its size minus the 7 bytes already gone.
  t.equal(warning.truncatedBytes, lastBatchBytes - 7, 'the warn line gives the bytes removed: the batch size minus 7');
  t.match(String(warning.msg), new RegExp(`removed ${lastBatchBytes - 7} bytes, every offset from ${lastBatchStart} on`));
  const recovered = node.logs().find((line) => line.msg === 'storage recovered') as any;
  t.equal(recovered?.recovery?.truncatedBytes, lastBatchBytes - 7, 'the recovery summary counts them (no longer 0)');
  const ready = await requestOk<any>(`${node.url}/health/ready`);
  t.equal(ready.body.recovery.truncatedBytes, lastBatchBytes - 7, '/health/ready agrees');
  const after = await fetchAll(node.url, TOPIC, 0);
  t.same(after.records.map((record) => record.offset), range(lastBatchStart), 'every whole batch is served');
  await node.stop();
});
