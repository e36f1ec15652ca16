/**
 * Scenario 4, single-record produce latency: one producer, one 100 B record per
 * request, each sent when the previous one is acknowledged (acks=leader), a few
 * thousand times after a warm-up. Reports p50/p99/p999 of the request round trip.
 */
import { Histogram } from '../histogram.js';
import { jsonValueOfSize, sizeLabel } from '../payload.js';
import { checkProduceAnswer, produceBody } from '../runnel-http.js';
import { startServerCpu } from '../server-cpu.js';
import { benchTopicName, throughputRow, type Scenario } from '../scenario.js';

const VALUE_BYTES = 100;

export const produceLatencyScenario: Scenario = {
  name: 'produce-latency',
  description: 'single-record produce latency, concurrency 1, acks=leader',
  async run(context) {
    const { settings } = context;
    const label = `produce latency ${sizeLabel(VALUE_BYTES)} x1 c1`;
    if (!context.isRowWanted(label)) return { rows: [] };
    const http = await context.runnel();
    context.log(`  ${label}`);
    const topic = benchTopicName('latency');
    await http.createTopic(topic, 1);
    try {
      const body = produceBody(jsonValueOfSize(VALUE_BYTES), 1);
      const path = `/v1/topics/${topic}/partitions/0/records?acks=leader`;
      checkProduceAnswer(await http.text('POST', path, body), 1, label);
      const deadline = performance.now() + settings.latencyTimeMaxMs;
      for (let index = 0; index < settings.latencyWarmupCount && performance.now() < deadline; index++) {
        await http.send('POST', path, body);
      }
      const histogram = new Histogram();
      const cpu = startServerCpu(http.serverPids);
      const startedAt = performance.now();
      for (let index = 0; index < settings.latencyRequestCount && performance.now() < deadline; index++) {
        const sentAt = performance.now();
        await http.send('POST', path, body);
        histogram.recordMs(performance.now() - sentAt);
      }
      const elapsedMs = performance.now() - startedAt;
      const cpuWindow = cpu.stop();
      const row = throughputRow({
        scenario: 'produce-latency',
        system: 'runnel',
        label,
        params: { valueBytes: VALUE_BYTES, batchSize: 1, concurrency: 1, acks: 'leader' },
        records: histogram.count,
        elapsedMs,
        valueBytes: VALUE_BYTES,
        latency: histogram.summary(),
        cpuWindow,
      });
      if (histogram.count < settings.latencyRequestCount) row.notes = [`time limit reached after ${histogram.count} requests`];
      return { rows: [row] };
    } finally {
      await http.deleteTopic(topic);
    }
  },
};
