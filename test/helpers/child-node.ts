/**
 * Starts a Runnel node as a real child process, the way the container does:
 *   node dist/src/cli/runnel.js serve --host 127.0.0.1 --port 0 --data-dir <dir> ...args
 * (`npm test` builds dist/ before tap runs). For crash, graceful-shutdown and cluster
 * tests: a child can be SIGKILLed at any instant, stopped with a signal, restarted
 * on the same data directory (and port), and its pino log lines read back.
 *
 *   const node = await startNode({ dataDir: t.testdir(), t });
 *   await produce(node.url, ...);            // helpers/http.ts
 *   await node.kill();                       // SIGKILL, resolves once it is gone
 *   const again = await startNode({ dataDir: node.dataDir, t });
 *   const status = await again.stop();       // SIGTERM, waits; { code: 0, signal: null }
 *
 * Never leaves a process behind: pass `t` (anything with teardown()) and the child
 * is SIGKILLed at teardown if still running; every child is also SIGKILLed when the
 * test process exits. Start-up is bounded (startTimeoutMs): a child that exits or
 * does not listen in time is killed and the promise rejects with its output.
 *
 * Environment: the child gets this process's environment without any RUNNEL_*
 * variable (so a developer's shell cannot change a test), plus `env`. Flags in `args`
 * come after the defaults, and the last occurrence of a flag wins, so
 * `args: ['--log-level', 'debug']` or a fixed `port` override them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitForReady } from './http.js';

export interface ExitStatus {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartNodeOptions {
  dataDir: string;
  /** Extra environment variables (RUNNEL_* from this process are never passed on). */
  env?: Record<string, string | undefined>;
  /** Extra `serve` flags, after the defaults (last occurrence wins). */
  args?: string[];
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Listen port; default 0 (any free port). Give the old port to restart a node in place. */
  port?: number;
  /** Kill the child at this test's teardown if it is still running. */
  t?: { teardown: (fn: () => unknown) => void };
  /** Deadline for listening (and readiness). Default 40 000 ms: a bound for a loaded machine, not a speed claim. */
  startTimeoutMs?: number;
  /** Also wait for GET /health/ready = 200 before resolving. Default true. */
  waitForReady?: boolean;
  /** Lines of stdout/stderr kept (the newest). Default 10 000 each. */
  lineCountMax?: number;
  /** The child's open-file limit (`ulimit -n`, soft and hard), set by a shell that then execs node. */
  openFilesLimit?: number;
  /** Working directory of the child. Default the repository root. */
  cwd?: string;
}

export interface ChildNode {
  /** http://127.0.0.1:<port>, as the node printed it. */
  url: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  pid: number;
  /** Resolves once the process has exited and its output is read. Never rejects. */
  exited: Promise<ExitStatus>;
  /** True until the process has exited. */
  isRunning: () => boolean;
  /** stdout lines so far (pino JSON), newest last; bounded by lineCountMax. */
  stdoutLines: string[];
  stderrLines: string[];
  /** stdout lines that parse as JSON objects (pino records). */
  logs: () => Array<Record<string, unknown>>;
  /** The last `count` lines of stdout and stderr, for failure messages. */
  output: (count?: number) => string;
  /**
   * Waits for a stdout line (already seen or coming) matching `pattern`; rejects if
   * the process exits first or after timeoutMs (default 10 000).
   */
  waitForLine: (pattern: RegExp | ((line: string) => boolean), timeoutMs?: number) => Promise<string>;
  /**
   * Sends `signal` (default SIGTERM) and waits for the exit. If the process is still
   * there after timeoutMs (default 15 000) it is SIGKILLed and the promise rejects.
   */
  stop: (signal?: NodeJS.Signals, timeoutMs?: number) => Promise<ExitStatus>;
  /** SIGKILL now; resolves once the process is gone. */
  kill: () => Promise<ExitStatus>;
}

