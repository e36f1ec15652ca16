/**
 * A Prometheus counter over a running total kept elsewhere (a broker's counters).
 */
import { Counter, type Registry } from 'prom-client';

/** A counter that reports a running total kept elsewhere: on each scrape it goes up by what the total grew since. */
export function totalCounter(registers: Registry[], name: string, help: string, total: () => number): void {
  let reported = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const now = total();
      this.inc(now - reported);
      reported = now;
    },
  });
}
