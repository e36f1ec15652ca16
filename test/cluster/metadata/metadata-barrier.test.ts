/**
 * The metadata barrier (cluster/metadata-barrier.ts): a caller waits for a barrier that
 * started after its call, and however many callers arrive, at most one barrier runs at
 * a time (with one more queued behind it).
 */
import t from 'tap';
import { MetadataBarrier } from '../../../src/cluster/metadata-barrier.js';

interface Asked { resolve: () => void; reject: (error: Error) => void }

function barrierWithControl(): { barrier: MetadataBarrier; asked: Asked[] } {
  const asked: Asked[] = [];
  const barrier = new MetadataBarrier(() => new Promise<void>((resolve, reject) => asked.push({ resolve, reject })));
  return { barrier, asked };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

void t.test('callers during a running barrier wait for the next one, which starts when it ends', async (t) => {
  const { barrier, asked } = barrierWithControl();
  const done: string[] = [];
  const first = barrier.sync().then(() => done.push('first'));
  t.equal(asked.length, 1, 'the first caller starts a barrier');
  const second = barrier.sync().then(() => done.push('second'));
  const third = barrier.sync().then(() => done.push('third'));
  t.equal(asked.length, 1, 'later callers do not start one while it runs');
  asked[0].resolve();
  await first;
  await tick();
  t.same(done, ['first'], 'the later callers are not released by the barrier that began before them');
  t.equal(asked.length, 2, 'their barrier starts when the first ends: one, shared');
  asked[1].resolve();
  await Promise.all([second, third]);
  t.same(done, ['first', 'second', 'third'], 'both released by it');
});

void t.test('a barrier that fails (controller unreachable) releases its callers too, and the next call starts a new one', async (t) => {
  const { barrier, asked } = barrierWithControl();
  const failing = barrier.sync();
  asked[0].reject(new Error('no controller'));
  await t.resolves(failing, 'the caller goes on (it answers from what it knows)');
  const after = barrier.sync();
  t.equal(asked.length, 2, 'a new barrier');
  asked[1].resolve();
  await t.resolves(after);
});

void t.test('many callers, bounded barriers: 1,000 calls in one turn make two barrier requests', async (t) => {
  const { barrier, asked } = barrierWithControl();
  const calls = Array.from({ length: 1_000 }, () => barrier.sync());
  t.equal(asked.length, 1);
  asked[0].resolve();
  await tick();
  t.equal(asked.length, 2);
  asked[1].resolve();
  await Promise.all(calls);
  t.equal(asked.length, 2, 'no more than two');
});
