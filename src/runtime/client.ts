/**
 * The REST client: JSON over node:https with a keep-alive agent, every request counted and timed.
 *
 * What @kubernetes/client-node already does is left to it: loading the KubeConfig (files, contexts,
 * in-cluster), and resolving credentials and TLS material with applyToHTTPSOptions (CA, client
 * certificates, token files, exec and auth-provider plugins, the proxy agent). The operator's object
 * types are its models (V1Deployment, V1Pod, ...).
 *
 * Where this client differs from its generated APIs and its Watch, and why:
 * - Metrics per request: client-node has no hook on a request, and rest_client_requests_total and
 *   rest_client_request_duration_seconds (client-go's names) need each one's code, verb and host,
 *   watches included.
 * - Watch control: client-node's Watch swallows what its callback throws and leaves bookmarks,
 *   resourceVersion and timeouts to the caller; here a watch is a promise that ends with the
 *   server's timeout or rejects with what went wrong (the server, the connection, the handler, the
 *   signal), so the informer can own relists, backoff and the silence watchdog.
 * - Abort and fence: every call takes an AbortSignal that destroys its socket; the fence refuses any
 *   request once a leader's renew deadline has passed; and resetConnections() resets (TCP RST) every
 *   connection, because a closed one may still deliver a lost leader's writes once a partition heals.
 * - Server-side apply is one call (the apply content type, fieldManager, force), where the generated
 *   patch methods default to JSON patch and need the content type set on each call.
 * - Credentials are resolved at most every 10 s: applyToHTTPSOptions reads files and builds an agent
 *   on every call, which cost 7% of the operator's CPU under load.
 * - Each request is a step of the reconcile's trace (trace.ts).
 *
 * Requests are not retried here: the caller (a work queue, an informer) owns retries and backoff.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Metrics } from './metrics.js';
import { apiVersionOf, resourcePath, type KubeObject, type ResourceType } from './resources.js';
import { currentTrace, type ReconcileTrace } from './trace.js';

/**
 * The API server answered with an error status. `reason` and `message` come
 * from the Status object in the body (NotFound, AlreadyExists, Conflict, Gone,
 * Expired, Invalid, Forbidden, ...), so callers branch on the reason, not on text.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  /** HTTP status code (the Status object's `code` for watch ERROR events). */
  readonly status: number;
  /** The Status object's machine-readable reason, or one derived from the status code. */
  readonly reason: string;
  /** The parsed response body (usually a metav1.Status), or its text when it was not JSON. */
  readonly body: unknown;
  readonly method: string;
  readonly path: string;

  constructor(
    message: string,
    details: { status: number; reason: string; body: unknown; method: string; path: string },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = details.status;
    this.reason = details.reason;
    this.body = details.body;
    this.method = details.method;
    this.path = details.path;
  }
}

/** The request never got an HTTP answer: connection refused or reset, TLS failure, client timeout. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    message: string,
    readonly method: string,
    readonly path: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404;
}
export function isConflict(e: unknown): boolean {
  return e instanceof ApiError && e.status === 409 && e.reason !== 'AlreadyExists';
}
export function isAlreadyExists(e: unknown): boolean {
  return e instanceof ApiError && e.reason === 'AlreadyExists';
}
/** The resourceVersion asked for is older than etcd keeps: relist. Servers say 410 Gone or reason Expired. */
export function isGone(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 410 || e.reason === 'Expired' || e.reason === 'Gone');
}
export function isInvalid(e: unknown): boolean {
  return e instanceof ApiError && (e.status === 422 || e.reason === 'Invalid');
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
export interface WatchEvent<T> {
  type: WatchEventType;
  /** The object; for BOOKMARK only apiVersion, kind and metadata.resourceVersion are set. */
  object: T;
}

export interface ListResult<T> {
  items: T[];
  /** The collection's resourceVersion: where a watch continues from. */
  resourceVersion: string;
  /** Set when the server has more pages (the list was made with `limit`). */
  continue?: string;
}

export interface ClientOptions {
  /** Where requests are counted and timed. @default none */
  readonly metrics?: Metrics;
  /** @default CLIENT_DEFAULTS.userAgent */
  readonly userAgent?: string;
  /** Timeout of one non-watch request, whole body included. @default CLIENT_DEFAULTS.timeoutMs */
  readonly timeoutMs?: number;
  /**
   * Asked synchronously right before each request is written to a socket; a request it refuses
   * (by throwing) is never sent. The manager uses it to stop every request of a leader whose renew
   * deadline has passed: a timer that fires late cannot open a window for one more write.
   * @default none
   */
  readonly fence?: () => void;
}

export const CLIENT_DEFAULTS = { userAgent: 'node-controller-runtime', timeoutMs: 30_000 } as const;

export interface ListOptions extends CallOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  /** '0' lets the API server answer from its watch cache. */
  resourceVersion?: string;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Start after this version (usually the one a list returned). '' is left out of the query: with
   * sendInitialEvents it asks for the newest state, as a list without a resourceVersion does.
   */
  resourceVersion: string;
  allowWatchBookmarks?: boolean;
  /**
   * A streaming list (KEP-3157): the server first sends every object as ADDED, then a BOOKMARK
   * annotated `k8s.io/initial-events-end: "true"`, then the changes. Needs
   * resourceVersionMatch 'NotOlderThan' and allowWatchBookmarks (without it no end marker comes).
   */
  sendInitialEvents?: boolean;
  resourceVersionMatch?: 'NotOlderThan';
  /** The server ends the watch after this long (it resolves then). */
  timeoutSeconds?: number;
  signal: AbortSignal;
}

