/**
 * Consumer group throughput: preload 100 B records over a 6-partition topic, then a
 * group of 1 and of 3 members reads everything through GET .../members/{m}/records
 * with autoCommit=true and ack=<pollId> (so every poll also commits the previous
 * one's positions), maxRecords=10000. Each member parses its answers completely, as
 * a consumer would. Rows: records/s for the group; latency is per poll.
 */
import { Histogram } from '../histogram.js';
import { runClosedLoop } from '../load.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { produceBody, type RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type ResultRow, type Scenario } from '../scenario.js';
import { startServerCpu } from '../server-cpu.js';

const GROUP_VALUE_BYTES = 100;
const GROUP_PARTITIONS = 6;
const POLL_RECORDS_MAX = 10_000;
const PRELOAD_BATCH_SIZE = 1000;
const MEMBER_COUNTS = [1, 3];

function groupLabel(members: number): string {
  return `group poll+commit ${sizeLabel(GROUP_VALUE_BYTES)} m${members}`;
}

interface PollAnswer {
  memberId: string;
  pollId: number;
  records: unknown[];
}

async function consume(http: RunnelHttp, group: string, memberId: string, progress: { records: number; total: number }, deadline: number, histogram: Histogram): Promise<void> {
  let ack: number | undefined;
  while (progress.records < progress.total && performance.now() < deadline) {
    const path = `/v1/groups/${group}/members/${memberId}/records?maxRecords=${POLL_RECORDS_MAX}&waitMs=200&autoCommit=true${ack === undefined ? '' : `&ack=${ack}`}`;
    const sentAt = performance.now();
    const answer = JSON.parse(await http.text('GET', path)) as PollAnswer;
    histogram.recordMs(performance.now() - sentAt);
    ack = answer.pollId;
    progress.records += answer.records.length;
  }
  await http.text('DELETE', `/v1/groups/${group}/members/${memberId}`, undefined, 204);
}

export const groupScenario: Scenario = {
  name: 'group',
  description: `consumer group poll + commit throughput: ${GROUP_PARTITIONS} partitions of ${sizeLabel(GROUP_VALUE_BYTES)} records, groups of ${MEMBER_COUNTS.join(' and ')} members, autoCommit on every poll`,
  async run(context) {
    const { settings } = context;
    const memberCounts = MEMBER_COUNTS.filter((count) => context.isRowWanted(groupLabel(count)));
    if (memberCounts.length === 0) return { rows: [] };
    const http = await context.runnel();
    const topic = benchTopicName('group');
    await http.createTopic(topic, GROUP_PARTITIONS);
    try {
      const body = produceBody(jsonValueOfSize(GROUP_VALUE_BYTES), PRELOAD_BATCH_SIZE);
      await runClosedLoop({
        concurrency: GROUP_PARTITIONS,
        warmupMs: 0,
        durationMs: settings.fetchPreloadTimeMaxMs,
        maxOperations: Math.ceil(settings.fetchPreloadRecordCount / 2 / PRELOAD_BATCH_SIZE),
        operation: (worker) => http.send('POST', `/v1/topics/${topic}/partitions/${worker % GROUP_PARTITIONS}/records?acks=leader`, body),
      });
      let total = 0;
      for (let partition = 0; partition < GROUP_PARTITIONS; partition++) total += await http.highWatermark(topic, partition);
      const rows: ResultRow[] = [];
      for (const memberCount of memberCounts) {
        const label = groupLabel(memberCount);
        context.log(`  ${label}`);
        const group = `${topic}-m${memberCount}`;
        // Everyone joins before anyone polls, so the split is settled from the start.
        const members: string[] = [];
        for (let i = 0; i < memberCount; i++) {
          const joined = JSON.parse(await http.text('POST', `/v1/groups/${group}/members`, JSON.stringify({ topics: [topic], autoOffsetReset: 'earliest', sessionTimeoutMs: 30_000 }), 201)) as { memberId: string };
          members.push(joined.memberId);
        }
        const histogram = new Histogram();
        const progress = { records: 0, total };
        const cpu = startServerCpu(http.serverPids);
        const startedAt = performance.now();
        await Promise.all(members.map((memberId) => consume(http, group, memberId, progress, startedAt + settings.fetchReadTimeMaxMs, histogram)));
        const elapsedMs = performance.now() - startedAt;
        const cpuWindow = cpu.stop();
        const row = throughputRow({
          scenario: 'group',
          system: 'runnel',
          label,
          params: { valueBytes: GROUP_VALUE_BYTES, members: memberCount, partitions: GROUP_PARTITIONS, maxRecords: POLL_RECORDS_MAX },
          records: progress.records,
          elapsedMs,
          valueBytes: GROUP_VALUE_BYTES,
          latency: histogram.summary(),
          cpuWindow,
          notes: [`${total} records preloaded; every poll commits the previous one's positions`],
        });
        if (progress.records < total) row.notes?.push(`time limit reached after ${progress.records} of ${total} records`);
        rows.push(row);
      }
      return { rows };
    } finally {
      await http.deleteTopic(topic);
    }
  },
};
