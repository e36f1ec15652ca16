/**
 * A member's owner (the API key that joined it) is kept with the group across a
 * restart: after one, another key with read on the group still may not remove it,
 * and the key that joined it may.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { startServer } from '../helpers/server.js';

const ADMIN_KEY = 'auth-groups-restart-admin-key-0123456789';

async function call(base: string, method: 'GET' | 'POST' | 'DELETE', urlPath: string, token: string, body?: unknown): Promise<{ status: number; json: any }> {
  const response = await request(`${base}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

void t.test("a member's owner survives a restart", async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-auth-groups-'));
  t.teardown(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const first = await startServer(t, { dataDir, isAuthEnabled: true, adminKey: ADMIN_KEY });
  t.equal((await call(first.url, 'POST', '/v1/topics', ADMIN_KEY, { name: 'orders', partitions: 2 })).status, 201);
  const grants = [{ resource: 'group', name: 'billing', operations: ['read'] }, { resource: 'topic', name: 'orders', operations: ['read'] }];
  const owner = (await call(first.url, 'POST', '/v1/keys', ADMIN_KEY, { name: 'owner', grants })).json.key as string;
  const other = (await call(first.url, 'POST', '/v1/keys', ADMIN_KEY, { name: 'other', grants })).json.key as string;
  const joined = await call(first.url, 'POST', '/v1/groups/billing/members', owner, { topics: ['orders'], sessionTimeoutMs: 600_000 });
  t.equal(joined.status, 201);
  const memberPath = `/v1/groups/billing/members/${joined.json.memberId as string}`;
  await first.close();

  const second = await startServer(t, { dataDir, isAuthEnabled: true, adminKey: ADMIN_KEY });
  const refused = await call(second.url, 'DELETE', memberPath, other);
  t.equal(refused.status, 403, 'another key with group read may not remove it');
  t.equal(refused.json.error.code, 'FORBIDDEN');
  t.match(refused.json.error.message, /joined with another key/);
  const described = await call(second.url, 'GET', '/v1/groups/billing', ADMIN_KEY);
  t.same(described.json.members.map((member: { memberId: string }) => member.memberId), [joined.json.memberId], 'the member is still there');
  t.equal((await call(second.url, 'DELETE', memberPath, owner)).status, 204, 'the key that joined it removes it');
  t.same((await call(second.url, 'GET', '/v1/groups/billing', ADMIN_KEY)).json.members, [], 'gone');
});