/** What every call but watch accepts: an AbortSignal that ends the request (it rejects with the signal's reason). */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface ApplyOptions extends CallOptions {
  fieldManager: string;
  /** Take ownership of fields another manager owns instead of failing with 409 Conflict. */
  force?: boolean;
  dryRun?: boolean;
  subresource?: 'status';
}

export type PatchType = 'merge' | 'json' | 'strategic';

export interface PatchOptions extends CallOptions {
  type: PatchType;
  fieldManager?: string;
  subresource?: 'status';
}

export interface DeleteOptions extends CallOptions {
  propagationPolicy?: 'Foreground' | 'Background' | 'Orphan';
  /** Delete only the object with this uid (and resourceVersion): never a newer one of the same name. */
  preconditions?: { uid?: string; resourceVersion?: string };
}

/**
 * The calls a reconciler makes, each with an AbortSignal; reads of watched kinds come from caches,
 * so `get` is for what is not cached. `Client` implements it against the API server; a test can
 * implement it in memory.
 */
export interface ObjectClient {
  get<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts?: CallOptions,
  ): Promise<T | undefined>;
  apply<T extends KubeObject>(t: ResourceType, obj: T, opts: ApplyOptions): Promise<T>;
  create<T extends KubeObject>(
    t: ResourceType,
    obj: T,
    opts?: CallOptions & { fieldManager?: string; dryRun?: boolean },
  ): Promise<T>;
  patch<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    opts: PatchOptions,
  ): Promise<T>;
  delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts?: DeleteOptions,
  ): Promise<boolean>;
}

const PATCH_CONTENT_TYPES: Record<PatchType | 'apply', string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  // JSON is valid YAML, so the body stays JSON.
  apply: 'application/apply-patch+yaml',
};

type Query = Record<string, string | number | boolean | undefined>;

interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  /** The kind the request is about, for traces. */
  kind?: string;
  /** Aborting destroys the request (and its socket). */
  signal?: AbortSignal;
}

/** One API request as a trace step: verb, kind, subresource, result code and duration. */
function traceRequest(trace: ReconcileTrace, spec: RequestSpec, code: string, ms: number): void {
  const subresource = /\/(status|scale)$/.exec(spec.path)?.[1];
  trace.step('api', {
    verb: spec.contentType === PATCH_CONTENT_TYPES.apply ? 'APPLY' : spec.method,
    ...(spec.kind ? { kind: spec.kind } : {}),
    ...(subresource ? { subresource } : {}),
    code,
    durationMs: Math.round(ms),
  });
}

/**
 * An HTTPS agent whose connections can be reset (TCP RST) instead of closed. A request we abandon
 * (aborted, or sent by a leader that lost its Lease) must never reach the server later. A normal
 * close (FIN) does not ensure that: the kernel goes on delivering what it has not sent yet, for as
 * long as a partition lasts, and the server acts on it once the partition heals. A reset drops it.
 * Node resets only a plain TCP socket, so for TLS the agent opens the TCP socket itself and keeps it.
 */
