/**
 * Installs what `kubectl apply -k deploy/` installs, minus the operator's own
 * Deployment (the plane's kwok nodes only simulate pods; test/image runs the
 * image itself, with docker): the suites then run the operator as a local
 * process, or as a container, with the shipped ServiceAccount's token, so
 * they prove the shipped RBAC is enough.
 */
import { stringify } from 'yaml';
import type { StudyLabSpec } from '../../src/api/v1alpha1/index.js';
import {
  kubectl,
  OPERATOR_NAMESPACE,
  OPERATOR_SERVICE_ACCOUNT,
  renderDeploy,
  waitForCrdEstablished,
} from '../../src/testenv/index.js';
import { cluster, type Cluster } from './cluster.js';

let installed: Promise<{ kubeconfig: string }> | undefined;

/**
 * Applies deploy/ without the operator Deployment (once per run) and returns a
 * kubeconfig for the operator's ServiceAccount.
 */
export function installOperatorPrerequisites(): Promise<{ kubeconfig: string }> {
  installed ??= (async () => {
    const c = await cluster();
    const objects = renderDeploy(c).filter(
      (o) => !(o.kind === 'Deployment' && o.metadata?.name === 'studylab-operator'),
    );
    kubectl(
      c,
      ['apply', '--server-side', '--force-conflicts', '-f', '-'],
      objects.map((o) => stringify(o)).join('---\n'),
    );
    await waitForCrdEstablished(c.kubeconfigPath);
    const sa = await c.serviceAccountKubeConfig(OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT);
    return { kubeconfig: sa.path };
  })();
  return installed;
}

/** Applies a StudyLab as a user would (`kubectl apply --server-side`, field manager e2e-user). */
export function applyLab(
  c: Pick<Cluster, 'kubeconfigPath'>,
  namespace: string,
  name: string,
  spec: StudyLabSpec,
): void {
  const lab = { apiVersion: 'studylab.io/v1alpha1', kind: 'StudyLab', metadata: { name, namespace }, spec };
  kubectl(
    c,
    ['apply', '--server-side', '--field-manager=e2e-user', '--force-conflicts', '-f', '-'],
    stringify(lab),
  );
}
