/**
 * Unit tests of src/broker/access-control.ts: what a grant allows (isAllowed,
 * canDescribe, canReadPrefix), which grants are refused (validateGrants), and the
 * KeyManager: secrets stored only as SHA-256, never listed, compared in constant time,
 * deleted keys stop working, keys survive a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import {
  canDescribe, canReadPrefix, isAllowed, KeyManager, validateGrants, type Grant, type Principal,
} from '../../src/broker/access-control.js';
import { openBroker } from '../../src/node/broker-assembly.js';
import { ApiKeyStore } from '../../src/meta/api-key-store.js';
import { openDatabase, type SqliteDatabase } from '../../src/meta/database.js';

function principal(...grants: Grant[]): Principal {
  return { keyId: 'k', name: 'test', grants };
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A fresh meta.db in its own temp directory, removed at teardown. */
function tempDatabaseFile(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-acl-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'meta.db');
}

function openStore(t: Test, file: string): { db: SqliteDatabase; store: ApiKeyStore } {
  const db = openDatabase(file);
  t.teardown(() => {
    if (db.open) db.close();
  });
  return { db, store: new ApiKeyStore(db) };
}

/** The secret part of `rk_<keyId>_<secret>`. */
function secretOf(key: string): string {
  const match = /^rk_([A-Za-z0-9]+)_([A-Za-z0-9_-]+)$/.exec(key);
  if (match === null) throw new Error(`not a key: ${key}`);
  return match[2];
}

/** Changes the last character of `text`, keeping its length and alphabet. */
function flipLast(text: string): string {
  const last = text.at(-1);
  return text.slice(0, -1) + (last === 'A' ? 'B' : 'A');
}

void t.test('isAllowed: a grant covers its resource type only, by name exactly, by prefix, or all', async (t) => {
  const byName = principal({ resource: 'topic', name: 'orders', operations: ['read'] });
  t.ok(isAllowed(byName, 'topic', 'orders', 'read'), 'the named topic');
  t.notOk(isAllowed(byName, 'topic', 'orders2', 'read'), 'a name grant is not a prefix');
  t.notOk(isAllowed(byName, 'topic', 'order', 'read'), 'nor does it cover a shorter name');
  t.notOk(isAllowed(byName, 'group', 'orders', 'read'), 'a topic grant says nothing about a group of the same name');
  t.notOk(isAllowed(byName, 'topic', undefined, 'read'), 'a name grant is not a grant on all topics');

  const byPrefix = principal({ resource: 'topic', prefix: 'billing.', operations: ['write'] });
  t.ok(isAllowed(byPrefix, 'topic', 'billing.invoices', 'write'));
  t.ok(isAllowed(byPrefix, 'topic', 'billing.', 'write'), 'the prefix itself is a name that starts with it');
  t.notOk(isAllowed(byPrefix, 'topic', 'billing', 'write'));
  t.notOk(isAllowed(byPrefix, 'topic', 'xbilling.invoices', 'write'), 'prefix means the start of the name');
  t.notOk(isAllowed(byPrefix, 'topic', undefined, 'write'));

  const every = principal({ resource: 'group', operations: ['read'] });
  t.ok(isAllowed(every, 'group', 'anything', 'read'));
  t.ok(isAllowed(every, 'group', undefined, 'read'), 'neither name nor prefix: all groups');
  t.notOk(isAllowed(every, 'topic', 'anything', 'read'));

  t.notOk(isAllowed(principal(), 'topic', 'orders', 'read'), 'no grants, nothing allowed');
});

