/**
 * Scenario 5, end-to-end latency: one producer sends single 100 B records, each when
 * the previous one is acknowledged, with its send time (performance.now() of this
 * process) inside the value; one consumer long-polls
 * GET .../records?offset=N&waitMs=1000 in a loop. Latency = the time the consumer has
 * the answer - the send time in the record. The first tenth of the records is
 * warm-up and not counted.
 */
import { Histogram } from '../histogram.js';
import { timestampedValueOfSize } from '../payload.js';
import { benchTopicName, throughputRow, type Scenario } from '../scenario.js';
import { startServerCpu } from '../server-cpu.js';

const VALUE_BYTES = 100;
const WAIT_MS = 1000;
/** After the producer is done, how long the consumer may take to see the last record. */
const DRAIN_MS_MAX = 5_000;

interface FetchAnswer {
  records: Array<{ offset: number; value: { sentAtMs?: number } }>;
  nextOffset: number;
}

export const endToEndScenario: Scenario = {
  name: 'end-to-end',
  description: `end-to-end latency: single-record producer, long-poll consumer (waitMs=${WAIT_MS})`,
  async run(context) {
    const { settings } = context;
    const label = 'end-to-end 100 B x1 c1';
    if (!context.isRowWanted(label)) return { rows: [] };
    const http = await context.runnel();
    context.log(`  ${label}`);
    const topic = benchTopicName('e2e');
    await http.createTopic(topic, 1);
    const total = settings.endToEndRecordCount;
    const warmupCount = Math.floor(total / 10);
    const histogram = new Histogram();
    const stop = new AbortController();
    let sent = 0;
    let received = 0;
    let producerDoneAt = Number.POSITIVE_INFINITY;
    const cpu = startServerCpu(http.serverPids);
    const startedAt = performance.now();
    const deadline = startedAt + settings.endToEndTimeMaxMs;
    const producePath = `/v1/topics/${topic}/partitions/0/records?acks=leader`;

    const produce = async (): Promise<void> => {
      try {
        while (sent < total && performance.now() < deadline && !stop.signal.aborted) {
          const body = Buffer.from('{"records":[{"value":' + timestampedValueOfSize(performance.now(), VALUE_BYTES) + '}],"valueFormat":"json"}');
          await http.send('POST', producePath, body);
          sent += 1;
        }
      } finally {
        producerDoneAt = performance.now();
      }
    };

    const consume = async (): Promise<void> => {
      let offset = 0;
      while (received < sent || sent < total) {
        const now = performance.now();
        if (now >= deadline + DRAIN_MS_MAX || now >= producerDoneAt + DRAIN_MS_MAX || stop.signal.aborted) return;
        const path = `/v1/topics/${topic}/partitions/0/records?offset=${offset}&waitMs=${WAIT_MS}&maxRecords=1000`;
        const response = await http.pool.request({ method: 'GET', path, headers: { accept: 'application/json' }, signal: stop.signal });
        const text = await response.body.text();
        const receivedAt = performance.now();
        if (response.statusCode !== 200) throw new Error(`GET ${path}: expected HTTP 200, got ${response.statusCode}: ${text.slice(0, 500)}`);
        const answer = JSON.parse(text) as FetchAnswer;
        for (const record of answer.records) {
          const sentAtMs = record.value?.sentAtMs;
          if (typeof sentAtMs !== 'number') throw new Error(`record ${record.offset} lost its sentAtMs: ${JSON.stringify(record).slice(0, 300)}`);
          if (record.offset >= warmupCount) histogram.recordMs(receivedAt - sentAtMs);
        }
        received += answer.records.length;
        if (answer.nextOffset < offset) throw new Error(`GET ${path}: nextOffset ${answer.nextOffset} went backwards`);
        offset = answer.nextOffset;
      }
    };

    try {
      // Whichever side fails first stops the other, so neither outlives the scenario;
      // the first failure is the one reported (the other side then sees an abort).
      let failure: unknown;
      let hasFailed = false;
      const guard = (work: Promise<void>): Promise<void> => work.catch((error: unknown) => {
        if (!hasFailed) failure = error;
        hasFailed = true;
        stop.abort();
      });
      await Promise.all([guard(consume()), guard(produce())]);
      if (hasFailed) throw failure;
      const elapsedMs = performance.now() - startedAt;
      const cpuWindow = cpu.stop();
      const row = throughputRow({
        scenario: 'end-to-end',
        system: 'runnel',
        label,
        params: { valueBytes: VALUE_BYTES, batchSize: 1, waitMs: WAIT_MS, acks: 'leader' },
        records: received,
        elapsedMs,
        valueBytes: null,
        latency: histogram.summary(),
        cpuWindow,
      });
      row.notes = [`${sent} sent, ${received} received; first ${warmupCount} not counted`];
      if (received < total) row.notes.push(`time limit reached before all ${total} records went through`);
      return { rows: [row] };
    } finally {
      stop.abort();
      await http.deleteTopic(topic);
    }
  },
};
