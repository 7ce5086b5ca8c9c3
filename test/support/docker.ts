/**
 * The operator image as containers, for the image suite: the `docker` CLI, run the way the
 * Deployment in deploy/ runs the image (non-root, read-only root, no capabilities, no privilege
 * escalation), with --network=host so the container reaches the local plane on 127.0.0.1.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The image under test: `make test-image` builds it and passes its tag. */
export const IMAGE = process.env.STUDYLAB_IMAGE ?? 'studylab-operator:dev';

export function docker(args: string[], input?: string | Buffer): string {
  return execFileSync('docker', args, {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

export async function dockerAsync(args: string[]): Promise<string> {
  return (await execFileAsync('docker', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })).stdout;
}

/** Why the image suite cannot run here, or undefined when it can. */
export function dockerUnavailable(): string | undefined {
  try {
    docker(['info', '--format', '{{.ServerVersion}}']);
  } catch {
    return (
      'no Docker engine answers (`docker info` fails). As root on Debian, hack/docker-engine.sh installs ' +
      'and starts one; elsewhere start Docker yourself. `make test-image` builds the image first.'
    );
  }
  try {
    docker(['image', 'inspect', IMAGE]);
  } catch {
    return `the image ${IMAGE} does not exist: \`make test-image\` builds it before running this suite`;
  }
  return undefined;
}

const started = new Set<string>();
process.once('exit', () => {
  // A failed run must not leave operators running against the next run's plane.
  for (const name of started) {
    try {
      execFileSync('docker', ['rm', '-f', name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
});

export interface Container {
  readonly name: string;
  /** The container's output so far (the operator logs JSON to stdout). */
  logs(tail?: number): string;
  /** `docker stop -t grace`: SIGTERM to PID 1, SIGKILL after grace seconds. Resolves with the exit code. */
  stop(graceSeconds: number): Promise<number>;
  /** `docker kill` (SIGKILL): no handler runs, nothing is released. */
  kill(): Promise<void>;
  /** Exit code once exited, else undefined. */
  exitCode(): number | undefined;
  remove(): void;
}

export interface RunOptions {
  name: string;
  /** Host directory mounted read-only at /etc/studylab (holds the kubeconfig). */
  configDir: string;
  args: string[];
  env?: Record<string, string>;
}

/** The restrictions deploy/base/deployment.yaml puts on the operator's container, as docker flags. */
export const HARDENED = [
  '--read-only',
  '--user',
  '65532:65532',
  '--cap-drop=ALL',
  '--security-opt=no-new-privileges',
];

export function runOperator(o: RunOptions): Container {
  const env = Object.entries(o.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
  started.add(o.name);
  docker([
    'run',
    '--detach',
    '--name',
    o.name,
    '--network=host',
    ...HARDENED,
    '--volume',
    `${o.configDir}:/etc/studylab:ro`,
    ...env,
    IMAGE,
    ...o.args,
  ]);
  const state = (): { Running: boolean; ExitCode: number } =>
    JSON.parse(docker(['inspect', '--format', '{{json .State}}', o.name])) as {
      Running: boolean;
      ExitCode: number;
    };
  return {
    name: o.name,
    logs(tail = 40) {
      try {
        return execFileSync('docker', ['logs', '--tail', String(tail), o.name], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (err) {
        return `(docker logs failed: ${(err as Error).message})`;
      }
    },
    async stop(graceSeconds) {
      await dockerAsync(['stop', '--time', String(graceSeconds), o.name]);
      return state().ExitCode;
    },
    async kill() {
      await dockerAsync(['kill', '--signal', 'KILL', o.name]);
    },
    exitCode() {
      const s = state();
      return s.Running ? undefined : s.ExitCode;
    },
    remove() {
      try {
        docker(['rm', '-f', o.name]);
      } catch {
        // already gone
      }
      started.delete(o.name);
    },
  };
}

export interface TarEntry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  path: string;
}

/**
 * Every file of the image's filesystem, as `docker export` of a created (never started) container
 * gives it: type, permission bits and numeric owner, read with `tar -tv`.
 */
export function imageFiles(image = IMAGE): TarEntry[] {
  const id = docker(['create', image]).trim();
  try {
    const tar = execFileSync('docker', ['export', id], { maxBuffer: 1024 * 1024 * 1024 });
    const listing = execFileSync('tar', ['-tv', '--numeric-owner', '-f', '-'], {
      input: tar,
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    return listing
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        // -rw-r--r-- 0/0   123 2026-12-06 17:13 app/package.json
        const m = /^(\S)(\S{9})\s+(\d+)\/(\d+)\s+\S+\s+\S+\s+\S+\s+(.*)$/.exec(line);
        if (!m) throw new Error(`unexpected tar listing line: ${line}`);
        const path = m[5]!.replace(/ -> .*$/, '').replace(/ link to .*$/, '');
        return {
          type: m[1]!,
          mode: m[2]!,
          uid: Number(m[3]),
          gid: Number(m[4]),
          path: path.replace(/\/$/, ''),
        };
      });
  } finally {
    docker(['rm', id]);
  }
}

/** Whether `uid:gid` may write the entry, from its owner and mode bits (root aside). */
export function writableBy(e: TarEntry, uid: number, gid: number): boolean {
  if (e.type === 'l') return false; // a symlink's own bits mean nothing
  if (e.uid === uid) return e.mode[1] === 'w';
  if (e.gid === gid) return e.mode[4] === 'w';
  return e.mode[7] === 'w';
}
