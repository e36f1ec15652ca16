/**
 * The share-group benchmark accepts what it acquired as ranges of consecutive
 * offsets: every acquired record is covered exactly once, and nothing else is.
 */
import t from 'tap';
import { acceptRanges } from '../../../scripts/bench/scenarios/share.js';

void t.test('consecutive offsets of a partition become one range; gaps and partitions split them', async (t) => {
  const records = [5, 6, 7, 9, 10, 20].map((offset) => ({ partition: 0, offset, value: null }))
    .concat([{ partition: 1, offset: 8, value: null }, { partition: 0, offset: 4, value: null }]);
  t.same(acceptRanges('jobs', records), [
    { topic: 'jobs', partition: 0, firstOffset: 4, lastOffset: 7, type: 'accept' },
    { topic: 'jobs', partition: 0, firstOffset: 9, lastOffset: 10, type: 'accept' },
    { topic: 'jobs', partition: 0, firstOffset: 20, lastOffset: 20, type: 'accept' },
    { topic: 'jobs', partition: 1, firstOffset: 8, lastOffset: 8, type: 'accept' },
  ]);
  t.same(acceptRanges('jobs', []), []);
});
