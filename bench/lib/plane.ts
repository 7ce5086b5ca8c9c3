/**
 * The plane: one local control plane for the whole run (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok from src/testenv), with deploy/ installed
 * minus the operator's Deployment, so that both operators run as separate processes with the
 * shipped ServiceAccount's token: what they may do is what the shipped RBAC allows.
 */
import { KubeConfig } from '@kubernetes/client-node';
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
  stop(): Promise<void>;
}

/** What every loop is handed: the plane, the options, and where the operators come from and log to. */
export interface Bench {
  plane: Plane;
  options: BenchOptions;
  /** The Go peer's binary; empty when the peer is not benched. */
  peerBinary: string;
  logDir: string;
}

/** Starts the plane and installs deploy/; the plane is stopped on exit too, however the run ends. */
export async function startPlane(): Promise<Plane> {
  const c = await LocalControlPlane.start({
    // kube-controller-manager's client defaults to 20 requests/s per controller; at that rate the claim
    // binder and the Deployment controller, not the operators, would decide when 1000 labs are Ready.
    controllerManagerArgs: ['--kube-api-qps=1000', '--kube-api-burst=2000'],
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
