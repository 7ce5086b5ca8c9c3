/**
 * What one request of each kind the operators send costs the API server and etcd: their CPU time
 * (/proc/<pid>/stat) over N requests of that kind, 4 in flight through the operator's own client
 * (src/runtime/client.ts), divided by N. Against the local plane of `make testenv-up` (its directory
 * holds the admin's kubeconfig and the components' pids):
 *
 *   make testenv-up
 *   npx tsx bench/request-costs.ts /tmp/studylab-testenv-XXXXXX [N=1000]
 *
 * Every kind works on the same N Services of a new namespace, in the order below. Figures include
 * the plane's background work over the same span (the controller manager's EndpointSlices for new
 * Services, etcd's heartbeats), so compare kinds within one run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { formatMicroTime } from '../src/runtime/clock.js';
import { Client, EventsV1, Namespaces, Services, type KubeObject } from '../src/runtime/index.js';
import { CoreEvents } from '../src/studylab/claim-events.js';
import { procCpuSeconds } from './lib/operator-process.js';

const [dir, n = '1000'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: npx tsx bench/request-costs.ts <the testenv directory of make testenv-up> [N]');
  process.exit(2);
}
const N = Number(n);
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(join(dir, 'admin.kubeconfig'));
const client = new Client(kubeConfig, { userAgent: 'studylab-request-costs' });
const pid = (component: string): number => Number(readFileSync(join(dir, 'pids', component), 'utf8'));

/** N calls of `call(i)`, 4 in flight; `call` throws on an answer it did not expect. */
async function measure(name: string, call: (i: number) => Promise<void>): Promise<void> {
  const cpu = (component: string): number => procCpuSeconds(pid(component));
  const before = { api: cpu('kube-apiserver'), etcd: cpu('etcd') };
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < N) await call(next++);
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const perRequest = (ms: number): string => ((ms * 1000) / N).toFixed(2);
  const rate = N / ((performance.now() - t0) / 1000);
  console.log(
    `${name.padEnd(46)} API server ${perRequest(cpu('kube-apiserver') - before.api)} ms, etcd ${perRequest(cpu('etcd') - before.etcd)} ms a request (${rate.toFixed(0)}/s)`,
  );
}

const expect = (what: string, ok: boolean): void => {
  if (!ok) throw new Error(`unexpected answer: ${what}`);
};
const ns = `request-costs-${Date.now() % 1_000_000}`;
await client.create(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
const service = (i: number, labels: Record<string, string> = {}): KubeObject & { spec: unknown } => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `s-${i}`, namespace: ns, labels: { app: 'request-costs', ...labels } },
  spec: { selector: { app: `s-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
});
const apply = async (i: number, labels?: Record<string, string>): Promise<void> => {
  await client.apply(Services, service(i, labels), { fieldManager: 'request-costs', force: true });
};

console.log(`${N} requests of each kind, 4 in flight, namespace ${ns}`);
await measure('GET an absent Service (quorum read, 404)', async (i) =>
  expect('found', (await client.get(Services, ns, `absent-${i}`)) === undefined),
);
await measure('LIST it by name at resourceVersion=0 (cache)', async (i) => {
  const list = await client.list(Services, {
    namespace: ns,
    fieldSelector: `metadata.name=absent-${i}`,
    resourceVersion: '0',
  });
  expect('listed', list.items.length === 0);
});
await measure('server-side apply creating a Service', (i) => apply(i));
await measure('the same apply again (no change)', (i) => apply(i));
await measure('server-side apply changing a label', (i) => apply(i, { v: '2' }));
await measure('merge patch changing a label', async (i) => {
  const patch = { metadata: { labels: { w: '3' } } };
  await client.patch(Services, ns, `s-${i}`, patch, { type: 'merge', fieldManager: 'request-costs-merge' });
});
await measure('GET an existing Service (quorum read)', async (i) =>
  expect('absent', (await client.get(Services, ns, `s-${i}`)) !== undefined),
);
await measure('POST an Event (events.k8s.io/v1)', async (i) => {
  await client.create(EventsV1, {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `e-${i}`, namespace: ns },
    eventTime: formatMicroTime(Date.now()),
    reportingController: 'request-costs',
    reportingInstance: 'request-costs-1',
    action: 'Created',
    reason: 'Created',
    note: `Created Service s-${i}`,
    type: 'Normal',
    regarding: { apiVersion: 'v1', kind: 'Service', namespace: ns, name: `s-${i}` },
  } as KubeObject);
});
// A Pending claim's Warnings are read this way (src/studylab/claim-events.ts): a field selector the
// API server applies to every Event of the namespace, which now holds the N Events above.
const eventsOf = (i: number, resourceVersion?: string): Promise<void> =>
  client
    .list(CoreEvents, {
      namespace: ns,
      fieldSelector: `involvedObject.kind=Service,involvedObject.name=s-${i},type=Warning`,
      ...(resourceVersion !== undefined && { resourceVersion }),
    })
    .then((list) => expect('no list', Array.isArray(list.items)));
await measure(`LIST one object's Warnings among ${N} Events`, (i) => eventsOf(i));
await measure('the same LIST at resourceVersion=0 (cache)', (i) => eventsOf(i, '0'));
