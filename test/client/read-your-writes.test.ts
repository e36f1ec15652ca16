/**
 * Read-your-writes (src/client/read-your-writes.ts), as pure logic: after a produce
 * answer, a fetch of that partition from an offset below the end of the client's
 * acknowledged records waits for them at least READ_YOUR_WRITES_WAIT_MS; other fetches
 * go unchanged. (On real nodes behind a round-robin proxy: served-by-cluster.test.ts.)
 */
import t from 'tap';
import type { RequestSpec } from '../../src/client/exchange.js';
import { READ_YOUR_WRITES_WAIT_MS, WrittenOffsets } from '../../src/client/read-your-writes.js';

function fetchOf(topic: string, partition: number, offset?: number | 'earliest' | 'latest', waitMs?: number): RequestSpec {
  return {
    method: 'GET',
    path: `/v1/topics/${topic}/partitions/${partition}/records`,
    query: { offset, maxRecords: 10, waitMs },
    waitMs,
    isIdempotent: true,
  };
}

const WAITED = { waitMs: READ_YOUR_WRITES_WAIT_MS };

void t.test('a fetch of records the client produced waits for them', async (t) => {
  const writes = new WrittenOffsets();
  const untouched = fetchOf('orders', 0, 0, 0);
  t.equal(writes.fetchSpec(untouched), untouched, 'nothing written yet');

  writes.onProduced({ method: 'POST', path: '/v1/topics/orders/partitions/0/records' }, { offsets: [{ partition: 0, offset: 4, timestamp: 1 }, { partition: 0, offset: 5, timestamp: 1 }] });
  const waited = writes.fetchSpec(fetchOf('orders', 0, 5, 0));
  t.match(waited, { ...WAITED, query: { offset: 5, maxRecords: 10, ...WAITED } });
  t.match(writes.fetchSpec(fetchOf('orders', 0, 0)), { ...WAITED, query: WAITED }, 'an earlier offset, no waitMs');
  t.match(writes.fetchSpec(fetchOf('orders', 0)), { ...WAITED, query: WAITED }, 'earliest, the default');
  t.match(writes.fetchSpec(fetchOf('orders', 0, 'earliest', 200)), { ...WAITED, query: WAITED });

  for (const [what, spec] of [
    ['from past the writes', fetchOf('orders', 0, 6, 0)],
    ['latest', fetchOf('orders', 0, 'latest', 0)],
    ['a longer wait of its own', fetchOf('orders', 0, 5, 5_000)],
    ['another partition', fetchOf('orders', 1, 0, 0)],
    ['another topic', fetchOf('other', 0, 0, 0)],
  ] as const) {
    t.equal(writes.fetchSpec(spec), spec, what);
  }
  const offsets: RequestSpec = { method: 'GET', path: '/v1/topics/orders/partitions/0/offsets', isIdempotent: true };
  t.equal(writes.fetchSpec(offsets), offsets, 'not a fetch of records');
});

void t.test('topic-level produces count for every partition they wrote to; the end only grows', async (t) => {
  const writes = new WrittenOffsets();
  writes.onProduced({ method: 'POST', path: '/v1/topics/a%20b/records' }, { offsets: [{ partition: 2, offset: 9 }, { partition: 0, offset: 3 }] });
  t.match(writes.fetchSpec(fetchOf('a%20b', 2, 9, 0)), WAITED);
  t.match(writes.fetchSpec(fetchOf('a%20b', 0, 3, 0)), WAITED);
  t.match(writes.fetchSpec(fetchOf('a%20b', 0, 4, 0)), { waitMs: 0 });
  writes.onProduced({ method: 'POST', path: '/v1/topics/a%20b/records' }, { offsets: [{ partition: 0, offset: 1 }] });
  t.match(writes.fetchSpec(fetchOf('a%20b', 0, 3, 0)), WAITED, 'an older write does not lower the end');
});

void t.test('answers that hold no acknowledged offsets are ignored', async (t) => {
  const writes = new WrittenOffsets();
  writes.onProduced({ method: 'POST', path: '/v1/topics/orders/records' }, { offsets: [{ partition: 0, offset: -1 }] });
  writes.onProduced({ method: 'POST', path: '/v1/topics/orders/records' }, undefined);
  writes.onProduced({ method: 'POST', path: '/v1/topics' }, { offsets: [{ partition: 0, offset: 3 }] });
  writes.onProduced({ method: 'POST', path: '/v1/groups/g/members' }, { offsets: [{ partition: 0, offset: 3 }] });
  const spec = fetchOf('orders', 0, 0, 0);
  t.equal(writes.fetchSpec(spec), spec);
});
