/**
 * runnel consume <topic>: read partitions from an offset (or as a group member) and
 * print each record: the value alone, JSON lines, or a kcat-style format.
 *
 * Without --follow it stops at the high watermark each partition had when it
 * started, so `runnel consume t > file` copies what is there and ends; with it, it
 * long-polls until Ctrl-C (or --max-records), then commits (with --group) and ends
 * with exit code 0.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ConsumedRecord, Runnel } from '../client.js';
import { RunnelApiError } from '../client.js';
import { integerAtLeast } from '../arguments.js';
import { withClient, type GlobalOptions } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { writeOut } from '../output.js';
import { formatRenderer, jsonRenderer, valueOnlyRenderer, type RecordRenderer } from '../record-format.js';

type StartOffset = 'earliest' | 'latest' | number;

interface ConsumeOptions {
  offset: StartOffset;
  partition?: number;
  group?: string;
  follow: boolean;
  maxRecords?: number;
  format?: string;
}

/** Records asked for per fetch. */
const fetchRecordCount = 1000;
/** Long-poll of each fetch while following (below the default --timeout-ms). */
const followWaitMs = 10_000;
/** How often a group member commits while following. */
const commitIntervalMs = 5000;
/** Without --follow, how long a group member waits with nothing arriving before it checks whether other members consumed what is left. */
const groupIdleCheckMs = 2000;

function parseStartOffset(text: string): StartOffset {
  if (text === 'earliest' || text === 'latest') return text;
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  throw new InvalidArgumentError(`expected earliest, latest or an offset, got '${text}'.`);
}

