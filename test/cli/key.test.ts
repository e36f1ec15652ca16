/**
 * `runnel key create|list|delete` against a node with API keys on, and --api-key /
 * RUNNEL_API_KEY on every command.
 */
import t from 'tap';
import { describeResult, runnel, startTestNode } from './support.js';

const ADMIN_KEY = 'cli-test-admin-key-0123456789';

void t.test('an admin makes, lists and deletes keys; a key works within its grants only', async (t) => {
  const server = await startTestNode(t, { args: ['--auth', 'api-key'], env: { RUNNEL_ADMIN_KEY: ADMIN_KEY } });
  const cli = (args: string[], env: Record<string, string> = {}, input?: string) => runnel(t, ['--url', server.url, ...args], { env, input });

  const anonymous = await cli(['topic', 'list']);
  t.equal(anonymous.code, 1, describeResult(anonymous));
  t.match(anonymous.stderr, /^runnel: UNAUTHENTICATED: /);

  const created = await cli(['key', 'create', '--name', 'orders-writer', '--grant', 'topic:orders:read,write', '--grant', 'group:billing*:read', '-o', 'json'], { RUNNEL_API_KEY: ADMIN_KEY });
  t.equal(created.code, 0, describeResult(created));
  const key = JSON.parse(created.stdout);
  t.equal(key.name, 'orders-writer');
  t.same(key.grants, [
    { resource: 'topic', name: 'orders', operations: ['read', 'write'] },
    { resource: 'group', prefix: 'billing', operations: ['read'] },
  ], "'billing*' is a prefix");
  t.type(key.key, 'string', 'the secret, once');

  const admin = await cli(['--api-key', ADMIN_KEY, 'key', 'create', '--name', 'ops', '--grant', 'cluster::admin', '--grant', 'topic:*:admin']);
  t.equal(admin.code, 0, describeResult(admin));
  t.match(admin.stdout, /^secret:\s+\S+$/m, 'the table shows the secret');
  t.match(admin.stdout, /^grants:\s+cluster::admin topic:\*:admin$/m);
  t.match(admin.stderr, /not shown again/);

  t.equal((await cli(['--api-key', ADMIN_KEY, 'topic', 'create', 'orders'])).code, 0);
  const produced = await cli(['produce', 'orders'], { RUNNEL_API_KEY: key.key }, 'hello\n');
  t.equal(produced.code, 0, `the key may write orders: ${describeResult(produced)}`);
  t.equal((await cli(['consume', 'orders', '--api-key', key.key])).stdout, 'hello\n', 'and read it');
  const forbidden = await cli(['topic', 'create', 'other'], { RUNNEL_API_KEY: key.key });
  t.equal(forbidden.code, 1);
  t.match(forbidden.stderr, /^runnel: FORBIDDEN: /);

  const listed = await cli(['key', 'list', '-o', 'json'], { RUNNEL_API_KEY: ADMIN_KEY });
  t.equal(listed.code, 0, describeResult(listed));
  const keys = JSON.parse(listed.stdout);
  t.same(keys.map((entry: { name: string }) => entry.name).sort(), ['ops', 'orders-writer']);
  t.notOk(listed.stdout.includes(key.key), 'never the secret');
  const table = await cli(['key', 'list'], { RUNNEL_API_KEY: ADMIN_KEY });
  t.match(table.stdout, new RegExp(`│ ${key.keyId} │ orders-writer │ topic:orders:read,write group:billing\\*:read │`));

  const deleted = await cli(['key', 'delete', key.keyId], { RUNNEL_API_KEY: ADMIN_KEY });
  t.equal(deleted.code, 0, describeResult(deleted));
  t.equal(deleted.stdout, `deleted key ${key.keyId}\n`);
  const revoked = await cli(['consume', 'orders'], { RUNNEL_API_KEY: key.key });
  t.equal(revoked.code, 1);
  t.match(revoked.stderr, /^runnel: UNAUTHENTICATED: /, 'a deleted key stops working');
  const badGrant = await cli(['key', 'create', '--name', 'x', '--grant', 'topic:orders:fly'], { RUNNEL_API_KEY: ADMIN_KEY });
  t.equal(badGrant.code, 2, describeResult(badGrant));
  t.match(badGrant.stderr, /unknown operation 'fly'/);
  const noGrant = await cli(['key', 'create', '--name', 'x'], { RUNNEL_API_KEY: ADMIN_KEY });
  t.equal(noGrant.code, 2, '--grant is required');
});
