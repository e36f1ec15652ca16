/**
 * A closed-loop load generator: `concurrency` workers each run one operation at a
 * time, back to back. A short warm-up (not measured) lets both JITs settle, then the
 * measured phase runs until `durationMs` passes or `maxOperations` have started,
 * whichever comes first: every loop is bounded in count and in time. The first
 * failure stops all workers and is rethrown.
 */
import { Histogram } from './histogram.js';
import { ServerCpuMeter, type CpuWindow } from './server-cpu.js';

export interface LoadOptions {
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** Operations started in the measured phase at most (the warm-up gets a tenth, at least one per worker). */
  maxOperations: number;
  /** One operation, e.g. one HTTP request carrying a batch; `worker` is 0..concurrency-1. */
  operation: (worker: number) => Promise<unknown>;
  /** Server processes whose CPU time over the measured phase is read from /proc (none by default). */
  serverPids?: readonly number[];
}

export interface LoadResult {
  operations: number;
  elapsedMs: number;
  /** Latency of each measured operation. */
  histogram: Histogram;
  /** The server processes' CPU time over the measured phase; undefined without serverPids or /proc. */
  serverCpu?: CpuWindow;
}

async function runPhase(options: LoadOptions, durationMs: number, maxOperations: number, histogram: Histogram | undefined, meter?: ServerCpuMeter): Promise<LoadResult> {
  let started = 0;
  let completed = 0;
  let failure: unknown;
  let hasFailed = false;
  meter?.start();
  const startedAt = performance.now();
  const deadline = startedAt + durationMs;
  const worker = async (index: number): Promise<void> => {
    while (!hasFailed && started < maxOperations && performance.now() < deadline) {
      started += 1;
      const operationStartedAt = performance.now();
      try {
        await options.operation(index);
      } catch (error) {
        if (!hasFailed) failure = error;
        hasFailed = true;
        return;
      }
      histogram?.recordMs(performance.now() - operationStartedAt);
      completed += 1;
    }
  };
  const workers: Array<Promise<void>> = [];
  for (let index = 0; index < options.concurrency; index++) workers.push(worker(index));
  await Promise.all(workers);
  const elapsedMs = performance.now() - startedAt;
  const serverCpu = meter?.stop();
  if (hasFailed) throw failure;
  return { operations: completed, elapsedMs, histogram: histogram ?? new Histogram(), serverCpu };
}

export async function runClosedLoop(options: LoadOptions): Promise<LoadResult> {
  if (options.warmupMs > 0) {
    const warmupOperations = Math.max(options.concurrency, Math.ceil(options.maxOperations / 10));
    await runPhase(options, options.warmupMs, warmupOperations, undefined);
  }
  const meter = options.serverPids === undefined ? undefined : new ServerCpuMeter(options.serverPids);
  return runPhase(options, options.durationMs, options.maxOperations, new Histogram(), meter);
}
