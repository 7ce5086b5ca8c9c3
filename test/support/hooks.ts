/** Mocha global fixtures for suites that use a cluster: stop the local plane once all suites are done. */
import { stopCluster } from './cluster.js';

export async function mochaGlobalTeardown(): Promise<void> {
  await stopCluster();
}