void t.test('isAllowed: admin implies read and write; read and write imply nothing else', async (t) => {
  const admin = principal({ resource: 'topic', name: 'orders', operations: ['admin'] });
  for (const operation of ['read', 'write', 'admin'] as const) t.ok(isAllowed(admin, 'topic', 'orders', operation), `admin allows ${operation}`);
  const read = principal({ resource: 'topic', name: 'orders', operations: ['read'] });
  t.notOk(isAllowed(read, 'topic', 'orders', 'write'));
  t.notOk(isAllowed(read, 'topic', 'orders', 'admin'));
  const write = principal({ resource: 'topic', name: 'orders', operations: ['write'] });
  t.notOk(isAllowed(write, 'topic', 'orders', 'read'), 'write does not allow reading back');
  t.notOk(isAllowed(write, 'topic', 'orders', 'admin'));
  const both = principal({ resource: 'topic', name: 'orders', operations: ['read', 'write'] });
  t.ok(isAllowed(both, 'topic', 'orders', 'read'));
  t.ok(isAllowed(both, 'topic', 'orders', 'write'));
  t.notOk(isAllowed(both, 'topic', 'orders', 'admin'));
  // Grants add up, each on its own resources.
  const mixed = principal({ resource: 'topic', name: 'a', operations: ['read'] }, { resource: 'topic', name: 'b', operations: ['write'] });
  t.ok(isAllowed(mixed, 'topic', 'a', 'read'));
  t.notOk(isAllowed(mixed, 'topic', 'a', 'write'), "b's write does not leak onto a");
  t.ok(isAllowed(mixed, 'topic', 'b', 'write'));
  t.notOk(isAllowed(mixed, 'topic', 'b', 'read'));
});

void t.test('isAllowed: cluster admin is only the cluster grant', async (t) => {
  t.ok(isAllowed(principal({ resource: 'cluster', operations: ['admin'] }), 'cluster', undefined, 'admin'));
  t.notOk(isAllowed(principal({ resource: 'cluster', operations: ['read'] }), 'cluster', undefined, 'admin'));
  t.notOk(isAllowed(principal({ resource: 'topic', operations: ['admin'] }, { resource: 'group', operations: ['admin'] }), 'cluster', undefined, 'admin'),
    'admin on every topic and group is not cluster admin');
  t.notOk(isAllowed(principal({ resource: 'cluster', operations: ['admin'] }), 'topic', 'orders', 'read'), 'cluster admin reads no topic');
});

void t.test('canDescribe: any grant on the resource lets the key see it, nothing else does', async (t) => {
  const key = principal(
    { resource: 'topic', name: 'orders', operations: ['write'] },
    { resource: 'group', prefix: 'app.', operations: ['read'] },
  );
  t.ok(canDescribe(key, 'topic', 'orders'));
  t.notOk(canDescribe(key, 'topic', 'other'));
  t.ok(canDescribe(key, 'group', 'app.main'));
  t.notOk(canDescribe(key, 'group', 'other'));
  t.notOk(canDescribe(key, 'topic', 'app.main'), 'a group grant does not reveal a topic');
  t.notOk(canDescribe(principal({ resource: 'cluster', operations: ['admin'] }), 'topic', 'orders'));
});

void t.test('canReadPrefix: only a read (or admin) grant on all topics or on a prefix of the asked prefix', async (t) => {
  const billing = principal({ resource: 'topic', prefix: 'billing.', operations: ['read'] });
  t.ok(canReadPrefix(billing, 'billing.'));
  t.ok(canReadPrefix(billing, 'billing.invoices'), 'a longer prefix names fewer topics');
  t.notOk(canReadPrefix(billing, 'billing'), "'billing' also matches 'billingX', outside the grant");
  t.notOk(canReadPrefix(billing, ''), 'the empty prefix is every topic');
  t.notOk(canReadPrefix(principal({ resource: 'topic', name: 'billing.invoices', operations: ['read'] }), 'billing.invoices'),
    'a name grant never covers a prefix (topics made later would match it)');
  t.notOk(canReadPrefix(principal({ resource: 'topic', prefix: 'billing.', operations: ['write'] }), 'billing.'), 'write is not read');
  t.ok(canReadPrefix(principal({ resource: 'topic', prefix: 'billing.', operations: ['admin'] }), 'billing.x'), 'admin implies read');
  t.ok(canReadPrefix(principal({ resource: 'topic', operations: ['read'] }), ''), 'read on all topics covers every prefix');
  t.notOk(canReadPrefix(principal({ resource: 'group', operations: ['admin'] }), ''), 'group grants do not count');
});

