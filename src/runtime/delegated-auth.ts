/**
 * Authentication and authorization delegated to the API server, for the operator's own endpoints, as
 * controller-runtime's metrics filter (filters.WithAuthenticationAndAuthorization) does: a request's
 * bearer token is checked with a TokenReview, then the user's right to the request's verb on its path
 * (a non-resource URL, `get /metrics`) with a SubjectAccessReview.
 *
 * Answers: 401 without a token or with one the API server does not accept; 403 when the user lacks
 * the right; 503 when the API server cannot be asked (never 200 then). Decisions are cached for a
 * short time in a bounded cache, so a scrape every few seconds costs the API server little; failures
 * to ask are never cached.
 *
 * Caveats: a token revoked or a role removed is honoured only once its cached decision expires
 * (DELEGATED_AUTH_DEFAULTS); tokens are cached under their SHA-256, never as themselves.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ObjectClient } from './client.js';
import type { Handler } from './http-server.js';
import { errorFields, type Logger } from './logger.js';
import { SubjectAccessReviews, TokenReviews } from './resources.js';

/** Who the API server says a token belongs to. */
export interface UserInfo {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export interface AccessDecision {
  readonly allowed: boolean;
  /** The authorizer's reason, when it gave one. */
  readonly reason: string;
}

/** The two questions asked of the API server. Both throw when the API server cannot be asked. */
export interface AccessReviewer {
  /** The token's user, or undefined when the API server does not accept the token. */
  reviewToken(token: string): Promise<UserInfo | undefined>;
  /** Whether `user` may `verb` the non-resource URL `path`. */
  reviewAccess(user: UserInfo, verb: string, path: string): Promise<AccessDecision>;
}

export const DELEGATED_AUTH_DEFAULTS = {
  /** controller-runtime's delegating authenticator caches an accepted token for a minute... */
  authenticatedTtlMs: 60_000,
  /** ...and a refused one briefly, so a scraper with a bad token cannot make us flood the API server. */
  unauthenticatedTtlMs: 10_000,
  /** Its delegating authorizer: allowed for 5 minutes, denied for 30 s. */
  allowedTtlMs: 300_000,
  deniedTtlMs: 30_000,
  /** Entries per cache; the oldest go first. */
  cacheSize: 1024,
} as const;

export interface DelegatedAuthOptions {
  readonly logger: Logger;
  /** @default DELEGATED_AUTH_DEFAULTS.authenticatedTtlMs and the others */
  readonly ttls?: Partial<Omit<typeof DELEGATED_AUTH_DEFAULTS, 'cacheSize'>>;
  /** @default DELEGATED_AUTH_DEFAULTS.cacheSize */
  readonly cacheSize?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/** What the filter decided for one request. */
export type AuthOutcome =
  | { readonly status: 200; readonly user: UserInfo }
  | { readonly status: 401 | 403 | 503; readonly message: string };

/** Asks the API server through our Client, with the operator's own credentials. */
export function apiServerReviewer(client: Pick<ObjectClient, 'create'>): AccessReviewer {
  return {
    async reviewToken(token) {
      const review = await client.create<TokenReviewObject>(TokenReviews, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token },
      });
      const status = review.status;
      if (!status?.authenticated || !status.user?.username) return undefined;
      const { username, uid, groups, extra } = status.user;
      return {
        username,
        ...(uid ? { uid } : {}),
        ...(groups ? { groups } : {}),
        ...(extra ? { extra } : {}),
      };
    },
    async reviewAccess(user, verb, path) {
      const review = await client.create<SubjectAccessReviewObject>(SubjectAccessReviews, {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.username,
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.groups ? { groups: [...user.groups] } : {}),
          ...(user.extra ? { extra: user.extra } : {}),
          nonResourceAttributes: { path, verb },
        },
      });
      // An evaluation error with allowed=false is a denial that says why; with allowed=true the
      // authorizer still allowed it (another rule matched).
      const status = review.status ?? {};
      return { allowed: status.allowed === true, reason: status.reason ?? status.evaluationError ?? '' };
    },
  };
}

/**
 * The filter. `wrap(handler)` serves `handler` only to callers the API server authenticates and
 * authorizes for the request's path.
 */
export class DelegatedAuth {
  private readonly users: TtlCache<UserInfo | null>;
  private readonly decisions: TtlCache<AccessDecision>;
  private readonly ttls: Omit<typeof DELEGATED_AUTH_DEFAULTS, 'cacheSize'>;
  private readonly log: Logger;

