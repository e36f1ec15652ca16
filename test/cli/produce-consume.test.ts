/**
 * `runnel produce` and `runnel consume`, end to end: child processes of the built
 * command against a real node.
 */
import t from 'tap';
import { request } from 'undici';
import { startServer } from '../helpers/server.js';
import { describeResult, runnel, start } from './support.js';

/** 10,000 distinct lines with the characters a shell pipeline carries: spaces, tabs, quotes, JSON, non-ASCII. */
function sampleLines(count: number): string[] {
  const shapes = ['plain text', 'tab\there', '{"json":"looking",\u0020"n":1}', 'quotes \' and " and \\', 'ünïcødé ✓ 日本', '  leading and trailing  '];
  return Array.from({ length: count }, (_, index) => `${String(index).padStart(5, '0')} ${shapes[index % shapes.length]}`);
}

void t.test('10,000 lines produced from stdin come back identical, in order within each partition', async (t) => {
  const server = await startServer(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input, timeoutMs: 30_000 });
  const created = await cli(['topic', 'create', 'lines', '--partitions', '3']);
  t.equal(created.code, 0, describeResult(created));

  const lines = sampleLines(10_000);
  const produced = await cli(['produce', 'lines', '--batch-size', '700'], lines.join('\n') + '\n');
  t.equal(produced.code, 0, describeResult(produced));
  t.match(produced.stderr, /^produced 10000 records in \d+\.\d\d s \([\d,]+ rec\/s\)\n$/, 'count and rate on stderr');
  t.equal(produced.stdout, '', 'nothing on stdout');

  const consumed = await cli(['consume', 'lines', '--offset', 'earliest']);
  t.equal(consumed.code, 0, describeResult(consumed));
  const values = consumed.stdout.split('\n');
  t.equal(values.pop(), '', 'output ends with a newline');
  t.equal(values.length, 10_000, 'every record, and nothing else');
  t.same([...values].sort(), [...lines].sort(), 'the same lines');

  const asJson = await cli(['consume', 'lines', '--output', 'json']);
  t.equal(asJson.code, 0, describeResult(asJson));
  const records = asJson.stdout.trim().split('\n').map((line) => JSON.parse(line) as { partition: number; offset: number; value: string; topic: string });
  t.equal(records.length, 10_000);
  const partitionsUsed = new Set(records.map((record) => record.partition));
  t.ok(partitionsUsed.size > 1, `batches spread over partitions (${[...partitionsUsed].join(',')})`);
  for (const partition of partitionsUsed) {
    const inPartition = records.filter((record) => record.partition === partition);
    t.same(inPartition.map((record) => record.offset), inPartition.map((_, index) => index), `partition ${partition}: offsets 0.. without gaps`);
    const lineIndexes = inPartition.map((record) => Number(record.value.slice(0, 5)));
    t.ok(lineIndexes.every((lineIndex, index) => index === 0 || lineIndex > lineIndexes[index - 1]), `partition ${partition}: lines in stdin order`);
  }
  t.same(records.map((record) => record.value), values, 'value-only output is the same records in the same order');
  t.ok(records.every((record) => record.topic === 'lines'));
});

void t.test('key separator, headers and formats round trip', async (t) => {
  const server = await startServer(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'keyed', '--partitions', '2'])).code, 0);

  const produced = await cli(
    ['produce', 'keyed', '--key-separator', '::', '--header', 'source=cli', '--header', 'query=a=b', '--partition', '1'],
    'alice::{"item":"book"}\nbob::pen::blue\nno separator here\n',
  );
  t.equal(produced.code, 0, describeResult(produced));

  const consumed = await cli(['consume', 'keyed', '--output', 'json', '--partition', '1']);
  t.equal(consumed.code, 0, describeResult(consumed));
  const records = consumed.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.same(records.map((record) => [record.key, record.value]), [
    ['alice', '{"item":"book"}'],
    ['bob', 'pen::blue'],
    [null, 'no separator here'],
  ], 'the key is what comes before the first separator; a value string by default');
  for (const record of records) {
    t.same(record.headers, { source: 'cli', query: 'a=b' }, 'headers on every record');
    t.equal(record.partition, 1);
    t.type(record.timestamp, 'number');
  }

  const formatted = await cli(['consume', 'keyed', '--partition', '1', '--format', '%t/%p/%o %k=%s [%h] %K %S %%\\n']);
  t.equal(formatted.code, 0, describeResult(formatted));
  t.equal(formatted.stdout,
    'keyed/1/0 alice={"item":"book"} [source=cli,query=a=b] 5 15 %\n' +
    'keyed/1/1 bob=pen::blue [source=cli,query=a=b] 3 9 %\n' +
    'keyed/1/2 =no separator here [source=cli,query=a=b] 0 17 %\n');

  const timestamps = await cli(['consume', 'keyed', '--partition', '1', '--max-records', '1', '--format', '%T\\t%o\\n']);
  t.match(timestamps.stdout, /^\d{13}\t0\n$/, '%T is the timestamp in ms; \\t a tab');

  const json = await cli(['produce', 'keyed', '--key-format', 'json', '--value-format', 'json', '-K', '|', '-p', '0'], '{"id":7}|{"qty":3}\n[1,2]|"text"\n');
  t.equal(json.code, 0, describeResult(json));
  const back = await cli(['consume', 'keyed', '--partition', '0', '--output', 'json']);
  t.same(back.stdout.trim().split('\n').map((line) => { const record = JSON.parse(line); return [record.key, record.value]; }),
    [[{ id: 7 }, { qty: 3 }], [[1, 2], 'text']], 'JSON keys and values come back as JSON');
  const valuesOnly = await cli(['consume', 'keyed', '--partition', '0']);
  t.equal(valuesOnly.stdout, '{"qty":3}\ntext\n', 'default output: a JSON value as JSON, a string as it is');

  const binary = await cli(['produce', 'keyed', '--value-format', 'binary', '-p', '0'], Buffer.from('raw bytes').toString('base64') + '\n');
  t.equal(binary.code, 0, describeResult(binary));
  const binaryBack = await cli(['consume', 'keyed', '--partition', '0', '--offset', '2']);
  t.equal(binaryBack.stdout, Buffer.from('raw bytes').toString('base64') + '\n', 'binary values print as base64');

  const badJson = await cli(['produce', 'keyed', '--value-format', 'json'], '{"ok":1}\nnot json\n');
  t.equal(badJson.code, 1, describeResult(badJson));
  t.match(badJson.stderr, /^runnel: INVALID_RECORD: line 2: the value is not JSON/);
});

