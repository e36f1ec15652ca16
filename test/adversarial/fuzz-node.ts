/**
 * The node under attack: a real child process (`runnel serve`) with --auth api-key and
 * a bootstrap admin key, a 1 MiB body limit (so "larger than the limit" costs 1 MB, not
 * 64), its data directory and working directory inside one fresh temporary parent.
 * Everything under that parent except the data directory is snapshotted before and
 * after the run: a file a request made outside the data directory (a path traversal,
 * a relative path resolved against the working directory) shows up there.
 *
 * seedResources() creates the topics, records, groups, members and API keys that
 * mutated requests name, so they reach existing resources and not only 404s; it runs
 * again between rounds, as the fuzzer deletes what it finds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { startNode, type ChildNode } from '../helpers/child-node.js';
import { requestJson } from '../helpers/http.js';
import type { ResourcePool } from './openapi-walk.js';

export const ADMIN_KEY = 'fuzz-admin-key-0123456789abcdef';
export const BODY_LIMIT_BYTES = 1024 * 1024;

export interface FuzzNode {
  node: ChildNode;
  url: string;
  parentDir: string;
  dataDir: string;
  /** Every path under parentDir outside the data directory, sorted ('dir/' for folders). */
  snapshotOutsideDataDir: () => string[];
}

function listTree(root: string, skip: string): string[] {
  const found: string[] = [];
  const walk = (directory: string, depth: number): void => {
    if (depth > 20) return;
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (full === skip) continue;
      const relative = path.relative(root, full);
      if (entry.isDirectory()) {
        found.push(`${relative}/`);
        walk(full, depth + 1);
      } else {
        found.push(relative);
      }
    }
  };
  walk(root, 0);
  return found.sort();
}

export async function startFuzzNode(t: Test, extraArgs: string[] = [], options: { openFilesLimit?: number } = {}): Promise<FuzzNode> {
  const parentDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-fuzz-'));
  const dataDir = path.join(parentDir, 'data');
  const cwd = path.join(parentDir, 'cwd');
  fs.mkdirSync(dataDir);
  fs.mkdirSync(cwd);
  const node = await startNode({
    dataDir,
    cwd,
    t,
    env: { RUNNEL_ADMIN_KEY: ADMIN_KEY },
    args: ['--auth', 'api-key', '--body-limit-bytes', String(BODY_LIMIT_BYTES), ...extraArgs],
    startTimeoutMs: 30_000,
    openFilesLimit: options.openFilesLimit,
  });
  t.teardown(async () => {
    await node.kill();
    fs.rmSync(parentDir, { recursive: true, force: true });
  });
  return { node, url: node.url, parentDir, dataDir, snapshotOutsideDataDir: () => listTree(parentDir, dataDir) };
}

export const SEED_TOPICS: Array<[string, number]> = [['fuzz-a', 3], ['fuzz-b', 1], ['fuzz.c_d', 2]];
export const SEED_GROUPS = ['fuzz-g1', 'fuzz-g2'];

export interface Seeded {
  pool: ResourcePool;
  /** Resources made to be deleted: DELETE requests name these. */
  victims: ResourcePool;
  /** A key allowed only `read` on topics starting fuzz-a, to reach 403s and narrow grants. */
  narrowKey: string;
}

const admin = { authorization: `Bearer ${ADMIN_KEY}` };

async function call(url: string, method: 'GET' | 'POST' | 'DELETE', body?: unknown): Promise<{ status: number; body: any }> {
  return requestJson<any>(url, { method, body, headers: admin, timeoutMs: 10_000 });
}

async function expectStatus(what: string, statuses: number[], answer: Promise<{ status: number; body: any }>): Promise<any> {
  const { status, body } = await answer;
  if (!statuses.includes(status)) throw new Error(`seeding: ${what} answered ${status} ${JSON.stringify(body).slice(0, 300)}`);
  return body;
}

/** Keeps the newest `count` names of a pool list. */
function remember(names: string[], name: string, count = 6): void {
  if (!names.includes(name)) names.push(name);
  if (names.length > count) names.splice(0, names.length - count);
}