class ResettableAgent extends https.Agent {
  /** Every connection not closed yet, TLS socket -> the TCP socket under it. */
  private readonly live = new Map<Duplex, net.Socket>();

  override createConnection(
    options: https.RequestOptions,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const tcp = net.connect({ host: options.host ?? undefined, port: Number(options.port) });
    const tls = super.createConnection({ ...options, socket: tcp } as https.RequestOptions, callback);
    if (tls) {
      this.live.set(tls, tcp);
      tcp.once('close', () => this.live.delete(tls));
    }
    return tls;
  }

  /** The TCP socket under `socket`, for a reset. */
  tcpOf(socket: Duplex): net.Socket | undefined {
    return this.live.get(socket);
  }

  /**
   * Every connection this agent opened and that is not closed yet, busy, idle or between the two:
   * the agent's own lists (sockets, freeSockets) miss a socket while it changes hands.
   */
  connections(): Duplex[] {
    return [...this.live.keys()];
  }
}

/** Resets (RST) the TCP connection under `socket`, or destroys it where a reset is not possible. */
function resetSocket(agent: http.Agent, socket: Duplex): void {
  const tcp = agent instanceof ResettableAgent ? agent.tcpOf(socket) : socket;
  try {
    if (tcp instanceof net.Socket && !tcp.destroyed) tcp.resetAndDestroy();
  } catch {
    // Not connected yet (no TCP handle): nothing was sent on it, so a plain destroy is as good.
  }
  socket.destroy();
}

/** Where and how to connect, resolved from the KubeConfig. */
interface Connection {
  server: URL;
  transport: typeof https | typeof http;
  agent: http.Agent;
}

/** What a request carries to authenticate; the TLS material lives in the agent. */
interface Credentials {
  headers: http.OutgoingHttpHeaders;
  auth?: string;
}

/**
 * How long resolved credentials are reused. Resolving them is client-node's
 * applyToHTTPSOptions: it reads the CA, certificate and token files and builds
 * an agent each time, which was 7% of the operator's CPU under load. Token
 * files and exec plugins rotate on a scale of minutes (a projected token at 80%
 * of at least 10 min), and a 401 drops them early, so 10 s is always current
 * enough. (client-go re-reads a token file at most once a minute.)
 */
const CREDENTIALS_TTL_MS = 10_000;

/** A small Kubernetes REST client; why it is not client-node's generated APIs: see the file header. */
export class Client implements ObjectClient {
  private readonly kubeConfig: KubeConfig;
  private readonly metrics: Metrics | undefined;
  private readonly userAgent: string;
  private readonly timeoutMs: number;
  private readonly fence: (() => void) | undefined;
  private connecting: Promise<Connection> | undefined;
  /** Set once connect() has resolved; used to label metrics. */
  private connection: Connection | undefined;
  /** Resolved (or being resolved) credentials, and the performance.now() after which they are resolved again. */
  private credentials: { value: Promise<Credentials>; expires: number } | undefined;

  constructor(kubeConfig: KubeConfig, options: ClientOptions = {}) {
    this.kubeConfig = kubeConfig;
    this.metrics = options.metrics;
    this.userAgent = options.userAgent ?? CLIENT_DEFAULTS.userAgent;
    this.timeoutMs = options.timeoutMs ?? CLIENT_DEFAULTS.timeoutMs;
    this.fence = options.fence;
  }

