/**
 * The server's CPU time during a row's measured window, read from /proc/<pid>/stat
 * (utime + stime of the whole process, every thread included) at the start and the
 * end of the window, for the "srv us/rec" column: CPU microseconds the server spent
 * per record moved. Unlike records/s it barely moves when the load generator or
 * another process competes for the CPUs, so rows of a busy machine still compare.
 *
 * The kernel counts in clock ticks (`getconf CLK_TCK`, 100 per second on Linux
 * almost everywhere): a 1 s window on 2 CPUs is read to within 10 ms of up to
 * 2,000 ms. Where /proc is missing (not Linux) or a process has exited, the meter
 * reads nothing and the row carries no figure.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const DEFAULT_CLOCK_TICKS_PER_SECOND = 100;

/** The CPU time of the processes measured over one window. */
export interface CpuWindow {
  /** The processes summed (1 for a node or redis-server, 3 for a three-node cluster). */
  processes: number;
  cpuMs: number;
}

/** What a row stores: the window's CPU time and the same per record moved. */
export interface ServerCpu extends CpuWindow {
  /** cpuMs * 1000 / records; null when no record moved. */
  microsPerRecord: number | null;
}

let clockTicksPerSecondCached: number | undefined;

/** `getconf CLK_TCK`, read once; 100 when it cannot be run. */
export function clockTicksPerSecond(): number {
  if (clockTicksPerSecondCached === undefined) {
    try {
      const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 }).trim());
      clockTicksPerSecondCached = Number.isInteger(value) && value > 0 ? value : DEFAULT_CLOCK_TICKS_PER_SECOND;
    } catch {
      clockTicksPerSecondCached = DEFAULT_CLOCK_TICKS_PER_SECOND;
    }
  }
  return clockTicksPerSecondCached;
}

/**
 * utime + stime (fields 14 and 15 of proc(5)) of one /proc/<pid>/stat line, in clock
 * ticks. The command name (field 2) is in parentheses and may hold spaces or ')', so
 * the fields are counted from the last ')'.
 */
export function parseCpuTicks(statLine: string): number {
  const end = statLine.lastIndexOf(')');
  if (end < 0) throw new Error(`not a /proc/<pid>/stat line: ${statLine.slice(0, 100)}`);
  // After ')': field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
  const fields = statLine.slice(end + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isSafeInteger(utime) || !Number.isSafeInteger(stime)) throw new Error(`no utime/stime in /proc/<pid>/stat line: ${statLine.slice(0, 200)}`);
  return utime + stime;
}

/** The process's CPU ticks so far, or undefined when it cannot be read (no /proc, process gone). */
export function readCpuTicks(pid: number): number | undefined {
  try {
    return parseCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

export function serverCpuOf(window: CpuWindow, records: number): ServerCpu {
  return { ...window, microsPerRecord: records > 0 ? (window.cpuMs * 1000) / records : null };
}

/**
 * Reads the processes' CPU ticks at start() and again at stop(). Reads are
 * synchronous (a few microseconds each), so the window's edges are where the caller
 * puts them and not an event-loop turn later.
 */
export class ServerCpuMeter {
  private startTicks: Array<number | undefined> = [];

  constructor(readonly pids: readonly number[]) {}

  start(): void {
    this.startTicks = this.pids.map(readCpuTicks);
  }

  /** The CPU time since start(); undefined when there is no process or one could not be read. */
  stop(): CpuWindow | undefined {
    if (this.pids.length === 0 || this.startTicks.length !== this.pids.length) return undefined;
    let ticks = 0;
    for (let index = 0; index < this.pids.length; index++) {
      const before = this.startTicks[index];
      const after = readCpuTicks(this.pids[index]);
      if (before === undefined || after === undefined) return undefined;
      ticks += after - before;
    }
    return { processes: this.pids.length, cpuMs: (ticks * 1000) / clockTicksPerSecond() };
  }
}

/** A meter over `pids` started now; undefined pids (a process not spawned) are left out. */
export function startServerCpu(pids: ReadonlyArray<number | undefined>): ServerCpuMeter {
  const meter = new ServerCpuMeter(pids.filter((pid): pid is number => pid !== undefined));
  meter.start();
  return meter;
}
