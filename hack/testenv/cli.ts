/**
 * `make testenv-up` / `make testenv-down`: the local control plane in the
 * background, for poking at with kubectl.
 *
 *   up     starts a detached `serve` process, waits until the plane is ready, prints what to export
 *   down   stops it (SIGTERM to `serve`, which stops every component and removes its directory)
 *   serve  (internal) owns the plane until SIGTERM/SIGINT
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalControlPlane, cacheDir } from '../../src/testenv/index.js';

interface State {
  pid: number;
  kubeconfig: string;
  apiServerUrl: string;
  dir: string;
}

const stateDir = join(cacheDir(), 'testenv');
const stateFile = join(stateDir, 'state.json');
const logFile = join(stateDir, 'serve.log');

function readState(): State | undefined {
  if (!existsSync(stateFile)) return undefined;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as State;
  return alive(state.pid) ? state : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function printExports(state: State): void {
  console.log(`# The local control plane is up (API server ${state.apiServerUrl}). Use it with:`);
  console.log(`export KUBECONFIG=${state.kubeconfig}`);
  console.log('# Stop it with: make testenv-down');
}

async function up(): Promise<number> {
  const running = readState();
  if (running) {
    printExports(running);
    return 0;
  }
  mkdirSync(stateDir, { recursive: true });
  rmSync(stateFile, { force: true });
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve'], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  child.unref();
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const state = readState();
    if (state) {
      printExports(state);
      return 0;
    }
    if (child.exitCode !== null || !alive(child.pid!)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  console.error(
    `the local control plane did not start; its log (${logFile}):\n${readFileSync(logFile, 'utf8')}`,
  );
  return 1;
}

async function down(): Promise<number> {
  const state = readState();
  if (!state) {
    console.log('the local control plane is not running');
    return 0;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (alive(state.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive(state.pid)) {
    console.error(`the serve process ${state.pid} did not stop; see ${logFile}`);
    return 1;
  }
  console.log('the local control plane is stopped');
  return 0;
}

async function serve(): Promise<number> {
  const plane = await LocalControlPlane.start({ log: (m) => console.log(m) });
  const state: State = {
    pid: process.pid,
    kubeconfig: plane.kubeconfigPath,
    apiServerUrl: plane.apiServerUrl,
    dir: plane.dir,
  };
  writeFileSync(stateFile, JSON.stringify(state, null, 2));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await plane.stop();
  rmSync(stateFile, { force: true });
  return 0;
}

const commands: Record<string, () => Promise<number>> = { up, down, serve };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: cli.ts up|down');
  process.exitCode = 2;
} else {
  process.exitCode = await command();
}
