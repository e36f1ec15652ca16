/**
 * runnel group list|describe|reset|delete
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ResetBody } from '../../api/types.js';
import { withClient } from '../context.js';
import { printJson, renderFields, renderTable, writeOut } from '../output.js';

/** earliest | latest | an offset | an ISO 8601 time (the first offset at or after it). */
function parseResetTarget(text: string): ResetBody['to'] {
  if (text === 'earliest' || text === 'latest') return text;
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return { offset: Number(text) };
  const timestamp = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  if (Number.isFinite(timestamp) && timestamp >= 0) return { timestamp };
  throw new InvalidArgumentError(`expected earliest, latest, an offset or an ISO 8601 time (2026-01-31T12:00:00Z), got '${text}'.`);
}

function parsePartitionList(text: string): number[] {
  const partitions = text.split(',').map((part) => part.trim());
  if (partitions.some((part) => !/^\d+$/.test(part))) throw new InvalidArgumentError(`expected partition numbers separated by commas, got '${text}'.`);
  return partitions.map(Number);
}

const dash = (value: number | string | null | undefined): string | number => value ?? '-';

export function registerGroupCommands(program: Command): void {
  const group = program.command('group').description('list, describe, reset and delete consumer groups');

  group.command('list')
    .description('consumer groups with their state, members and lag')
    .action(async (_options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const groups = await client.groups.list();
        if (output === 'json') return printJson(groups);
        await writeOut(renderTable(['group', 'state', 'members', 'lag'], groups.map((entry) => [entry.groupId, entry.state, entry.members, entry.lag])) + '\n');
      });
    });

  group.command('describe <group>')
    .description('members, assignments and per-partition committed offset and lag')
    .action(async (groupId: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const description = await client.groups.describe(groupId);
        if (output === 'json') return printJson(description);
        const fields = renderFields([
          ['group', description.groupId],
          ['state', description.state],
          ['assignor', description.assignor],
          ['members', description.members.length],
          ['lag', description.lag],
        ]);
        const offsets = renderTable(
          ['topic', 'partition', 'committed', 'log end', 'lag', 'owner'],
          description.offsets.map((entry) => [
            entry.topic, entry.partition, dash(entry.offset), entry.logEndOffset, dash(entry.lag),
            dash(description.members.find((member) => member.assignment?.some((owned) => owned.topic === entry.topic && owned.partitions.includes(entry.partition)))?.memberId),
          ]),
        );
        const members = description.members.length === 0 ? '' : renderTable(
          ['member', 'client', 'generation', 'assignment'],
          description.members.map((member) => [
            dash(member.memberId), dash(member.clientId), dash(member.generation),
            (member.assignment ?? []).map((owned) => `${owned.topic}:${owned.partitions.join(',')}`).join(' ') || '-',
          ]),
        ) + '\n';
        await writeOut(`${fields}\n${offsets}\n${members}`);
      });
    });

  group.command('reset <group>')
    .description('move committed offsets of an empty group (like kafka-consumer-groups --reset-offsets)')
    .requiredOption('-t, --topic <topic>', 'the topic whose offsets move')
    .requiredOption('--to <target>', 'earliest, latest, an offset, or an ISO 8601 time', parseResetTarget)
    .option('-p, --partitions <list>', 'only these partitions, e.g. 0,2 (default: all)', parsePartitionList)
    .action(async (groupId: string, options: { topic: string; to: ResetBody['to']; partitions?: number[] }, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await client.groups.reset(groupId, { topic: options.topic, to: options.to, partitions: options.partitions });
        const view = await client.groups.offsets(groupId);
        const offsets = view.offsets.filter((entry) => entry.topic === options.topic);
        if (output === 'json') return printJson({ groupId, offsets });
        await writeOut(renderTable(['topic', 'partition', 'committed', 'log end', 'lag'],
          offsets.map((entry) => [entry.topic, entry.partition, dash(entry.offset), entry.logEndOffset, dash(entry.lag)])) + '\n');
      });
    });

  group.command('delete <group>')
    .description('delete an empty group and its committed offsets')
    .action(async (groupId: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await client.groups.delete(groupId);
        if (output === 'json') return printJson({ deleted: groupId });
        await writeOut(`deleted group ${groupId}\n`);
      });
    });
}
