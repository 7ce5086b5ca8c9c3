import type { IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import {
  bearerToken,
  DelegatedAuth,
  TtlCache,
  type AccessReviewer,
  type UserInfo,
} from '../../src/runtime/delegated-auth.js';
import { createLogger } from '../../src/runtime/logger.js';

const quiet = createLogger({ stream: new Writable({ write: (_c, _e, d) => d() }) });

/** A reviewer that knows two tokens; `reader` may get /metrics. Counts what it is asked. */
class FakeReviewer implements AccessReviewer {
  tokenReviews = 0;
  accessReviews = 0;
  down = false;
  reviewToken(token: string): Promise<UserInfo | undefined> {
    this.tokenReviews++;
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    const users: Record<string, UserInfo> = {
      'reader-token': { username: 'reader', groups: ['g'] },
      'other-token': { username: 'other' },
    };
    return Promise.resolve(users[token]);
  }
  reviewAccess(user: UserInfo, verb: string, path: string): Promise<{ allowed: boolean; reason: string }> {
    this.accessReviews++;
    if (this.down) return Promise.reject(new Error('connect ECONNREFUSED'));
    const allowed = user.username === 'reader' && verb === 'get' && path === '/metrics';
    return Promise.resolve({ allowed, reason: allowed ? 'bound to metrics-reader' : '' });
  }
}

function request(path: string, token?: string, method = 'GET'): IncomingMessage {
  return {
    url: path,
    method,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  } as IncomingMessage;
}

describe('delegated authentication and authorization', function () {
  let now = 0;
  let reviewer: FakeReviewer;
  let auth: DelegatedAuth;

  beforeEach(function () {
    now = 1_000_000;
    reviewer = new FakeReviewer();
    auth = new DelegatedAuth(reviewer, { logger: quiet, now: () => now });
  });

  it('401 without a token, asking the API server nothing', async function () {
    const out = await auth.check(request('/metrics'));
    expect(out.status).to.equal(401);
    expect(reviewer.tokenReviews).to.equal(0);
  });

  it('401 with a token the API server does not accept', async function () {
    expect((await auth.check(request('/metrics', 'forged'))).status).to.equal(401);
    expect(reviewer.accessReviews, 'no SubjectAccessReview for an unknown user').to.equal(0);
  });

  it('403 for a user without the right, naming the user, the verb and the path', async function () {
    const out = await auth.check(request('/metrics', 'other-token'));
    expect(out).to.deep.equal({
      status: 403,
      message: 'Forbidden: user "other" may not get path "/metrics"',
    });
  });

  it('200 for a user with the right; the query string is not part of the path reviewed', async function () {
    const out = await auth.check(request('/metrics?x=1', 'reader-token'));
    expect(out).to.deep.equal({ status: 200, user: { username: 'reader', groups: ['g'] } });
  });

  it('reviews the method as the verb: HEAD is not GET', async function () {
    expect((await auth.check(request('/metrics', 'reader-token', 'HEAD'))).status).to.equal(403);
  });

  it('503, never 200, when the API server cannot be asked; the failure is not cached', async function () {
    reviewer.down = true;
    expect((await auth.check(request('/metrics', 'reader-token'))).status).to.equal(503);
    expect((await auth.check(request('/metrics', 'reader-token'))).status).to.equal(503);
    expect(reviewer.tokenReviews).to.equal(2);
    reviewer.down = false;
    expect((await auth.check(request('/metrics', 'reader-token'))).status).to.equal(200);
  });

  it('503 when the token review worked but the access review cannot be made', async function () {
    expect((await auth.check(request('/metrics', 'reader-token'))).status).to.equal(200);
    reviewer.down = true;
    // The user is cached; the decision for another path is not.
    expect((await auth.check(request('/debug/controllers', 'reader-token'))).status).to.equal(503);
  });

  it('caches decisions for their TTL: allowed 5 min, denied 30 s, tokens 1 min, bad tokens 10 s', async function () {
    await auth.check(request('/metrics', 'reader-token'));
    await auth.check(request('/metrics', 'other-token'));
    await auth.check(request('/metrics', 'forged'));
    expect([reviewer.tokenReviews, reviewer.accessReviews]).to.deep.equal([3, 2]);

    now += 9_999;
    for (const t of ['reader-token', 'other-token', 'forged']) await auth.check(request('/metrics', t));
    expect([reviewer.tokenReviews, reviewer.accessReviews], 'all cached').to.deep.equal([3, 2]);

    now += 1; // 10 s: the refused token is asked about again
    await auth.check(request('/metrics', 'forged'));
    expect(reviewer.tokenReviews).to.equal(4);

    now += 20_000; // 30 s: the denial is asked again, the allowance is not
    await auth.check(request('/metrics', 'other-token'));
    await auth.check(request('/metrics', 'reader-token'));
    expect(reviewer.accessReviews).to.equal(3);

    now += 30_000; // 60 s: the accepted tokens are reviewed again; the allowance still holds
    await auth.check(request('/metrics', 'reader-token'));
    expect([reviewer.tokenReviews, reviewer.accessReviews]).to.deep.equal([5, 3]);

    now += 240_000; // 5 min after the first allowance
    await auth.check(request('/metrics', 'reader-token'));
    expect(reviewer.accessReviews).to.equal(4);
  });

  it('reads only the Bearer scheme', function () {
    expect(bearerToken('Bearer abc')).to.equal('abc');
    expect(bearerToken('bearer  abc ')).to.equal('abc');
    expect(bearerToken('Basic abc')).to.equal(undefined);
    expect(bearerToken('Bearer')).to.equal(undefined);
    expect(bearerToken(undefined)).to.equal(undefined);
  });
});

describe('TtlCache', function () {
  it('holds at most its size, dropping the entry set longest ago', function () {
    const cache = new TtlCache<number>(2, () => 0);
    cache.set('a', 1, 100);
    cache.set('b', 2, 100);
    cache.set('a', 3, 100); // re-set: now the newest
    cache.set('c', 4, 100);
    expect([cache.get('a'), cache.get('b'), cache.get('c')]).to.deep.equal([3, undefined, 4]);
    expect(cache.length).to.equal(2);
  });

  it('forgets an entry once its TTL has passed', function () {
    let t = 0;
    const cache = new TtlCache<string>(10, () => t);
    cache.set('k', 'v', 50);
    t = 49;
    expect(cache.get('k')).to.equal('v');
    t = 50;
    expect(cache.get('k')).to.equal(undefined);
    expect(cache.length).to.equal(0);
  });
});
