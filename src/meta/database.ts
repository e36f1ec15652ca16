/**
 * Opens meta.db with explicit PRAGMAs and brings its schema up to date.
 * - journal_mode=WAL: readers never block the writer; a commit is one append to the WAL.
 * - synchronous=NORMAL: in WAL mode a commit survives a killed process (the WAL is
 *   written before the call returns); only an OS crash or power loss can lose the last
 *   commits. That matches the logs, whose fsync policy is flush.messages/flush.ms.
 * - foreign_keys=ON so deleting a topic removes its configs, partitions and keys.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { migrations } from './migrations.js';

export type SqliteDatabase = Database.Database;

export function openDatabase(file: string): SqliteDatabase {
  if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db, file);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function migrate(db: SqliteDatabase, file: string): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    throw new Error(`${file} has schema version ${version}, but this Runnel knows only up to ${migrations.length}: it was written by a newer version`);
  }
  for (let step = version; step < migrations.length; step++) {
    db.transaction(() => {
      db.exec(migrations[step]);
      db.pragma(`user_version = ${step + 1}`);
    })();
  }
}