async function join(url: string, group: string, topics: string[]): Promise<string> {
  const joined = await expectStatus(`join ${group}`, [200, 201], call(`${url}/v1/groups/${group}/members`, 'POST', { topics, autoOffsetReset: 'earliest', clientId: 'fuzz-seed' }));
  return String(joined.memberId);
}

async function spareKey(url: string): Promise<string> {
  const key = await expectStatus('create a key', [201], call(`${url}/v1/keys`, 'POST', { name: 'fuzz-spare', grants: [{ resource: 'group', prefix: 'fuzz-', operations: ['read'] }] }));
  return String(key.keyId);
}

let victimCount = 0;

/**
 * Makes sure the seed topics (with records), groups (one with a live member, one with
 * committed offsets) and keys exist, and makes a few resources to be deleted; adds
 * what it made to the pools. Bounded: a fixed number of requests, each with a deadline.
 */
export async function seedResources(url: string, pool: ResourcePool, victims: ResourcePool): Promise<void> {
  for (const [name, partitions] of SEED_TOPICS) {
    const created = await expectStatus(`create ${name}`, [201, 409], call(`${url}/v1/topics`, 'POST', { name, partitions }));
    remember(pool.topics, name);
    if (created?.error === undefined) {
      const records = Array.from({ length: 6 }, (_, i) => ({ key: `k${i}`, value: { n: i, text: 'seed' }, headers: { h: 'v' } }));
      await expectStatus(`produce to ${name}`, [200], call(`${url}/v1/topics/${name}/records`, 'POST', { records }));
    }
  }
  // A compacted topic holding the key the read by key's example names ('apple'), so reads by key reach a record.
  const kv = await expectStatus('create fuzz-kv', [201, 409], call(`${url}/v1/topics`, 'POST', { name: 'fuzz-kv', partitions: 1, configs: { 'cleanup.policy': 'compact' } }));
  remember(pool.topics, 'fuzz-kv');
  if (kv?.error === undefined) await expectStatus('produce to fuzz-kv', [200], call(`${url}/v1/topics/fuzz-kv/records`, 'POST', { records: [{ key: 'apple', value: 1 }] }));
  remember(pool.members, await join(url, 'fuzz-g1', ['fuzz-a', 'fuzz-b']));
  await expectStatus('commit fuzz-g2', [200, 204, 409], call(`${url}/v1/groups/fuzz-g2/offsets`, 'POST', { offsets: [{ topic: 'fuzz-a', partition: 0, offset: 0 }] }));
  for (const group of SEED_GROUPS) remember(pool.groups, group);
  remember(pool.keyIds, await spareKey(url));

  victimCount += 1;
  const topic = `fuzz-victim-${victimCount}`;
  await expectStatus(`create ${topic}`, [201], call(`${url}/v1/topics`, 'POST', { name: topic, partitions: 2 }));
  // Few victims, so a DELETE of a member often names the group that member is in.
  remember(victims.topics, topic, 3);
  const group = `fuzz-gv-${victimCount}`;
  await expectStatus(`commit ${group}`, [200, 204], call(`${url}/v1/groups/${group}/offsets`, 'POST', { offsets: [{ topic, partition: 1, offset: 0 }] }));
  remember(victims.groups, group, 3);
  // Two members each round: a DELETE of a member can succeed only once per member.
  for (let i = 0; i < 2; i++) remember(victims.members, await join(url, group, [topic]), 4);
  remember(victims.keyIds, await spareKey(url), 3);
}

export async function seed(url: string): Promise<Seeded> {
  const pool: ResourcePool = { topics: [], groups: [], members: [], keyIds: [] };
  const victims: ResourcePool = { topics: [], groups: [], members: [], keyIds: [] };
  await seedResources(url, pool, victims);
  const narrow = await expectStatus('create the narrow key', [201], call(`${url}/v1/keys`, 'POST', { name: 'fuzz-narrow', grants: [{ resource: 'topic', prefix: 'fuzz-a', operations: ['read'] }] }));
  return { pool, victims, narrowKey: String(narrow.key) };
}
