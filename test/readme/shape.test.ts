/**
 * How the README test reads the output README.md shows (shape.ts) and finds it
 * (blocks.ts): "..." and literal values, example ids carried to later commands, HTTP
 * lines, multi-line comments. A wrong reading here would let the README drift unseen.
 */
import t from 'tap';
import { commandsOf, readBlocks, strayNotRunNotes } from './blocks.js';
import { checkHttpLines, checkJsonShape } from './shape.js';

const noExamples = (): boolean => false;
const problemsOf = (shown: string, output: unknown): string[] => checkJsonShape(shown, JSON.stringify(output), noExamples, new Map()).problems;

void t.test('"..." stands for any value, further fields, further elements or any text in a string', async (t) => {
  t.same(problemsOf('{"offsets":[{"partition":0,"offset":0,"timestamp":...},...]}', { offsets: [{ partition: 0, offset: 0, timestamp: 17 }, { partition: 1, offset: 3, timestamp: 18 }] }), []);
  t.same(problemsOf('{...,"offset":0}', { partition: 0, offset: 0, timestamp: 1 }), []);
  t.same(problemsOf('{"value":{...}}', { value: { any: 'thing' } }), []);
  t.same(problemsOf('{"key":"rk_abc_..."}', { key: 'rk_abc_secret' }), []);
  t.same(problemsOf('{"records":[]}', { records: [] }), []);
});

void t.test('without "..." the fields and elements shown are all there is, and literals are compared', async (t) => {
  t.match(problemsOf('{"producerId":0}', { producerId: 0, producerEpoch: 0 }), [/fields not shown.*producerEpoch/]);
  t.match(problemsOf('{"nextOffset":7}', { nextOffset: 8 }), [/nextOffset: shown 7, got 8/]);
  t.match(problemsOf('{"records":[{"offset":0}]}', { records: [{ offset: 0 }, { offset: 1 }] }), [/expected 1 elements, got 2/]);
  t.match(problemsOf('{"records":[{"offset":0},...]}', { records: [] }), [/expected 1 or more elements, got 0/]);
  t.match(problemsOf('{"key":"rk_abc_..."}', { key: 'rk_xyz_secret' }), [/shown "rk_abc_\.\.\.", got "rk_xyz_secret"/]);
  t.match(problemsOf('{"groupId":"billing"}', { error: { code: 'GROUP_NOT_FOUND' } }), [/field "groupId" is missing/, /fields not shown/]);
  t.match(checkJsonShape('{"a":1}', 'not json', noExamples, new Map()).problems, [/not one JSON value/]);
  t.throws(() => problemsOf('[...,{"a":1}]', [{ a: 1 }]), /last elements only/, '"..." before elements of an array is not a shape the test reads');
});

void t.test('an example value a node makes up is checked by type and its real value remembered', async (t) => {
  const isExample = (path: string): boolean => path === '$.keyId';
  const result = checkJsonShape('{"keyId":"Orq9MLrlM2Dh",...,"key":"rk_Orq9MLrlM2Dh_..."}', JSON.stringify({ keyId: 'Real0000Id12', name: 'n', key: 'rk_Real0000Id12_secret' }), isExample, new Map());
  t.same(result.problems, [], 'the key is checked with the real id in place of the example');
  t.same([...result.examples], [['Orq9MLrlM2Dh', 'Real0000Id12']]);
  t.match(checkJsonShape('{"keyId":"Orq9MLrlM2Dh"}', '{"keyId":12}', isExample, new Map()).problems, [/expected a string/]);
});

void t.test('HTTP lines: each shown line in order, header names in any case', async (t) => {
  const output = 'HTTP/1.1 204 No Content\r\nAccess-Control-Allow-Origin: http://localhost:5173\r\n';
  t.same(checkHttpLines(['HTTP/1.1 204 No Content', 'access-control-allow-origin: http://localhost:5173'], output), []);
  t.match(checkHttpLines(['HTTP/1.1 200 OK'], output), [/is not in the output/]);
});

void t.test('blocks: shown output after a command, over several comment lines, remarks left alone', async (t) => {
  const readme = [
    '## Tour',
    '*Not run by the README test: an example.*',
    '',
    '```sh',
    "curl -s -X POST localhost:8080/v1/topics -H 'content-type: application/json' \\",
    "  -d '{\"name\":\"orders\",",
    "       \"partitions\":3}'   # a remark",
    '# {"name":"orders",',
    '#  "partitions":3}: and a remark after it',
    '# just a remark',
    'curl -si localhost:8080/health/live | grep HTTP   # until Ctrl-C',
    '# HTTP/1.1 200 OK',
    '# content-type: application/json',
    '```',
    '',
    '*Not run by the README test: stray.*',
    '',
    'text',
  ].join('\n');
  const blocks = readBlocks(readme);
  t.equal(blocks.length, 1);
  t.equal(blocks[0].notRunReason, 'an example.');
  t.same(strayNotRunNotes(readme, blocks), [16]);
  const commands = commandsOf(blocks[0]);
  t.equal(commands.length, 2, 'a command continued over lines and open quotes is one command');
  t.equal(commands[0].comment, 'a remark');
  t.same(commands[0].shown, { kind: 'json', text: '{"name":"orders","partitions":3}' });
  t.equal(commands[1].comment, 'until Ctrl-C');
  t.same(commands[1].shown, { kind: 'http', lines: ['HTTP/1.1 200 OK', 'content-type: application/json'] });
});
