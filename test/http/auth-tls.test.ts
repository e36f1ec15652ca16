/**
 * HTTPS: a real child node (the built CLI, as the container runs it) started with
 * --tls-cert-file/--tls-key-file and a self-signed certificate made at test time with
 * openssl, spoken to over TLS with undici (an Agent trusting that certificate).
 * Giving only one of the two flags, or files that cannot be read, stops start-up with
 * exit code 2 and a message naming the settings.
 *
 * The child is spawned here rather than with helpers/child-node.ts: that helper waits
 * for "Server listening at http://..." and for readiness over plain HTTP, so it
 * cannot start an HTTPS node.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { Agent, request, type Dispatcher } from 'undici';
import { cliPath, repoRoot } from '../helpers/child-node.js';
import { runCommand } from '../ops/support.js';

const ADMIN_KEY = 'tls-test-bootstrap-admin-key-0123456789';
const LISTENING = /Server listening at (https?:\/\/[^\s"]+)/;

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'runnel-tls-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Certificate { certFile: string; keyFile: string; cert: Buffer }
let certificate: Certificate | undefined;

/** A self-signed certificate for 127.0.0.1 (one day), made once per file with openssl. Fails, never skips, without openssl. */
function makeCertificate(): Certificate {
  if (certificate !== undefined) return certificate;
  const dir = tempDir(t);
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8', timeout: 10_000 });
  if (version.error !== undefined || version.status !== 0) {
    throw new Error(`this test needs the openssl command to make a self-signed certificate, and it is not usable (${version.error?.message ?? `exit ${version.status}: ${version.stderr}`}); install openssl (Debian/Ubuntu: apt-get install -y openssl)`);
  }
  const certFile = path.join(dir, 'c.pem');
  const keyFile = path.join(dir, 'k.pem');
  const made = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { encoding: 'utf8', timeout: 30_000 });
  if (made.status !== 0) throw new Error(`openssl req failed (exit ${made.status}): ${made.stderr}`);
  certificate = { certFile, keyFile, cert: fs.readFileSync(certFile) };
  return certificate;
}

interface Child {
  process: ChildProcess;
  output: () => string;
  /** Resolves with the URL the node printed; rejects if it exits first or after 20 s. */
  listening: Promise<string>;
  /** Resolves with the exit code once the process has exited (and its output is read). */
  exited: Promise<number | null>;
}

/** `runnel serve` on 127.0.0.1, any port, a fresh data dir; SIGKILLed at teardown if still running. */
function serve(t: Test, dataDir: string, args: string[], env: Record<string, string> = {}): Child {
  if (!fs.existsSync(cliPath)) throw new Error(`${cliPath} is missing; run \`npm run build\` first (npm test does)`);
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('RUNNEL_')) childEnv[name] = value;
  const child = spawn(process.execPath, [cliPath, 'serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...args], {
    cwd: repoRoot, env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let isExited = false;
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => {
    isExited = true;
    resolve(code);
  }));
  t.teardown(async () => {
    if (!isExited) child.kill('SIGKILL');
    await exited;
  });
  const listening = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the node did not listen within 20 s\n${lines.join('\n')}`)), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      const match = LISTENING.exec(line);
      if (match !== null) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the node exited (code ${code}) before listening\n${lines.join('\n')}`));
    });
  });
  listening.catch(() => undefined);
  return { process: child, output: () => lines.join('\n'), listening, exited };
}

async function send(url: string, dispatcher: Dispatcher, options: { method?: Dispatcher.HttpMethod; body?: unknown; key?: string } = {}): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await request(url, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers, body: options.body === undefined ? undefined : JSON.stringify(options.body), dispatcher, signal: AbortSignal.timeout(10_000),
  });
  const text = await response.body.text();
  return { status: response.statusCode, json: text === '' ? undefined : JSON.parse(text) };
}