void t.test('validateGrants refuses name with prefix, a named cluster grant and empty operations', async (t) => {
  const ok: Grant[] = [
    { resource: 'topic', name: 'orders', operations: ['read'] },
    { resource: 'topic', prefix: 'billing.', operations: ['read', 'write'] },
    { resource: 'group', operations: ['admin'] },
    { resource: 'cluster', operations: ['admin'] },
  ];
  t.same(validateGrants(ok), ok);
  t.same(validateGrants([]), [], 'a key with no grants is allowed (it can only authenticate)');
  const refused: Array<[string, Grant[]]> = [
    ['name and prefix', [{ resource: 'topic', name: 'a', prefix: 'a', operations: ['read'] }]],
    ['cluster with a name', [{ resource: 'cluster', name: 'x', operations: ['admin'] }]],
    ['cluster with a prefix', [{ resource: 'cluster', prefix: 'x', operations: ['admin'] }]],
    ['no operations', [{ resource: 'group', name: 'g', operations: [] }]],
  ];
  for (const [what, grants] of refused) {
    t.throws(() => validateGrants(grants), { name: 'RunnelError', code: 'INVALID_REQUEST' }, what);
  }
  t.throws(() => validateGrants([ok[0], { resource: 'topic', name: 'a', prefix: 'a', operations: ['read'] }]), /grants\[1\]/, 'the message names the bad grant');
});

void t.test('KeyManager stores only the SHA-256 of a secret and never lists the secret', async (t) => {
  const file = tempDatabaseFile(t);
  const { db, store } = openStore(t, file);
  const keys = new KeyManager(store, undefined);
  const grants: Grant[] = [{ resource: 'topic', prefix: 'billing.', operations: ['read'] }];
  const made = keys.create('billing-service', grants);
  t.match(made.key, /^rk_[A-Za-z0-9]+_[A-Za-z0-9_-]+$/);
  t.equal(made.key.split('_')[1], made.keyId, 'the key starts with its id');
  const secret = secretOf(made.key);
  t.ok(secret.length >= 40, 'the secret has at least 32 random bytes');

  const rows = db.prepare('SELECT * FROM api_keys').all() as Array<Record<string, unknown>>;
  t.equal(rows.length, 1);
  t.equal(rows[0].secret_sha256, sha256Hex(secret), 'stored: SHA-256 of the secret');
  t.notOk(JSON.stringify(rows).includes(secret), 'the secret is in no column');

  const listed = keys.list();
  t.same(listed, [{ keyId: made.keyId, name: 'billing-service', grants, createdAtMs: made.createdAtMs }], 'list: id, name, grants, time');
  t.notOk(JSON.stringify(listed).includes(secret), 'the secret is not listed');
  t.notOk(JSON.stringify(listed).includes(sha256Hex(secret)), 'nor is its hash');
  t.notOk('key' in listed[0]);

  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  for (const name of fs.readdirSync(path.dirname(file))) {
    const bytes = fs.readFileSync(path.join(path.dirname(file), name));
    t.equal(bytes.indexOf(secret), -1, `the secret is nowhere in ${name}`);
  }
});

