/**
 * `runnel produce` and `runnel consume` round trips, end to end: child processes of
 * the built command against a real node.
 */
import path from 'node:path';
import t from 'tap';
import { describeResult, runnel, startTestNode } from './support.js';

/** 10,000 distinct lines with the characters a shell pipeline carries: spaces, tabs, quotes, JSON, non-ASCII. */
function sampleLines(count: number): string[] {
  const shapes = ['plain text', 'tab\there', '{"json":"looking",\u0020"n":1}', 'quotes \' and " and \\', 'ünïcødé ✓ 日本', '  leading and trailing  '];
  return Array.from({ length: count }, (_, index) => `${String(index).padStart(5, '0')} ${shapes[index % shapes.length]}`);
}

void t.test('10,000 lines produced from stdin come back identical, in order within each partition', async (t) => {
  const server = await startTestNode(t);
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
  const server = await startTestNode(t);
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

  const formatted = await cli(['consume', 'keyed', '--partition', '1', '--format', '%t/%p/%o %k=%s [%h] %K %S %% %T\\t|\\n']);
  t.equal(formatted.code, 0, describeResult(formatted));
  t.equal(formatted.stdout.replace(/ \d{13}\t/g, ' <ms>\t'),
    'keyed/1/0 alice={"item":"book"} [source=cli,query=a=b] 5 15 % <ms>\t|\n' +
    'keyed/1/1 bob=pen::blue [source=cli,query=a=b] 3 9 % <ms>\t|\n' +
    'keyed/1/2 =no separator here [source=cli,query=a=b] 0 17 % <ms>\t|\n',
    '%T is the timestamp in ms, \\t a tab, \\n a newline (none is added)');

  const json = await cli(['produce', 'keyed', '--key-format', 'json', '--value-format', 'json', '-K', '|', '-p', '0'], '{"id":7}|{"qty":3}\n[1,2]|"text"\n');
  t.equal(json.code, 0, describeResult(json));
  const back = await cli(['consume', 'keyed', '--partition', '0', '--output', 'json']);
  t.same(back.stdout.trim().split('\n').map((line) => { const record = JSON.parse(line); return [record.key, record.value]; }),
    [[{ id: 7 }, { qty: 3 }], [[1, 2], 'text']], 'JSON keys and values come back as JSON');
  const binary = await cli(['produce', 'keyed', '--value-format', 'binary', '-p', '0'], Buffer.from('raw bytes').toString('base64') + '\n');
  t.equal(binary.code, 0, describeResult(binary));
  const valuesOnly = await cli(['consume', 'keyed', '--partition', '0']);
  t.equal(valuesOnly.stdout, '{"qty":3}\ntext\n' + Buffer.from('raw bytes').toString('base64') + '\n',
    'default output: a JSON value as JSON, a string as it is, binary as base64');

  const directory = t.testdir({ 'lines.txt': 'from a file\r\nsecond line\n' });
  const fromFile = await cli(['produce', 'keyed', '--file', path.join(directory, 'lines.txt'), '-p', '1', '-o', 'json']);
  t.equal(fromFile.code, 0, describeResult(fromFile));
  t.match(JSON.parse(fromFile.stdout), { topic: 'keyed', records: 2 }, '--output json: the summary as one JSON document');
  t.equal((await cli(['consume', 'keyed', '-p', '1', '--offset', '3'])).stdout, 'from a file\nsecond line\n', 'lines of --file, CRLF or LF');
  const missing = await cli(['produce', 'keyed', '--file', path.join(directory, 'missing.txt')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^runnel: ENOENT: [^\n]*missing\.txt[^\n]*\n$/, 'a missing file: one line');

  const badJson = await cli(['produce', 'keyed', '--value-format', 'json'], '{"ok":1}\nnot json\n');
  t.equal(badJson.code, 1, describeResult(badJson));
  t.match(badJson.stderr, /^runnel: INVALID_RECORD: line 2: the value is not JSON/);
});

void t.test('--wire-format: record batches (the default) and JSON write and read the same records', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[], input?: string) => runnel(t, ['--url', server.url, ...args], { input });
  const input = 'alice::{"item":"book"}\nbob::pen\nno key ✓\n';
  const read: Record<string, unknown[]> = {};
  for (const wire of ['record-batch', 'json']) {
    const topic = `via-${wire}`;
    t.equal((await cli(['topic', 'create', topic, '--partitions', '3'])).code, 0);
    const produced = await cli(['--wire-format', wire, 'produce', topic, '-K', '::', '--header', 'h=1', '--value-format', 'string'], input);
    t.equal(produced.code, 0, describeResult(produced));
    for (const reader of ['record-batch', 'json']) {
      const records: unknown[] = [];
      for (let partition = 0; partition < 3; partition++) {
        const consumed = await cli(['--wire-format', reader, 'consume', topic, '--partition', String(partition), '--output', 'json']);
        t.equal(consumed.code, 0, describeResult(consumed));
        for (const line of consumed.stdout.split('\n').filter((each) => each !== '')) {
          const { key, value, headers, partition: at } = JSON.parse(line) as Record<string, unknown>;
          records.push(key === null ? [key, value, headers] : [key, value, headers, at]);
        }
      }
      read[`${wire} read as ${reader}`] = records.map((record) => JSON.stringify(record)).sort();
    }
  }
  const [first, ...others] = Object.values(read);
  t.equal(first.length, 3);
  for (const other of others) t.same(other, first, 'the same keys, values, headers, and partitions of keyed records');
  const refused = await cli(['--wire-format', 'xml', 'topic', 'list']);
  t.equal(refused.code, 2, 'an unknown wire format is a usage error');
});
