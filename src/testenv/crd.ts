/** Installs the generated StudyLab CRD and waits until the API server serves it, for `make run` and the suites. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ApiextensionsV1Api, KubeConfig } from '@kubernetes/client-node';
import { REPO_ROOT } from './versions.js';

export const CRD_FILE = join(REPO_ROOT, 'crds', 'studylab.io_studylabs.yaml');
export const CRD_NAME = 'studylabs.studylab.io';

/** `kubectl apply --server-side` of the CRD file, then waitForCrdEstablished. */
export async function installStudyLabCrd(kubeconfigPath: string, timeoutMs = 60_000): Promise<void> {
  execFileSync(
    'kubectl',
    ['--kubeconfig', kubeconfigPath, 'apply', '--server-side', '--force-conflicts', '-f', CRD_FILE],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitForCrdEstablished(kubeconfigPath, timeoutMs);
}

/**
 * Polls the CRD's Established condition. Not `kubectl wait`: right after a create it can fail on a
 * CRD that has no conditions yet ("accessor error: <nil>") instead of waiting.
 */
export async function waitForCrdEstablished(kubeconfigPath: string, timeoutMs = 60_000): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const crd = await api.readCustomResourceDefinition({ name: CRD_NAME });
    const established = crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
    if (established) return;
    if (Date.now() > deadline) throw new Error(`CRD ${CRD_NAME} not Established within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