  /** The object, or undefined when it does not exist. */
  async get<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: CallOptions = {},
  ): Promise<T | undefined> {
    try {
      return (await this.request({
        method: 'GET',
        kind: t.kind,
        path: resourcePath(t, namespaceOf(t, namespace), name),
        signal: opts.signal,
      })) as T;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** One page of a collection (all of it without `limit`). Items get apiVersion and kind filled in. */
  async list<T extends KubeObject>(t: ResourceType, opts: ListOptions = {}): Promise<ListResult<T>> {
    const body = (await this.request({
      method: 'GET',
      kind: t.kind,
      path: resourcePath(t, namespaceOf(t, opts.namespace)),
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
      },
      signal: opts.signal,
    })) as { items?: T[]; metadata?: { resourceVersion?: string; continue?: string } };
    // A list's items carry no TypeMeta; watch events do. Make both look the same.
    const typeMeta = { apiVersion: apiVersionOf(t), kind: t.kind };
    const result: ListResult<T> = {
      items: (body.items ?? []).map((item) => ({ ...typeMeta, ...item })),
      resourceVersion: body.metadata?.resourceVersion ?? '',
    };
    if (body.metadata?.continue) result.continue = body.metadata.continue;
    return result;
  }

  /**
   * Opens a watch and delivers its events in order, awaiting `onEvent` for
   * each, so a slow consumer slows the read instead of buffering without bound.
   *
   * Resolves when the server ends the stream (timeoutSeconds elapsed, or it
   * closed it). Rejects with an ApiError when the server refuses the watch or
   * sends an ERROR event (410 Gone: `isGone(err)`), with a RequestError when
   * the connection fails, with what `onEvent` threw, and with `signal.reason`
   * when the signal aborts (the socket is destroyed, not returned to the pool).
   */
  async watch<T extends KubeObject>(
    t: ResourceType,
    opts: WatchOptions,
    onEvent: (e: WatchEvent<T>) => void | Promise<void>,
  ): Promise<void> {
    const path = resourcePath(t, namespaceOf(t, opts.namespace));
    const query: Query = {
      watch: true,
      resourceVersion: opts.resourceVersion || undefined,
      allowWatchBookmarks: opts.allowWatchBookmarks,
      sendInitialEvents: opts.sendInitialEvents,
      resourceVersionMatch: opts.resourceVersionMatch,
      timeoutSeconds: opts.timeoutSeconds,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
    };
    const res = await this.open({ method: 'GET', path, query, signal: opts.signal }, 'watch');
    try {
      for await (const line of lines(res)) {
        const event = parseWatchLine<T>(line, path);
        if (event.type === 'ERROR') throw watchError(event.object, path);
        await onEvent(event);
      }
    } catch (err) {
      if (opts.signal.aborted) throw abortReason(opts.signal);
      throw err instanceof ApiError || !isSocketError(err)
        ? err
        : new RequestError(`GET ${path}: watch stream failed: ${messageOf(err)}`, 'GET', path, {
            cause: err,
          });
    } finally {
      // Ends the request on every exit, including an error thrown by onEvent, so no socket is left behind.
      res.destroy();
    }
    if (opts.signal.aborted) throw abortReason(opts.signal);
  }

  /** Server-side apply of a full intent object; returns the object as the server stored it. */
  async apply<T extends KubeObject>(t: ResourceType, obj: T, opts: ApplyOptions): Promise<T> {
    const { namespace, name } = nameOf(t, obj);
    const body = { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(t), kind: obj.kind ?? t.kind };
    return (await this.request({
      method: 'PATCH',
      kind: t.kind,
      path: resourcePath(t, namespace, name, opts.subresource),
      query: {
        fieldManager: opts.fieldManager,
        force: opts.force ? true : undefined,
        dryRun: dryRun(opts.dryRun),
      },
      body,
      contentType: PATCH_CONTENT_TYPES.apply,
      signal: opts.signal,
    })) as T;
  }

  async create<T extends KubeObject>(
    t: ResourceType,
    obj: T,
    opts: CallOptions & { fieldManager?: string; dryRun?: boolean } = {},
  ): Promise<T> {
    const namespace = t.namespaced ? obj.metadata?.namespace : undefined;
    if (t.namespaced && !namespace) throw new TypeError(`create ${t.kind}: metadata.namespace is required`);
    return (await this.request({
      method: 'POST',
      kind: t.kind,
      path: resourcePath(t, namespace),
      query: { fieldManager: opts.fieldManager, dryRun: dryRun(opts.dryRun) },
      body: { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(t), kind: obj.kind ?? t.kind },
      signal: opts.signal,
    })) as T;
  }

  /** PUT: fails with 409 Conflict when metadata.resourceVersion is set and no longer current. */
  async replace<T extends KubeObject>(
    t: ResourceType,
    obj: T,
    opts: CallOptions & { fieldManager?: string; subresource?: 'status' } = {},
  ): Promise<T> {
    const { namespace, name } = nameOf(t, obj);
    return (await this.request({
      method: 'PUT',
      kind: t.kind,
      path: resourcePath(t, namespace, name, opts.subresource),
      query: { fieldManager: opts.fieldManager },
      body: { ...obj, apiVersion: obj.apiVersion ?? apiVersionOf(t), kind: obj.kind ?? t.kind },
      signal: opts.signal,
    })) as T;
  }

  async patch<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    opts: PatchOptions,
  ): Promise<T> {
    return (await this.request({
      method: 'PATCH',
      kind: t.kind,
      path: resourcePath(t, namespaceOf(t, namespace), name, opts.subresource),
      query: { fieldManager: opts.fieldManager },
      body: patch,
      contentType: PATCH_CONTENT_TYPES[opts.type],
      signal: opts.signal,
    })) as T;
  }

  /** True when deleted (or deletion started, with finalizers), false when it did not exist. */
  async delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<boolean> {
    const { signal, ...deleteOptions } = opts;
    try {
      await this.request({
        method: 'DELETE',
        kind: t.kind,
        path: resourcePath(t, namespaceOf(t, namespace), name),
        body: { apiVersion: 'v1', kind: 'DeleteOptions', ...deleteOptions },
        signal,
      });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /** One request/response with a JSON body either way; the timeout covers reading the body. */
  private async request(spec: RequestSpec): Promise<unknown> {
    // One controller for both the client timeout and the caller's signal. (AbortSignal.any would
    // do, but on Node 20 it keeps every combined signal alive as long as a long-lived caller signal.)
    const ac = new AbortController();
    const timer = setTimeout(
      () => ac.abort(new Error(`no answer within ${this.timeoutMs} ms`)),
      this.timeoutMs,
    );
    const onCallerAbort = (): void => ac.abort(spec.signal?.reason);
    if (spec.signal?.aborted) onCallerAbort();
    spec.signal?.addEventListener('abort', onCallerAbort, { once: true });
    const started = performance.now();
    const trace = currentTrace();
    let code = '<error>';
    try {
      const res = await this.open({ ...spec, signal: ac.signal }, 'request');
      code = String(res.statusCode);
      return parseJson(await readBody(res), spec);
    } catch (err) {
      if (err instanceof ApiError) code = String(err.status);
      if (ac.signal.aborted && !spec.signal?.aborted && !(err instanceof ApiError)) {
        const message = `${spec.method} ${spec.path}: no answer within ${this.timeoutMs} ms`;
        throw new RequestError(message, spec.method, spec.path, { cause: err });
      }
      throw err;
    } finally {
      clearTimeout(timer);
      spec.signal?.removeEventListener('abort', onCallerAbort);
      const ms = performance.now() - started;
      this.observeDuration(spec.method, ms);
      if (trace) traceRequest(trace, spec, code, ms);
    }
  }

  /**
   * Sends a request and resolves with the response once its headers arrived
   * and its status is 2xx; otherwise rejects with an ApiError built from the
   * Status body. Counts the request, and times it when it is a watch (a plain
   * request is timed by `request` once its body has been read).
   */
  private async open(spec: RequestSpec, kind: 'request' | 'watch'): Promise<http.IncomingMessage> {
    const { method, path } = spec;
    const connection = await this.connect();
    const credentials = await this.resolveCredentials();
    const url = new URL(connection.server.href);
    url.pathname = joinPath(connection.server.pathname, path);
    for (const [k, v] of Object.entries(spec.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));

    const headers: http.OutgoingHttpHeaders = { ...credentials.headers };
    headers.Accept = 'application/json';
    headers['User-Agent'] = this.userAgent;
    const payload = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    if (payload !== undefined) {
      headers['Content-Type'] = spec.contentType ?? 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }

    // Checked after the awaits above and in the same tick as the write below: an aborted call, or one
    // the fence refuses, never reaches a socket.
    if (spec.signal?.aborted) throw abortReason(spec.signal);
    this.fence?.();

    const started = performance.now();
    const host = url.host;
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = connection.transport.request(url, {
        method,
        headers,
        agent: connection.agent,
        ...(credentials.auth ? { auth: credentials.auth } : {}),
      });
      const onAbort = (): void => {
        // Reset, not closed: the request must neither reach the server late nor go back to the pool.
        if (req.socket) resetSocket(connection.agent, req.socket);
        if (spec.signal) req.destroy(abortReason(spec.signal));
      };
      const signal = spec.signal;
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });

      req.on('error', (err) => {
        signal?.removeEventListener('abort', onAbort);
        this.count('<error>', method, host);
        if (kind === 'watch') this.observeDuration(method, performance.now() - started);
        reject(
          signal?.aborted
            ? abortReason(signal)
            : new RequestError(`${method} ${path}: ${messageOf(err)}`, method, path, { cause: err }),
        );
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        this.count(String(status), method, host);
        // Expired or rotated: the next request resolves them again instead of failing for the rest of the TTL.
        if (status === 401) this.credentials = undefined;
        if (kind === 'watch') this.observeDuration(method, performance.now() - started);
        // The listener stays while the body streams, so an abort also ends a watch in progress.
        res.once('close', () => signal?.removeEventListener('abort', onAbort));
        if (status >= 200 && status < 300) {
          resolve(res);
          return;
        }
        readBody(res).then(
          (text) => reject(apiErrorFrom(status, text, method, path)),
          (err: unknown) => reject(apiErrorFrom(status, '', method, path, err)),
        );
      });
      req.end(payload);
    });
  }

  /**
   * Resets (TCP RST) every connection, busy or idle, so nothing already written is delivered later.
   * For a leader that lost its Lease: see ResettableAgent. Later requests open new connections.
   */
  resetConnections(): number {
    const agent = this.connection?.agent;
    if (!agent) return 0;
    const sockets =
      agent instanceof ResettableAgent
        ? agent.connections()
        : [agent.sockets, agent.freeSockets].flatMap((group) => Object.values(group).flatMap((s) => s ?? []));
    for (const socket of sockets) resetSocket(agent, socket);
    return sockets.length;
  }

  /** The bearer token (or basic auth, or impersonation header), reused for CREDENTIALS_TTL_MS. */
  private resolveCredentials(): Promise<Credentials> {
    const now = performance.now();
    if (!this.credentials || now >= this.credentials.expires) {
      const value = this.readCredentials();
      this.credentials = { value, expires: now + CREDENTIALS_TTL_MS };
      // A failed resolution (an exec plugin erred) is not kept: the next request tries again.
      value.catch(() => {
        if (this.credentials?.value === value) this.credentials = undefined;
      });
    }
    return this.credentials.value;
  }

  private async readCredentials(): Promise<Credentials> {
    const options: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(options);
    return { headers: credentialHeaders(options.headers), ...(options.auth ? { auth: options.auth } : {}) };
  }

  /** The server URL and a keep-alive agent, built once (concurrent first requests share it). */
  private connect(): Promise<Connection> {
    this.connecting ??= this.buildConnection().then(
      (connection) => (this.connection = connection),
      (err: unknown) => {
        this.connecting = undefined;
        throw err;
      },
    );
    return this.connecting;
  }

  private async buildConnection(): Promise<Connection> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new TypeError('KubeConfig has no current cluster');
    const server = new URL(cluster.server);
    const tls: https.RequestOptions = {};
    await this.kubeConfig.applyToHTTPSOptions(tls);
    let agent: http.Agent;
    if (cluster.proxyUrl) {
      // client-node builds the proxy agent; we only lose keep-alive tuning there.
      agent = tls.agent as http.Agent;
    } else if (server.protocol === 'http:') {
      agent = new http.Agent({ keepAlive: true });
    } else {
      agent = new ResettableAgent({
        keepAlive: true,
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
        ...(tls.rejectUnauthorized !== undefined ? { rejectUnauthorized: tls.rejectUnauthorized } : {}),
        ...(tls.servername ? { servername: tls.servername } : {}),
      });
    }
    return { server, transport: server.protocol === 'http:' ? http : https, agent };
  }

  private count(code: string, method: string, host: string): void {
    this.metrics?.restClientRequests.inc({ code, method, host });
  }

  private observeDuration(method: string, ms: number): void {
    const host = this.connection?.server.host;
    if (host !== undefined)
      this.metrics?.restClientRequestDuration.observe({ verb: method, host }, ms / 1000);
  }
}