const LISTENING_PATTERN = /Server listening at (http:\/\/[^\s"]+)/;

/** Every child not yet exited, so the test process can kill them if it exits first. */
const liveChildren = new Set<ChildProcess>();
let isExitHookInstalled = false;

function installExitHook(): void {
  if (isExitHookInstalled) return;
  isExitHookInstalled = true;
  process.once('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

/** The repository root: the nearest folder above this file that holds package.json. */
function findRepoRoot(): string {
  let directory = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 10; depth++) {
    if (fs.existsSync(path.join(directory, 'package.json'))) return directory;
    const parent = path.dirname(directory);
    if (parent === directory) break;
    directory = parent;
  }
  throw new Error(`child-node: no package.json above ${fileURLToPath(import.meta.url)}`);
}

export const repoRoot = findRepoRoot();
/** The built command line, exactly what the container starts. */
export const cliPath = path.join(repoRoot, 'dist', 'src', 'cli', 'runnel.js');

/** The test's environment without its RUNNEL_* settings, plus `extra` (undefined removes a name). */
export function childEnvironment(extra: Record<string, string | undefined> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('RUNNEL_')) env[name] = value;
  }
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export async function startNode(options: StartNodeOptions): Promise<ChildNode> {
  if (!fs.existsSync(cliPath)) {
    throw new Error(`child-node: ${cliPath} is missing; run \`npm run build\` first (npm test does)`);
  }
  const startTimeoutMs = options.startTimeoutMs ?? 40_000;
  const lineCountMax = options.lineCountMax ?? 10_000;
  const host = options.host ?? '127.0.0.1';
  const args = [
    cliPath, 'serve',
    '--host', host,
    '--port', String(options.port ?? 0),
    '--data-dir', options.dataDir,
    ...(options.args ?? []),
  ];
  installExitHook();
  // With openFilesLimit, sh sets it and execs node in its place (same pid).
  const command = options.openFilesLimit === undefined
    ? { file: process.execPath, args }
    : { file: '/bin/sh', args: ['-c', `ulimit -n ${options.openFilesLimit} && exec "$0" "$@"`, process.execPath, ...args] };
  const child = spawn(command.file, command.args, {
    cwd: options.cwd ?? repoRoot,
    env: childEnvironment(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  liveChildren.add(child);

  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  const lineWatchers = new Set<(line: string) => void>();
  const exitWatchers = new Set<(status: ExitStatus) => void>();
  let exitStatus: ExitStatus | undefined;
  let spawnError: Error | undefined;

  const keep = (lines: string[], line: string): void => {
    lines.push(line);
    if (lines.length > lineCountMax) lines.splice(0, lines.length - lineCountMax);
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    keep(stdoutLines, line);
    for (const watcher of lineWatchers) watcher(line);
  });
  createInterface({ input: child.stderr! }).on('line', (line) => keep(stderrLines, line));

  const exited = new Promise<ExitStatus>((resolve) => {
    const finish = (status: ExitStatus): void => {
      if (exitStatus !== undefined) return;
      exitStatus = status;
      liveChildren.delete(child);
      for (const watcher of exitWatchers) watcher(status);
      resolve(status);
    };
    // 'close' comes after the exit and after stdout/stderr are drained, so every line is in.
    child.once('close', (code, signal) => finish({ code, signal }));
    child.once('error', (error) => {
      spawnError = error;
      // A process that never started emits no 'close'.
      if (child.pid === undefined) finish({ code: null, signal: null });
    });
  });

  const output = (count = 40): string => {
    const describe = (lines: string[]): string => (lines.length === 0 ? '(nothing)' : lines.slice(-count).join('\n'));
    return `stdout (last ${count} lines):\n${describe(stdoutLines)}\nstderr (last ${count} lines):\n${describe(stderrLines)}` +
      (spawnError === undefined ? '' : `\nspawn error: ${spawnError.message}`);
  };

  const waitForLine = (pattern: RegExp | ((line: string) => boolean), timeoutMs = 10_000): Promise<string> => {
    const matches = typeof pattern === 'function' ? pattern : (line: string): boolean => pattern.test(line);
    const seen = stdoutLines.find(matches);
    if (seen !== undefined) return Promise.resolve(seen);
    if (exitStatus !== undefined) return Promise.reject(new Error(`node pid ${child.pid} has exited (${JSON.stringify(exitStatus)}) without printing ${String(pattern)}\n${output()}`));
    return new Promise<string>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        lineWatchers.delete(onLine);
        exitWatchers.delete(onExit);
      };
      const onLine = (line: string): void => {
        if (!matches(line)) return;
        cleanup();
        resolve(line);
      };
      const onExit = (status: ExitStatus): void => {
        cleanup();
        reject(new Error(`node pid ${child.pid} exited (${JSON.stringify(status)}) before printing ${String(pattern)}\n${output()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`node pid ${child.pid} did not print ${String(pattern)} within ${timeoutMs} ms\n${output()}`));
      }, timeoutMs);
      lineWatchers.add(onLine);
      exitWatchers.add(onExit);
    });
  };

  const kill = async (): Promise<ExitStatus> => {
    if (exitStatus === undefined) child.kill('SIGKILL');
    return exited;
  };

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<ExitStatus> => {
    if (exitStatus !== undefined) return exitStatus;
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const isTimedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), timeoutMs); }),
    ]);
    clearTimeout(timer);
    if (!isTimedOut) return exited;
    await kill();
    throw new Error(`node pid ${child.pid} still running ${timeoutMs} ms after ${signal}; SIGKILLed it\n${output()}`);
  };

  options.t?.teardown(() => kill());

  let url: string;
  const startedAtMs = Date.now();
  try {
    const line = await waitForLine(LISTENING_PATTERN, startTimeoutMs);
    url = LISTENING_PATTERN.exec(line)![1];
    if (options.waitForReady ?? true) {
      await waitForReady(url, { timeoutMs: Math.max(1, startTimeoutMs - (Date.now() - startedAtMs)) });
    }
  } catch (error) {
    await kill();
    throw error instanceof Error ? error : new Error(String(error));
  }

  return {
    url,
    port: Number(new URL(url).port),
    dataDir: options.dataDir,
    process: child,
    pid: child.pid!,
    exited,
    isRunning: () => exitStatus === undefined,
    stdoutLines,
    stderrLines,
    logs: () => {
      const parsed: Array<Record<string, unknown>> = [];
      for (const line of stdoutLines) {
        try {
          const value: unknown = JSON.parse(line);
          if (typeof value === 'object' && value !== null) parsed.push(value as Record<string, unknown>);
        } catch {
          // Not a pino line (e.g. a stack trace written by Node itself).
        }
      }
      return parsed;
    },
    output,
    waitForLine,
    stop,
    kill,
  };
}
