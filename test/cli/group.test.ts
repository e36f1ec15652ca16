/**
 * `runnel consume --group` and `runnel group list|describe|reset|delete`, end to end
 * through child processes.
 */
import t from 'tap';
import { requestJson } from '../helpers/http.js';
import { describeResult, runnel, start, startTestNode } from './support.js';

const lines = (count: number, prefix: string): string => Array.from({ length: count }, (_, index) => `${prefix}-${index}`).join('\n') + '\n';

void t.test('a group member commits what it printed: group describe shows zero lag; reset moves the offsets back', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'orders', '--partitions', '3'])).code, 0);
  const produced = await cli(['produce', 'orders', '--key-separator', ':'], Array.from({ length: 300 }, (_, index) => `customer-${index % 17}:order-${index}`).join('\n') + '\n');
  t.equal(produced.code, 0, describeResult(produced));

  const consumed = await cli(['consume', 'orders', '--group', 'billing']);
  t.equal(consumed.code, 0, describeResult(consumed));
  t.equal(consumed.stdout.split('\n').length - 1, 300, 'every record once');
  t.same(consumed.stdout.trim().split('\n').sort(), Array.from({ length: 300 }, (_, index) => `order-${index}`).sort());

  const described = await cli(['group', 'describe', 'billing', '--output', 'json']);
  t.equal(described.code, 0, describeResult(described));
  const group = JSON.parse(described.stdout);
  t.equal(group.lag, 0, 'zero lag after the commit');
  t.equal(group.members.length, 0, 'the member left');
  t.equal(group.offsets.length, 3);
  for (const offset of group.offsets) t.equal(offset.lag, 0, `partition ${offset.partition}: committed up to the end`);
  t.equal(group.offsets.reduce((sum: number, offset: { offset: number }) => sum + offset.offset, 0), 300);
  const table = await cli(['group', 'describe', 'billing']);
  t.match(table.stdout, /^lag:\s+0$/m);
  t.match(table.stdout, /│ topic\s+│ partition │ committed │ log end │ lag │ owner │/);

  const again = await cli(['consume', 'orders', '--group', 'billing']);
  t.equal(again.code, 0, describeResult(again));
  t.equal(again.stdout, '', 'nothing left for the group');

  const listed = await cli(['group', 'list', '-o', 'json']);
  t.same(JSON.parse(listed.stdout), [{ groupId: 'billing', state: 'Empty', members: 0, lag: 0 }]);
  t.match((await cli(['group', 'list'])).stdout, /│ billing │ Empty │ 0\s+│ 0\s+│/);

  const reset = await cli(['group', 'reset', 'billing', '--topic', 'orders', '--to', 'earliest', '-o', 'json']);
  t.equal(reset.code, 0, describeResult(reset));
  const resetOffsets = JSON.parse(reset.stdout).offsets;
  t.same(resetOffsets.map((offset: { offset: number }) => offset.offset), [0, 0, 0], 'back to the start');
  t.equal(resetOffsets.reduce((sum: number, offset: { lag: number }) => sum + offset.lag, 0), 300);

  const partial = await cli(['consume', 'orders', '--group', 'billing', '--max-records', '10']);
  t.equal(partial.stdout.split('\n').length - 1, 10, describeResult(partial));
  const afterPartial = JSON.parse((await cli(['group', 'describe', 'billing', '-o', 'json'])).stdout);
  t.equal(afterPartial.lag, 290, 'commits exactly what was printed');

  const toOffset = await cli(['group', 'reset', 'billing', '--topic', 'orders', '--partitions', '0', '--to', '1']);
  t.equal(toOffset.code, 0, describeResult(toOffset));
  t.match(toOffset.stdout, /│ orders │ 0\s+│ 1\s+│/);

  const future = new Date(Date.now() + 3_600_000).toISOString();
  const byTime = await cli(['group', 'reset', 'billing', '--topic', 'orders', '--to', future, '-o', 'json']);
  t.equal(byTime.code, 0, describeResult(byTime));
  t.same(JSON.parse(byTime.stdout).offsets.map((offset: { lag: number }) => offset.lag), [0, 0, 0], 'a time after every record: the end');

  const badTarget = await cli(['group', 'reset', 'billing', '--topic', 'orders', '--to', 'yesterday']);
  t.equal(badTarget.code, 2, describeResult(badTarget));

  const deleted = await cli(['group', 'delete', 'billing']);
  t.equal(deleted.code, 0, describeResult(deleted));
  const gone = await cli(['group', 'describe', 'billing']);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /^runnel: GROUP_NOT_FOUND: /);

  const usage = await cli(['consume', 'orders', '--group', 'billing', '--partition', '0']);
  t.equal(usage.code, 2, '--group with --partition is a usage error');
});

void t.test('a following group member stays in the group until Ctrl-C, then commits and leaves', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'events'])).code, 0);
  t.equal((await cli(['produce', 'events'], lines(5, 'old'))).code, 0);

  const member = start(t, ['--url', server.url, 'consume', 'events', '--group', 'live', '--offset', 'latest', '--follow'], { timeoutMs: 20_000 });
  // Asked over HTTP directly: quicker than a CLI run per check.
  const joined = await waitFor(async () => {
    const answer = await requestJson<{ members?: unknown[] }>(`${server.url}/v1/groups/live`);
    return answer.status === 200 && answer.body.members?.length === 1;
  });
  t.ok(joined, 'the member joined');
  t.equal((await cli(['produce', 'events'], lines(3, 'new'))).code, 0);
  await member.waitForLines(3);
  member.child.kill('SIGINT');
  const result = await member.result;
  t.equal(result.code, 0, describeResult(result));
  t.equal(result.stdout, 'new-0\nnew-1\nnew-2\n', 'only what came after it joined (--offset latest)');
  const group = JSON.parse((await cli(['group', 'describe', 'live', '-o', 'json'])).stdout);
  t.equal(group.members.length, 0, 'left the group');
  t.same(group.offsets.map((offset: { offset: number; lag: number }) => [offset.offset, offset.lag]), [[8, 0]], 'committed what it printed');
});

/** Polls `check` every 100 ms until it is true, for at most timeoutMs. */
async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return false;
}