export function registerConsumeCommand(program: Command): void {
  program.command('consume <topic>')
    .description('print records of a topic, one per line (the value, unless --format or --output json)')
    .option('--offset <offset>', 'where to start: earliest, latest or an offset (in every partition read)', parseStartOffset, 'earliest')
    .option('-p, --partition <n>', 'read only this partition (default: all)', integerAtLeast(0))
    .option('-g, --group <group>', 'consume as a member of this consumer group, committing what was printed')
    .option('-f, --follow', 'keep waiting for new records (default: stop at the high watermark seen at start)', false)
    .option('-n, --max-records <n>', 'stop after this many records', integerAtLeast(1))
    .option('--format <format>', 'like kcat -f: %t topic, %p partition, %o offset, %k key, %s value, %T timestamp, %h headers, %K/%S key/value bytes, %%; \\n \\t escapes')
    .action(async (topic: string, options: ConsumeOptions, command: Command) => {
      if (options.group !== undefined && options.partition !== undefined) {
        throw new UsageError('--group and --partition do not go together: a group member gets its partitions from the group');
      }
      if (options.group !== undefined && typeof options.offset === 'number') {
        throw new UsageError('with --group, --offset is earliest or latest (where a partition without a committed offset starts); move committed offsets with `runnel group reset`');
      }
      await withClient(command, async (client, globals) => {
        const session = new ConsumeSession(topic, options, renderer(options, globals));
        const onSignal = (): void => {
          if (session.isStopping) process.exit(130);
          session.stop();
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        try {
          if (options.group === undefined) await session.readPartitions(client);
          else await session.readAsGroupMember(client, options.group);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}

function renderer(options: ConsumeOptions, globals: GlobalOptions): RecordRenderer {
  if (options.format !== undefined) return formatRenderer(options.format);
  return globals.output === 'json' ? jsonRenderer() : valueOnlyRenderer();
}

class ConsumeSession {
  isStopping = false;
  private printedCount = 0;
  private readonly stopWaiters = new Set<() => void>();
  /** Resolves once stop() is called: races every wait, so Ctrl-C never waits for a long-poll. */
  private readonly stopped: Promise<void>;

  constructor(private readonly topic: string, private readonly options: ConsumeOptions, private readonly render: RecordRenderer) {
    this.stopped = new Promise<void>((resolve) => this.stopWaiters.add(resolve));
  }

  stop(): void {
    this.isStopping = true;
    for (const resolve of this.stopWaiters) resolve();
  }

  /** Prints records (as many as --max-records still allows); returns how many. */
  private async print(records: ConsumedRecord[]): Promise<number> {
    const remaining = (this.options.maxRecords ?? Infinity) - this.printedCount;
    const kept = records.length > remaining ? records.slice(0, remaining) : records;
    let text = '';
    for (const record of kept) text += this.render(record);
    this.printedCount += kept.length;
    await writeOut(text);
    if (this.printedCount >= (this.options.maxRecords ?? Infinity)) this.stop();
    return kept.length;
  }

  /** Waits for `promise` unless stop() comes first (then resolves undefined). */
  private async unlessStopped<T>(promise: Promise<T>): Promise<T | undefined> {
    promise.catch(() => undefined);
    return Promise.race([promise, this.stopped.then(() => undefined)]);
  }

  /** Without a group: every partition (or --partition) from --offset. */
  async readPartitions(client: Runnel): Promise<void> {
    const description = await client.topics.describe(this.topic);
    const partitions = this.options.partition === undefined ? description.partitions.map((info) => info.partition) : [this.options.partition];
    const endOffsets = new Map(description.partitions.map((info) => [info.partition, info.highWatermark]));
    if (this.options.follow) {
      await Promise.all(partitions.map((partition) => this.followPartition(client, partition)));
      return;
    }
    for (const partition of partitions) {
      if (this.isStopping) break;
      await this.readPartitionTo(client, partition, endOffsets.get(partition));
    }
  }

  /**
   * Reads one partition up to endOffset (its high watermark at start). A partition the
   * description did not list is still fetched once, so the node says what is wrong.
   */
  private async readPartitionTo(client: Runnel, partition: number, endOffset: number | undefined): Promise<void> {
    let offset: StartOffset = this.options.offset;
    if (endOffset !== undefined && (offset === 'latest' || offset === endOffset)) return;
    while (!this.isStopping) {
      // An offset past the end or before the log start is refused here (OFFSET_OUT_OF_RANGE).
      const answer = await client.fetch(this.topic, partition, { offset, maxRecords: fetchRecordCount });
      const end = endOffset ?? answer.highWatermark;
      const records: ConsumedRecord[] = [];
      for (const record of answer.records) if ((record.offset ?? 0) < end) records.push({ ...record, topic: this.topic, partition });
      await this.print(records);
      if (answer.nextOffset >= end || answer.records.length === 0) return;
      offset = answer.nextOffset;
    }
  }

  /** Reads one partition until stopped, long-polling at its end. */
  private async followPartition(client: Runnel, partition: number): Promise<void> {
    let offset: StartOffset = this.options.offset;
    while (!this.isStopping) {
      const answer = await this.unlessStopped(client.fetch(this.topic, partition, { offset, maxRecords: fetchRecordCount, waitMs: followWaitMs }));
      if (answer === undefined || this.isStopping) return;
      await this.print(answer.records.map((record) => ({ ...record, topic: this.topic, partition })));
      offset = answer.nextOffset;
    }
  }

  /** As a member of a consumer group: the group's committed offsets, else --offset; commits what was printed. */
  async readAsGroupMember(client: Runnel, group: string): Promise<void> {
    const autoOffsetReset = this.options.offset === 'latest' ? 'latest' : 'earliest';
    // Without --follow: the partitions that still have records below the high watermark seen now.
    const remaining = new Map<number, number>();
    if (!this.options.follow) {
      const description = await client.topics.describe(this.topic);
      const committed = await committedOffsets(client, group, this.topic);
      for (const info of description.partitions) {
        const start = committed.get(info.partition) ?? (autoOffsetReset === 'earliest' ? info.logStartOffset : info.highWatermark);
        if (start < info.highWatermark) remaining.set(info.partition, info.highWatermark);
      }
      if (remaining.size === 0) return;
    }
    const consumer = client.consumer({ group, topics: [this.topic], autoOffsetReset });
    const iterator = consumer[Symbol.asyncIterator]();
    let lastRecordAtMs = Date.now();
    let isCommitDue = false;
    const commitTimer = setInterval(() => { isCommitDue = true; }, commitIntervalMs);
    const idleTimer = this.options.follow ? undefined : setInterval(() => {
      if (Date.now() - lastRecordAtMs < groupIdleCheckMs) return;
      // Nothing arrives: maybe other members own what is left. Done once they have committed it.
      void committedOffsets(client, group, this.topic).then((committed) => {
        for (const [partition, end] of remaining) if ((committed.get(partition) ?? -1) >= end) remaining.delete(partition);
        if (remaining.size === 0) this.stop();
      }, () => undefined);
    }, groupIdleCheckMs / 2);
    try {
      while (!this.isStopping) {
        const next = await this.unlessStopped(iterator.next());
        if (next === undefined || next.done === true) break;
        const record = next.value;
        lastRecordAtMs = Date.now();
        await this.print([record]);
        const end = remaining.get(record.partition ?? -1);
        if (end !== undefined && (record.offset ?? 0) + 1 >= end) {
          remaining.delete(record.partition ?? -1);
          if (remaining.size === 0) break;
        }
        if (isCommitDue) {
          isCommitDue = false;
          await consumer.commit();
        }
      }
      await consumer.commit();
    } finally {
      clearInterval(commitTimer);
      clearInterval(idleTimer);
      await consumer.close();
    }
  }
}

/** The group's committed offsets on this topic by partition (none for a group that does not exist yet). */
async function committedOffsets(client: Runnel, group: string, topic: string): Promise<Map<number, number>> {
  try {
    const view = await client.groups.offsets(group);
    const offsets = new Map<number, number>();
    for (const entry of view.offsets) if (entry.topic === topic && entry.offset !== null) offsets.set(entry.partition, entry.offset);
    return offsets;
  } catch (error) {
    if (error instanceof RunnelApiError && error.code === 'GROUP_NOT_FOUND') return new Map();
    throw error;
  }
}
