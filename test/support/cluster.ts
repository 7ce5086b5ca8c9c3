/**
 * The cluster every integration and e2e suite runs against: the local control
 * plane, started once per mocha run on first use, or an existing cluster
 * (kind included) when STUDYLAB_KUBECONFIG names its kubeconfig.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type CustomObjectsApi } from '@kubernetes/client-node';
import type { StudyLab } from '../../src/api/v1alpha1/index.js';
import { LocalControlPlane, OPERATOR_NAMESPACE, serviceAccountKubeConfig } from '../../src/testenv/index.js';

export interface Cluster {
  /** Admin kubeconfig file. */
  kubeconfigPath: string;
  kubeConfig: KubeConfig;
  /** Set when the tests started the local plane; fault-injection tests need it. */
  local?: LocalControlPlane;
  /** A kubeconfig for a ServiceAccount, through a TokenRequest. */
  serviceAccountKubeConfig(
    namespace: string,
    name: string,
  ): Promise<{ kubeConfig: KubeConfig; path: string }>;
}

let shared: Promise<Cluster> | undefined;
/** Where ServiceAccount kubeconfigs for an external cluster go; removed with the cluster. */
let externalDir: string | undefined;

export function cluster(): Promise<Cluster> {
  shared ??= connect();
  return shared;
}

async function connect(): Promise<Cluster> {
  const external = process.env.STUDYLAB_KUBECONFIG;
  if (external) {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(external);
    const dir = mkdtempSync(join(tmpdir(), 'studylab-sa-'));
    externalDir = dir;
    return {
      kubeconfigPath: external,
      kubeConfig,
      serviceAccountKubeConfig: (ns, name) =>
        serviceAccountKubeConfig(kubeConfig, ns, name, join(dir, `${ns}-${name}.kubeconfig`)),
    };
  }
  const local = await LocalControlPlane.start({
    log: process.env.STUDYLAB_TESTENV_VERBOSE ? (m) => console.log(`[testenv] ${m}`) : undefined,
    // The server's record of what the operators wrote, for tests that must prove who wrote when.
    auditWritesOf: [`system:serviceaccounts:${OPERATOR_NAMESPACE}`],
  });
  return {
    kubeconfigPath: local.kubeconfigPath,
    kubeConfig: local.kubeConfig,
    local,
    serviceAccountKubeConfig: (ns, name) => local.serviceAccountKubeConfig(ns, name),
  };
}

/** Stops the local plane if this run started one (mocha global teardown, see test/support/hooks.ts). */
export async function stopCluster(): Promise<void> {
  const c = await shared?.catch(() => undefined);
  shared = undefined;
  await c?.local?.stop();
  if (externalDir) rmSync(externalDir, { recursive: true, force: true });
  externalDir = undefined;
}

let namespaceCounter = 0;

/**
 * Creates a uniquely named namespace and deletes it after the calling suite.
 * Call it from a `before` hook (or a test) so the `after` hook lands in that suite.
 */
export async function testNamespace(prefix: string): Promise<string> {
  const { kubeConfig } = await cluster();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const name =
    `${prefix}-${process.pid}-${++namespaceCounter}-${Math.random().toString(36).slice(2, 6)}`.slice(0, 63);
  await core.createNamespace({ body: { metadata: { name, labels: { 'studylab.io/test': 'true' } } } });
  after(async function () {
    this.timeout(30_000);
    await core.deleteNamespace({ name }).catch(() => undefined);
  });
  return name;
}

/** Retries `fn` until it resolves (returning its value) or the deadline passes (throwing the last error). */
export async function eventually<T>(
  fn: () => Promise<T>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? lastError.message : String(lastError);
      throw new Error(`eventually: condition not met within ${timeoutMs} ms: ${reason}`, {
        cause: lastError,
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Where StudyLabs are served, for CustomObjectsApi calls. */
export const STUDYLABS = { group: 'studylab.io', version: 'v1alpha1', plural: 'studylabs' } as const;

/** A StudyLab fetched again from the API server. */
export async function readLab(custom: CustomObjectsApi, namespace: string, name: string): Promise<StudyLab> {
  return (await custom.getNamespacedCustomObject({ ...STUDYLABS, namespace, name })) as StudyLab;
}