/** Splits a stream into lines as they arrive; the last line may lack its newline. */
async function* lines(stream: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  for await (const chunk of stream) {
    buffered += decoder.write(chunk);
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) yield line;
    }
  }
  const rest = (buffered + decoder.end()).trim();
  if (rest) yield rest;
}

function parseWatchLine<T>(line: string, path: string): WatchEvent<T> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch (err) {
    throw new RequestError(
      `GET ${path}: watch sent a line that is not JSON: ${line.slice(0, 200)}`,
      'GET',
      path,
      {
        cause: err,
      },
    );
  }
  const event = parsed as Partial<WatchEvent<T>>;
  if (typeof event.type !== 'string' || typeof event.object !== 'object' || event.object === null) {
    throw new RequestError(`GET ${path}: watch sent an event without type or object`, 'GET', path);
  }
  return event as WatchEvent<T>;
}

/** A watch ERROR event carries a Status; 410 means the resourceVersion is too old. */
function watchError(status: unknown, path: string): ApiError {
  const s = (status ?? {}) as { code?: number; reason?: string; message?: string };
  const code = s.code ?? 500;
  const reason = s.reason ?? reasonFor(code);
  return new ApiError(`GET ${path} (watch): ${code} ${reason}: ${s.message ?? 'error event'}`, {
    status: code,
    reason,
    body: status,
    method: 'GET',
    path,
  });
}

