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
import { integerAtLeast } from '../arguments.js';
import { isApiError, withClient, type GlobalOptions } from '../context.js';
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
/** Long-poll of each fetch while following (the client's deadline allows for the wait). */
const followWaitMs = 10_000;
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
  /** Aborted by stop(): ends long-polls at once, so Ctrl-C never waits for one. */
  private readonly stopController = new AbortController();

  constructor(private readonly topic: string, private readonly options: ConsumeOptions, private readonly render: RecordRenderer) {}

  stop(): void {
    this.isStopping = true;
    this.stopController.abort();
  }

  /** Prints records (as many as --max-records still allows); stops once --max-records are printed. */
  private async print(records: ConsumedRecord[]): Promise<void> {
    const remaining = (this.options.maxRecords ?? Infinity) - this.printedCount;
    const kept = records.length > remaining ? records.slice(0, remaining) : records;
    let text = '';
    for (const record of kept) text += this.render(record);
    this.printedCount += kept.length;
    await writeOut(text);
    if (this.printedCount >= (this.options.maxRecords ?? Infinity)) this.stop();
  }

  /** Without a group: every partition (or --partition) from --offset. */
  async readPartitions(client: Runnel): Promise<void> {
    const description = await client.topics.describe(this.topic);
    const partitions = this.options.partition === undefined ? description.partitions.map((info) => info.partition) : [this.options.partition];
    const endOffsets = new Map(description.partitions.map((info) => [info.partition, info.highWatermark]));
    if (this.options.follow) {
      // One partition failing (e.g. the topic was deleted) ends the others' long-polls too.
      await Promise.all(partitions.map((partition) => this.followPartition(client, partition).catch((error: unknown) => {
        this.stop();
        throw error;
      })));
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
      for (const record of answer.records) if (record.offset < end) records.push({ ...record, topic: this.topic });
      await this.print(records);
      if (answer.nextOffset >= end || answer.records.length === 0) return;
      offset = answer.nextOffset;
    }
  }

  /** Reads one partition until stopped, long-polling at its end. */
  private async followPartition(client: Runnel, partition: number): Promise<void> {
    let offset: StartOffset = this.options.offset;
    while (!this.isStopping) {
      let answer;
      try {
        answer = await client.fetch(this.topic, partition, { offset, maxRecords: fetchRecordCount, waitMs: followWaitMs, signal: this.stopController.signal });
      } catch (error) {
        if (this.isStopping) return;
        throw error;
      }
      if (this.isStopping) return;
      await this.print(answer.records.map((record) => ({ ...record, topic: this.topic })));
      offset = answer.nextOffset;
    }
  }

  /**
   * As a member of a consumer group: from the group's committed offsets, else --offset.
   * The client's consumer commits what was printed (a record counts as processed when
   * the next one is asked for) before each poll and when it closes, and leaves the group.
   */
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
    // Ctrl-C while waiting for records: close at once (aborts the poll; commits; leaves).
    // While a record is being printed, the loop below closes once it is done with it.
    let isWaiting = false;
    const onStop = (): void => { if (isWaiting) void consumer.close().catch(() => undefined); };
    this.stopController.signal.addEventListener('abort', onStop, { once: true });
    let lastRecordAtMs = Date.now();
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
        let next: IteratorResult<ConsumedRecord>;
        try {
          isWaiting = true;
          next = await iterator.next();
        } catch (error) {
          if (this.isStopping) break;
          throw error;
        } finally {
          isWaiting = false;
        }
        if (next.done === true || this.isStopping) break;
        const record = next.value;
        lastRecordAtMs = Date.now();
        await this.print([record]);
        const end = remaining.get(record.partition);
        if (end !== undefined && record.offset + 1 >= end) remaining.delete(record.partition);
        if (remaining.size === 0 && !this.options.follow) this.stop();
        if (this.isStopping) {
          // The record just printed is processed: asking for the next one says so to the
          // consumer (synchronously, before close() commits). Whatever that call brings is
          // not printed, and so is not committed either.
          iterator.next().catch(() => undefined);
          break;
        }
      }
    } finally {
      clearInterval(idleTimer);
      this.stopController.signal.removeEventListener('abort', onStop);
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
    if (isApiError(error, 'GROUP_NOT_FOUND')) return new Map();
    throw error;
  }
}
