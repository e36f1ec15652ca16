/**
 * Configuration (issue 5): one typed module, precedence flags > RUNNEL_* environment >
 * config file (--config) > defaults, invalid values stop start-up with exit code 2
 * and a message naming the setting, `runnel serve --help` lists every setting, and
 * broker topic defaults from the config file reach the topics.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { loadSettings, parsePeers, settingDefinitions, SettingsError } from '../../src/node/settings.js';
import { startNode } from '../helpers/child-node.js';
import { requestOk } from '../helpers/http.js';
import { freePort, runCli, tempDir, type CliResult } from './support.js';

function writeConfig(directory: string, name: string, content: unknown): string {
  const file = path.join(directory, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

void t.test('each setting comes from the default, else the config file, else the environment, else the flag', async (t) => {
  const directory = tempDir(t);
  const file = writeConfig(directory, 'runnel.json', { port: 9001, logLevel: 'warn', metricsRequireKey: true, dataDir: '/from/file', 'log.retention.ms': 86_400_000 });

  const defaults = loadSettings([], {});
  t.equal(defaults.port, 8080, 'port default');
  t.equal(defaults.logLevel, 'info', 'logLevel default');
  t.equal(defaults.metricsRequireKey, false, 'metricsRequireKey default');
  t.equal(defaults.dataDir, './data', 'dataDir default');
  t.same(defaults.brokerSettings, {}, 'no broker settings without a file');
  for (const definition of settingDefinitions) {
    const value = (defaults as unknown as Record<string, unknown>)[definition.name];
    t.equal(String(value), definition.defaultValue, `${definition.name} defaults to ${JSON.stringify(definition.defaultValue)}`);
  }

  const fromFile = loadSettings(['--config', file], {});
  t.equal(fromFile.port, 9001, 'file beats default (integer)');
  t.equal(fromFile.logLevel, 'warn', 'file beats default (choice)');
  t.equal(fromFile.metricsRequireKey, true, 'file beats default (boolean)');
  t.equal(fromFile.dataDir, '/from/file', 'file beats default (string)');
  t.same(fromFile.brokerSettings, { 'log.retention.ms': 86_400_000 }, 'Kafka broker names go to brokerSettings');
  t.equal(loadSettings([], { RUNNEL_CONFIG: file }).port, 9001, 'the file can be named by RUNNEL_CONFIG');

  const env = { RUNNEL_PORT: '9002', RUNNEL_LOG_LEVEL: 'error', RUNNEL_METRICS_REQUIRE_KEY: 'false', RUNNEL_DATA_DIR: '/from/env' };
  const fromEnv = loadSettings(['--config', file], env);
  t.equal(fromEnv.port, 9002, 'env beats file (integer)');
  t.equal(fromEnv.logLevel, 'error', 'env beats file (choice)');
  t.equal(fromEnv.metricsRequireKey, false, 'env beats file (boolean)');
  t.equal(fromEnv.dataDir, '/from/env', 'env beats file (string)');
  t.equal(loadSettings(['--config', file], { RUNNEL_PORT: '' }).port, 9001, 'an empty variable counts as unset');

  const fromFlags = loadSettings(['--config', file, '--port', '9003', '--log-level=debug', '--metrics-require-key', 'true', '--data-dir', '/from/flag'], env);
  t.equal(fromFlags.port, 9003, 'flag beats env (integer)');
  t.equal(fromFlags.logLevel, 'debug', 'flag beats env (choice, --flag=value form)');
  t.equal(fromFlags.metricsRequireKey, true, 'flag beats env (boolean)');
  t.equal(fromFlags.dataDir, '/from/flag', 'flag beats env (string)');
});

void t.test('num.partitions in the config file is the file source of --num-partitions: flags and env still beat it', async (t) => {
  const directory = tempDir(t);
  const file = writeConfig(directory, 'runnel.json', { 'num.partitions': 4 });
  t.equal(loadSettings(['--config', file], {}).numPartitions, 4, 'file num.partitions beats the default');
  t.equal(loadSettings(['--config', file, '--num-partitions', '1'], {}).numPartitions, 1, 'an explicit --num-partitions 1 beats the file');
  t.equal(loadSettings(['--config', file], { RUNNEL_NUM_PARTITIONS: '1' }).numPartitions, 1, 'RUNNEL_NUM_PARTITIONS=1 beats the file');
  t.throws(() => loadSettings(['--config', writeConfig(directory, 'bad.json', { 'num.partitions': 'many' })], {}), /numPartitions|num\.partitions/, 'a bad num.partitions is refused');
});

void t.test('invalid settings throw SettingsError naming the setting', async (t) => {
  const directory = tempDir(t);
  const cases: Array<[string, string[], NodeJS.ProcessEnv, RegExp]> = [
    ['non-integer port', ['--port', '80a'], {}, /port/],
    ['port out of range', ['--port', '70000'], {}, /port.*65535/],
    ['env port out of range', [], { RUNNEL_PORT: '-1' }, /port.*RUNNEL_PORT/],
    ['unknown log level', ['--log-level', 'loud'], {}, /logLevel.*loud/],
    ['boolean that is not', ['--metrics-require-key', 'yes'], {}, /metricsRequireKey/],
    ['unknown flag', ['--bogus', '1'], {}, /--bogus/],
    ['positional argument', ['extra'], {}, /extra/],
    ['short admin key', ['--admin-key', 'short'], {}, /adminKey.*16/],
    ['only the TLS certificate', ['--tls-cert-file', '/x.pem'], {}, /tlsCertFile.*tlsKeyFile/],
    ['missing config file', ['--config', path.join(directory, 'absent.json')], {}, /config.*absent\.json/],
    ['config file not JSON', ['--config', writeConfig(directory, 'broken.json', '{ port: 1 ')], {}, /config.*not valid JSON/],
    ['config file holding an array', ['--config', writeConfig(directory, 'array.json', [1])], {}, /config.*object/],
    ['config file with an unknown key', ['--config', writeConfig(directory, 'unknown.json', { prot: 8080 })], {}, /prot/],
    ['config file value of the wrong type', ['--config', writeConfig(directory, 'type.json', { port: '8080.5' })], {}, /port.*8080\.5/],
    ['config file with a misspelt Kafka name', ['--config', writeConfig(directory, 'kafka.json', { 'log.retention.mss': 1 })], {}, /log\.retention\.mss/],
    ['peers entry without an id', ['--peers', 'http://127.0.0.1:9091'], {}, /peers.*id@url/],
    ['peers entry that is not a URL', ['--peers', '1@nowhere'], {}, /peers.*not a URL/],
    ['peers listing an id twice', ['--peers', '1@http://a:1,1@http://b:2'], {}, /peers.*twice/],
    ['peers without this node', ['--node-id', '4', '--peers', '1@http://a:1,2@http://b:2'], {}, /peers.*node's id 4/],
    ['peers with another scheme', ['--peers', '1@ftp://a:1'], {}, /peers.*http/],
    ['short cluster secret', ['--cluster-secret', 'short'], {}, /clusterSecret.*16/],
    ['session timeout too short', ['--node-session-timeout-ms', '10'], {}, /nodeSessionTimeoutMs/],
  ];
  for (const [what, argv, env, message] of cases) {
    t.throws(() => loadSettings(argv, env), SettingsError, `${what}: SettingsError`);
    try {
      loadSettings(argv, env);
    } catch (error) {
      t.match((error as Error).message, message, `${what}: the message names the setting`);
    }
  }
});

void t.test('--peers lists every node of the cluster, this one included, sorted by id', async (t) => {
  t.same(parsePeers('', 1), [], 'empty: a single node');
  t.same(parsePeers('3@http://h3:8080, 1@http://h1:8080/,2@https://h2:8443', 2), [
    { nodeId: 1, url: 'http://h1:8080' }, { nodeId: 2, url: 'https://h2:8443' }, { nodeId: 3, url: 'http://h3:8080' },
  ], 'ids and origins; spaces and a trailing slash are fine');
  const settings = loadSettings(['--node-id', '2', '--peers', '1@http://127.0.0.1:9091,2@http://127.0.0.1:9092'], { RUNNEL_CLUSTER_SECRET: 'a-secret-of-16-chars' });
  t.equal(settings.clusterSecret, 'a-secret-of-16-chars', 'the secret comes from the environment');
  t.equal(settings.nodeSessionTimeoutMs, 2000, "default session timeout: a dead node is fenced within about 2 s");
});

void t.test('invalid settings stop `runnel serve` with exit code 2 and a message naming the setting', async (t) => {
  const directory = tempDir(t);
  const dataDir = path.join(directory, 'data');
  const cases: Array<[string, string[], Record<string, string>, RegExp]> = [
    ['non-integer port', ['--port', 'eighty'], {}, /setting port \(--port \/ RUNNEL_PORT\).*expected an integer/],
    ['port 70000', ['--port', '70000'], {}, /setting port .*between 0 and 65535, got 70000/],
    ['port from the environment', [], { RUNNEL_PORT: '70000' }, /setting port .*from the environment/],
    ['unknown --log-level', ['--log-level', 'chatty'], {}, /setting logLevel \(--log-level \/ RUNNEL_LOG_LEVEL\).*chatty/],
    ['unknown flag', ['--prot', '8080'], {}, /--prot/],
    ['config file with an unknown key', ['--config', writeConfig(directory, 'unknown.json', { dataDirectory: '/x' })], {}, /unknown setting 'dataDirectory'/],
    ['config file not JSON', ['--config', writeConfig(directory, 'broken.json', 'port=8080')], {}, /setting config: .*broken\.json is not valid JSON/],
    ['--admin-key shorter than 16', ['--admin-key', 'too-short'], {}, /setting adminKey .*at least 16 characters/],
    ['only --tls-key-file', ['--tls-key-file', path.join(directory, 'key.pem')], {}, /tlsCertFile and tlsKeyFile .*both or neither/],
    ['bad broker default', ['--config', writeConfig(directory, 'retention.json', { 'log.retention.ms': 'a week' })], {}, /log\.retention\.ms/],
  ];
  // Three at a time: each is a whole Node start-up, and CI machines may have two CPUs.
  const results: CliResult[] = [];
  for (let start = 0; start < cases.length; start += 3) {
    results.push(...await Promise.all(cases.slice(start, start + 3).map(([, args, env]) =>
      runCli(['serve', '--host', '127.0.0.1', ...(env.RUNNEL_PORT === undefined ? ['--port', '0'] : []), '--data-dir', dataDir, ...args], { env, timeoutMs: 30_000 }))));
  }
  cases.forEach(([what, , , message], index) => {
    const result = results[index];
    t.equal(result.isTimedOut, false, `${what}: exits by itself (does not start serving)`);
    t.equal(result.code, 2, `${what}: exit code 2`);
    t.match(result.stderr, message, `${what}: stderr names the setting`);
    t.notMatch(result.stdout, /Server listening/, `${what}: never listened`);
  });
  t.equal(fs.existsSync(path.join(dataDir, 'meta.db')), false, 'no data directory was opened for an invalid configuration');
});

void t.test('`runnel serve --help` lists every setting with its flag, environment variable and default', async (t) => {
  const result = await runCli(['serve', '--help']);
  t.equal(result.code, 0, 'exit code 0');
  const lines = result.stdout.split('\n');
  for (const definition of settingDefinitions) {
    const index = lines.findIndex((line) => line.trimStart().startsWith(`--${definition.flag} `));
    t.ok(index >= 0, `--${definition.flag} is listed`);
    if (index < 0) continue;
    t.match(lines[index], new RegExp(`\\b${definition.env}\\b`), `--${definition.flag} names ${definition.env}`);
    const shown = definition.defaultValue === '' ? '(none)' : definition.defaultValue;
    t.ok(lines[index + 1]?.includes(`Default: ${shown}`), `--${definition.flag} shows its default ${shown}: ${lines[index + 1]}`);
  }
});

void t.test('a running node takes a flag over the environment over the config file', async (t) => {
  const directory = tempDir(t);
  const [filePort, envPort, flagPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const file = writeConfig(directory, 'runnel.json', { port: filePort, logLevel: 'error' });
  const node = await startNode({
    dataDir: path.join(directory, 'data-1'),
    t,
    port: flagPort,
    args: ['--config', file, '--log-level', 'debug'],
    env: { RUNNEL_PORT: String(envPort), RUNNEL_LOG_LEVEL: 'warn' },
  });
  t.equal(node.port, flagPort, 'listens on the --port of the command line, not RUNNEL_PORT or the file');
  await requestOk(`${node.url}/health/live`, { headers: { 'x-request-id': 'precedence-probe' } });
  const line = await node.waitForLine((text) => text.includes('precedence-probe') && text.includes('request completed'), 5_000);
  t.match(JSON.parse(line), { level: 20 }, '--log-level debug beats RUNNEL_LOG_LEVEL=warn and the file\'s error: per-request debug lines are logged');
  t.same(await node.stop(), { code: 0, signal: null }, 'stops cleanly');
});

void t.test('a running node takes the environment over the config file, and topic defaults from the file', async (t) => {
  const directory = tempDir(t);
  const file = writeConfig(directory, 'runnel.json', {
    logLevel: 'error',
    numPartitions: 3,
    'log.retention.ms': 86_400_000,
    'log.segment.bytes': 268_435_456,
    'log.message.timestamp.type': 'LogAppendTime',
  });
  // startNode waits for the info line "Server listening": it only comes if RUNNEL_LOG_LEVEL=info beat the file's error.
  const node = await startNode({ dataDir: path.join(directory, 'data-2'), t, args: ['--config', file], env: { RUNNEL_LOG_LEVEL: 'info' } });
  const recovered = await node.waitForLine((line) => line.includes('"storage recovered"'), 10_000).then(() => true, () => false);
  t.ok(recovered, 'info lines are logged: the environment beat the file');
  const created = await requestOk<{ partitions: unknown[]; effectiveConfigs: Record<string, string>; configs: Record<string, string> }>(`${node.url}/v1/topics`, {
    method: 'POST',
    body: { name: 'defaults-from-file', configs: { 'retention.bytes': 1_000_000 } },
  });
  t.equal(created.body.partitions.length, 3, 'numPartitions from the file (no count in the request)');
  t.equal(created.body.effectiveConfigs['retention.ms'], '86400000', 'log.retention.ms from the file is the topic default');
  t.equal(created.body.effectiveConfigs['segment.bytes'], '268435456', 'log.segment.bytes from the file is the topic default');
  t.equal(created.body.effectiveConfigs['message.timestamp.type'], 'LogAppendTime', 'log.message.timestamp.type from the file is the topic default');
  t.equal(created.body.effectiveConfigs['retention.bytes'], '1000000', "the topic's own config beats the broker default");
  t.same(created.body.configs, { 'retention.bytes': '1000000' }, 'broker defaults are not copied into the topic\'s own configs');
  const described = await requestOk<{ effectiveConfigs: Record<string, string> }>(`${node.url}/v1/topics/defaults-from-file`);
  t.equal(described.body.effectiveConfigs['retention.ms'], '86400000', 'GET /v1/topics/{topic} shows the same effective value');
  t.same(await node.stop(), { code: 0, signal: null }, 'stops cleanly');
});

void t.test('a node started with --num-partitions 1 ignores num.partitions of its config file', async (t) => {
  const directory = tempDir(t);
  const file = writeConfig(directory, 'runnel.json', { 'num.partitions': 4 });
  const node = await startNode({ dataDir: path.join(directory, 'data-3'), t, args: ['--config', file, '--num-partitions', '1'] });
  const created = await requestOk<{ partitions: unknown[] }>(`${node.url}/v1/topics`, { method: 'POST', body: { name: 'one-partition' } });
  t.equal(created.body.partitions.length, 1, 'the flag wins');
  t.same(await node.stop(), { code: 0, signal: null }, 'stops cleanly');
});