void t.test('KeyManager.authenticate accepts the exact key and refuses wrong, unknown and malformed ones', async (t) => {
  const { store } = openStore(t, ':memory:');
  const keys = new KeyManager(store, undefined);
  const made = keys.create('svc', [{ resource: 'topic', name: 'orders', operations: ['read'] }]);
  const other = keys.create('other', []);
  const found = keys.authenticate(made.key);
  t.same(found, { keyId: made.keyId, name: 'svc', grants: [{ resource: 'topic', name: 'orders', operations: ['read'] }] });
  t.equal(keys.authenticate(flipLast(made.key)), undefined, 'same keyId and length, one character of the secret wrong');
  t.equal(keys.authenticate(`rk_${made.keyId}_${secretOf(other.key)}`), undefined, "another key's secret under this keyId");
  t.equal(keys.authenticate(`rk_${made.keyId}_${secretOf(made.key)}x`), undefined, 'a longer secret (no throw on a length mismatch)');
  t.equal(keys.authenticate(`rk_${made.keyId}_a`), undefined, 'a short secret');
  t.equal(keys.authenticate(`rk_AAAAAAAAAAAA_${secretOf(made.key)}`), undefined, 'an unknown keyId with a real secret');
  for (const garbage of ['', 'rk_', 'rk__', made.keyId, secretOf(made.key), `Bearer ${made.key}`, `${made.key} `, 'rk_a b_c', 'x'.repeat(10_000)]) {
    t.equal(keys.authenticate(garbage), undefined, `garbage ${JSON.stringify(garbage.slice(0, 40))}`);
  }
  t.equal(keys.authenticate(other.key)?.keyId, other.keyId, 'a key with no grants still authenticates');
});

void t.test('the secret and the admin key are compared with crypto.timingSafeEqual on equal-length digests', async (t) => {
  const calls: Array<[number, number, boolean]> = [];
  const { KeyManager: SpiedKeyManager } = await t.mockImport<typeof import('../../src/broker/access-control.js')>('../../src/broker/access-control.js', {
    'node:crypto': {
      ...crypto,
      timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
        const result = crypto.timingSafeEqual(a, b);
        calls.push([a.byteLength, b.byteLength, result]);
        return result;
      },
    },
  });
  const { store } = openStore(t, ':memory:');
  const adminKey = randomBytes(24).toString('hex');
  const keys = new SpiedKeyManager(store, adminKey);
  const made = keys.create('svc', []);

  calls.length = 0;
  t.equal(keys.authenticate(flipLast(made.key)), undefined, 'a wrong secret of the same length is refused');
  const secretCalls = calls.filter(([, , result]) => !result);
  t.ok(calls.length >= 1, 'timingSafeEqual was used');
  t.ok(calls.every(([a, b]) => a === 32 && b === 32), 'on 32-byte digests, so lengths never differ');
  t.equal(secretCalls.length, calls.length, 'and every compare said no');

  calls.length = 0;
  t.equal(keys.authenticate(flipLast(adminKey)), undefined, 'a wrong admin key of the same length is refused');
  t.ok(calls.length >= 1 && calls.every(([a, b, result]) => a === 32 && b === 32 && !result));

  calls.length = 0;
  t.equal(keys.authenticate(adminKey)?.keyId, 'admin');
  t.same(calls, [[32, 32, true]], 'the admin key: one constant-time compare');

  calls.length = 0;
  t.equal(keys.authenticate(made.key)?.keyId, made.keyId);
  t.ok(calls.some(([, , result]) => result), 'the right secret matched through timingSafeEqual');
});

void t.test('the bootstrap admin key is allowed everything; without one, no key is admin', async (t) => {
  const { store } = openStore(t, ':memory:');
  const adminKey = 'bootstrap-admin-key-0123456789';
  const keys = new KeyManager(store, adminKey);
  const admin = keys.authenticate(adminKey);
  t.ok(admin !== undefined);
  if (admin === undefined) return;
  t.ok(isAllowed(admin, 'cluster', undefined, 'admin'));
  t.ok(isAllowed(admin, 'topic', 'anything', 'admin'));
  t.ok(isAllowed(admin, 'group', 'anything', 'admin'));
  t.ok(canReadPrefix(admin, ''));
  t.equal(keys.authenticate(adminKey + 'x'), undefined);
  t.equal(keys.authenticate(adminKey.slice(0, -1)), undefined);
  t.equal(keys.authenticate(` ${adminKey}`), undefined);
  t.same(keys.list(), [], 'the bootstrap key is not a stored key');

  const noAdmin = new KeyManager(store, '');
  t.equal(noAdmin.authenticate(''), undefined, "an empty --admin-key means no admin key, not the key ''");
  t.equal(noAdmin.authenticate(adminKey), undefined);
  t.equal(new KeyManager(store, undefined).authenticate(adminKey), undefined);
});

