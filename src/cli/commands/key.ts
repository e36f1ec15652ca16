/**
 * runnel key create|list|delete: API keys, when the node runs with --auth api-key
 * (these need a key with the cluster admin grant, e.g. the node's --admin-key).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { OPERATIONS, RESOURCE_TYPES, type Operation, type ResourceType } from '../../api/key-schemas.js';
import type { Grant, KeyInfo } from '../../api/types.js';
import { withClient } from '../context.js';
import { note, printJson, renderFields, renderTable, writeOut } from '../output.js';

/**
 * `<resource>:<name>:<operations>`: topic:orders:read,write, group:billing*:read (a
 * trailing * means every name with that prefix; an empty name or * alone means all),
 * cluster::admin. The name is everything between the first and the last colon, so
 * group ids with colons work.
 */
export function parseGrant(text: string): Grant {
  const first = text.indexOf(':');
  const last = text.lastIndexOf(':');
  if (first < 0 || first === last) throw new InvalidArgumentError(`expected <resource>:<name>:<operations>, e.g. topic:orders:read,write, got '${text}'.`);
  const resource = text.slice(0, first);
  const name = text.slice(first + 1, last);
  const operations = text.slice(last + 1).split(',').map((operation) => operation.trim());
  if (!(RESOURCE_TYPES as readonly string[]).includes(resource)) {
    throw new InvalidArgumentError(`unknown resource '${resource}' in '${text}' (expected ${RESOURCE_TYPES.join(', ')}).`);
  }
  const unknown = operations.filter((operation) => !(OPERATIONS as readonly string[]).includes(operation));
  if (unknown.length > 0 || operations.length === 0) {
    throw new InvalidArgumentError(`unknown operation '${unknown[0] ?? ''}' in '${text}' (expected ${OPERATIONS.join(', ')}, separated by commas).`);
  }
  const grant: Grant = { resource: resource as ResourceType, operations: [...new Set(operations)] as Operation[] };
  if (name === '' || name === '*') return grant;
  if (resource === 'cluster') throw new InvalidArgumentError(`a cluster grant has no name: cluster::admin, got '${text}'.`);
  if (name.endsWith('*')) grant.prefix = name.slice(0, -1);
  else grant.name = name;
  return grant;
}

function collectGrant(value: string, previous: Grant[] = []): Grant[] {
  return [...previous, parseGrant(value)];
}

/** A grant back in the --grant syntax. */
export function grantText(grant: Grant): string {
  const name = grant.name ?? (grant.prefix === undefined ? (grant.resource === 'cluster' ? '' : '*') : `${grant.prefix}*`);
  return `${grant.resource}:${name}:${grant.operations.join(',')}`;
}

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('create, list and delete API keys (needs a cluster admin key)');

  key.command('create')
    .description('make an API key; its secret is printed once')
    .requiredOption('--name <name>', 'who or what uses the key')
    .requiredOption('--grant <resource:name:operations>', "a grant (repeatable): 'topic:orders:read,write', 'group:billing*:read' (trailing * = prefix), 'topic:*:read' (all topics), 'cluster::admin'", collectGrant)
    .action(async (options: { name: string; grant: Grant[] }, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const created = await client.keys.create({ name: options.name, grants: options.grant });
        if (output === 'json') return printJson(created);
        await writeOut(renderFields([
          ['key id', created.keyId],
          ['name', created.name],
          ['grants', created.grants.map(grantText).join(' ')],
          ['secret', created.key],
        ]) + '\n');
        note('Store the secret now: it is not shown again. Send it as --api-key or RUNNEL_API_KEY.');
      });
    });

  key.command('list')
    .description('API keys and their grants (never their secrets)')
    .action(async (_options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        const keys: KeyInfo[] = await client.keys.list();
        if (output === 'json') return printJson(keys);
        await writeOut(renderTable(['key id', 'name', 'grants', 'created'], keys.map((entry) => [
          entry.keyId, entry.name, entry.grants.map(grantText).join(' '), new Date(entry.createdAtMs).toISOString(),
        ])) + '\n');
      });
    });

  key.command('delete <keyId>')
    .description('delete an API key: it stops working at once')
    .action(async (keyId: string, _options: object, command: Command) => {
      await withClient(command, async (client, { output }) => {
        await client.keys.delete(keyId);
        if (output === 'json') return printJson({ deleted: keyId });
        await writeOut(`deleted key ${keyId}\n`);
      });
    });
}
