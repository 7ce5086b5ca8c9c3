/**
 * Real callers for the operator's secure endpoints and the admission policy: ServiceAccounts, their
 * tokens (a TokenRequest, as `kubectl create token` makes them), and the ClusterRoles bound to them.
 */
import { kubectl } from '../../src/testenv/index.js';
import type { Cluster } from './cluster.js';

/** Creates the ServiceAccount (if missing) and returns a fresh token for it. */
export function serviceAccountToken(
  c: Pick<Cluster, 'kubeconfigPath'>,
  namespace: string,
  name: string,
): string {
  try {
    kubectl(c, ['create', 'serviceaccount', name, '-n', namespace]);
  } catch (err) {
    if (!/AlreadyExists/.test(String((err as { stderr?: string }).stderr))) throw err;
  }
  return kubectl(c, ['create', 'token', name, '-n', namespace, '--duration=1h']).trim();
}

/**
 * Binds a ClusterRole to a ServiceAccount cluster-wide (non-resource URLs such as /metrics can only be
 * granted so); returns the binding's name, for unbind().
 */
export function bindClusterRole(
  c: Pick<Cluster, 'kubeconfigPath'>,
  role: string,
  namespace: string,
  serviceAccount: string,
): string {
  const name = `${role}-${namespace}-${serviceAccount}`.slice(0, 253);
  kubectl(c, [
    'create',
    'clusterrolebinding',
    name,
    `--clusterrole=${role}`,
    `--serviceaccount=${namespace}:${serviceAccount}`,
  ]);
  return name;
}

export function unbind(c: Pick<Cluster, 'kubeconfigPath'>, binding: string): void {
  kubectl(c, ['delete', 'clusterrolebinding', binding, '--ignore-not-found']);
}
