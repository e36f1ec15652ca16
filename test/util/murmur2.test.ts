import t from 'tap';
import { murmur2, toPositive } from '../../src/util/murmur2.js';

// Vectors from Apache Kafka's UtilsTest.testMurmur2
// (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java); Java's
// String.getBytes() is UTF-8/ASCII for these keys.
const KAFKA_VECTORS: Array<[Buffer, number]> = [
  [Buffer.from('21'), -973932308],
  [Buffer.from('foobar'), -790332482],
  [Buffer.from('a-little-bit-long-string'), -985981536],
  [Buffer.from('a-little-bit-longer-string'), -1486304829],
  [Buffer.from('lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8'), -58897971],
  [Buffer.from([0x61, 0x62, 0x63]), 479470107],
];

void t.test("murmur2 matches Kafka's published UtilsTest vectors", async (t) => {
  for (const [key, expected] of KAFKA_VECTORS) {
    t.equal(murmur2(key), expected, JSON.stringify(key.toString()));
  }
});

void t.test('murmur2 covers every tail length and returns a signed int32', async (t) => {
  const data = Buffer.from('0123456789abcdef');
  for (let length = 0; length <= data.length; length++) {
    const hash = murmur2(data.subarray(0, length));
    t.equal(hash, hash | 0, `length ${length} is an int32`);
  }
  t.not(murmur2(Buffer.from('abc')), murmur2(Buffer.from('abd')), 'a different tail byte changes the hash');
});

void t.test('murmur2 hashes a view of a larger buffer like a copy of it', async (t) => {
  const larger = Buffer.from('xxfoobaryy');
  t.equal(murmur2(larger.subarray(2, 8)), -790332482);
});

void t.test('toPositive clears only the sign bit, as Kafka Utils.toPositive does', async (t) => {
  t.equal(toPositive(0), 0);
  t.equal(toPositive(5), 5);
  t.equal(toPositive(-1), 0x7fffffff);
  t.equal(toPositive(-2147483648), 0);
  t.equal(toPositive(-973932308), -973932308 & 0x7fffffff);
  t.not(toPositive(-5), 5, 'not Math.abs');
});
