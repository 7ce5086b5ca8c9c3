/**
 * A FAKE, in-memory ObjectClient for the reconciler's unit tests: no API server behind it.
 *
 * It records every request (verb, kind, name, subresource, body) so a test can assert exactly what
 * was sent, or that nothing was. It keeps objects by kind, namespace and name, gives them a uid and
 * a resourceVersion, and answers a server-side apply by storing the applied object as it is: it does
 * none of the API server's merging, defaulting or validation. What it answers for must therefore be
 * checked against a real API server too (test/e2e does).
 *
 * `refuse(kind, error)` makes every write of that kind fail with the given error, to provoke what a
 * real server does only in situations a unit test cannot stage (a quota, an admission webhook).
 */
import { randomUUID } from 'node:crypto';
import { abortReason } from '../../src/runtime/client.js';
import { resourcePath } from '../../src/runtime/resources.js';
import {
  ApiError,
  type ApplyOptions,
  type CallOptions,
  type DeleteOptions,
  type EventSink,
  type EventType,
  type KubeObject,
  type ObjectClient,
  type PatchOptions,
  type ResourceType,
  type Store,
} from '../../src/runtime/index.js';
import { objectKey } from '../../src/runtime/keys.js';

export interface RecordedRequest {
  verb: 'GET' | 'APPLY' | 'CREATE' | 'PATCH' | 'DELETE';
  kind: string;
  namespace: string | undefined;
  name: string;
  subresource?: 'status';
  body?: unknown;
}

export class FakeClient implements ObjectClient {
  readonly requests: RecordedRequest[] = [];
  private readonly objects = new Map<string, KubeObject>();
  private readonly refusals = new Map<string, ApiError>();
  private resourceVersion = 100;

  /** Puts an object in place as if someone else had created it (not recorded as a request). */
  seed<T extends KubeObject>(t: ResourceType, obj: T): T {
    return this.store(t, { ...obj, kind: t.kind }, undefined);
  }

  /** The object as the fake holds it now. */
  object<T extends KubeObject>(t: ResourceType, namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(this.key(t, namespace, name)) as T | undefined;
  }

  /** Makes every write of `kind` fail with `error` from now on. */
  refuse(kind: string, error: ApiError): void {
    this.refusals.set(kind, error);
  }

  /** The requests that change something (every verb but GET). */
  writes(): RecordedRequest[] {
    return this.requests.filter((r) => r.verb !== 'GET');
  }

  /** Copies every object of `t` the fake holds into `store`, as the informer would once the watch caught up. */
  syncTo<T extends KubeObject>(t: ResourceType, store: Store<T>): void {
    const prefix = `${t.kind}/`;
    store.replace([...this.objects.entries()].filter(([k]) => k.startsWith(prefix)).map(([, o]) => o as T));
  }

  get<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: CallOptions = {},
  ): Promise<T | undefined> {
    return this.call(opts, { verb: 'GET', kind: t.kind, namespace, name }, () =>
      this.object<T>(t, namespace, name),
    );
  }

  apply<T extends KubeObject>(t: ResourceType, obj: T, opts: ApplyOptions): Promise<T> {
    const { namespace, name } = obj.metadata ?? {};
    const request: RecordedRequest = {
      verb: 'APPLY',
      kind: t.kind,
      namespace,
      name: name ?? '',
      body: structuredClone(obj),
      ...(opts.subresource ? { subresource: opts.subresource } : {}),
    };
    return this.call(opts, request, () => {
      this.throwIfRefused(t);
      const existing = this.object<T>(t, namespace, name ?? '');
      if (opts.subresource === 'status') {
        if (!existing) throw notFound(t, namespace, name ?? '');
        return this.store(t, { ...existing, status: (obj as { status?: unknown }).status }, existing);
      }
      return this.store(t, { ...obj, kind: t.kind }, existing);
    });
  }

  create<T extends KubeObject>(t: ResourceType, obj: T, opts: CallOptions = {}): Promise<T> {
    const { namespace, name } = obj.metadata ?? {};
    const request: RecordedRequest = { verb: 'CREATE', kind: t.kind, namespace, name: name ?? '', body: obj };
    return this.call(opts, request, () => {
      this.throwIfRefused(t);
      if (this.object(t, namespace, name ?? '')) {
        throw new ApiError(`${t.kind} ${name} already exists`, {
          status: 409,
          reason: 'AlreadyExists',
          body: undefined,
          method: 'POST',
          path: resourcePath(t, namespace),
        });
      }
      return this.store(t, { ...obj, kind: t.kind }, undefined);
    });
  }

  patch<T extends KubeObject>(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    patch: unknown,
    opts: PatchOptions,
  ): Promise<T> {
    const request: RecordedRequest = { verb: 'PATCH', kind: t.kind, namespace, name, body: patch };
    return this.call(opts, request, () => {
      this.throwIfRefused(t);
      const existing = this.object<T>(t, namespace, name);
      if (!existing) throw notFound(t, namespace, name);
      return this.store(t, { ...existing, ...(patch as object) }, existing);
    });
  }

  delete(
    t: ResourceType,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions = {},
  ): Promise<boolean> {
    return this.call(opts, { verb: 'DELETE', kind: t.kind, namespace, name }, () => {
      this.throwIfRefused(t);
      return this.objects.delete(this.key(t, namespace, name));
    });
  }

  /** Records the request, unless the signal had aborted: then nothing is sent, as with the real client. */
  private async call<R>(opts: CallOptions, request: RecordedRequest, answer: () => R): Promise<R> {
    await Promise.resolve();
    if (opts.signal?.aborted) throw abortReason(opts.signal);
    this.requests.push(request);
    return answer();
  }

  private store<T extends KubeObject>(t: ResourceType, obj: T, existing: T | undefined): T {
    const stored = structuredClone({
      ...obj,
      metadata: {
        ...obj.metadata,
        uid: existing?.metadata?.uid ?? obj.metadata?.uid ?? randomUUID(),
        resourceVersion: String(++this.resourceVersion),
      },
    });
    this.objects.set(this.key(t, stored.metadata.namespace, stored.metadata.name ?? ''), stored);
    return structuredClone(stored);
  }

  private throwIfRefused(t: ResourceType): void {
    const refusal = this.refusals.get(t.kind);
    if (refusal) throw refusal;
  }

  private key(t: ResourceType, namespace: string | undefined, name: string): string {
    return `${t.kind}/${objectKey({ metadata: { namespace, name } })}`;
  }
}

function notFound(t: ResourceType, namespace: string | undefined, name: string): ApiError {
  return new ApiError(`${t.kind} ${name} not found`, {
    status: 404,
    reason: 'NotFound',
    body: undefined,
    method: 'GET',
    path: resourcePath(t, namespace, name),
  });
}

export interface RecordedEvent {
  type: EventType;
  reason: string;
  action: string;
  note: string;
  regarding: string;
}

/** A FAKE EventSink: keeps what would have been recorded, writes nothing. */
export class FakeEvents implements EventSink {
  readonly events: RecordedEvent[] = [];

  event(regarding: KubeObject, type: EventType, reason: string, action: string, note: string): void {
    this.events.push({ type, reason, action, note, regarding: objectKey(regarding) });
  }

  reasons(): string[] {
    return this.events.map((e) => e.reason);
  }
}
