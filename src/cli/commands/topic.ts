/**
 * runnel topic create|list|describe|alter|delete
 */
import type { Command } from 'commander';
import type { TopicDescription } from '../../api/types.js';
import { collect, collectKeyValue, integerAtLeast } from '../arguments.js';
import { withClient } from '../context.js';
import { UsageError } from '../exit-codes.js';
import { printJson, renderFields, renderTable, writeOut } from '../output.js';

export function registerTopicCommands(program: Command): void {
  const topic = program.command('topic').description('create, list, describe, alter and delete topics');

  topic.command('create <name>')
    .description('create a topic')
    .option('-p, --partitions <n>', "partition count (default: the node's --num-partitions)", integerAtLeast(1))
    .option('-r, --replication-factor <n>', 'copies of each partition', integerAtLeast(1))
    .option('-c, --config <name=value>', 'a topic config, e.g. retention.ms=86400000 (repeatable)', collectKeyValue, [])
    .action(async (name: string, options: { partitions?: number; replicationFactor?: number; config: Array<[string, string]> }, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const configs = Object.fromEntries(options.config);
        const created = await client.topics.create({
          name,
          partitions: options.partitions,
          replicationFactor: options.replicationFactor,
          configs: options.config.length === 0 ? undefined : configs,
        });
        if (output === 'json') return printJson(created);
        await writeOut(`created topic ${created.name} with ${created.partitions.length} partition${created.partitions.length === 1 ? '' : 's'}\n`);
      });
    });

  topic.command('list')
    .description('list topics')
    .action(async (_options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const topics = await client.topics.list();
        if (output === 'json') return printJson(topics);
        await writeOut(renderTable(['topic', 'partitions', 'replication factor'], topics.map((entry) => [entry.name, entry.partitions, entry.replicationFactor])) + '\n');
      });
    });

  topic.command('describe <name>')
    .description('partitions (leader, offsets, size) and configs of a topic')
    .action(async (name: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const description = await client.topics.describe(name);
        if (output === 'json') return printJson(description);
        await writeOut(renderDescription(description));
      });
    });

  topic.command('alter <name>')
    .description('add partitions, set or remove configs')
    .option('-p, --partitions <n>', 'new partition count (can only grow)', integerAtLeast(1))
    .option('-c, --config <name=value>', 'set a topic config (repeatable)', collectKeyValue, [])
    .option('-d, --delete-config <name>', 'remove a topic config, so the default applies again (repeatable)', collect, [])
    .action(async (name: string, options: { partitions?: number; config: Array<[string, string]>; deleteConfig: string[] }, command: Command) => {
      if (options.partitions === undefined && options.config.length === 0 && options.deleteConfig.length === 0) {
        throw new UsageError('topic alter: nothing to change (give --partitions, --config or --delete-config)');
      }
      await withClient(command, async (client, { output }) => {
        const configs: Record<string, string | null> = Object.fromEntries(options.config);
        for (const configName of options.deleteConfig) configs[configName] = null;
        const altered = await client.topics.alter(name, {
          partitions: options.partitions,
          configs: Object.keys(configs).length === 0 ? undefined : configs,
        });
        if (output === 'json') return printJson(altered);
        await writeOut(renderDescription(altered));
      });
    });

  topic.command('delete <name>')
    .description('delete a topic and its records')
    .action(async (name: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await client.topics.delete(name);
        if (output === 'json') return printJson({ deleted: name });
        await writeOut(`deleted topic ${name}\n`);
      });
    });
}

function renderDescription(description: TopicDescription): string {
  const configs = Object.entries(description.configs);
  const fields = renderFields([
    ['topic', description.name],
    ['topic id', description.topicId],
    ['partitions', description.partitions.length],
    ['replication factor', description.replicationFactor],
    ['configs', configs.length === 0 ? '(defaults)' : configs.map(([name, value]) => `${name}=${value}`).join(', ')],
  ]);
  const partitions = renderTable(
    ['partition', 'leader', 'replicas', 'isr', 'log start', 'high watermark', 'log end', 'bytes'],
    description.partitions.map((partition) => [
      partition.partition, partition.leader, partition.replicas.join(','), partition.isr.join(','),
      partition.logStartOffset, partition.highWatermark, partition.logEndOffset, partition.sizeBytes,
    ]),
  );
  return `${fields}\n${partitions}\n`;
}