  constructor(
    private readonly reviewer: AccessReviewer,
    options: DelegatedAuthOptions,
  ) {
    const size = options.cacheSize ?? DELEGATED_AUTH_DEFAULTS.cacheSize;
    const now = options.now ?? Date.now;
    this.users = new TtlCache(size, now);
    this.decisions = new TtlCache(size, now);
    this.ttls = { ...DELEGATED_AUTH_DEFAULTS, ...options.ttls };
    this.log = options.logger;
  }

  wrap(handler: Handler): Handler {
    return async (req, res) => {
      const outcome = await this.check(req);
      if (outcome.status === 200) return handler(req, res);
      refuse(res, outcome);
    };
  }

  /** Authenticates, then authorizes, one request. */
  async check(req: IncomingMessage): Promise<AuthOutcome> {
    const token = bearerToken(req.headers.authorization);
    if (!token) return { status: 401, message: 'Unauthorized: a bearer token is required' };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    // The API server's own mapping for non-resource URLs: the lower-cased HTTP method.
    const verb = (req.method ?? 'GET').toLowerCase();

    let user: UserInfo | undefined;
    try {
      user = await this.authenticate(token);
    } catch (err) {
      this.log.error('TokenReview failed: refusing the request', { path, ...errorFields(err) });
      return { status: 503, message: 'Service Unavailable: the API server could not review the token' };
    }
    if (!user) return { status: 401, message: 'Unauthorized: the API server did not accept the token' };

    let decision: AccessDecision;
    try {
      decision = await this.authorize(user, verb, path);
    } catch (err) {
      this.log.error('SubjectAccessReview failed: refusing the request', {
        path,
        user: user.username,
        ...errorFields(err),
      });
      return { status: 503, message: 'Service Unavailable: the API server could not authorize the request' };
    }
    if (!decision.allowed) {
      this.log.debug('Request forbidden', { path, verb, user: user.username, reason: decision.reason });
      const why = decision.reason ? `: ${decision.reason}` : '';
      return {
        status: 403,
        message: `Forbidden: user "${user.username}" may not ${verb} path "${path}"${why}`,
      };
    }
    return { status: 200, user };
  }

  private async authenticate(token: string): Promise<UserInfo | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const cached = this.users.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const user = await this.reviewer.reviewToken(token);
    this.users.set(key, user ?? null, user ? this.ttls.authenticatedTtlMs : this.ttls.unauthenticatedTtlMs);
    return user;
  }

  private async authorize(user: UserInfo, verb: string, path: string): Promise<AccessDecision> {
    const key = JSON.stringify([user.username, user.uid, user.groups, user.extra, verb, path]);
    const cached = this.decisions.get(key);
    if (cached) return cached;
    const decision = await this.reviewer.reviewAccess(user, verb, path);
    this.decisions.set(key, decision, decision.allowed ? this.ttls.allowedTtlMs : this.ttls.deniedTtlMs);
    return decision;
  }
}

/** The token of an `Authorization: Bearer <token>` header (the scheme is case-insensitive). */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^\s*bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

function refuse(res: ServerResponse, outcome: Exclude<AuthOutcome, { status: 200 }>): void {
  const headers: Record<string, string> = {
    'Content-Type': 'text/plain; charset=utf-8',
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  };
  if (outcome.status === 401) headers['WWW-Authenticate'] = 'Bearer';
  res.writeHead(outcome.status, headers);
  res.end(`${outcome.message}\n`);
}

/**
 * A map whose entries expire, holding at most `size` of them: when full, the entry set longest ago
 * goes (a Map iterates in insertion order, and set() re-inserts).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; expires: number }>();

  constructor(
    private readonly size: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expires: this.now() + ttlMs });
    while (this.entries.size > this.size) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  get length(): number {
    return this.entries.size;
  }
}

interface TokenReviewObject {
  apiVersion?: string;
  kind?: string;
  spec: { token: string };
  status?: {
    authenticated?: boolean;
    user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
    error?: string;
  };
}

interface SubjectAccessReviewObject {
  apiVersion?: string;
  kind?: string;
  spec: Record<string, unknown>;
  status?: { allowed?: boolean; denied?: boolean; reason?: string; evaluationError?: string };
}
