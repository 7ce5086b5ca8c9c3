/** Where the pinned control-plane binaries live: versions from hack/testenv/versions.env, cache under ~/.cache/studylab. */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const VERSIONS_FILE = join(REPO_ROOT, 'hack', 'testenv', 'versions.env');
export const BUILD_SCRIPT = join(REPO_ROOT, 'hack', 'testenv', 'build.sh');

export interface Versions {
  kubernetes: string;
  etcd: string;
  kwok: string;
}

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
  kubeScheduler: string;
  kwok: string;
}

export function readVersions(file = VERSIONS_FILE): Versions {
  const vars = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Z_]+)=(\S+)\s*$/.exec(line);
    if (m) vars.set(m[1]!, m[2]!);
  }
  const get = (name: string): string => {
    const v = vars.get(name);
    if (!v) throw new Error(`${file}: ${name} is not set`);
    return v;
  };
  return { kubernetes: get('KUBERNETES_VERSION'), etcd: get('ETCD_VERSION'), kwok: get('KWOK_VERSION') };
}

/** The cache root shared with hack/testenv/build.sh (STUDYLAB_CACHE overrides it). */
export function cacheDir(): string {
  return process.env.STUDYLAB_CACHE ?? join(homedir(), '.cache', 'studylab');
}

export function binaryPaths(versions = readVersions()): Binaries {
  const bin = join(cacheDir(), 'bin');
  const k8s = join(bin, `kubernetes-${versions.kubernetes}`);
  return {
    etcd: join(bin, `etcd-${versions.etcd}`, 'etcd'),
    kubeApiserver: join(k8s, 'kube-apiserver'),
    kubeControllerManager: join(k8s, 'kube-controller-manager'),
    kubeScheduler: join(k8s, 'kube-scheduler'),
    kwok: join(bin, `kwok-${versions.kwok}`, 'kwok'),
  };
}

export class BinariesMissingError extends Error {}

/** Throws with the command to run when a binary has not been built yet (building takes minutes, so it is never implicit here). */
export function requireBinaries(versions = readVersions()): Binaries {
  const paths = binaryPaths(versions);
  const missing = [
    paths.etcd,
    paths.kubeApiserver,
    paths.kubeControllerManager,
    paths.kubeScheduler,
    paths.kwok,
  ].filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new BinariesMissingError(
      `control-plane binaries are missing (${missing.join(', ')}); build them once with: make testenv-build`,
    );
  }
  return paths;
}
