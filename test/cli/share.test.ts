/**
 * `runnel share consume|list|describe|reset|delete`, end to end through child processes.
 */
import t from 'tap';
import { describeResult, runnel, startTestNode } from './support.js';

void t.test('share consume prints and accepts every record once; describe, list, reset and delete', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'chores', '--partitions', '2'])).code, 0);
  const produced = await cli(['produce', 'chores'], Array.from({ length: 20 }, (_, index) => `chore-${index}`).join('\n') + '\n');
  t.equal(produced.code, 0, describeResult(produced));

  const consumed = await cli(['share', 'consume', 'helpers', '--topics', 'chores', '--auto-offset-reset', 'earliest', '--wait-ms', '200']);
  t.equal(consumed.code, 0, describeResult(consumed));
  t.same(consumed.stdout.trim().split('\n').sort(), Array.from({ length: 20 }, (_, index) => `chore-${index}`).sort(), 'every record once');
  const again = await cli(['share', 'consume', 'helpers', '--topics', 'chores', '--wait-ms', '200']);
  t.equal(again.stdout, '', 'accepted records are not delivered again');

  const described = JSON.parse((await cli(['share', 'describe', 'helpers', '-o', 'json'])).stdout);
  t.same(described.partitions.map((partition: { lag: number }) => partition.lag), [0, 0]);
  t.same(JSON.parse((await cli(['share', 'list', '-o', 'json'])).stdout).map((group: { groupId: string }) => group.groupId), ['helpers']);

  const reset = await cli(['share', 'reset', 'helpers', '--to', 'earliest']);
  t.equal(reset.code, 0, describeResult(reset));
  const limited = await cli(['share', 'consume', 'helpers', '--topics', 'chores', '--max-records', '5', '--wait-ms', '200', '-o', 'json']);
  t.equal(limited.stdout.trim().split('\n').length, 5, 'after the reset records come again; --max-records stops at 5');
  t.equal(JSON.parse(limited.stdout.split('\n')[0]).deliveryCount, 1, 'the reset forgot the earlier deliveries');

  const deleted = await cli(['share', 'delete', 'helpers']);
  t.equal(deleted.code, 0, describeResult(deleted));
  t.equal((await cli(['share', 'describe', 'helpers'])).code === 0, false, 'gone');
});
