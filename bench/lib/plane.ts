/**
 * The plane: one local control plane for the whole run (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok from src/testenv), with deploy/ installed
 * minus the operator's Deployment, so that both operators run as separate processes with the
 * shipped ServiceAccount's token: what they may do is what the shipped RBAC allows.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Client, Namespaces } from '../../src/runtime/index.js';
import {
  kubectl,
  LocalControlPlane,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  renderDeploy,
} from '../../src/testenv/index.js';
import type { BenchOptions } from './options.js';

export interface Plane {
  admin: Client;
  /** The operator's ServiceAccount, for the write loops (same credentials, same client library). */
  saClient: Client;
  adminKc: KubeConfig;
  saKubeconfig: string;
  /** Where kube-apiserver writes its audit events, when started with auditOperatorWrites. */
  auditLogPath: string | undefined;
  /** The PID of a component of the plane (as src/testenv records it), to read its memory or CPU from /proc. */
  pidOf(component: PlaneComponent): number;
  stop(): Promise<void>;
}

/**
 * The components the bench reads: the API server and etcd hold every lab too (memory), and they and
 * the controller manager share the machine's two cores with the operator (CPU).
 */
export type PlaneComponent = 'kube-apiserver' | 'etcd' | 'kube-controller-manager';

/** What every loop is handed: the plane, the options, and where the operators come from and log to. */
export interface Bench {
  plane: Plane;
  options: BenchOptions;
  /** The Go peer's binary; empty when the peer is not benched. */
  peerBinary: string;
  /** The node ours runs on: the image's (bench/image-node.sh) unless `--ours-node=host`. */
  oursNode: string;
  logDir: string;
}

/**
 * Starts the plane and installs deploy/; the plane is stopped on exit too, however the run ends.
 * `auditOperatorWrites` makes kube-apiserver audit the operator ServiceAccount's writes
 * (`auditLogPath`), for a figure that needs each write's time and body; `auditAllRequests` audits
 * every request of anyone, without bodies, to count them.
 */
export async function startPlane(
  opts: { auditOperatorWrites?: boolean; auditAllRequests?: boolean } = {},
): Promise<Plane> {
  const c = await LocalControlPlane.start({
    ...(opts.auditAllRequests && { auditAllRequests: true }),
    // kube-controller-manager's client defaults to 20 requests/s per controller; at that rate the claim
    // binder and the Deployment controller, not the operators, would decide when 1000 labs are Ready.
    controllerManagerArgs: ['--kube-api-qps=1000', '--kube-api-burst=2000'],
    ...(opts.auditOperatorWrites && { auditWritesOf: [`system:serviceaccounts:${OPERATOR_NAMESPACE}`] }),
  });
  const stopPlane = (): void => void c.stop();
  process.once('exit', stopPlane);
  const saKubeconfig = await install(c);
  const saKc = new KubeConfig();
  saKc.loadFromFile(saKubeconfig);
  return {
    admin: new Client(c.kubeConfig, { userAgent: 'studylab-bench' }),
    saClient: new Client(saKc, { userAgent: 'studylab-bench-ceiling' }),
    adminKc: c.kubeConfig,
    saKubeconfig,
    auditLogPath: c.auditLogPath,
    pidOf: (component) => Number(readFileSync(join(c.dir, 'pids', component), 'utf8')),
    stop: () => c.stop(),
  };
}

/** What `kubectl apply -k deploy/` installs, minus the operator's Deployment; returns the ServiceAccount's kubeconfig. */
async function install(c: LocalControlPlane): Promise<string> {
  const objects = renderDeploy(c).filter(
    (o) =>
      !(
        o.kind === 'Deployment' && (o.metadata as { name?: string } | undefined)?.name === 'studylab-operator'
      ),
  );
  kubectl(
    c,
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objects.map((o) => stringify(o)).join('---\n'),
  );
  kubectl(c, ['wait', '--for=condition=Established', '--timeout=60s', 'crd/studylabs.studylab.io']);
  // Six hours: a full run takes about half an hour, and the token must outlive every operator start.
  return (await c.serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, 6 * 3600)).path;
}

export async function createNamespace(plane: Plane, name: string): Promise<void> {
  await plane.admin.create(Namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
}
