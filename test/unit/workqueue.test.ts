import { expect } from 'chai';
import fc from 'fast-check';
import { FakeClock } from '../../src/runtime/clock.js';
import { Metrics } from '../../src/runtime/metrics.js';
import { PRIORITIES, RANK, type Priority } from '../../src/runtime/priority.js';
import { exponentialFailureRateLimiter } from '../../src/runtime/rate-limiter.js';
import { AGED_TURN, WorkQueue, WORKQUEUE_DEFAULTS } from '../../src/runtime/workqueue.js';

/** A queue on a fake clock with the per-key backoff only (5 ms doubling), so delays are exact. */
function newQueue(clock = new FakeClock()): { q: WorkQueue; clock: FakeClock } {
  return {
    q: new WorkQueue({ name: 'test', clock, rateLimiter: exponentialFailureRateLimiter(5, 1_000_000) }),
    clock,
  };
}

/** Resolves with the promise's value, or 'pending' if it has not settled after the microtask queue drained. */
async function peek<T>(p: Promise<T>): Promise<T | 'pending'> {
  return Promise.race([p, new Promise<'pending'>((r) => setImmediate(() => r('pending')))]);
}

describe('WorkQueue', () => {
  describe('deduplication and order', () => {
    it('holds a key added many times once', async () => {
      const { q } = newQueue();
      q.add('ns/a');
      q.add('ns/a');
      q.add('ns/a');
      expect(q.length).to.equal(1);
      expect(await q.get()).to.equal('ns/a');
      expect(q.length).to.equal(0);
    });

    it('hands keys out in the order they were first added', async () => {
      const { q } = newQueue();
      for (const k of ['a', 'b', 'a', 'c', 'b']) q.add(k);
      expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(['a', 'b', 'c']);
    });

    it('makes get() wait until a key is added', async () => {
      const { q } = newQueue();
      const got = q.get();
      expect(await peek(got)).to.equal('pending');
      q.add('a');
      expect(await got).to.equal('a');
    });
  });

  describe('processing', () => {
    it('never hands a key to a second worker while the first holds it', async () => {
      const { q } = newQueue();
      q.add('a');
      expect(await q.get()).to.equal('a');
      q.add('a');
      expect(q.length, 'not ready while processing').to.equal(0);
      const second = q.get();
      expect(await peek(second)).to.equal('pending');
      q.done('a');
      expect(await second).to.equal('a');
    });

    it('processes a key re-added during processing again afterwards, once', async () => {
      const { q } = newQueue();
      q.add('a');
      await q.get();
      q.add('a');
      q.add('a');
      q.done('a');
      expect(q.length).to.equal(1);
      expect(await q.get()).to.equal('a');
      q.done('a');
      expect(q.length).to.equal(0);
    });

    it('hands other keys to other workers meanwhile', async () => {
      const { q } = newQueue();
      q.add('a');
      q.add('b');
      const [first, second] = await Promise.all([q.get(), q.get()]);
      expect([first, second]).to.deep.equal(['a', 'b']);
      expect(q.snapshot().processing).to.have.members(['a', 'b']);
    });

    it('keeps its guarantees under any interleaving of adds, gets and dones (model check)', async () => {
      const ops = fc.array(
        fc.oneof(
          fc.record({
            op: fc.constant('add' as const),
            key: fc.constantFrom('a', 'b', 'c'),
            priority: fc.constantFrom(...PRIORITIES),
          }),
          fc.record({ op: fc.constant('get' as const), atLeast: fc.constantFrom<Priority>('low', 'high') }),
          fc.record({ op: fc.constant('done' as const), worker: fc.nat(3) }),
        ),
        { maxLength: 60 },
      );
      await fc.assert(
        fc.asyncProperty(ops, async (steps) => {
          const { q } = newQueue();
          const held: string[] = [];
          /** Keys added since they were last handed out, at the highest priority asked: each is owed a hand-out. */
          const owed = new Map<string, Priority>();
          const canGet = (atLeast: Priority): boolean =>
            [...owed].some(([key, p]) => !held.includes(key) && RANK[p] >= RANK[atLeast]);
          for (const step of steps) {
            if (step.op === 'add') {
              q.add(step.key, step.priority);
              const before = owed.get(step.key);
              owed.set(step.key, before && RANK[before] > RANK[step.priority] ? before : step.priority);
            } else if (step.op === 'get' && canGet(step.atLeast)) {
              const key = (await q.get(step.atLeast)) as string;
              expect(held, `${key} handed to two workers`).not.to.include(key);
              expect(RANK[owed.get(key)!], `${key} below what get('${step.atLeast}') takes`).to.be.at.least(
                RANK[step.atLeast],
              );
              held.push(key);
              owed.delete(key);
            } else if (step.op === 'done' && held.length > 0) {
              const [key] = held.splice(step.worker % held.length, 1);
              q.done(key as string);
            }
          }
          for (const key of held.splice(0)) q.done(key);
          // Everything still owed comes out exactly once, and nothing else.
          const rest: string[] = [];
          while (q.length > 0) {
            const key = (await q.get()) as string;
            rest.push(key);
            q.done(key);
          }
          expect(rest.sort()).to.deep.equal([...owed.keys()].sort());
        }),
      );
    });
  });

  describe('priorities', () => {
    /** Takes every ready key, releasing each, in the order the queue hands them out. */
    async function drain(q: WorkQueue): Promise<string[]> {
      const out: string[] = [];
      while (q.length > 0) {
        const key = (await q.get()) as string;
        out.push(key);
        q.done(key);
      }
      return out;
    }

    it('hands out high before normal before low, oldest first within one priority', async () => {
      const { q } = newQueue();
      q.add('list-1', 'low');
      q.add('child-1');
      q.add('list-2', 'low');
      q.add('edit-1', 'high');
      q.add('child-2', 'normal');
      q.add('edit-2', 'high');
      expect(q.snapshot().depthByPriority).to.deep.equal({ low: 2, normal: 2, high: 2 });
      expect(q.snapshot().ready).to.deep.equal([
        'edit-1',
        'edit-2',
        'child-1',
        'child-2',
        'list-1',
        'list-2',
      ]);
      expect(await drain(q)).to.deep.equal(['edit-1', 'edit-2', 'child-1', 'child-2', 'list-1', 'list-2']);
    });

    it('lists only the first keys a snapshot is asked for, in hand-out order, with aging, and counts them all', async () => {
      const { q, clock } = newQueue();
      const priorities = ['low', 'normal', 'high'] as const;
      for (let i = 0; i < 60; i++) {
        q.add(`k${i}`, priorities[(i * 7) % 3]);
        q.add(`k${(i * 13) % 60}`, 'high'); // raises some keys already waiting: stale entries to skip
        clock.advance(WORKQUEUE_DEFAULTS.agingMs / 4);
      }
      const all = q.snapshot().ready;
      const first = q.snapshot(10);
      expect(first.depth).to.equal(q.length);
      expect(first.ready).to.deep.equal(all.slice(0, 10));
      expect(all).to.have.length(q.length);
      expect(await drain(q)).to.deep.equal(all);
    });

    it('puts a user edit ahead of ten thousand keys of an initial list', async () => {
      const { q } = newQueue();
      for (let i = 0; i < 10_000; i++) q.add(`ns/lab-${i}`, 'low');
      for (let i = 0; i < 3; i++) q.done((await q.get()) as string);
      expect(q.add('ns/lab-5000', 'high')).to.equal('merged');
      expect(await q.get()).to.equal('ns/lab-5000');
      expect(q.length).to.equal(10_000 - 4);
      expect(q.snapshot().depthByPriority).to.deep.equal({ low: 9_996, normal: 0, high: 0 });
    });

    it('moves a waiting key up when it is added again with a higher priority, never down', async () => {
      const { q } = newQueue();
      q.add('a', 'normal');
      q.add('b', 'normal');
      expect(q.add('b', 'high')).to.equal('merged');
      expect(q.add('a', 'low')).to.equal('merged');
      expect(q.snapshot().depthByPriority).to.deep.equal({ low: 0, normal: 1, high: 1 });
      expect(await drain(q)).to.deep.equal(['b', 'a']);
    });

    it('keeps the highest priority asked while a worker held the key for its next turn', async () => {
      const { q } = newQueue();
      q.add('a');
      const held = (await q.get()) as string;
      expect(q.add('a', 'low')).to.equal('deferred');
      expect(q.add('a', 'high')).to.equal('merged');
      q.add('b', 'normal');
      q.done(held);
      expect(await drain(q)).to.deep.equal(['a', 'b']);
    });

    it('gives a key aged below the top one hand-out in every AGED_TURN, so a stream of high keys does not starve it', async () => {
      const { q, clock } = newQueue();
      q.add('old', 'low');
      clock.advance(WORKQUEUE_DEFAULTS.agingMs - 1);
      /** Takes `n` keys, adding a fresh high one after each, as a stream of edits would. */
      const takeUnderStream = async (n: number, tag: string): Promise<string[]> => {
        const out: string[] = [];
        for (let i = 0; i < n; i++) {
          q.add(`${tag}-${i}`, 'high');
          const key = (await q.get()) as string;
          out.push(key);
          q.done(key);
        }
        return out;
      };
      expect(await takeUnderStream(AGED_TURN * 3, 'before'), 'not aged yet').not.to.include('old');
      clock.advance(1);
      const after = await takeUnderStream(AGED_TURN, 'after');
      expect(after, 'aged: its turn comes within AGED_TURN hand-outs').to.include('old');
    });

    it('hands a reserved getter only high keys, and a high key to it before a getter that takes any', async () => {
      const { q } = newQueue();
      q.add('list', 'low');
      q.add('new', 'normal');
      const reserved = q.get('high');
      expect(await peek(reserved), 'no high key yet').to.equal('pending');
      expect(await q.get(), 'a getter that takes any key takes the best there is').to.equal('new');
      const any = q.get();
      expect(await peek(any)).to.equal('list');
      const [kept, general] = [q.get('high'), q.get()];
      q.add('edit', 'high');
      expect(await peek(reserved)).to.equal('edit');
      expect(await peek(kept), 'one key, one getter').to.equal('pending');
      expect(await peek(general)).to.equal('pending');
      q.add('edit-2', 'high');
      expect(await peek(kept), 'the reserved getter first, though it came after').to.equal('edit-2');
      q.add('child', 'low');
      expect(await peek(general)).to.equal('child');
    });

    it('does not count a reserved hand-out towards the aged turns', async () => {
      const { q, clock } = newQueue();
      q.add('old', 'low');
      clock.advance(WORKQUEUE_DEFAULTS.agingMs);
      for (let i = 0; i < AGED_TURN * 2; i++) {
        q.add(`edit-${i}`, 'high');
        const key = (await q.get('high')) as string;
        expect(key).to.equal(`edit-${i}`);
        q.done(key);
      }
      // The aged key's turn is still AGED_TURN hand-outs of the other getters away.
      const out: string[] = [];
      for (let i = 0; i < AGED_TURN; i++) {
        q.add(`next-${i}`, 'high');
        out.push((await q.get()) as string);
        q.done(out.at(-1)!);
      }
      expect(out.slice(0, AGED_TURN - 1)).to.not.include('old');
      expect(out).to.include('old');
    });

    it('shuts a reserved getter out with undefined when only lower keys are left', async () => {
      const { q } = newQueue();
      q.add('list', 'low');
      const reserved = q.get('high');
      q.shutDown();
      expect(await reserved).to.equal(undefined);
      expect(await q.get('high')).to.equal(undefined);
      expect(await q.get()).to.equal('list');
    });

    it('puts an edit made late in a long storm ahead of the storm keys that have aged', async () => {
      const { q, clock } = newQueue();
      for (let i = 0; i < 1000; i++) q.add(`new-${i}`, 'normal');
      for (let i = 0; i < 1000; i++) q.add(`list-${i}`, 'low');
      clock.advance(WORKQUEUE_DEFAULTS.agingMs * 5);
      for (let i = 0; i < 5; i++) q.done((await q.get()) as string);
      q.add('edit', 'high');
      const next = [(await q.get()) as string, (await q.get()) as string];
      expect(next, 'at most one aged turn before it').to.include('edit');
      // Then the new labs lead, and the aged list keys below them take one turn in AGED_TURN.
      const lists = (await drain(q)).slice(0, AGED_TURN * 2).filter((k) => k.startsWith('list-'));
      expect(lists, 'list-0 had its turn among the first five').to.deep.equal(['list-1', 'list-2']);
    });
  });

  describe('delays', () => {
    it('adds a key after the delay has passed, not before', async () => {
      const { q, clock } = newQueue();
      q.addAfter('a', 1000);
      clock.advance(999);
      expect(q.length).to.equal(0);
      clock.advance(1);
      expect(q.length).to.equal(1);
      expect(await q.get()).to.equal('a');
    });

    it('uses one timer for any number of waiting keys, and releases them in deadline order', async () => {
      const { q, clock } = newQueue();
      q.addAfter('late', 300);
      q.addAfter('early', 100);
      q.addAfter('middle', 200);
      expect(clock.pendingTimers).to.equal(1);
      clock.advance(300);
      expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(['early', 'middle', 'late']);
      expect(clock.pendingTimers).to.equal(0);
    });

    it('keeps the earlier deadline when a waiting key is added again', () => {
      const { q, clock } = newQueue();
      q.addAfter('a', 500);
      q.addAfter('a', 100);
      q.addAfter('a', 900);
      expect(q.snapshot().waiting).to.deep.equal([{ key: 'a', readyInMs: 100, retries: 0 }]);
      clock.advance(100);
      expect(q.length).to.equal(1);
      clock.advance(1000);
      expect(q.length, 'superseded deadlines add nothing').to.equal(1);
    });

    it('adds at once when the delay is not positive', () => {
      const { q } = newQueue();
      q.addAfter('a', 0);
      q.addAfter('b', -5);
      expect(q.length).to.equal(2);
    });
  });

  describe('rate limiting', () => {
    it('backs a failing key off exponentially (5, 10, 20, 40 ms) and counts its requeues', async () => {
      const { q, clock } = newQueue();
      const observed: number[] = [];
      for (let attempt = 0; attempt < 4; attempt++) {
        const before = clock.now();
        q.addRateLimited('a');
        // Step 1 ms at a time until the key is ready: the delay is measured, not assumed.
        while (q.length === 0) clock.advance(1);
        observed.push(clock.now() - before);
        await q.get();
        q.done('a');
      }
      expect(observed).to.deep.equal([5, 10, 20, 40]);
      expect(q.numRequeues('a')).to.equal(4);
    });

    it('starts the backoff over after forget', () => {
      const { q } = newQueue();
      q.addRateLimited('a');
      q.addRateLimited('a');
      q.forget('a');
      expect(q.numRequeues('a')).to.equal(0);
      q.addRateLimited('a');
      expect(q.snapshot().waiting[0]?.readyInMs).to.equal(5);
    });
  });

  describe('shutdown', () => {
    it('wakes blocked workers with undefined and ignores later adds', async () => {
      const { q } = newQueue();
      const blocked = [q.get(), q.get()];
      q.shutDown();
      expect(await Promise.all(blocked)).to.deep.equal([undefined, undefined]);
      q.add('a');
      q.addAfter('b', 10);
      expect(q.length).to.equal(0);
      expect(await q.get()).to.equal(undefined);
      expect(q.shuttingDown).to.equal(true);
    });

    it('still hands out keys that were ready before shutdown, then undefined', async () => {
      const { q } = newQueue();
      q.add('a');
      q.shutDown();
      expect(await q.get()).to.equal('a');
      expect(await q.get()).to.equal(undefined);
    });

    it('drops keys waiting for a delay and cancels its timer', () => {
      const { q, clock } = newQueue();
      q.addAfter('a', 100);
      q.shutDown();
      expect(clock.pendingTimers).to.equal(0);
      expect(q.snapshot().waiting).to.deep.equal([]);
    });

    it('shutDownWithDrain resolves only after in-flight keys are done', async () => {
      const { q } = newQueue();
      q.add('a');
      q.add('b');
      await q.get();
      await q.get();
      const drained = q.shutDownWithDrain();
      q.done('a');
      expect(await peek(drained)).to.equal('pending');
      q.done('b');
      expect(await peek(drained)).to.equal(undefined);
    });

    it('shutDownWithDrain resolves at once when nothing is in flight', async () => {
      const { q } = newQueue();
      expect(await peek(q.shutDownWithDrain())).to.equal(undefined);
    });
  });

  describe('metrics', () => {
    /** The value of the sample `metricName` (e.g. a histogram's '_sum') with the queue's labels. */
    async function value(
      metric: { get(): Promise<{ values: { labels: object; value: number; metricName?: string }[] }> },
      metricName?: string,
    ) {
      const { values } = await metric.get();
      const match = values.find(
        (v) =>
          (v.labels as Record<string, string>).name === 'q' &&
          (v.labels as Record<string, string>).controller === 'c' &&
          (metricName === undefined || v.metricName === metricName),
      );
      return match?.value;
    }

    /** workqueue_depth of the queue at one priority. */
    async function depth(metrics: Metrics, priority: Priority): Promise<number | undefined> {
      const { values } = await metrics.workqueueDepth.get();
      return values.find((v) => v.labels.name === 'q' && v.labels.priority === priority)?.value;
    }

    it('records depth, adds, retries, time queued, time worked and work in flight on the injected clock', async () => {
      const metrics = new Metrics();
      const clock = new FakeClock();
      const q = new WorkQueue({
        name: 'q',
        controller: 'c',
        metrics,
        clock,
        rateLimiter: exponentialFailureRateLimiter(),
      });
      expect(await value(metrics.workqueueAdds), 'series exist from the start').to.equal(0);
      expect(await value(metrics.workqueueRetries)).to.equal(0);

      q.add('a');
      q.add('a');
      q.add('b');
      expect(await value(metrics.workqueueAdds), 'a duplicate add is not counted').to.equal(2);
      expect(await depth(metrics, 'normal')).to.equal(2);
      expect(await depth(metrics, 'low'), 'each priority has its series').to.equal(0);

      clock.advance(100);
      await q.get();
      expect(await depth(metrics, 'normal')).to.equal(1);
      expect(
        await value(metrics.workqueueQueueDuration, 'workqueue_queue_duration_seconds_sum'),
      ).to.be.closeTo(0.1, 1e-9);

      // The in-flight gauges are refreshed every 500 ms (as client-go does): at t=1000, 'a' has run 0.9 s.
      clock.advance(1000);
      expect(await value(metrics.workqueueUnfinishedWork)).to.be.closeTo(0.9, 1e-9);
      expect(await value(metrics.workqueueLongestRunning)).to.be.closeTo(0.9, 1e-9);

      q.done('a');
      expect(await value(metrics.workqueueWorkDuration, 'workqueue_work_duration_seconds_sum')).to.be.closeTo(
        1.0,
        1e-9,
      );
      expect(await value(metrics.workqueueWorkDuration, 'workqueue_work_duration_seconds_count')).to.equal(1);
      clock.advance(500);
      expect(await value(metrics.workqueueUnfinishedWork), 'nothing in flight').to.equal(0);

      q.addRateLimited('a');
      q.addAfter('c', 10);
      expect(await value(metrics.workqueueRetries), 'every delayed add counts, as in client-go').to.equal(2);
      q.shutDown();
    });
  });

  it('snapshot shows ready, processing and waiting keys', async () => {
    const { q, clock } = newQueue();
    q.add('a');
    q.add('b');
    await q.get();
    q.addAfter('c', 250);
    clock.advance(50);
    expect(q.snapshot()).to.deep.equal({
      depth: 1,
      depthByPriority: { low: 0, normal: 1, high: 0 },
      ready: ['b'],
      processing: ['a'],
      waiting: [{ key: 'c', readyInMs: 200, retries: 0 }],
    });
  });

  it('says what add() did: added, merged, deferred or ignored', async () => {
    const { q } = newQueue();
    expect(q.add('a')).to.equal('added');
    expect(q.add('a'), 'already waiting: one reconcile serves both').to.equal('merged');
    expect(await q.get()).to.equal('a');
    expect(q.add('a'), 'held by a worker: handed out again after done()').to.equal('deferred');
    q.done('a');
    expect(q.length).to.equal(1);
    q.shutDown();
    expect(q.add('b')).to.equal('ignored');
  });

  it('tells how long a held key waited, and the delay addRateLimited chose', async () => {
    const { q, clock } = newQueue();
    q.add('a');
    clock.advance(40);
    q.add('a');
    clock.advance(10);
    expect(await q.get()).to.equal('a');
    expect(q.waitedMs('a'), 'from the first add, as workqueue_queue_duration counts').to.equal(50);
    q.done('a');
    expect(q.waitedMs('a')).to.equal(undefined);
    const first = q.addRateLimited('b');
    const second = q.addRateLimited('b');
    expect(second).to.be.greaterThan(first);
    expect(q.snapshot().waiting).to.deep.equal([{ key: 'b', readyInMs: first, retries: 2 }]);
    q.shutDown();
  });
});
