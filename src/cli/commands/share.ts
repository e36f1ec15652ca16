/**
 * runnel share consume|list|describe|reset|delete: share groups (queues, KIP-932).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ShareResetTarget } from '../client.js';
import { integerAtLeast } from '../arguments.js';
import { withClient } from '../context.js';
import { printJson, renderFields, renderTable, writeOut } from '../output.js';
import { payloadText } from '../record-format.js';

/** earliest | latest | an ISO 8601 time (the first record at or after it). */
function parseShareResetTarget(text: string): ShareResetTarget {
  if (text === 'earliest' || text === 'latest') return text;
  const timestamp = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isFinite(timestamp) && timestamp >= 0) return { timestamp };
  throw new InvalidArgumentError(`expected earliest, latest or an ISO 8601 time (2026-01-31T12:00:00Z), got '${text}'.`);
}

const topicList = (text: string): string[] => text.split(',').map((name) => name.trim()).filter((name) => name !== '');

function registerShareConsume(share: Command): void {
  share.command('consume <group>')
    .description('acquire records of the topics for the group, print each and accept it; ends when none is left (or at --max-records)')
    .requiredOption('-t, --topics <list>', 'topics to read, separated by commas', topicList)
    .option('-n, --max-records <count>', 'stop after this many records', integerAtLeast(1))
    .option('--wait-ms <ms>', 'how long a read waits for records before the command ends', integerAtLeast(0), 1000)
    .option('--auto-offset-reset <where>', "set the group's share.auto.offset.reset first (earliest or latest): where partitions it has not read yet start")
    .action(async (groupId: string, options: { topics: string[]; maxRecords?: number; waitMs: number; autoOffsetReset?: string }, command: Command) => {
      await withClient(command, async (client, { output }) => {
        if (options.autoOffsetReset !== undefined) await client.shareGroups.configure(groupId, { 'share.auto.offset.reset': options.autoOffsetReset });
        const consumer = client.shareConsumer({ group: groupId, topics: options.topics, waitMs: options.waitMs, stopWhenEmpty: true, maxRecords: options.maxRecords ?? 100 });
        let count = 0;
        try {
          for await (const record of consumer) {
            const { accept: _accept, release: _release, reject: _reject, renew: _renew, ...fields } = record;
            await writeOut(output === 'json' ? JSON.stringify(fields) + '\n' : payloadText(record.value) + '\n');
            count += 1;
            if (options.maxRecords !== undefined && count >= options.maxRecords) break;
          }
        } finally {
          await consumer.close();
        }
      });
    });
}

export function registerShareCommands(program: Command): void {
  const share = program.command('share').description('share groups (queues): consume, list, describe, reset and delete');
  registerShareConsume(share);

  share.command('list')
    .description('share groups with their partitions, records held and lag')
    .action(async (_options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const groups = await client.shareGroups.list();
        if (output === 'json') return printJson(groups);
        await writeOut(renderTable(['group', 'partitions', 'acquired', 'lag'], groups.map((entry) => [entry.groupId, entry.partitions, entry.acquired, entry.lag])) + '\n');
      });
    });

  share.command('describe <group>')
    .description('configs and per-partition start offset, records in flight and lag')
    .action(async (groupId: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const description = await client.shareGroups.describe(groupId);
        if (output === 'json') return printJson(description);
        const fields = renderFields(Object.entries(description.configs).map(([name, value]): [string, string] => [name, String(value)]));
        const partitions = renderTable(
          ['topic', 'partition', 'start', 'end', 'acquired', 'archived', 'lag'],
          description.partitions.map((entry) => [entry.topic, entry.partition, entry.startOffset, entry.endOffset, entry.acquired, entry.archived, entry.lag ?? '-']),
        );
        await writeOut(`${fields}\n${partitions}\n`);
      });
    });

  share.command('reset <group>')
    .description('move the start offset while no record is held (forgets what was in flight)')
    .requiredOption('--to <target>', 'earliest, latest or an ISO 8601 time', parseShareResetTarget)
    .option('-t, --topic <topic>', 'only this topic (all its partitions)')
    .action(async (groupId: string, options: { to: ShareResetTarget; topic?: string }, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const result = await client.shareGroups.reset(groupId, options.to, { topic: options.topic });
        if (output === 'json') return printJson(result);
        await writeOut(renderTable(['topic', 'partition', 'start'], result.partitions.map((entry) => [entry.topic, entry.partition, entry.startOffset])) + '\n');
      });
    });

  share.command('delete <group>')
    .description('delete a share group while no record is held')
    .action(async (groupId: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await client.shareGroups.delete(groupId);
        if (output === 'json') return printJson({ deleted: groupId });
        await writeOut(`deleted share group ${groupId}\n`);
      });
    });
}
