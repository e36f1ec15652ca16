import t from 'tap';
// kafkajs is only a dev-time reference here: its DefaultPartitioner ports the Java
// client's murmur2 partitioner, so agreeing with it means agreeing with Kafka. Runnel
// itself never imports kafkajs.
import { Partitioners, type PartitionMetadata } from 'kafkajs';
import { partitionForKey, StickyPartitioner } from '../../src/broker/partitioner.js';
import { InvariantError } from '../../src/util/assert.js';
import { seededRandom } from '../helpers/seeded-random.js';

void t.test('a keyed record lands where the Java client (via kafkajs) puts it', async (t) => {
  const kafkajsPartitioner = Partitioners.DefaultPartitioner();
  const random = seededRandom(20261125);
  const partitionMetadataByCount = new Map<number, PartitionMetadata[]>();
  for (let count = 1; count <= 50; count++) {
    const metadata: PartitionMetadata[] = [];
    for (let partitionId = 0; partitionId < count; partitionId++) {
      metadata.push({ partitionId, leader: 1, replicas: [1], isr: [1], partitionErrorCode: 0 });
    }
    partitionMetadataByCount.set(count, metadata);
  }
  let checks = 0;
  let firstMismatch = '';
  for (let i = 0; i < 3000; i++) {
    const key = Buffer.alloc(Math.floor(random() * 40));
    for (let j = 0; j < key.length; j++) key[j] = Math.floor(random() * 256);
    for (let partitionCount = 1; partitionCount <= 50; partitionCount++) {
      const expected = kafkajsPartitioner({
        topic: 'orders',
        partitionMetadata: partitionMetadataByCount.get(partitionCount) ?? [],
        message: { key, value: null },
      });
      checks++;
      const actual = partitionForKey(key, partitionCount);
      if (actual !== expected && firstMismatch === '') {
        firstMismatch = `key ${key.toString('hex')} with ${partitionCount} partitions: ${actual}, kafkajs ${expected}`;
      }
    }
  }
  t.equal(firstMismatch, '', `${checks} (key, partition count) pairs agree`);
});

void t.test('the same key always maps to the same partition, within range', async (t) => {
  for (let count = 1; count <= 12; count++) {
    const first = partitionForKey(Buffer.from('user-42'), count);
    t.ok(first >= 0 && first < count, `in range for ${count}`);
    t.equal(partitionForKey(Buffer.from('user-42'), count), first);
  }
  // Worked from the UtilsTest vector: toPositive(-790332482) % 7.
  t.equal(partitionForKey(Buffer.from('foobar'), 7), (-790332482 & 0x7fffffff) % 7);
});

void t.test('partitionForKey refuses a partition count below 1', async (t) => {
  t.throws(() => partitionForKey(Buffer.from('k'), 0), InvariantError);
  t.throws(() => partitionForKey(Buffer.from('k'), 1.5), InvariantError);
});

void t.test('the sticky partitioner moves one partition per batch, round-robin', async (t) => {
  const sticky = new StickyPartitioner(0);
  const seen = [];
  for (let i = 0; i < 7; i++) seen.push(sticky.next(3));
  t.same(seen, [0, 1, 2, 0, 1, 2, 0]);
  t.equal(new StickyPartitioner(5).next(3), 2, 'starts from the given counter');
  t.throws(() => sticky.next(0), InvariantError);
});

void t.test('the sticky partitioner stays in range across int32 wrap-around', async (t) => {
  const sticky = new StickyPartitioner(0x7ffffffe);
  for (let i = 0; i < 5; i++) {
    const partition = sticky.next(4);
    t.ok(partition >= 0 && partition < 4, `batch ${i} -> ${partition}`);
  }
  const randomStart = new StickyPartitioner();
  const partition = randomStart.next(10);
  t.ok(partition >= 0 && partition < 10, 'a random start is in range');
});
