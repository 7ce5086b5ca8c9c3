import { expect } from 'chai';
import { FakeClock } from '../../src/runtime/clock.js';
import {
  bucketRateLimiter,
  defaultControllerRateLimiter,
  exponentialFailureRateLimiter,
  maxOfRateLimiters,
  type RateLimiter,
} from '../../src/runtime/rate-limiter.js';

describe('exponentialFailureRateLimiter', () => {
  it('doubles from the base delay on every failure of a key', () => {
    const l = exponentialFailureRateLimiter(5, 1_000_000);
    expect([1, 2, 3, 4, 5].map(() => l.when('a'))).to.deep.equal([5, 10, 20, 40, 80]);
    expect(l.retries('a')).to.equal(5);
  });

  it('caps at the maximum delay (1000 s by default) and keeps it there', () => {
    const l = exponentialFailureRateLimiter();
    const delays = Array.from({ length: 40 }, () => l.when('a'));
    // 5 ms * 2^17 = 655 s is the last step below the cap; 2^18 would be 1310 s.
    expect(delays[17]).to.equal(5 * 2 ** 17);
    expect(delays[18]).to.equal(1_000_000);
    expect(delays[39]).to.equal(1_000_000);
    expect(Math.max(...delays)).to.equal(1_000_000);
  });

  it('does not overflow after very many failures', () => {
    const l = exponentialFailureRateLimiter(5, 1_000_000);
    let last = 0;
    for (let i = 0; i < 2000; i++) last = l.when('a');
    expect(last).to.equal(1_000_000);
  });

  it('counts keys independently', () => {
    const l = exponentialFailureRateLimiter(5, 1000);
    l.when('a');
    l.when('a');
    expect(l.when('b')).to.equal(5);
    expect(l.retries('a')).to.equal(2);
    expect(l.retries('b')).to.equal(1);
  });

  it('starts over after forget', () => {
    const l = exponentialFailureRateLimiter(5, 1000);
    l.when('a');
    l.when('a');
    l.forget('a');
    expect(l.retries('a')).to.equal(0);
    expect(l.when('a')).to.equal(5);
  });
});

describe('bucketRateLimiter', () => {
  it('lets a burst through at once, then spaces callers at 1/qps', () => {
    const clock = new FakeClock();
    const l = bucketRateLimiter(10, 100, clock);
    const burst = Array.from({ length: 100 }, (_, i) => l.when(`k${i}`));
    expect(burst.every((d) => d === 0)).to.equal(true);
    expect(l.when('x')).to.equal(100);
    expect(l.when('y')).to.equal(200);
    expect(l.when('z')).to.equal(300);
  });

  it('refills at qps tokens per second, up to the burst', () => {
    const clock = new FakeClock();
    const l = bucketRateLimiter(10, 5, clock);
    for (let i = 0; i < 5; i++) l.when('k');
    expect(l.when('k')).to.equal(100);
    // That reservation took the next token; 1 s later 10 more were earned, capped at the burst of 5.
    clock.advance(1000);
    const after = Array.from({ length: 6 }, () => l.when('k'));
    expect(after.slice(0, 5)).to.deep.equal([0, 0, 0, 0, 0]);
    expect(after[5]).to.equal(100);
  });

  it('is shared by all keys: forget and retries do nothing', () => {
    const clock = new FakeClock();
    const l = bucketRateLimiter(1, 1, clock);
    expect(l.when('a')).to.equal(0);
    l.forget('a');
    expect(l.when('b')).to.equal(1000);
    expect(l.retries('a')).to.equal(0);
  });
});

describe('maxOfRateLimiters', () => {
  const fixed = (ms: number, calls: string[]): RateLimiter => ({
    when: (key) => (calls.push(`when:${key}`), ms),
    forget: (key) => void calls.push(`forget:${key}`),
    retries: () => ms / 10,
  });

  it('answers the longest delay and tells every limiter about every call', () => {
    const a: string[] = [];
    const b: string[] = [];
    const l = maxOfRateLimiters(fixed(10, a), fixed(30, b));
    expect(l.when('k')).to.equal(30);
    l.forget('k');
    expect(a).to.deep.equal(['when:k', 'forget:k']);
    expect(b).to.deep.equal(['when:k', 'forget:k']);
    expect(l.retries('k')).to.equal(3);
  });
});

describe('defaultControllerRateLimiter', () => {
  it('backs off one failing key exponentially while the bucket has tokens', () => {
    const l = defaultControllerRateLimiter(new FakeClock());
    expect(Array.from({ length: 6 }, () => l.when('a'))).to.deep.equal([5, 10, 20, 40, 80, 160]);
    expect(l.retries('a')).to.equal(6);
  });

  it('lets the overall bucket (10 qps, burst 100) dominate when many keys fail at once', () => {
    const l = defaultControllerRateLimiter(new FakeClock());
    const delays = Array.from({ length: 110 }, (_, i) => l.when(`key-${i}`));
    expect(delays.slice(0, 100).every((d) => d === 5)).to.equal(true);
    // Past the burst every caller waits for its own future token: 100 ms apart.
    expect(delays[100]).to.equal(100);
    expect(delays[109]).to.equal(1000);
  });
});
