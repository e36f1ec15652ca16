/**
 * Starting a cluster node without a cluster secret (issue 12, item 1):
 * - with --auth api-key it refuses to start: exit code 2, naming the setting (API
 *   keys would guard nothing while /internal is open to any caller);
 * - without auth it starts and logs exactly one warning saying what is exposed;
 * - with a secret neither happens.
 */
import path from 'node:path';
import t from 'tap';
import { loadSettings } from '../../src/node/settings.js';
import { startNode } from '../helpers/child-node.js';
import { freePort, runCli } from './support.js';

const SECRET = 'a-cluster-secret-of-32-chars-xyz';
const NOT_LISTENING_PEERS = '1@http://127.0.0.1:9091,2@http://127.0.0.1:9092';
const SECRET_MESSAGE = /setting clusterSecret \(--cluster-secret \/ RUNNEL_CLUSTER_SECRET\): required in a cluster \(--peers\) with --auth api-key/;

void t.test('settings: --auth api-key in a cluster needs a cluster secret', async (t) => {
  const cluster = ['--node-id', '1', '--peers', NOT_LISTENING_PEERS];
  t.throws(() => loadSettings([...cluster, '--auth', 'api-key'], {}), SECRET_MESSAGE, 'refused without a secret');
  t.throws(() => loadSettings([...cluster], { RUNNEL_AUTH: 'api-key' }), SECRET_MESSAGE, 'refused with auth from the environment too');
  t.equal(loadSettings([...cluster, '--auth', 'api-key'], { RUNNEL_CLUSTER_SECRET: SECRET }).clusterSecret, SECRET, 'accepted with the secret');
  t.equal(loadSettings([...cluster], {}).clusterSecret, '', 'accepted without auth (it warns at start)');
  t.equal(loadSettings(['--auth', 'api-key'], {}).auth, 'api-key', 'a single node with auth needs no secret');
});

void t.test('`runnel serve` in a cluster with --auth api-key and no secret exits 2 naming the setting', async (t) => {
  const dataDir = path.join(t.testdir(), 'data');
  const result = await runCli(['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--node-id', '1', '--peers', NOT_LISTENING_PEERS, '--auth', 'api-key'], { timeoutMs: 30_000 });
  t.equal(result.isTimedOut, false, 'exits by itself');
  t.equal(result.code, 2, `exit code 2: ${result.stderr}`);
  t.match(result.stderr, SECRET_MESSAGE, 'stderr names the setting');
  t.notMatch(result.stdout, /Server listening/, 'never listened');
});

/** Warning records about the cluster secret among a child's pino lines. */
function secretWarnings(logs: Array<Record<string, unknown>>): string[] {
  return logs.filter((record) => record.level === 40 && /cluster.secret|cluster-secret/i.test(String(record.msg))).map((record) => String(record.msg));
}

void t.test('a cluster node without auth and without a secret starts and warns exactly once; with a secret it does not', async (t) => {
  for (const secret of [undefined, SECRET]) {
    const port = await freePort();
    const node = await startNode({
      dataDir: path.join(t.testdir(), secret === undefined ? 'open' : 'secret'),
      t,
      port,
      args: ['--node-id', '1', '--peers', `1@http://127.0.0.1:${port}`, '--raft-election-timeout-ms', '300'],
      env: { RUNNEL_CLUSTER_SECRET: secret },
      startTimeoutMs: 30_000,
    });
    await node.waitForLine(/joined the cluster/, 10_000);
    const status = await node.stop();
    t.equal(status.code, 0, 'stops cleanly');
    // Counted once the process is gone: every line it wrote is in.
    const warnings = secretWarnings(node.logs());
    if (secret === undefined) {
      t.equal(warnings.length, 1, `exactly one warning: ${JSON.stringify(warnings)}`);
      t.match(warnings[0] ?? '', /RUNNEL_CLUSTER_SECRET.*accept any caller/, 'it names the setting and what is exposed');
    } else {
      t.same(warnings, [], 'no warning with a secret');
    }
  }
});
