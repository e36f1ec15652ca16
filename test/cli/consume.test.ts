/**
 * `runnel consume` options end to end (child processes against a real node): where
 * it starts and stops, --follow, Ctrl-C, and a reader that goes away.
 */
import t from 'tap';
import { request } from 'undici';
import { describeResult, runnel, start, startTestNode } from './support.js';

void t.test('--offset, --partition and --max-records pick what is printed; --offset latest prints nothing without --follow', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'pick', '--partitions', '2'])).code, 0);
  t.equal((await cli(['produce', 'pick', '-p', '0'], 'a\nb\nc\nd\n')).code, 0);
  t.equal((await cli(['produce', 'pick', '-p', '1'], 'x\ny\n')).code, 0);

  t.equal((await cli(['consume', 'pick', '--offset', '2', '--partition', '0'])).stdout, 'c\nd\n');
  t.equal((await cli(['consume', 'pick', '--partition', '1'])).stdout, 'x\ny\n');
  t.equal((await cli(['consume', 'pick', '--max-records', '3'])).stdout, 'a\nb\nc\n');
  t.equal((await cli(['consume', 'pick'])).stdout, 'a\nb\nc\nd\nx\ny\n', 'all partitions, one after the other');
  const latest = await cli(['consume', 'pick', '--offset', 'latest']);
  t.equal(latest.code, 0);
  t.equal(latest.stdout, '');
  const outOfRange = await cli(['consume', 'pick', '--offset', '9', '--partition', '0']);
  t.equal(outOfRange.code, 1, describeResult(outOfRange));
  t.match(outOfRange.stderr, /^runnel: OFFSET_OUT_OF_RANGE: /);
  const noPartition = await cli(['consume', 'pick', '--partition', '5']);
  t.equal(noPartition.code, 1, describeResult(noPartition));
  t.match(noPartition.stderr, /^runnel: PARTITION_NOT_FOUND: /);
});

void t.test('--follow waits for new records and stops at --max-records', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'live', '--partitions', '2'])).code, 0);
  t.equal((await cli(['produce', 'live', '-p', '0'], 'before\n')).code, 0);

  const follower = start(t, ['--url', server.url, 'consume', 'live', '--follow', '--max-records', '3'], { timeoutMs: 20_000 });
  await follower.waitForLines(1);
  t.equal(follower.stdout(), 'before\n', 'what is there first');
  t.equal((await cli(['produce', 'live', '-p', '1'], 'after 1\n')).code, 0);
  t.equal((await cli(['produce', 'live', '-p', '0'], 'after 2\nafter 3\n')).code, 0);
  const result = await follower.result;
  t.equal(result.code, 0, describeResult(result));
  const printed = result.stdout.split('\n');
  t.equal(printed.length, 4, 'three lines');
  t.equal(printed[0], 'before');
  t.ok(printed.slice(1, 3).includes('after 1'), 'a record of the other partition, produced later');

  const interrupted = start(t, ['--url', server.url, 'consume', 'live', '-f', '--offset', 'latest'], { timeoutMs: 20_000 });
  // Once both partitions are long-polled, the command is waiting (and handles Ctrl-C).
  t.ok(await waitFor(async () => {
    const metrics = await (await request(`${server.url}/metrics`)).body.text();
    return Number(/^runnel_waiting_readers (\d+)$/m.exec(metrics)?.[1] ?? 0) >= 2;
  }), 'both partitions long-polled');
  interrupted.child.kill('SIGINT');
  const stopped = await interrupted.result;
  t.equal(stopped.code, 0, `Ctrl-C ends a follow with exit code 0: ${describeResult(stopped)}`);
});

void t.test('a reader that goes away (`runnel consume t | head -1`) ends the command with exit code 0', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'piped'])).code, 0);
  t.equal((await cli(['produce', 'piped'], 'x'.repeat(100).concat('\n').repeat(20_000))).code, 0);
  for (const follow of [[], ['--follow']]) {
    const reader = start(t, ['--url', server.url, 'consume', 'piped', ...follow], { timeoutMs: 20_000 });
    reader.child.stdout!.once('data', () => reader.child.stdout!.destroy());
    const result = await reader.result;
    t.equal(result.code, 0, `${follow.join(' ') || 'without --follow'}: ${describeResult(result)}`);
    t.equal(result.stderr, '', 'no EPIPE stack trace');
  }
});

/** Polls `check` every 50 ms until it is true, for at most timeoutMs. */
async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
