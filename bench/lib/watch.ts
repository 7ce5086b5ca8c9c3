/**
 * What the benchmark sees of the cluster: the API server's request counters,
 * and a list+watch of labs or Deployments in one namespace that notes the
 * moment each condition becomes true (the time of the watch event, not of a
 * poll).
 */
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import type { KubeConfig } from '@kubernetes/client-node';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import { isGone, type Client, type KubeObject, type ResourceType } from '../../src/runtime/index.js';
import { parseRequestTotals, type RequestCounts } from './stats.js';

/** apiserver_request_total, read with the admin credentials. */
export async function apiServerRequests(kc: KubeConfig): Promise<RequestCounts> {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL('/metrics', kc.getCurrentCluster()!.server);
  const text = await new Promise<string>((resolve, reject) => {
    const req = https.get(url, { ...opts, timeout: 30_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics: ${res.statusCode}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('/metrics timed out')));
  });
  return parseRequestTotals(text);
}

type Waiter<T> = {
  done: (objects: ReadonlyMap<string, T>) => boolean;
  resolve: (atMs: number) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};

/** A list+watch of one resource in one namespace, keeping the latest object by name. */
export class NamespaceWatch<T extends KubeObject> {
  readonly objects = new Map<string, T>();
  private readonly abort = new AbortController();
  private waiters: Waiter<T>[] = [];
  private listeners: ((o: T, atMs: number) => void)[] = [];
  /** Requests this watch sent, so they can be told apart from the operator's. */
  lists = 0;
  watches = 0;
  private loop: Promise<void> | undefined;
  private failure: Error | undefined;

  constructor(
    private readonly client: Client,
    private readonly type: ResourceType,
    private readonly namespace: string,
    private readonly labelSelector?: string,
  ) {}

  async start(): Promise<void> {
    const rv = await this.relist();
    this.loop = this.run(rv).catch((err: unknown) => {
      if (this.abort.signal.aborted) return;
      this.failure = err instanceof Error ? err : new Error(String(err));
      for (const w of this.waiters) w.reject(this.failure);
    });
  }

  onChange(fn: (o: T, atMs: number) => void): void {
    this.listeners.push(fn);
  }

  /** Resolves with performance.now() of the event that made `done` true (now, if it already is). */
  until(
    done: (objects: ReadonlyMap<string, T>) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (done(this.objects)) return Promise.resolve(performance.now());
    return new Promise((resolve, reject) => {
      const waiter: Waiter<T> = {
        done,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async relist(): Promise<string> {
    this.lists++;
    const list = await this.client.list<T>(this.type, {
      namespace: this.namespace,
      ...(this.labelSelector && { labelSelector: this.labelSelector }),
    });
    this.objects.clear();
    for (const o of list.items) this.objects.set(o.metadata!.name!, o);
    return list.resourceVersion;
  }

  private async run(rv: string): Promise<void> {
    let resourceVersion = rv;
    while (!this.abort.signal.aborted) {
      try {
        this.watches++;
        await this.client.watch<T>(
          this.type,
          {
            namespace: this.namespace,
            ...(this.labelSelector && { labelSelector: this.labelSelector }),
            resourceVersion,
            allowWatchBookmarks: true,
            signal: this.abort.signal,
          },
          (e) => {
            const at = performance.now();
            resourceVersion = e.object.metadata?.resourceVersion ?? resourceVersion;
            if (e.type === 'BOOKMARK') return;
            const name = e.object.metadata!.name!;
            if (e.type === 'DELETED') this.objects.delete(name);
            else this.objects.set(name, e.object);
            for (const l of this.listeners) l(e.object, at);
            this.settle(at);
          },
        );
      } catch (err) {
        if (this.abort.signal.aborted) return;
        if (!isGone(err)) throw err;
        resourceVersion = await this.relist();
        this.settle(performance.now());
      }
    }
  }

  private settle(at: number): void {
    const still: Waiter<T>[] = [];
    for (const w of this.waiters) {
      if (w.done(this.objects)) {
        clearTimeout(w.timer);
        w.resolve(at);
      } else still.push(w);
    }
    this.waiters = still;
  }
}

/** The lab reports the generation it was reconciled at, with every child applied. */
export function labReconciled(lab: StudyLab): boolean {
  const s = lab.status;
  return (
    s?.observedGeneration === lab.metadata.generation &&
    (s?.conditions ?? []).some(
      (c) =>
        c.type === 'Reconciled' && c.status === 'True' && c.observedGeneration === lab.metadata.generation,
    )
  );
}

/** The lab reports the current generation and the phase the bench's shape should reach. */
export function labReady(lab: StudyLab): boolean {
  return labReconciled(lab) && lab.status?.phase === 'Ready';
}

export function countWhere<T>(objects: ReadonlyMap<string, T>, pred: (o: T) => boolean): number {
  let n = 0;
  for (const o of objects.values()) if (pred(o)) n++;
  return n;
}
