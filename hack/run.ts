/**
 * `make run`: the operator against a real API server in one command.
 * Starts the local control plane (or uses STUDYLAB_KUBECONFIG), installs the
 * CRD, and runs the operator in the foreground. Ctrl-C stops both.
 * Extra operator flags: `make run ARGS='--log-format=pretty --log-level=debug'`; to watch the
 * loop step by step: `make run ARGS='--trace --log-format=pretty'` (docs/controller-patterns.md).
 */
import { installStudyLabCrd, LocalControlPlane } from '../src/testenv/index.js';
import { main } from '../src/main.js';

const external = process.env.STUDYLAB_KUBECONFIG;
const plane = external
  ? undefined
  : await LocalControlPlane.start({ log: (m) => console.error(`[testenv] ${m}`) });
const kubeconfig = external ?? plane!.kubeconfigPath;

try {
  await installStudyLabCrd(kubeconfig);
  console.error(`[run] CRD studylabs.studylab.io installed and established`);
  console.error(`
[run] The operator is starting. In another terminal:
  export KUBECONFIG=${kubeconfig}
  kubectl apply -f samples/01-clusterip.yaml
  kubectl get slab -w
  curl -s localhost:8080/debug/controllers | jq   # informers, queue, workers, last reconciles
[run] Ctrl-C stops the operator${plane ? ' and the local control plane' : ''}.
`);
  const args = (process.env.ARGS ?? '').split(/\s+/).filter(Boolean);
  process.exitCode = await main([
    '--kubeconfig',
    kubeconfig,
    // Plain HTTP without authentication, which is why it listens on 127.0.0.1 only: the tour's curl
    // lines need no token. In a cluster the same server is HTTPS behind TokenReview and SubjectAccessReview.
    '--metrics-bind-address=127.0.0.1:8080',
    '--metrics-secure=false',
    '--health-probe-bind-address=127.0.0.1:8081',
    ...args,
  ]);
} finally {
  await plane?.stop();
}