function apiErrorFrom(status: number, text: string, method: string, path: string, cause?: unknown): ApiError {
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the text as the body.
  }
  const s = (typeof body === 'object' && body !== null ? body : {}) as { reason?: string; message?: string };
  const reason = s.reason || reasonFor(status);
  const message = s.message ?? (typeof body === 'string' ? body.slice(0, 200) : '');
  return new ApiError(
    `${method} ${path}: ${status} ${reason}${message ? `: ${message}` : ''}`,
    { status, reason, body, method, path },
    cause === undefined ? undefined : { cause },
  );
}

/** metav1.StatusReason for a status code, for answers without a Status body. */
function reasonFor(status: number): string {
  const reasons: Record<number, string> = {
    400: 'BadRequest',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'NotFound',
    405: 'MethodNotAllowed',
    406: 'NotAcceptable',
    409: 'Conflict',
    410: 'Gone',
    413: 'RequestEntityTooLarge',
    415: 'UnsupportedMediaType',
    422: 'Invalid',
    429: 'TooManyRequests',
    500: 'InternalError',
    503: 'ServiceUnavailable',
    504: 'Timeout',
  };
  return reasons[status] ?? 'Unknown';
}

function parseJson(text: string, spec: RequestSpec): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    const message = `${spec.method} ${spec.path}: the answer is not JSON: ${text.slice(0, 200)}`;
    throw new RequestError(message, spec.method, spec.path, { cause: err });
  }
}

