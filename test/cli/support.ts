/**
 * Runs the `runnel` command as a user does, `node bin/runnel.js ...args`, as a child
 * process: stdin given, stdout and stderr collected, the exit code returned.
 *
 * Never leaves a child behind: every run has a deadline (SIGKILL past it), `start`
 * kills its child at the test's teardown, and every child still running is killed
 * when the test process exits. The child's environment has no RUNNEL_* variable of
 * this process (a developer's shell cannot change a test), plus `env`.
 *
 * Under tap, every spawned process gets tap's coverage hook in NODE_OPTIONS. The
 * command runs through `env -u NODE_OPTIONS` (env execs node: same pid, signals reach
 * it), so it runs exactly as a user's would, and each of these hundred-odd short runs
 * starts about a third faster: they check what the command does, not its coverage.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childEnvironment, repoRoot, startNode } from '../helpers/child-node.js';

export const binPath = path.join(repoRoot, 'bin', 'runnel.js');

export interface CliResult {
  /** Exit code, or null when a signal ended the process (e.g. the deadline's SIGKILL). */
  code: number | null;
  stdout: string;
  stderr: string;
  isTimedOut: boolean;
}

export interface RunOptions {
  /** Written to stdin, which is then closed (stdin is closed at once without it). */
  input?: string;
  env?: Record<string, string | undefined>;
  /** Deadline: the child is SIGKILLed past it. Default 20 000 ms. */
  timeoutMs?: number;
}

interface Teardownable {
  teardown: (fn: () => unknown) => void;
}

const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

export interface RunningCli {
  child: ChildProcess;
  /** Resolves with the result once the child has exited (or was killed at the deadline). */
  result: Promise<CliResult>;
  /** stdout so far. */
  stdout: () => string;
  /** Resolves once stdout holds `count` lines; rejects if the child exits first or after timeoutMs. */
  waitForLines: (count: number, timeoutMs?: number) => Promise<void>;
}

/** Starts `runnel ...args` and returns at once; the child is killed at teardown if still running. */
export function start(t: Teardownable, args: string[], options: RunOptions = {}): RunningCli {
  const child = spawn('/usr/bin/env', ['-u', 'NODE_OPTIONS', process.execPath, binPath, ...args], {
    cwd: repoRoot,
    env: childEnvironment(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  liveChildren.add(child);
  t.teardown(() => { child.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  let isTimedOut = false;
  let hasExited = false;
  const watchers = new Set<() => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const watcher of watchers) watcher();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdin!.on('error', () => undefined);
  child.stdin!.end(options.input);
  const timer = setTimeout(() => {
    isTimedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 20_000);
  const result = new Promise<CliResult>((resolve) => {
    child.once('error', (error) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      hasExited = true;
      resolve({ code: null, stdout, stderr: stderr + `\nspawn error: ${error.message}`, isTimedOut });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      hasExited = true;
      for (const watcher of watchers) watcher();
      resolve({ code, stdout, stderr, isTimedOut });
    });
  });
  const waitForLines = (count: number, timeoutMs = 10_000): Promise<void> => new Promise((resolve, reject) => {
    const check = (): void => {
      if (stdout.split('\n').length - 1 >= count) finish();
      else if (hasExited) finish(new Error(`runnel ${args.join(' ')} exited before printing ${count} lines:\n${stdout}\n${stderr}`));
    };
    const deadline = setTimeout(() => finish(new Error(`runnel ${args.join(' ')} did not print ${count} lines in ${timeoutMs} ms:\n${stdout}\n${stderr}`)), timeoutMs);
    const finish = (error?: Error): void => {
      clearTimeout(deadline);
      watchers.delete(check);
      if (error === undefined) resolve();
      else reject(error);
    };
    watchers.add(check);
    check();
  });
  return { child, result, stdout: () => stdout, waitForLines };
}

/** Runs `runnel ...args` to completion (bounded by timeoutMs). */
export function runnel(t: Teardownable, args: string[], options: RunOptions = {}): Promise<CliResult> {
  return start(t, args, options).result;
}

/** A failure message with everything the child printed. */
export function describeResult(result: CliResult): string {
  return `exit ${result.code}${result.isTimedOut ? ' (timed out)' : ''}\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(0, 2000)}`;
}

/**
 * A node for the commands to talk to: `runnel serve` as a child process (the built
 * server, so the test process neither compiles nor instruments the server's code)
 * on a free port with a temporary data directory; killed and removed at teardown.
 */
export async function startTestNode(t: Teardownable, options: { args?: string[]; env?: Record<string, string> } = {}): Promise<{ url: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-cli-test-'));
  const node = await startNode({ dataDir, t, args: options.args, env: { _TAPJS_PROCESSINFO_COVERAGE_: '0', ...options.env } });
  t.teardown(async () => {
    await node.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return { url: node.url };
}
