/**
 * Share-group counters at /metrics (broker/share's ShareCounters, read at each scrape):
 * records acquired, acknowledged by type, delivered again, archived, and locks that ran out.
 */
import { Counter, type Registry } from 'prom-client';
import type { Broker } from '../broker/broker.js';
import { totalCounter } from './total-counter.js';

export function registerShareMetrics(registers: Registry[], broker: Broker): void {
  const { counters } = broker.shareGroups;
  totalCounter(registers, 'runnel_share_records_acquired_total', 'Records share groups acquired (handed out under a lock).', () => counters.acquired);
  totalCounter(registers, 'runnel_share_records_redelivered_total', 'Acquisitions of records delivered before (deliveryCount above 1).', () => counters.redeliveries);
  totalCounter(registers, 'runnel_share_records_archived_total', 'Records archived: rejected, or released or expired at share.delivery.count.limit.', () => counters.archived);
  totalCounter(registers, 'runnel_share_lock_expirations_total', 'Record locks that ran out before an acknowledgement.', () => counters.lockExpirations);
  let reported = { accept: 0, release: 0, reject: 0, renew: 0 };
  new Counter({
    name: 'runnel_share_records_acknowledged_total',
    help: 'Records acknowledged, by type (accept, release, reject, renew).',
    labelNames: ['type'],
    registers,
    collect() {
      for (const type of ['accept', 'release', 'reject', 'renew'] as const) this.inc({ type }, counters.acknowledged[type] - reported[type]);
      reported = { ...counters.acknowledged };
    },
  });
}
