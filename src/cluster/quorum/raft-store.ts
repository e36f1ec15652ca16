/**
 * RaftStore: the metadata quorum's durable state in its own SQLite file
 * (<data>/metadata-log.db): the quorum state (epoch, vote), the log's entries after the
 * latest snapshot, and that snapshot.
 *
 * synchronous=FULL, unlike meta.db: a vote or an acknowledged entry that an OS crash
 * could take back would let two leaders win one epoch, or lose a committed record.
 * The metadata log is small and written rarely (topic changes, ISR changes, fencing),
 * so an fsync per write costs nothing that matters. Every change is one transaction;
 * the runtime applies a step's effects (state, truncation, snapshot, appends) in one.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import type { LogEntry, PersistedState, RaftEffects, RaftStartState, Snapshot } from '../raft/types.js';

const schema = `
  CREATE TABLE IF NOT EXISTS quorum_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL,
    voted_for INTEGER
  );
  CREATE TABLE IF NOT EXISTS entries (
    offset INTEGER PRIMARY KEY,
    epoch INTEGER NOT NULL,
    is_control INTEGER NOT NULL,
    data TEXT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    end_offset INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    data TEXT NOT NULL
  );
`;

interface EntryRow { offset: number; epoch: number; is_control: number; data: string }

export class RaftStore {
  private readonly statements: Record<string, Statement>;
  private readonly applyEffects: (effects: RaftEffects) => void;

  private constructor(private readonly db: Database.Database) {
    const s = (sql: string): Statement => db.prepare(sql);
    this.statements = {
      stateGet: s('SELECT epoch, voted_for FROM quorum_state WHERE id = 1'),
      stateSet: s('INSERT OR REPLACE INTO quorum_state (id, epoch, voted_for) VALUES (1, ?, ?)'),
      entriesAll: s('SELECT offset, epoch, is_control, data FROM entries ORDER BY offset'),
      entryInsert: s('INSERT OR REPLACE INTO entries (offset, epoch, is_control, data) VALUES (?, ?, ?, ?)'),
      entriesTruncate: s('DELETE FROM entries WHERE offset >= ?'),
      entriesDeleteBefore: s('DELETE FROM entries WHERE offset < ?'),
      entriesClear: s('DELETE FROM entries'),
      snapshotGet: s('SELECT end_offset, epoch, data FROM snapshot WHERE id = 1'),
      snapshotSet: s('INSERT OR REPLACE INTO snapshot (id, end_offset, epoch, data) VALUES (1, ?, ?, ?)'),
    };
    this.applyEffects = db.transaction((effects: RaftEffects) => {
      if (effects.persistState !== undefined) this.statements.stateSet.run(effects.persistState.epoch, effects.persistState.votedFor);
      if (effects.truncateTo !== undefined) this.statements.entriesTruncate.run(effects.truncateTo);
      if (effects.installSnapshot !== undefined) {
        this.writeSnapshot(effects.installSnapshot);
        // The snapshot replaces the log: entries it covers or contradicts go.
        this.statements.entriesClear.run();
      }
      for (const entry of effects.append) this.statements.entryInsert.run(entry.offset, entry.epoch, entry.isControl === true ? 1 : 0, entry.data);
      if (effects.deleteBefore !== undefined) this.statements.entriesDeleteBefore.run(effects.deleteBefore);
    });
  }

  static open(file: string): RaftStore {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(schema);
    } catch (error) {
      db.close();
      throw error;
    }
    return new RaftStore(db);
  }

  load(): RaftStartState {
    const state = this.statements.stateGet.get() as { epoch: number; voted_for: number | null } | undefined;
    const persisted: PersistedState = { epoch: state?.epoch ?? 0, votedFor: state?.voted_for ?? null };
    const snapshot = this.readSnapshot();
    const entries: LogEntry[] = (this.statements.entriesAll.all() as EntryRow[]).map((row) => ({
      offset: row.offset,
      epoch: row.epoch,
      data: row.data,
      ...(row.is_control === 1 ? { isControl: true } : {}),
    }));
    return { persisted, entries, snapshot };
  }

  /** Makes one step's effects durable, all or nothing, before its messages go out. */
  persist(effects: RaftEffects): void {
    const isEmpty = effects.persistState === undefined && effects.truncateTo === undefined &&
      effects.installSnapshot === undefined && effects.append.length === 0 && effects.deleteBefore === undefined;
    if (!isEmpty) this.applyEffects(effects);
  }

  /** A snapshot the node took of its own applied state. */
  saveSnapshot(snapshot: Snapshot): void {
    this.writeSnapshot(snapshot);
  }

  readSnapshot(): Snapshot | null {
    const row = this.statements.snapshotGet.get() as { end_offset: number; epoch: number; data: string } | undefined;
    return row === undefined ? null : { id: { endOffset: row.end_offset, epoch: row.epoch }, data: row.data };
  }

  private writeSnapshot(snapshot: Snapshot): void {
    this.statements.snapshotSet.run(snapshot.id.endOffset, snapshot.id.epoch, snapshot.data);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
