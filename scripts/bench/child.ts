/**
 * Child processes the benchmark starts (a Runnel node, redis-server): a free loopback
 * port, the last lines of output for error messages, and a stop that always ends the
 * process (SIGTERM, then SIGKILL after a deadline). Every live child is remembered so
 * an interrupted run (Ctrl-C, an exception) still kills it on the way out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

const OUTPUT_LINES_KEPT = 40;
const liveChildren = new Set<ChildProcess>();

/** Asks the kernel for a free port on 127.0.0.1 (listen on 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not read a free port'))));
    });
  });
}

/** The full path of `command` when it is an executable on PATH, else undefined. */
export async function findOnPath(command: string): Promise<string | undefined> {
  for (const directory of (process.env.PATH ?? '').split(path.delimiter)) {
    if (directory === '') continue;
    const candidate = path.join(directory, command);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory; keep looking.
    }
  }
  return undefined;
}

export class ChildHandle {
  private readonly outputLines: string[] = [];
  private exitCode: number | null = null;
  private exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    liveChildren.add(child);
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.outputLines.push(line.length > 500 ? line.slice(0, 500) + '…' : line);
        if (this.outputLines.length > OUTPUT_LINES_KEPT) this.outputLines.shift();
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        liveChildren.delete(child);
        resolve();
      });
      child.once('error', (error) => {
        this.outputLines.push(`spawn failed: ${error.message}`);
        liveChildren.delete(child);
        resolve();
      });
    });
  }

  static spawn(name: string, command: string, args: string[]): ChildHandle {
    return new ChildHandle(name, spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get hasExited(): boolean {
    return !liveChildren.has(this.child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** How it ended and what it printed last, for an error message. */
  describe(): string {
    const status = this.hasExited ? `exited (code ${this.exitCode}, signal ${this.exitSignal})` : 'still running';
    const tail = this.outputLines.length === 0 ? '(no output)' : this.outputLines.join('\n  ');
    return `${this.name} ${status}; last output:\n  ${tail}`;
  }

  /** Sends `signal` (SIGSTOP / SIGCONT: freeze and resume the process) if it still runs. */
  signal(signal: NodeJS.Signals): void {
    if (!this.hasExited) this.child.kill(signal);
  }

  /** SIGKILL now, as a crash would end it (no graceful shutdown). Resolves once it is gone. */
  async kill(): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * SIGTERM, then SIGKILL if it has not exited after `graceMs`. Resolves once it is
   * gone: true when SIGTERM alone ended it (or it had already exited).
   */
  async stop(graceMs = 10_000): Promise<boolean> {
    if (this.hasExited) return true;
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const isTimedOut = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (isTimedOut && !this.hasExited) {
      this.child.kill('SIGKILL');
      await this.exited;
      return false;
    }
    return true;
  }
}

/** Last resort on the way out of the benchmark: SIGKILL whatever is still running. */
export function killAllChildrenNow(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
  liveChildren.clear();
}

export { setTimeout as sleep } from 'node:timers/promises';
