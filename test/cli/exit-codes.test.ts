/**
 * The exit codes scripts rely on: 0 success, 1 the node refused (one line with its
 * code), 2 usage error, 3 cannot connect. And `runnel serve` is still the server's.
 */
import t from 'tap';
import { packageVersion } from '../../src/util/package-info.js';
import { freePort } from '../helpers/free-port.js';
import { describeResult, runnel, startTestNode } from './support.js';

void t.test('exit code 0: success, --help and --version', async (t) => {
  const version = await runnel(t, ['--version']);
  t.equal(version.code, 0);
  t.equal(version.stdout, `${packageVersion}\n`);
  t.equal((await runnel(t, ['version'])).stdout, `${packageVersion}\n`);
  const help = await runnel(t, ['--help']);
  t.equal(help.code, 0);
  for (const command of ['serve', 'topic', 'produce', 'consume', 'group', 'key', 'bench']) t.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `help lists ${command}`);
  t.match(help.stdout, /Exit codes:/);
  const consumeHelp = await runnel(t, ['consume', '--help']);
  t.equal(consumeHelp.code, 0);
  t.match(consumeHelp.stdout, /--format <format>/);
  const serveHelp = await runnel(t, ['serve', '--help']);
  t.equal(serveHelp.code, 0, 'serve --help is still the settings list');
  t.match(serveHelp.stdout, /--data-dir/);
});

void t.test('exit code 1: the node refused, printed in one line with its code', async (t) => {
  const server = await startTestNode(t);
  const result = await runnel(t, ['--url', server.url, 'topic', 'describe', 'missing']);
  t.equal(result.code, 1, describeResult(result));
  t.equal(result.stdout, '');
  t.match(result.stderr, /^runnel: TOPIC_NOT_FOUND: [^\n]*missing[^\n]*\n$/);
  const produce = await runnel(t, ['--url', server.url, 'produce', 'missing'], { input: 'a\n' });
  t.equal(produce.code, 1, describeResult(produce));
  t.match(produce.stderr, /^runnel: TOPIC_NOT_FOUND: /);
});

void t.test('exit code 2: usage errors', async (t) => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown option', ['topic', 'list', '--no-such-option'], /unknown option '--no-such-option'/],
    ['unknown command', ['frobnicate'], /unknown command 'frobnicate'/],
    ['missing argument', ['topic', 'describe'], /missing required argument 'name'/],
    ['bad number', ['topic', 'create', 't', '--partitions', 'three'], /expected a whole number/],
    ['bad choice', ['--output', 'xml', 'topic', 'list'], /Allowed choices are json, table/],
    ['bad offset', ['consume', 't', '--offset', 'soon'], /expected earliest, latest or an offset/],
    ['bad format field', ['consume', 't', '--format', '%q'], /unknown field '%q'/],
    ['bad url', ['--url', 'ftp://example', 'topic', 'list'], /expected an http/],
    ['no command', [], /Usage: runnel/],
  ];
  for (const [what, args, message] of cases) {
    // Refused before any request: no node needed.
    const result = await runnel(t, args);
    t.equal(result.code, 2, `${what}: ${describeResult(result)}`);
    t.match(result.stderr, message, what);
  }
  const badSetting = await runnel(t, ['serve', '--port', 'eighty']);
  t.equal(badSetting.code, 2, 'serve still exits 2 on a bad setting');
});

void t.test('exit code 3: nothing listening', async (t) => {
  const port = await freePort();
  const startedAtMs = Date.now();
  const result = await runnel(t, ['topic', 'list', '--timeout-ms', '3000'], { env: { RUNNEL_URL: `http://127.0.0.1:${port}` } });
  t.equal(result.code, 3, describeResult(result));
  t.match(result.stderr, /^runnel: cannot connect: [^\n]*\n$/);
  t.ok(Date.now() - startedAtMs < 15_000, 'within its deadline');
  const consume = await runnel(t, ['--url', `http://127.0.0.1:${port}`, '--timeout-ms', '3000', 'consume', 'anything']);
  t.equal(consume.code, 3, describeResult(consume));
});
