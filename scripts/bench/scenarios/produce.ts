/**
 * Scenario 1, produce throughput: 100 B and 1 KiB JSON values, batches of 1, 100
 * and 1000 records per request, 1 and 8 concurrent producers, each row on a fresh
 * one-partition topic via POST /v1/topics/{t}/partitions/0/records?acks=leader.
 * The topic is deleted after its row so rows do not add up on disk. Measured with
 * JSON bodies (produce) and with record batches of the same value bytes
 * (produce-binary), each request one RecordBatch v2.
 */
import { runClosedLoop } from '../load.js';
import { sizeLabel } from '../payload.js';
import type { RunnelHttp } from '../runnel-http.js';
import { benchTopicName, throughputRow, type BenchContext, type ResultRow, type Scenario } from '../scenario.js';
import { JSON_WIRE, RECORD_BATCH_WIRE, type BenchWire } from '../wire.js';

export const VALUE_SIZES_BYTES = [100, 1024] as const;
export const BATCH_SIZES = [1, 100, 1000] as const;
export const CONCURRENCIES = [1, 8] as const;

export function produceCompareKey(valueBytes: number, batchSize: number, concurrency: number): string {
  return `produce:${valueBytes}B:b${batchSize}:c${concurrency}`;
}

export interface ProduceRowSpec {
  scenario: 'produce' | 'produce-binary' | 'produce-fsync';
  wire: BenchWire;
  label: string;
  valueBytes: number;
  batchSize: number;
  concurrency: number;
  topicConfigs: Record<string, string>;
  compareKey: string;
}

/** Creates the row's topic, checks one request answers as the contract says, measures, deletes the topic. */
export async function measureProduceRow(context: BenchContext, http: RunnelHttp, spec: ProduceRowSpec): Promise<ResultRow> {
  const { settings } = context;
  const topic = benchTopicName(spec.scenario);
  await http.createTopic(topic, 1, spec.topicConfigs);
  try {
    const { wire } = spec;
    const body = wire.produceBody(spec.valueBytes, spec.batchSize);
    const path = `/v1/topics/${topic}/partitions/0/records?acks=leader`;
    wire.checkProduceAnswer(await http.text('POST', path, body, 200, wire.mediaType), spec.batchSize, spec.label);
    const recordCountMax = Math.min(settings.rowRecordCountMax, Math.floor(settings.rowValueBytesMax / spec.valueBytes));
    const result = await runClosedLoop({
      concurrency: spec.concurrency,
      warmupMs: settings.warmupMs,
      durationMs: settings.durationMs,
      maxOperations: Math.max(spec.concurrency, Math.floor(recordCountMax / spec.batchSize)),
      operation: () => http.send('POST', path, body, 200, wire.mediaType),
      serverPids: http.serverPids,
    });
    return throughputRow({
      scenario: spec.scenario,
      system: 'runnel',
      label: spec.label,
      params: { valueBytes: spec.valueBytes, batchSize: spec.batchSize, concurrency: spec.concurrency, acks: 'leader', mediaType: wire.mediaType, ...spec.topicConfigs },
      records: result.operations * spec.batchSize,
      elapsedMs: result.elapsedMs,
      valueBytes: spec.valueBytes,
      latency: result.histogram.summary(),
      cpuWindow: result.serverCpu,
      compareKey: spec.compareKey,
    });
  } finally {
    await http.deleteTopic(topic);
  }
}

function produceScenarioFor(wire: BenchWire, description: string): Scenario {
  const scenario = `produce${wire.suffix}` as const;
  return {
    name: scenario,
    description,
    async run(context) {
      const http = await context.runnel();
      const rows: ResultRow[] = [];
      for (const valueBytes of VALUE_SIZES_BYTES) {
        for (const batchSize of BATCH_SIZES) {
          for (const concurrency of CONCURRENCIES) {
            const label = `${scenario} ${sizeLabel(valueBytes)} x${batchSize} c${concurrency}`;
            if (!context.isRowWanted(label)) continue;
            context.log(`  ${label}`);
            rows.push(await measureProduceRow(context, http, {
              scenario, wire, label, valueBytes, batchSize, concurrency, topicConfigs: {},
              compareKey: produceCompareKey(valueBytes, batchSize, concurrency),
            }));
          }
        }
      }
      return { rows };
    },
  };
}

export const produceScenario = produceScenarioFor(JSON_WIRE, 'produce throughput: 100 B / 1 KiB JSON values, batches of 1/100/1000, concurrency 1/8, acks=leader');
export const produceBinaryScenario = produceScenarioFor(RECORD_BATCH_WIRE, "produce throughput with record-batch bodies: the produce scenario's sizes, batches and concurrency");
