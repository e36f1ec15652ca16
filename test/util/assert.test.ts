import t from 'tap';
import { assert, InvariantError } from '../../src/util/assert.js';

void t.test('assert throws an InvariantError naming the broken invariant', async (t) => {
  t.throws(() => assert(false, 'offsets must increase'), new InvariantError('offsets must increase'));
  t.doesNotThrow(() => assert(true, 'never'));
  t.throws(() => assert(0, () => 'lazy message'), { message: 'lazy message' });
});
