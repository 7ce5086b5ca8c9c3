/** The REST client against a real API server: reads, writes, server-side apply, status, watches, errors, metrics. */
import { expect } from 'chai';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ApiError,
  Client,
  isAlreadyExists,
  isConflict,
  isInvalid,
  isNotFound,
  RequestError,
  type WatchEvent,
} from '../../src/runtime/client.js';
import { Metrics } from '../../src/runtime/metrics.js';
import {
  ConfigMaps,
  Deployments,
  Namespaces,
  Services,
  type KubeObject,
  type ResourceType,
} from '../../src/runtime/resources.js';
import { cluster, eventually, testNamespace } from '../support/cluster.js';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}
interface Service extends KubeObject {
  spec?: { type?: string; ports?: { port: number; protocol?: string }[]; selector?: Record<string, string> };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

const ServiceAccounts: ResourceType = {
  group: '',
  version: 'v1',
  kind: 'ServiceAccount',
  plural: 'serviceaccounts',
  namespaced: true,
};

/** eventually() for a synchronous check. */
const until = (check: () => void): Promise<void> => eventually(() => Promise.resolve().then(check));

function configMap(
  namespace: string,
  name: string,
  data: Record<string, string>,
  labels?: Record<string, string>,
) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { namespace, name, ...(labels ? { labels } : {}) },
    data,
  };
}

/** The value of one rest_client_requests_total series (0 when absent). */
async function requestCount(metrics: Metrics, labels: { code: string; method: string }): Promise<number> {
  const { values } = await metrics.restClientRequests.get();
  return values
    .filter((v) => v.labels.code === labels.code && v.labels.method === labels.method)
    .reduce((sum, v) => sum + v.value, 0);
}

