/** The local control plane for tests and `make run`: build once (hack/testenv/build.sh), start and stop from TypeScript. */
export {
  LocalControlPlane,
  DEFAULT_STORAGE_CLASS,
  FAKE_NODE_ANNOTATION,
  KWOK_CRASHES_IMAGE,
  KWOK_NEVER_READY_IMAGE,
  KWOK_PULL_FAILS_IMAGE,
  serviceAccountKubeConfig,
} from './control-plane.js';
export type { LocalControlPlaneOptions } from './control-plane.js';
export {
  readVersions,
  binaryPaths,
  requireBinaries,
  BinariesMissingError,
  cacheDir,
  REPO_ROOT,
} from './versions.js';
export { installStudyLabCrd, waitForCrdEstablished, CRD_FILE, CRD_NAME } from './crd.js';
export { OPERATOR_NAMESPACE, OPERATOR_SERVICE_ACCOUNT, kubectl, renderDeploy } from './deploy.js';
export { freePort, freePorts } from './ports.js';
export { sumMetric } from './metrics.js';
