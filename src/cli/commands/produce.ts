/**
 * runnel produce <topic>: one record per line of stdin (or --file), through the
 * client's batching producer, then the count and rate on stderr.
 */
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { Option, type Command } from 'commander';
import type { ProduceRecord } from '../../api/types.js';
import type { Acks, Format } from '../client.js';
import { collectKeyValue, integerAtLeast } from '../arguments.js';
import { withClient } from '../context.js';
import { InputError } from '../exit-codes.js';
import { formatCount, note, printJson } from '../output.js';

const FORMATS = ['string', 'json', 'binary'] as const;

/** Records handed to the producer and not yet acknowledged, at most: bounds memory on any input size. */
const pendingRecordCountMax = 20_000;

interface ProduceOptions {
  file?: string;
  keySeparator?: string;
  keyFormat: Format;
  valueFormat: Format;
  header: Array<[string, string]>;
  partition?: number;
  acks?: Acks;
  batchSize: number;
  lingerMs: number;
  maxInFlight: number;
}

export function registerProduceCommand(program: Command): void {
  program.command('produce <topic>')
    .description('produce one record per line of stdin (or --file)')
    .option('-f, --file <path>', 'read lines from this file instead of stdin')
    .option('-K, --key-separator <separator>', 'each line is <key><separator><value> (split at the first separator; lines without one have no key)')
    .addOption(new Option('--key-format <format>', 'how keys are sent').choices(FORMATS).default('string'))
    .addOption(new Option('--value-format <format>', 'how values are sent: string (the line as it is), json (the line parsed as JSON), binary (the line is base64)').choices(FORMATS).default('string'))
    .option('-H, --header <name=value>', 'a header on every record (repeatable)', collectKeyValue, [])
    .option('-p, --partition <n>', 'send every record to this partition (default: by key; keyless records spread per batch)', integerAtLeast(0))
    .addOption(new Option('--acks <acks>', 'none: do not wait for the write; leader / all: wait (default all)').choices(['none', 'leader', 'all']))
    .option('--batch-size <n>', 'records per request at most', integerAtLeast(1), 1000)
    .option('--linger-ms <ms>', 'how long a batch waits to fill', integerAtLeast(0), 5)
    .option('--max-in-flight <n>', 'requests in flight at once; above 1, batches (and so records of a partition) may land out of order', integerAtLeast(1), 1)
    .action(async (topic: string, options: ProduceOptions, command: Command) => {
      // Opened first, so a missing or unreadable file is one clear error before anything is sent.
      const input = options.file === undefined ? process.stdin : (await fs.promises.open(options.file)).createReadStream();
      await withClient(command, async (client, { output }) => {
        const startedAtMs = performance.now();
        const producer = client.producer({
          lingerMs: options.lingerMs,
          batchRecordsMax: options.batchSize,
          maxInFlight: options.maxInFlight,
          acks: options.acks,
          keyFormat: options.keyFormat,
          valueFormat: options.valueFormat,
        });
        const headers = options.header.length === 0 ? undefined : Object.fromEntries(options.header);
        let lineNumber = 0;
        let producedCount = 0;
        let pendingCount = 0;
        let failure: unknown;
        let onSettled: (() => void) | undefined;
        const lines = createInterface({ input, crlfDelay: Infinity });
        try {
          for await (const line of lines) {
            lineNumber++;
            const record = parseLine(line, lineNumber, options);
            if (headers !== undefined) record.headers = headers;
            if (options.partition !== undefined) record.partition = options.partition;
            pendingCount++;
            producer.send(topic, record).then(
              () => { producedCount++; },
              (error: unknown) => { failure ??= error; },
            ).finally(() => {
              pendingCount--;
              onSettled?.();
            });
            if (failure !== undefined) break;
            if (pendingCount >= pendingRecordCountMax) {
              await new Promise<void>((resolve) => { onSettled = resolve; });
              onSettled = undefined;
              if (failure !== undefined) break;
            }
          }
        } finally {
          lines.close();
          // Everything handed over is sent (or fails) before the command ends.
          await producer.close().catch((error: unknown) => { failure ??= error; });
          while (pendingCount > 0) await new Promise<void>((resolve) => { onSettled = resolve; });
        }
        if (failure !== undefined) throw failure;
        const seconds = (performance.now() - startedAtMs) / 1000;
        const recordsPerSecond = seconds > 0 ? producedCount / seconds : 0;
        if (output === 'json') {
          await printJson({ topic, records: producedCount, seconds: Number(seconds.toFixed(3)), recordsPerSecond: Math.round(recordsPerSecond) });
        } else {
          note(`produced ${producedCount} record${producedCount === 1 ? '' : 's'} in ${seconds.toFixed(2)} s (${formatCount(recordsPerSecond)} rec/s)`);
        }
      });
    });
}

function parseLine(line: string, lineNumber: number, options: ProduceOptions): ProduceRecord {
  let keyText: string | undefined;
  let valueText = line;
  if (options.keySeparator !== undefined && options.keySeparator !== '') {
    const index = line.indexOf(options.keySeparator);
    if (index >= 0) {
      keyText = line.slice(0, index);
      valueText = line.slice(index + options.keySeparator.length);
    }
  }
  const record: ProduceRecord = { value: decode(valueText, options.valueFormat, lineNumber, 'value') };
  if (keyText !== undefined) record.key = decode(keyText, options.keyFormat, lineNumber, 'key');
  return record;
}

function decode(text: string, format: Format, lineNumber: number, what: string): unknown {
  if (format !== 'json') return text;
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputError('INVALID_RECORD', `line ${lineNumber}: the ${what} is not JSON (${(error as Error).message})`);
  }
}
