import t from 'tap';
import { crc32c } from '../../src/util/crc32c.js';

void t.test('crc32c gives the standard check value for "123456789"', async (t) => {
  t.equal(crc32c(Buffer.from('123456789', 'ascii')), 0xe3069283);
});

void t.test('crc32c matches the RFC 3720 (iSCSI) test vectors', async (t) => {
  t.equal(crc32c(Buffer.alloc(32, 0x00)), 0x8a9136aa, '32 bytes of zeros');
  t.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43, '32 bytes of ones');
  const incrementing = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) incrementing[i] = i;
  t.equal(crc32c(incrementing), 0x46dd794e, '32 incrementing bytes');
  const decrementing = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) decrementing[i] = 31 - i;
  t.equal(crc32c(decrementing), 0x113fdb5c, '32 decrementing bytes');
});

void t.test('crc32c of the empty buffer is 0', async (t) => {
  t.equal(crc32c(Buffer.alloc(0)), 0);
});

void t.test('crc32c continues a running checksum across chunks', async (t) => {
  const whole = Buffer.from('the quick brown fox jumps over the lazy dog');
  for (let split = 0; split <= whole.length; split += 7) {
    const running = crc32c(whole.subarray(split), crc32c(whole.subarray(0, split)));
    t.equal(running, crc32c(whole), `split at ${split}`);
  }
});

void t.test('crc32c returns an unsigned 32-bit integer', async (t) => {
  // 0xe3069283 has its high bit set, so a signed int32 would come back negative.
  const value = crc32c(Buffer.from('123456789', 'ascii'));
  t.ok(value > 0x7fffffff, 'high bit set stays positive');
  t.equal(value, value >>> 0);
});
