/**
 * ApiKeyStore: API keys in SQLite. A key is stored as its id, a name, the SHA-256 of
 * its secret and its grants; the secret itself is shown once, when the key is made,
 * and never stored.
 */
import type { Statement } from 'better-sqlite3';
import type { SqliteDatabase } from './database.js';

export interface StoredApiKey {
  keyId: string;
  name: string;
  secretSha256: string;
  grantsJson: string;
  createdAtMs: number;
}

interface KeyRow { key_id: string; name: string; secret_sha256: string; grants_json: string; created_at_ms: number }

export class ApiKeyStore {
  private readonly statements: Record<string, Statement>;

  constructor(db: SqliteDatabase) {
    this.statements = {
      list: db.prepare('SELECT * FROM api_keys ORDER BY created_at_ms, key_id'),
      insert: db.prepare('INSERT INTO api_keys (key_id, name, secret_sha256, grants_json, created_at_ms) VALUES (?, ?, ?, ?, ?)'),
      delete: db.prepare('DELETE FROM api_keys WHERE key_id = ?'),
    };
  }

  list(): StoredApiKey[] {
    return (this.statements.list.all() as KeyRow[]).map((row) => ({
      keyId: row.key_id,
      name: row.name,
      secretSha256: row.secret_sha256,
      grantsJson: row.grants_json,
      createdAtMs: row.created_at_ms,
    }));
  }

  insert(key: StoredApiKey): void {
    this.statements.insert.run(key.keyId, key.name, key.secretSha256, key.grantsJson, key.createdAtMs);
  }

  delete(keyId: string): boolean {
    return this.statements.delete.run(keyId).changes > 0;
  }
}
