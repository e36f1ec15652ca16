/**
 * `runnel topic create|list|describe|alter|delete`, end to end through child processes.
 */
import t from 'tap';
import { describeResult, runnel, startTestNode } from './support.js';

void t.test('topic create, list, describe, alter and delete', async (t) => {
  const server = await startTestNode(t);
  const cli = (args: string[]) => runnel(t, ['--url', server.url, ...args]);

  const created = await cli(['topic', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000', '--config', 'cleanup.policy=delete']);
  t.equal(created.code, 0, describeResult(created));
  t.equal(created.stdout, 'created topic orders with 3 partitions\n');

  const createdJson = await cli(['--output', 'json', 'topic', 'create', 'audit', '--replication-factor', '1']);
  t.equal(createdJson.code, 0, describeResult(createdJson));
  const audit = JSON.parse(createdJson.stdout);
  t.equal(audit.name, 'audit');
  t.equal(audit.partitions.length, 1, "the node's default partition count");

  const listed = await cli(['topic', 'list', '--output', 'json']);
  t.same(JSON.parse(listed.stdout), [
    { name: 'audit', partitions: 1, replicationFactor: 1 },
    { name: 'orders', partitions: 3, replicationFactor: 1 },
  ], 'global options work after the command too');
  const table = await cli(['topic', 'list']);
  t.match(table.stdout, /topic\s+│ partitions │ replication factor/);
  t.match(table.stdout, /│ orders\s+│ 3\s+│ 1\s+│/);

  const described = await cli(['topic', 'describe', 'orders', '-o', 'json']);
  const description = JSON.parse(described.stdout);
  t.same(description.configs, { 'retention.ms': '86400000', 'cleanup.policy': 'delete' });
  t.same(description.partitions.map((partition: { partition: number }) => partition.partition), [0, 1, 2]);
  const describedTable = await cli(['topic', 'describe', 'orders']);
  t.match(describedTable.stdout, /^topic:\s+orders$/m);
  t.match(describedTable.stdout, /^configs:\s+retention\.ms=86400000, cleanup\.policy=delete$/m);
  t.match(describedTable.stdout, /│ partition │ leader │ replicas │ isr │ log start │ high watermark │ log end │ bytes │/);

  const altered = await cli(['topic', 'alter', 'orders', '--partitions', '5', '--config', 'retention.bytes=1048576', '--delete-config', 'retention.ms', '-o', 'json']);
  t.equal(altered.code, 0, describeResult(altered));
  const after = JSON.parse(altered.stdout);
  t.equal(after.partitions.length, 5);
  t.same(after.configs, { 'cleanup.policy': 'delete', 'retention.bytes': '1048576' });

  const nothing = await cli(['topic', 'alter', 'orders']);
  t.equal(nothing.code, 2, 'alter without a change is a usage error');

  const exists = await cli(['topic', 'create', 'orders']);
  t.equal(exists.code, 1);
  t.match(exists.stderr, /^runnel: TOPIC_EXISTS: /);

  const deleted = await cli(['topic', 'delete', 'orders']);
  t.equal(deleted.code, 0, describeResult(deleted));
  t.equal(deleted.stdout, 'deleted topic orders\n');
  const gone = await cli(['topic', 'describe', 'orders']);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /^runnel: TOPIC_NOT_FOUND: .*orders/);
  t.equal(gone.stderr.split('\n').length, 2, 'one line');
  t.same(JSON.parse((await cli(['topic', 'list', '-o', 'json'])).stdout).map((topic: { name: string }) => topic.name), ['audit']);
});
