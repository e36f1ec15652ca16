/**
 * The benchmark's server CPU reading: /proc/<pid>/stat parsed by field position
 * (a command name may hold spaces and parentheses), and a meter that agrees with
 * the kernel's own account of this process.
 */
import t from 'tap';
import { clockTicksPerSecond, parseCpuTicks, serverCpuOf, ServerCpuMeter } from '../../../scripts/bench/server-cpu.js';

void t.test('utime + stime are fields 14 and 15, counted from the last parenthesis', async (t) => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
  const line = '4242 (node (a) b) R 1 4242 4242 0 -1 4194304 99 0 0 0 1234 56 7 8 20 0 11 0 47278 3133440 358';
  t.equal(parseCpuTicks(line), 1234 + 56, 'children (cutime, cstime) are not counted');
  t.throws(() => parseCpuTicks('garbage'), /not a \/proc\/<pid>\/stat line/);
  t.throws(() => parseCpuTicks('1 (x) R 1 2'), /no utime\/stime/);
});

void t.test('per record: CPU microseconds over the records moved, none when nothing moved', async (t) => {
  t.same(serverCpuOf({ processes: 1, cpuMs: 250 }, 1_000_000), { processes: 1, cpuMs: 250, microsPerRecord: 0.25 });
  t.equal(serverCpuOf({ processes: 3, cpuMs: 10 }, 0).microsPerRecord, null);
});

void t.test('the meter reads the CPU time this process spent between start and stop', async (t) => {
  t.ok(clockTicksPerSecond() > 0);
  const meter = new ServerCpuMeter([process.pid]);
  const usageBefore = process.cpuUsage();
  meter.start();
  let sink = 0;
  const busyUntil = Date.now() + 300;
  while (Date.now() < busyUntil) sink += Math.sqrt(sink + 1);
  const window = meter.stop();
  const usage = process.cpuUsage(usageBefore);
  t.ok(sink > 0);
  t.ok(window !== undefined);
  const kernelMs = (usage.user + usage.system) / 1000;
  // Two readings of the same counters; /proc rounds to clock ticks (10 ms at 100 Hz), twice.
  const tickMs = 1000 / clockTicksPerSecond();
  t.ok(Math.abs(window!.cpuMs - kernelMs) <= 2 * tickMs + kernelMs * 0.05, `/proc ${window!.cpuMs} ms vs cpuUsage ${kernelMs} ms`);
  t.equal(window!.processes, 1);
});

void t.test('a process that cannot be read gives no figure rather than a wrong one', async (t) => {
  const meter = new ServerCpuMeter([2 ** 22 + 12345]);
  meter.start();
  t.equal(meter.stop(), undefined);
  t.equal(new ServerCpuMeter([]).stop(), undefined, 'no process, no figure');
});
