/**
 * helm and promtool, built by hack/tools/build.sh at the versions of hack/tools/versions.env into
 * ~/.cache/studylab/bin (a no-op when the binary is there; minutes on a fresh machine).
 */
import { execFileSync } from 'node:child_process';
import { REPO_ROOT } from '../../src/testenv/index.js';

const BUILD = `${REPO_ROOT}/hack/tools/build.sh`;
const paths = new Map<string, string>();

export function toolPath(tool: 'helm' | 'promtool'): string {
  let path = paths.get(tool);
  if (!path) {
    execFileSync(BUILD, [tool], { stdio: ['ignore', 'ignore', 'inherit'] });
    path = execFileSync(BUILD, ['--print-path', tool], { encoding: 'utf8' }).trim();
    paths.set(tool, path);
  }
  return path;
}

/** Runs a tool; on failure the error carries its stdout and stderr. */
export function runTool(
  tool: 'helm' | 'promtool',
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): string {
  try {
    return execFileSync(toolPath(tool), args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${tool} ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: err,
    });
  }
}