async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function namespaceOf(t: ResourceType, namespace: string | undefined): string | undefined {
  return t.namespaced && namespace ? namespace : undefined;
}

function nameOf(t: ResourceType, obj: KubeObject): { namespace: string | undefined; name: string } {
  const name = obj.metadata?.name;
  if (!name) throw new TypeError(`${t.kind}: metadata.name is required`);
  const namespace = t.namespaced ? obj.metadata?.namespace : undefined;
  if (t.namespaced && !namespace) throw new TypeError(`${t.kind} ${name}: metadata.namespace is required`);
  return { namespace, name };
}

function dryRun(on: boolean | undefined): string | undefined {
  return on ? 'All' : undefined;
}

function joinPath(prefix: string, path: string): string {
  return prefix.replace(/\/+$/, '') + path;
}

function isSocketError(err: unknown): boolean {
  return err instanceof Error && 'code' in err && typeof err.code === 'string';
}

/** The headers client-node resolved (Authorization, mostly), as a plain header object. */
function credentialHeaders(h: https.RequestOptions['headers']): http.OutgoingHttpHeaders {
  if (!h) return {};
  if (!Array.isArray(h)) return h as http.OutgoingHttpHeaders;
  // The raw form: [name, value, name, value, ...].
  const out: http.OutgoingHttpHeaders = {};
  for (let i = 0; i + 1 < h.length; i += 2) out[String(h[i])] = String(h[i + 1]);
  return out;
}

/** Why a signal aborted, as an Error (AbortError by default, TimeoutError for AbortSignal.timeout). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(`aborted: ${String(reason)}`, { cause: reason });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