void t.test('--offset, --partition and --max-records pick what is printed; --offset latest prints nothing without --follow', async (t) => {
  const server = await startServer(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'pick', '--partitions', '2'])).code, 0);
  t.equal((await cli(['produce', 'pick', '-p', '0'], 'a\nb\nc\nd\n')).code, 0);
  t.equal((await cli(['produce', 'pick', '-p', '1'], 'x\ny\n')).code, 0);

  t.equal((await cli(['consume', 'pick', '--offset', '2', '--partition', '0'])).stdout, 'c\nd\n');
  t.equal((await cli(['consume', 'pick', '--partition', '1'])).stdout, 'x\ny\n');
  t.equal((await cli(['consume', 'pick', '--max-records', '3'])).stdout, 'a\nb\nc\n');
  t.equal((await cli(['consume', 'pick'])).stdout, 'a\nb\nc\nd\nx\ny\n', 'all partitions, one after the other');
  const latest = await cli(['consume', 'pick', '--offset', 'latest']);
  t.equal(latest.code, 0);
  t.equal(latest.stdout, '');
  const outOfRange = await cli(['consume', 'pick', '--offset', '9', '--partition', '0']);
  t.equal(outOfRange.code, 1, describeResult(outOfRange));
  t.match(outOfRange.stderr, /^runnel: OFFSET_OUT_OF_RANGE: /);
  const noPartition = await cli(['consume', 'pick', '--partition', '5']);
  t.equal(noPartition.code, 1, describeResult(noPartition));
  t.match(noPartition.stderr, /^runnel: PARTITION_NOT_FOUND: /);
});

void t.test('--follow waits for new records and stops at --max-records', async (t) => {
  const server = await startServer(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  t.equal((await cli(['topic', 'create', 'live', '--partitions', '2'])).code, 0);
  t.equal((await cli(['produce', 'live', '-p', '0'], 'before\n')).code, 0);

  const follower = start(t, ['--url', server.url, 'consume', 'live', '--follow', '--max-records', '3'], { timeoutMs: 20_000 });
  await follower.waitForLines(1);
  t.equal(follower.stdout(), 'before\n', 'what is there first');
  t.equal((await cli(['produce', 'live', '-p', '1'], 'after 1\n')).code, 0);
  t.equal((await cli(['produce', 'live', '-p', '0'], 'after 2\nafter 3\n')).code, 0);
  const result = await follower.result;
  t.equal(result.code, 0, describeResult(result));
  const printed = result.stdout.split('\n');
  t.equal(printed.length, 4, 'three lines');
  t.equal(printed[0], 'before');
  t.ok(printed.slice(1, 3).includes('after 1'), 'a record of the other partition, produced later');

  const interrupted = start(t, ['--url', server.url, 'consume', 'live', '-f', '--offset', 'latest'], { timeoutMs: 20_000 });
  // Once both partitions are long-polled, the command is waiting (and handles Ctrl-C).
  t.ok(await waitFor(async () => {
    const metrics = await (await request(`${server.url}/metrics`)).body.text();
    return Number(/^runnel_waiting_readers (\d+)$/m.exec(metrics)?.[1] ?? 0) >= 2;
  }), 'both partitions long-polled');
  interrupted.child.kill('SIGINT');
  const stopped = await interrupted.result;
  t.equal(stopped.code, 0, `Ctrl-C ends a follow with exit code 0: ${describeResult(stopped)}`);
});

/** Polls `check` every 50 ms until it is true, for at most timeoutMs. */
async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
