/**
 * A broken invariant in a background loop stops the node (issue 13, item 6). Before,
 * the metadata quorum's run loop, the follower fetcher, the log manager's timers and
 * the offsets applier logged an InvariantError like any failure and carried on. Now
 * an InvariantError that reaches a loop's error hook gets one fatal line and stops the
 * process through the hook the request path uses (`runnel serve` exits 70), while an
 * ordinary error keeps the retry-and-log path.
 *
 * The loop runner is driven with a real InvariantError from util/assert.ts thrown by
 * an injected step; then the built CLI runs as a child process with its retention pass
 * replaced by one that breaks an invariant, and must exit non-zero with a fatal last line.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { stopOnInvariantBroken } from '../../src/node/background-errors.js';
import { LogManager } from '../../src/storage/log-manager.js';
import { assert, InvariantError } from '../../src/util/assert.js';
import { childEnvironment, cliPath, repoRoot } from '../helpers/child-node.js';

/** Polls `condition` every 10 ms, at most `timeoutMs`. */
async function until(condition: () => boolean, timeoutMs = 5_000): Promise<boolean> {
  for (let waited = 0; waited < timeoutMs && !condition(); waited += 10) await sleep(10);
  return condition();
}

interface Seen {
  fatal: Array<{ object: object; message: string }>;
  reported: Array<{ error: unknown; context: string }>;
  stopped: InvariantError[];
}

function runner(): { seen: Seen; onError: (error: unknown, context: string) => void } {
  const seen: Seen = { fatal: [], reported: [], stopped: [] };
  const log = { fatal: (object: object, message: string) => seen.fatal.push({ object, message }) };
  const onError = stopOnInvariantBroken(() => log, (error) => seen.stopped.push(error),
    (error, context) => seen.reported.push({ error, context }));
  return { seen, onError };
}

void t.test("an InvariantError in the log manager's background loop stops the node once, with a fatal line", async (t) => {
  const { seen, onError } = runner();
  const logs = new LogManager(t.testdir(), { retentionCheckIntervalMs: 10, onError });
  t.teardown(() => logs.close());
  let runs = 0;
  logs.runRetention = () => {
    runs += 1;
    assert(runs < 0, 'retention found a log it cannot explain');
    return 0;
  };
  logs.start();
  t.ok(await until(() => seen.stopped.length > 0), 'the stop hook was called');
  t.ok(await until(() => runs >= 3), 'the loop kept ticking meanwhile (the hook is what stops the process)');
  t.ok(seen.stopped[0] instanceof InvariantError, 'with the InvariantError itself');
  t.equal(seen.stopped.length, 1, 'once: the process is already stopping');
  t.equal(seen.fatal.length, 1, 'one fatal line');
  t.match(seen.fatal[0].message, /invariant broken in background background task; stopping/);
  t.match(seen.fatal[0].object, { context: 'background task' });
  t.equal(seen.reported.length, 0, 'not logged as an ordinary failure');
});

void t.test('an ordinary error in the same loop is reported and the loop retries', async (t) => {
  const { seen, onError } = runner();
  const logs = new LogManager(t.testdir(), { retentionCheckIntervalMs: 10, onError });
  t.teardown(() => logs.close());
  logs.runRetention = () => {
    throw Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' });
  };
  logs.start();
  t.ok(await until(() => seen.reported.length >= 3), 'reported on every turn: the loop goes on');
  t.equal(seen.stopped.length, 0, 'the node is not stopped');
  t.equal(seen.fatal.length, 0, 'nothing fatal');
  t.match(seen.reported[0], { context: 'background task', error: { code: 'EIO' } });
});

void t.test('a child node whose background loop breaks an invariant exits non-zero with a fatal last line', async (t) => {
  t.ok(fs.existsSync(cliPath), 'dist/ is built (npm test builds it)');
  // The CLI as the container starts it, with the retention pass replaced by one that
  // throws a real InvariantError (written here so lint and the build need not know it).
  const directory = t.testdir();
  fs.mkdirSync(directory, { recursive: true });
  const fixture = path.join(directory, 'serve-with-broken-retention.mjs');
  fs.writeFileSync(fixture, `
import path from 'node:path';
import { pathToFileURL } from 'node:url';
const [repoRoot, ...cliArgs] = process.argv.slice(2);
const dist = (file) => pathToFileURL(path.join(repoRoot, 'dist', 'src', file)).href;
const { LogManager } = await import(dist('storage/log-manager.js'));
const { assert } = await import(dist('util/assert.js'));
LogManager.prototype.runRetention = function runRetention() {
  assert(false, 'retention found a log it cannot explain (injected by the test)');
};
process.argv = [process.argv[0], ${JSON.stringify(cliPath)}, ...cliArgs];
await import(dist('cli/runnel.js'));
`);
  const child = spawn(process.execPath, [fixture, repoRoot, 'serve', '--host', '127.0.0.1', '--port', '0',
    '--data-dir', path.join(directory, 'data'), '--retention-check-interval-ms', '100'], {
    env: childEnvironment({}), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
    new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), 30_000); }),
  ]);
  clearTimeout(timer);
  if (exit === 'timeout') child.kill('SIGKILL');
  t.not(exit, 'timeout', `the process stopped by itself\n${stdout}\n${stderr}`);
  if (exit === 'timeout') return;
  t.equal(exit.signal, null);
  t.equal(exit.code, 70, 'exit 70, as a broken invariant on the request path');
  const lines = stdout.trim().split('\n');
  t.ok(lines.some((line) => line.includes('storage recovered')), 'the node had started');
  const last = JSON.parse(lines[lines.length - 1]) as { level: number; msg: string; context?: string; err?: { type?: string; message?: string } };
  t.equal(last.level, 60, 'the last log line is fatal');
  t.match(last.msg, /invariant broken in background/, 'and says why the node stops');
  t.match(last.err, { type: 'InvariantError', message: /retention found a log it cannot explain/ });
});
