/**
 * The answers remembered for Idempotency-Keys, in SQLite's `idempotency` table, with a
 * bound a client cannot push past: at most `countMax` answers and `bytesMax` bytes
 * (topic + key + stored answer) per node. A client sending ever new keys would otherwise
 * grow meta.db and its WAL until the disk is full, as only the 24 h expiry removed
 * them. When a new answer would pass a bound, the oldest answers are evicted first
 * (down to 90% of the bound, so a full store does not evict on every request); a retry
 * whose answer was evicted is appended again, as one older than the retention would be.
 *
 * The count and bytes are kept in memory, read once at open, and moved by every put,
 * expiry and eviction (all on this one connection, so they cannot drift).
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

export interface IdempotencyBounds {
  /** Answers kept at most (--idempotency-keys-max). */
  countMax: number;
  /** Bytes of topic, key and answer kept at most (--idempotency-bytes-max). */
  bytesMax: number;
}

/** Room left after an eviction, as a fraction of each bound. */
const EVICT_TO_FRACTION = 0.9;

const ROW_BYTES = 'LENGTH(CAST(topic AS BLOB)) + LENGTH(CAST(idempotency_key AS BLOB)) + LENGTH(CAST(response_json AS BLOB))';

export class IdempotencyStore {
  private readonly statements: Record<'get' | 'sizeOf' | 'put' | 'remove' | 'expire' | 'evictOldest' | 'totals', Statement>;
  private count: number;
  private bytes: number;
  /** Answers evicted by the bounds since the node started (runnel_idempotency_evictions_total). */
  evictedCount = 0;

  constructor(private readonly db: SqliteDatabase, private bounds: IdempotencyBounds) {
    const s = (sql: string): Statement => db.prepare(sql);
    this.statements = {
      get: s('SELECT response_json, created_at_ms FROM idempotency WHERE topic = ? AND idempotency_key = ?'),
      sizeOf: s(`SELECT ${ROW_BYTES} AS bytes FROM idempotency WHERE topic = ? AND idempotency_key = ?`),
      put: s('INSERT OR REPLACE INTO idempotency (topic, idempotency_key, response_json, created_at_ms) VALUES (?, ?, ?, ?)'),
      remove: s(`DELETE FROM idempotency WHERE topic = ? AND idempotency_key = ? RETURNING ${ROW_BYTES} AS bytes`),
      expire: s(`DELETE FROM idempotency WHERE created_at_ms < ? RETURNING ${ROW_BYTES} AS bytes`),
      evictOldest: s(`DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency ORDER BY created_at_ms, rowid LIMIT ?) RETURNING ${ROW_BYTES} AS bytes`),
      totals: s(`SELECT COUNT(*) AS count, COALESCE(SUM(${ROW_BYTES}), 0) AS bytes FROM idempotency`),
    };
    this.count = 0;
    this.bytes = 0;
    this.recount();
  }

  /** Reads the count and bytes from SQLite again (at open, and after a topic's answers cascaded away). */
  recount(): void {
    const totals = this.statements.totals.get() as { count: number; bytes: number };
    this.count = totals.count;
    this.bytes = totals.bytes;
  }

  /** Changes the bounds; the store shrinks to them at the next put. */
  setBounds(bounds: IdempotencyBounds): void {
    this.bounds = bounds;
  }

  get(topic: string, key: string): { responseJson: string; createdAtMs: number } | undefined {
    const row = this.statements.get.get(topic, key) as { response_json: string; created_at_ms: number } | undefined;
    return row === undefined ? undefined : { responseJson: row.response_json, createdAtMs: row.created_at_ms };
  }

  put(topic: string, key: string, responseJson: string, createdAtMs: number): void {
    const rowBytes = Buffer.byteLength(topic) + Buffer.byteLength(key) + Buffer.byteLength(responseJson);
    if (rowBytes > this.bounds.bytesMax) {
      // One answer larger than the whole store is not remembered: a retry appends again.
      this.evictedCount += 1;
      return;
    }
    this.db.transaction(() => {
      const replaced = this.statements.sizeOf.get(topic, key) as { bytes: number } | undefined;
      if (replaced !== undefined) {
        this.count -= 1;
        this.bytes -= replaced.bytes;
      }
      this.evictFor(rowBytes);
      this.statements.put.run(topic, key, responseJson, createdAtMs);
      this.count += 1;
      this.bytes += rowBytes;
    })();
  }

  /** Forgets one answer (its request failed after the answer was stored). */
  remove(topic: string, key: string): void {
    this.removeRows(this.statements.remove.all(topic, key) as Array<{ bytes: number }>);
  }

  /** Removes answers older than `olderThanMs`; returns how many. */
  expire(olderThanMs: number): number {
    return this.removeRows(this.statements.expire.all(olderThanMs) as Array<{ bytes: number }>);
  }

  get size(): { count: number; bytes: number } {
    return { count: this.count, bytes: this.bytes };
  }

  /** Evicts the oldest answers until one of `rowBytes` fits under both bounds with room to spare. */
  private evictFor(rowBytes: number): void {
    const { countMax, bytesMax } = this.bounds;
    if (this.count + 1 <= countMax && this.bytes + rowBytes <= bytesMax) return;
    const countTarget = Math.floor(countMax * EVICT_TO_FRACTION);
    const bytesTarget = Math.floor(bytesMax * EVICT_TO_FRACTION);
    while (this.count > 0 && (this.count + 1 > countTarget || this.bytes + rowBytes > bytesTarget)) {
      // Rows are small and similar: evict the count surplus, or a tenth of the rows for bytes, per round.
      const surplus = Math.max(1, this.count + 1 - countTarget, Math.ceil(this.count / 10));
      const removed = this.removeRows(this.statements.evictOldest.all(surplus) as Array<{ bytes: number }>);
      this.evictedCount += removed;
      if (removed === 0) break;
    }
  }

  private removeRows(rows: Array<{ bytes: number }>): number {
    for (const row of rows) this.bytes -= row.bytes;
    this.count -= rows.length;
    return rows.length;
  }
}