describe('Client (integration)', function () {
  this.timeout(60_000);
  let client: Client;
  let metrics: Metrics;
  let ns: string;

  before(async function () {
    this.timeout(180_000); // the first suite to ask starts the shared plane
    const { kubeConfig } = await cluster();
    metrics = new Metrics();
    client = new Client(kubeConfig, { metrics });
    ns = await testNamespace('client');
  });

  describe('reads and writes', function () {
    it('get returns undefined for a missing object and the object after create', async function () {
      expect(await client.get(ConfigMaps, ns, 'missing')).to.equal(undefined);
      const created = await client.create<ConfigMap>(ConfigMaps, configMap(ns, 'created', { a: '1' }));
      expect(created.metadata?.uid).to.be.a('string');

      const fetched = await client.get<ConfigMap>(ConfigMaps, ns, 'created');
      expect(fetched?.data).to.deep.equal({ a: '1' });
      expect(fetched?.metadata?.resourceVersion).to.equal(created.metadata?.resourceVersion);
    });

    it('addresses named API groups and cluster-scoped kinds', async function () {
      const deployments = await client.list(Deployments, { namespace: ns });
      expect(deployments.items).to.deep.equal([]);
      expect(deployments.resourceVersion).to.match(/^\d+$/);
      const namespace = await client.get(Namespaces, undefined, ns);
      expect(namespace?.metadata?.name).to.equal(ns);
      expect(namespace?.kind).to.equal('Namespace');
    });

    it('create of an existing name fails with AlreadyExists', async function () {
      await client.create(ConfigMaps, configMap(ns, 'twice', {}));
      const err = await client.create(ConfigMaps, configMap(ns, 'twice', {})).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ApiError);
      expect(isAlreadyExists(err)).to.equal(true);
      expect(isConflict(err), 'AlreadyExists is not an update conflict').to.equal(false);
      expect((err as ApiError).status).to.equal(409);
    });

    it('list filters by label, pages with limit/continue and fills in apiVersion and kind', async function () {
      for (let i = 0; i < 5; i++) {
        await client.create(ConfigMaps, configMap(ns, `paged-${i}`, {}, { paged: 'yes' }));
      }
      const all = await client.list<ConfigMap>(ConfigMaps, { namespace: ns, labelSelector: 'paged=yes' });
      expect(all.items.map((i) => i.metadata?.name).sort()).to.deep.equal(
        [0, 1, 2, 3, 4].map((i) => `paged-${i}`),
      );
      expect(all.items[0]?.apiVersion).to.equal('v1');
      expect(all.items[0]?.kind).to.equal('ConfigMap');
      expect(all.resourceVersion).to.match(/^\d+$/);
      expect(all.continue).to.equal(undefined);

      const names: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await client.list<ConfigMap>(ConfigMaps, {
          namespace: ns,
          labelSelector: 'paged=yes',
          limit: 2,
          ...(token ? { continue: token } : {}),
        });
        names.push(...page.items.map((i) => i.metadata?.name ?? ''));
        token = page.continue;
        pages++;
      } while (token);
      expect(pages).to.equal(3);
      expect(names.sort()).to.deep.equal(all.items.map((i) => i.metadata?.name).sort());
    });

    it('patch supports merge, JSON and strategic merge patches', async function () {
      await client.create(ConfigMaps, configMap(ns, 'patched', { a: '1' }));
      await client.patch(ConfigMaps, ns, 'patched', { data: { b: '2' } }, { type: 'merge' });
      await client.patch(ConfigMaps, ns, 'patched', [{ op: 'add', path: '/data/c', value: '3' }], {
        type: 'json',
      });
      await client.patch(ConfigMaps, ns, 'patched', { data: { d: '4' } }, { type: 'strategic' });

      const fetched = await client.get<ConfigMap>(ConfigMaps, ns, 'patched');
      expect(fetched?.data).to.deep.equal({ a: '1', b: '2', c: '3', d: '4' });
    });

    it('replace with a stale resourceVersion fails with Conflict', async function () {
      const created = await client.create<ConfigMap>(ConfigMaps, configMap(ns, 'replaced', { v: '1' }));
      await client.replace(ConfigMaps, { ...created, data: { v: '2' } });
      const err = await client.replace(ConfigMaps, { ...created, data: { v: '3' } }).catch((e: unknown) => e);
      expect(isConflict(err)).to.equal(true);
      expect((err as ApiError).reason).to.equal('Conflict');

      const fetched = await client.get<ConfigMap>(ConfigMaps, ns, 'replaced');
      expect(fetched?.data).to.deep.equal({ v: '2' });
    });

    it('delete returns true, then false once the object is gone', async function () {
      await client.create(ConfigMaps, configMap(ns, 'deleted', {}));
      expect(await client.delete(ConfigMaps, ns, 'deleted')).to.equal(true);
      expect(await client.get(ConfigMaps, ns, 'deleted')).to.equal(undefined);
      expect(await client.delete(ConfigMaps, ns, 'deleted')).to.equal(false);
    });

    it('delete honours a uid precondition', async function () {
      await client.create(ConfigMaps, configMap(ns, 'guarded', {}));
      const err = await client
        .delete(ConfigMaps, ns, 'guarded', { preconditions: { uid: '00000000-0000-0000-0000-000000000000' } })
        .catch((e: unknown) => e);
      expect(isConflict(err)).to.equal(true);
      expect(await client.get(ConfigMaps, ns, 'guarded')).to.not.equal(undefined);
    });

    it('an invalid object fails with Invalid and the server message', async function () {
      const err = await client
        .create(ConfigMaps, configMap(ns, 'Not_A_Valid_Name', {}))
        .catch((e: unknown) => e);
      expect(isInvalid(err)).to.equal(true);
      expect((err as ApiError).message).to.contain('Not_A_Valid_Name');
      expect((err as ApiError).body).to.have.property('kind', 'Status');
    });
  });

  describe('server-side apply', function () {
    it('creates, then updates what the field manager owns', async function () {
      const first = await client.apply<ConfigMap>(ConfigMaps, configMap(ns, 'applied', { a: '1', b: '1' }), {
        fieldManager: 'test-a',
      });
      expect(first.data).to.deep.equal({ a: '1', b: '1' });
      // Dropping a field from the intent removes it: the manager owned it.
      await client.apply(ConfigMaps, configMap(ns, 'applied', { a: '2' }), { fieldManager: 'test-a' });

      const fetched = await client.get<ConfigMap>(ConfigMaps, ns, 'applied');
      expect(fetched?.data).to.deep.equal({ a: '2' });
      expect(fetched?.metadata?.managedFields?.map((f) => f.manager)).to.include('test-a');
    });

    it('fails with 409 Conflict on a field another manager owns, and takes it with force', async function () {
      await client.apply(ConfigMaps, configMap(ns, 'contested', { owner: 'a' }), { fieldManager: 'test-a' });

      const err = await client
        .apply(ConfigMaps, configMap(ns, 'contested', { owner: 'b' }), { fieldManager: 'test-b' })
        .catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ApiError);
      expect((err as ApiError).status).to.equal(409);
      expect((err as ApiError).reason).to.equal('Conflict');
      expect(isConflict(err)).to.equal(true);
      expect((err as ApiError).message).to.contain('test-a');
      expect((await client.get<ConfigMap>(ConfigMaps, ns, 'contested'))?.data).to.deep.equal({ owner: 'a' });

      await client.apply(ConfigMaps, configMap(ns, 'contested', { owner: 'b' }), {
        fieldManager: 'test-b',
        force: true,
      });
      const fetched = await client.get<ConfigMap>(ConfigMaps, ns, 'contested');
      expect(fetched?.data).to.deep.equal({ owner: 'b' });
      const owners = (fetched?.metadata?.managedFields ?? [])
        .filter((f) => JSON.stringify(f.fieldsV1 ?? {}).includes('f:owner'))
        .map((f) => f.manager);
      expect(owners).to.deep.equal(['test-b']);
    });

    it('dryRun does not persist', async function () {
      const result = await client.apply<ConfigMap>(ConfigMaps, configMap(ns, 'dry', { a: '1' }), {
        fieldManager: 'test-a',
        dryRun: true,
      });
      expect(result.data).to.deep.equal({ a: '1' });
      expect(await client.get(ConfigMaps, ns, 'dry')).to.equal(undefined);
    });

    it('does not modify the object it was given', async function () {
      const intent = { metadata: { namespace: ns, name: 'untouched' }, data: { a: '1' } };
      const before = structuredClone(intent);
      await client.apply(ConfigMaps, intent, { fieldManager: 'test-a' });
      expect(intent).to.deep.equal(before);
    });
  });

  describe('status subresource', function () {
    it('apply and replace on /status change status only', async function () {
      const svc: Service = {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { namespace: ns, name: 'lb' },
        spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'lb' } },
      };
      await client.apply(Services, svc, { fieldManager: 'test-a' });

      await client.apply<Service>(
        Services,
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { namespace: ns, name: 'lb' },
          // A spec in a status apply is ignored by the server: only status changes.
          spec: { selector: { app: 'ignored' } },
          status: { loadBalancer: { ingress: [{ ip: '192.0.2.10' }] } },
        },
        { fieldManager: 'test-status', subresource: 'status' },
      );
      let fetched = await client.get<Service>(Services, ns, 'lb');
      expect(fetched?.status?.loadBalancer?.ingress?.map((i) => i.ip)).to.deep.equal(['192.0.2.10']);
      expect(fetched?.spec?.selector).to.deep.equal({ app: 'lb' });

      await client.replace<Service>(
        Services,
        { ...(fetched as Service), status: { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } } },
        { subresource: 'status' },
      );
      fetched = await client.get<Service>(Services, ns, 'lb');
      expect(fetched?.status?.loadBalancer?.ingress?.map((i) => i.ip)).to.deep.equal(['192.0.2.11']);

      await client.patch(
        Services,
        ns,
        'lb',
        { status: { loadBalancer: { ingress: [{ ip: '192.0.2.12' }] } } },
        { type: 'merge', subresource: 'status' },
      );
      fetched = await client.get<Service>(Services, ns, 'lb');
      expect(fetched?.status?.loadBalancer?.ingress?.map((i) => i.ip)).to.deep.equal(['192.0.2.12']);
    });
  });

  describe('watch', function () {
    it('streams ADDED, MODIFIED, DELETED in order from a list resourceVersion, then stops on abort', async function () {
      const watchNs = await testNamespace('client-watch');
      const listed = await client.list(ConfigMaps, { namespace: watchNs });
      const events: WatchEvent<ConfigMap>[] = [];
      const ac = new AbortController();
      const done = client.watch<ConfigMap>(
        ConfigMaps,
        {
          namespace: watchNs,
          resourceVersion: listed.resourceVersion,
          allowWatchBookmarks: true,
          signal: ac.signal,
        },
        (e) => {
          // The control plane adds a kube-root-ca.crt ConfigMap to every new namespace: only ours count.
          if (e.type !== 'BOOKMARK' && e.object.metadata?.name === 'w') events.push(e);
        },
      );

      await client.create(ConfigMaps, configMap(watchNs, 'w', { v: '1' }));
      await client.patch(ConfigMaps, watchNs, 'w', { data: { v: '2' } }, { type: 'merge' });
      await client.delete(ConfigMaps, watchNs, 'w');
      await until(() => {
        if (events.length < 3) throw new Error(`${events.length} events so far`);
      });
      expect(events.map((e) => e.type)).to.deep.equal(['ADDED', 'MODIFIED', 'DELETED']);
      expect(events.map((e) => e.object.data?.v)).to.deep.equal(['1', '2', '2']);
      expect(events[0]?.object.kind).to.equal('ConfigMap');

      ac.abort();
      const err = await done.catch((e: unknown) => e);
      expect(err).to.be.instanceOf(Error);
      expect((err as Error).name).to.equal('AbortError');

      // Nothing is delivered after the abort: once a second watch has seen the next change,
      // the first (were it still open) would have seen it too.
      const witness = new AbortController();
      let witnessed = false;
      const second = client
        .watch<ConfigMap>(
          ConfigMaps,
          { namespace: watchNs, resourceVersion: listed.resourceVersion, signal: witness.signal },
          (e) => {
            if (e.object.data?.v === 'after abort') witnessed = true;
          },
        )
        .catch(() => undefined);
      await client.create(ConfigMaps, configMap(watchNs, 'w', { v: 'after abort' }));
      await until(() => expect(witnessed).to.equal(true));
      witness.abort();
      await second;
      expect(events).to.have.length(3);
    });

    it('resolves when the server ends the watch after timeoutSeconds', async function () {
      const timeoutSeconds = 1;
      const listed = await client.list(ConfigMaps, { namespace: ns });
      const started = Date.now();
      await client.watch(
        ConfigMaps,
        {
          namespace: ns,
          resourceVersion: listed.resourceVersion,
          timeoutSeconds,
          signal: new AbortController().signal,
        },
        () => undefined,
      );
      const elapsed = Date.now() - started;
      console.log(`      the server ended a ${timeoutSeconds} s watch after ${elapsed} ms`);
      // Not at once (the server waited for the timeout), and not for some other reason long after it:
      // ten times the timeout leaves a loaded machine room.
      expect(elapsed).to.be.within((timeoutSeconds * 1000) / 2, timeoutSeconds * 1000 * 10);
    });

    it('rejects with what onEvent threw and ends the request', async function () {
      const listed = await client.list(ConfigMaps, { namespace: ns });
      const settled = client
        .watch(
          ConfigMaps,
          { namespace: ns, resourceVersion: listed.resourceVersion, signal: new AbortController().signal },
          () => {
            throw new Error('consumer failed');
          },
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      await client.create(ConfigMaps, configMap(ns, 'wakes-watch', {}));
      const err = await settled;
      expect((err as Error).message).to.equal('consumer failed');
    });
  });

  describe('errors and metrics', function () {
    it('counts every request by code, method and host, watches when they open', async function () {
      const host = new URL((await cluster()).kubeConfig.getCurrentCluster()?.server ?? '').host;
      const gets404 = await requestCount(metrics, { code: '404', method: 'GET' });
      const gets200 = await requestCount(metrics, { code: '200', method: 'GET' });
      await client.get(ConfigMaps, ns, 'no-such-thing');
      const listed = await client.list(ConfigMaps, { namespace: ns });
      const ac = new AbortController();
      const watch = client.watch(
        ConfigMaps,
        { namespace: ns, resourceVersion: listed.resourceVersion, signal: ac.signal },
        () => undefined,
      );
      // The watch is counted as soon as its response headers arrive, long before it ends.
      await eventually(async () => {
        const now = await requestCount(metrics, { code: '200', method: 'GET' });
        if (now !== gets200 + 2) throw new Error(`GET 200 count ${now - gets200}`);
      });
      ac.abort();
      await watch.catch(() => undefined);

      expect(await requestCount(metrics, { code: '404', method: 'GET' })).to.equal(gets404 + 1);
      const { values } = await metrics.restClientRequests.get();
      expect(values.every((v) => v.labels.host === host)).to.equal(true);
      const durations = await metrics.restClientRequestDuration.get();
      const count = durations.values.find(
        (v) => v.metricName === 'rest_client_request_duration_seconds_count' && v.labels.verb === 'GET',
      );
      expect(count?.value ?? 0).to.be.greaterThan(2);
    });

    it('a connection failure is a RequestError, counted as <error>', async function () {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'nowhere', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
        users: [{ name: 'nobody', token: 'x' }],
        contexts: [{ name: 'ctx', cluster: 'nowhere', user: 'nobody' }],
        currentContext: 'ctx',
      });
      const own = new Metrics();
      const unreachable = new Client(kc, { metrics: own, timeoutMs: 5_000 });
      const err = await unreachable.get(ConfigMaps, 'default', 'x').catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RequestError);
      expect((err as RequestError).cause).to.have.property('code', 'ECONNREFUSED');
      expect(isNotFound(err)).to.equal(false);
      expect(await requestCount(own, { code: '<error>', method: 'GET' })).to.equal(1);
    });

    it('authenticates with a bearer token from the kubeconfig (a ServiceAccount without rights gets 403)', async function () {
      const { kubeConfig } = await (await cluster()).serviceAccountKubeConfig(ns, 'default');
      const restricted = new Client(kubeConfig);
      const err = await restricted.list(ConfigMaps, { namespace: ns }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ApiError);
      expect((err as ApiError).status).to.equal(403);
      expect((err as ApiError).reason).to.equal('Forbidden');
      expect((err as ApiError).message).to.contain(`system:serviceaccount:${ns}:default`);
    });

    it('reuses resolved credentials, and resolves them again after a 401 (a rotated token)', async function () {
      const c = await cluster();
      await client.create(ServiceAccounts, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { namespace: ns, name: 'rotated' },
      });
      const kc = (await c.serviceAccountKubeConfig(ns, 'rotated')).kubeConfig;
      const user = kc.getCurrentUser() as { token?: string };
      const validToken = user.token;
      const own = new Metrics();
      const rotating = new Client(kc, { metrics: own });
      /** Who the API server took us for: a ServiceAccount without rights is told its name in the 403. */
      const identity = async (): Promise<string> => {
        const err = await rotating.list(ConfigMaps, { namespace: ns }).catch((e: unknown) => e);
        if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
        if (err.status === 401) return 'unauthorized';
        expect(err.status).to.equal(403);
        return /system:serviceaccount:[^:]+:([a-z-]+)/.exec(err.message)?.[1] ?? err.message;
      };

      // A token the server rejects (expired, or rotated away), then the kubeconfig gets a new one, as a
      // token file or an exec plugin would: the 401 dropped the credentials, so the very next request
      // sends the new token rather than the rejected one for the rest of the reuse window.
      user.token = 'not-a-valid-token';
      expect(await identity()).to.equal('unauthorized');
      user.token = validToken;
      expect(await identity()).to.equal('rotated');

      // Accepted credentials are reused within the window: a change is not re-read on every request.
      user.token = 'not-a-valid-token';
      expect(await identity()).to.equal('rotated');
      expect(await requestCount(own, { code: '401', method: 'GET' })).to.equal(1);
    });
  });
});