void t.test('with --tls-cert-file and --tls-key-file the node serves HTTPS: health, and a produce/fetch round trip with an API key', async (t) => {
  const dir = tempDir(t);
  const { certFile, keyFile, cert } = makeCertificate();
  const node = serve(t, path.join(dir, 'data'), ['--tls-cert-file', certFile, '--tls-key-file', keyFile, '--auth', 'api-key'], { RUNNEL_ADMIN_KEY: ADMIN_KEY });
  const url = await node.listening;
  t.match(url, /^https:\/\/127\.0\.0\.1:\d+$/, 'the node says it listens on https');
  const trusting = new Agent({ connect: { ca: cert } });
  t.teardown(() => trusting.close());

  let ready = 0;
  for (let attempt = 0; attempt < 100 && ready !== 200; attempt++) {
    ready = (await send(`${url}/health/ready`, trusting)).status;
    if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(ready, 200, '/health/ready over HTTPS, without a key');
  t.equal((await send(`${url}/health/live`, trusting)).status, 200, '/health/live over HTTPS');
  // The container's HEALTHCHECK (`runnel health`) with only the data directory: it finds the
  // node's https URL and port there, with the default port 8080 in its settings.
  const health = await runCommand(process.execPath, [cliPath, 'health', '--data-dir', path.join(dir, 'data')], { timeoutMs: 15_000 });
  t.equal(health.code, 0, `runnel health finds the TLS node through its data directory: ${health.stdout}${health.stderr}`);
  t.match(health.stdout, /^ready: https:\/\/127\.0\.0\.1:\d+\/health\/ready/, 'and says what it probed');

  t.equal((await send(`${url}/v1/topics`, trusting)).status, 401, 'a /v1 route without a key: 401, over HTTPS too');
  t.equal((await send(`${url}/v1/topics`, trusting, { body: { name: 'secure', partitions: 1 }, key: ADMIN_KEY })).status, 201, 'topic created');
  const made = await send(`${url}/v1/keys`, trusting, { key: ADMIN_KEY, body: { name: 'rw', grants: [{ resource: 'topic', name: 'secure', operations: ['read', 'write'] }] } });
  t.equal(made.status, 201, 'key made');
  const produced = await send(`${url}/v1/topics/secure/records`, trusting, { key: made.json.key, body: { records: [{ key: 'k', value: { over: 'tls' } }, { value: 'second' }] } });
  t.equal(produced.status, 200, 'produced over HTTPS');
  t.same(produced.json.offsets.map((offset: { offset: number }) => offset.offset), [0, 1], 'at offsets 0 and 1');
  const fetched = await send(`${url}/v1/topics/secure/partitions/0/records?offset=0`, trusting, { key: made.json.key });
  t.equal(fetched.status, 200, 'fetched over HTTPS');
  t.same(fetched.json.records.map((record: { key: unknown; value: unknown }) => [record.key, record.value]), [['k', { over: 'tls' }], [null, 'second']], 'the records come back');
  const cluster = await send(`${url}/v1/cluster`, trusting, { key: made.json.key });
  t.match(JSON.stringify(cluster.json), /https:\/\/127\.0\.0\.1:/, 'the node advertises its https URL');

  // It is really TLS with that certificate: a client that does not trust it, and plain HTTP, get nowhere.
  const untrusting = new Agent();
  t.teardown(() => untrusting.close());
  await t.rejects(send(`${url}/health/live`, untrusting), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, 'a client without the certificate refuses the connection');
  const plain = new Agent();
  t.teardown(() => plain.close());
  const plainOutcome = await send(url.replace(/^https:/, 'http:') + '/health/live', plain).then((reply) => `HTTP ${reply.status}`, (error: Error) => error.name);
  t.not(plainOutcome, 'HTTP 200', `plain HTTP to the TLS port gets no answer (${plainOutcome})`);
});

for (const [what, flags] of [
  ['only --tls-cert-file', (certFile: string) => ['--tls-cert-file', certFile]],
  ['only --tls-key-file', (_certFile: string, keyFile: string) => ['--tls-key-file', keyFile]],
] as const) {
  void t.test(`${what}: the node exits with code 2 and a message naming both TLS settings`, async (t) => {
    const dir = tempDir(t);
    const { certFile, keyFile } = makeCertificate();
    const node = serve(t, path.join(dir, 'data'), flags(certFile, keyFile));
    t.equal(await node.exited, 2, 'exit code 2');
    const output = node.output();
    t.match(output, /tlsCertFile/, 'names the setting tlsCertFile', { output });
    t.match(output, /tlsKeyFile/, 'names the setting tlsKeyFile');
    t.match(output, /--tls-cert-file/, 'names the flag --tls-cert-file');
    t.match(output, /--tls-key-file/, 'names the flag --tls-key-file');
    t.notMatch(output, /Server listening/, 'it never listened');
  });
}

void t.test('TLS files that cannot be read: the node exits with code 2 naming the settings', async (t) => {
  const dir = tempDir(t);
  const node = serve(t, path.join(dir, 'data'), ['--tls-cert-file', path.join(dir, 'missing-cert.pem'), '--tls-key-file', path.join(dir, 'missing-key.pem')]);
  t.equal(await node.exited, 2, 'exit code 2');
  t.match(node.output(), /tlsCertFile/, 'names the setting', { output: node.output() });
  t.match(node.output(), /missing-cert\.pem/, 'and the file it could not read');
});

void t.test('env variables work like the flags: RUNNEL_TLS_CERT_FILE without RUNNEL_TLS_KEY_FILE is refused', async (t) => {
  const dir = tempDir(t);
  const { certFile } = makeCertificate();
  const node = serve(t, path.join(dir, 'data'), [], { RUNNEL_TLS_CERT_FILE: certFile });
  t.equal(await node.exited, 2, 'exit code 2');
  t.match(node.output(), /tlsKeyFile/, 'names the missing setting', { output: node.output() });
});
