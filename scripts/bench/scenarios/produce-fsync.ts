/**
 * Scenario 2, durable produce: topic config flush.messages=1, so every request is
 * fsynced (group commit) before it is acknowledged; batches of 1000 x 100 B,
 * 8 concurrent producers. Redis's counterpart is appendfsync always.
 */
import { sizeLabel } from '../payload.js';
import type { Scenario } from '../scenario.js';
import { JSON_WIRE } from '../wire.js';
import { measureProduceRow } from './produce.js';

export const FSYNC_VALUE_BYTES = 100;
export const FSYNC_BATCH_SIZE = 1000;
export const FSYNC_CONCURRENCY = 8;
export const fsyncCompareKey = `produce-fsync:${FSYNC_VALUE_BYTES}B:b${FSYNC_BATCH_SIZE}:c${FSYNC_CONCURRENCY}`;

export const produceFsyncScenario: Scenario = {
  name: 'produce-fsync',
  description: 'produce with an fsync per request (flush.messages=1): 1000 x 100 B batches, concurrency 8',
  async run(context) {
    const label = `produce fsync ${sizeLabel(FSYNC_VALUE_BYTES)} x${FSYNC_BATCH_SIZE} c${FSYNC_CONCURRENCY}`;
    if (!context.isRowWanted(label)) return { rows: [] };
    const http = await context.runnel();
    context.log(`  ${label}`);
    const row = await measureProduceRow(context, http, {
      scenario: 'produce-fsync',
      wire: JSON_WIRE,
      label,
      valueBytes: FSYNC_VALUE_BYTES,
      batchSize: FSYNC_BATCH_SIZE,
      concurrency: FSYNC_CONCURRENCY,
      topicConfigs: { 'flush.messages': '1' },
      compareKey: fsyncCompareKey,
    });
    return { rows: [row] };
  },
};
