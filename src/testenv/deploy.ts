/**
 * What deploy/ installs, as tests and the bench read it: where it puts the operator, its
 * ServiceAccount, the rendered kustomization, and kubectl against a plane's admin kubeconfig (the
 * suites and the bench install deploy/ the way a user would, with kubectl).
 */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './versions.js';

/** Where deploy/ installs the operator (its ServiceAccount, the Lease). */
export const OPERATOR_NAMESPACE = 'studylab-system';

export const OPERATOR_SERVICE_ACCOUNT = 'studylab-operator';

export function kubectl(c: { kubeconfigPath: string }, args: string[], input?: string): string {
  return execFileSync('kubectl', ['--kubeconfig', c.kubeconfigPath, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** The rendered deploy/ kustomization, as objects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- objects of every kind, which callers read as loose JSON
export function renderDeploy(c: { kubeconfigPath: string }): Record<string, any>[] {
  const rendered = kubectl(c, ['kustomize', `${REPO_ROOT}/deploy`]);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as above
  return parseAllDocuments(rendered).map((d) => d.toJSON() as Record<string, any>);
}
