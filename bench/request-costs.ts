/**
 * What one request of each kind the operators send costs the API server and etcd: their CPU time
 * (/proc/<pid>/stat) over N requests of that kind, 4 in flight on kept-alive connections, divided
 * by N. Against the local plane of `make testenv-up` (its directory holds the admin's certificate
 * and the components' pids):
 *
 *   make testenv-up
 *   npx tsx bench/request-costs.ts /tmp/studylab-testenv-XXXXXX [N=1000]
 *
 * Each kind runs on its own namespace's Services, so what one kind leaves does not slow the next
 * beyond the objects it created. Figures include the plane's background work over the same span
 * (kube-controller-manager's watches, etcd's heartbeats), so compare kinds within one run.
 */
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { procCpuSeconds } from './lib/operator-process.js';

const [dir, n = '1000'] = process.argv.slice(2);
if (!dir) {
  console.error('usage: npx tsx bench/request-costs.ts <the testenv directory of make testenv-up> [N]');
  process.exit(2);
}
const N = Number(n);
const server = /server: (\S+)/.exec(readFileSync(join(dir, 'admin.kubeconfig'), 'utf8'))?.[1];
if (!server) throw new Error(`${dir}/admin.kubeconfig names no server`);
const agent = new Agent({
  keepAlive: true,
  maxSockets: 4,
  ca: readFileSync(join(dir, 'ca.crt')),
  cert: readFileSync(join(dir, 'client-admin.crt')),
  key: readFileSync(join(dir, 'client-admin.key')),
});
const pid = (component: string): number => Number(readFileSync(join(dir, 'pids', component), 'utf8'));
const APPLY = 'application/apply-patch+yaml';

interface Call {
  method: string;
  path: string;
  body?: unknown;
  contentType?: string;
}

function send({ method, path, body, contentType = 'application/json' }: Call): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = contentType;
    const req = request(new URL(path, server), { method, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve([res.statusCode ?? 0, text]));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** N calls made by `make(i)`, 4 in flight; every answer must have one of the `expected` codes. */
async function measure(name: string, make: (i: number) => Call, expected: number[]): Promise<void> {
  const api = procCpuSeconds(pid('kube-apiserver'));
  const etcd = procCpuSeconds(pid('etcd'));
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < N) {
      const [code, text] = await send(make(next++));
      if (!expected.includes(code)) throw new Error(`${name}: ${code} ${text.slice(0, 300)}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  const perRequest = (before: number, component: string): string =>
    (((procCpuSeconds(pid(component)) - before) * 1000) / N).toFixed(2);
  const rate = N / ((performance.now() - t0) / 1000);
  console.log(
    `${name.padEnd(46)} API server ${perRequest(api, 'kube-apiserver')} ms, etcd ${perRequest(etcd, 'etcd')} ms a request (${rate.toFixed(0)}/s)`,
  );
}

const ns = `request-costs-${Date.now() % 1_000_000}`;
await send({
  method: 'POST',
  path: '/api/v1/namespaces',
  body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
});
const services = `/api/v1/namespaces/${ns}/services`;
const service = (i: number, labels: Record<string, string> = {}): unknown => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: `s-${i}`, labels: { app: 'request-costs', ...labels } },
  spec: { selector: { app: `s-${i}` }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
});
const apply = (i: number, labels?: Record<string, string>): Call => ({
  method: 'PATCH',
  path: `${services}/s-${i}?fieldManager=request-costs&force=true`,
  body: service(i, labels),
  contentType: APPLY,
});

console.log(`${N} requests of each kind, 4 in flight, namespace ${ns}`);
await measure(
  'GET an absent Service (quorum read, 404)',
  (i) => ({ method: 'GET', path: `${services}/absent-${i}` }),
  [404],
);
await measure(
  'the same at resourceVersion=0 (watch cache)',
  (i) => ({ method: 'GET', path: `${services}/absent-${i}?resourceVersion=0` }),
  [404],
);
await measure('server-side apply creating a Service', (i) => apply(i), [201]);
await measure('the same apply again (no change)', (i) => apply(i), [200]);
await measure('server-side apply changing a label', (i) => apply(i, { v: '2' }), [200]);
await measure(
  'merge patch changing a label',
  (i) => ({
    method: 'PATCH',
    path: `${services}/s-${i}?fieldManager=request-costs-merge`,
    body: { metadata: { labels: { w: '3' } } },
    contentType: 'application/merge-patch+json',
  }),
  [200],
);
await measure(
  'GET an existing Service (quorum read)',
  (i) => ({ method: 'GET', path: `${services}/s-${i}` }),
  [200],
);
await measure(
  'POST an Event (events.k8s.io/v1)',
  (i) => ({
    method: 'POST',
    path: `/apis/events.k8s.io/v1/namespaces/${ns}/events`,
    body: {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: `e-${i}` },
      // MicroTime: six fractional digits.
      eventTime: new Date().toISOString().replace('Z', '000Z'),
      reportingController: 'request-costs',
      reportingInstance: 'request-costs-1',
      action: 'Created',
      reason: 'Created',
      note: `Created Service s-${i}`,
      type: 'Normal',
      regarding: { apiVersion: 'v1', kind: 'Service', namespace: ns, name: `s-${i}` },
    },
  }),
  [201],
);
agent.destroy();