void t.test('a deleted key stops working at once; deleting an unknown key is KEY_NOT_FOUND', async (t) => {
  const { store } = openStore(t, ':memory:');
  const keys = new KeyManager(store, undefined);
  const doomed = keys.create('doomed', [{ resource: 'topic', operations: ['admin'] }]);
  const kept = keys.create('kept', []);
  t.ok(keys.authenticate(doomed.key));
  keys.delete(doomed.keyId);
  t.equal(keys.authenticate(doomed.key), undefined, 'the deleted key is refused');
  t.same(keys.list().map((key) => key.keyId), [kept.keyId]);
  t.ok(keys.authenticate(kept.key), 'other keys keep working');
  t.throws(() => keys.delete(doomed.keyId), { name: 'RunnelError', code: 'KEY_NOT_FOUND' });
  t.throws(() => keys.delete('nope'), { name: 'RunnelError', code: 'KEY_NOT_FOUND' });
});

void t.test('keys and deletions survive a restart (a new KeyManager on the same meta.db)', async (t) => {
  const file = tempDatabaseFile(t);
  const first = openStore(t, file);
  const before = new KeyManager(first.store, undefined);
  const kept = before.create('kept', [{ resource: 'group', name: 'g', operations: ['read'] }]);
  const doomed = before.create('doomed', []);
  before.delete(doomed.keyId);
  first.db.close();

  const second = openStore(t, file);
  const after = new KeyManager(second.store, undefined);
  t.same(after.authenticate(kept.key), { keyId: kept.keyId, name: 'kept', grants: [{ resource: 'group', name: 'g', operations: ['read'] }] });
  t.equal(after.authenticate(doomed.key), undefined, 'a key deleted before the restart stays deleted');
  t.equal(after.authenticate(flipLast(kept.key)), undefined);
  t.same(after.list().map((key) => [key.keyId, key.createdAtMs]), [[kept.keyId, kept.createdAtMs]]);
});

void t.test("a broker restarted on the same data directory knows the keys made before (and not the deleted ones)", async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-acl-broker-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const options = { dataDir, nodeId: 1, topicDefaults: {}, defaultPartitionCount: 1, retentionCheckIntervalMs: 300_000 };
  const first = openBroker({ ...options, adminKey: 'first-admin-key-0123456789' });
  const kept = first.keys.create('kept', [{ resource: 'topic', prefix: 'a.', operations: ['write'] }]);
  const doomed = first.keys.create('doomed', []);
  first.keys.delete(doomed.keyId);
  await first.close();

  const second = openBroker({ ...options, adminKey: 'second-admin-key-0123456789' });
  t.teardown(() => second.close());
  t.equal(second.keys.authenticate(kept.key)?.keyId, kept.keyId, 'the key made before the restart works');
  t.same(second.keys.authenticate(kept.key)?.grants, [{ resource: 'topic', prefix: 'a.', operations: ['write'] }], 'with its grants');
  t.equal(second.keys.authenticate(doomed.key), undefined, 'the deleted one does not');
  t.equal(second.keys.authenticate('first-admin-key-0123456789'), undefined, 'the old admin key is not stored: only the current --admin-key works');
  t.equal(second.keys.authenticate('second-admin-key-0123456789')?.keyId, 'admin');
});
