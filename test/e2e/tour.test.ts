/**
 * Runs every command of the guided tours (docs/controller-patterns.md, docs/labs.md) against the local
 * plane and the operator, and checks each output against the one the document shows, so the tours
 * never go stale. The format is described in test/support/tour.ts.
 *
 * `make run ARGS='...'` cannot run inside a test (it starts a plane of its own, in the foreground):
 * the test starts the operator with the same ARGS against its plane, with the admin kubeconfig and the
 * CRD installed, which is what `make run` does. curl commands reach the operator's probe and metrics
 * ports: the ports `make run` uses (8081, 8080) are replaced by the ones the test operator got.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { installStudyLabCrd, kubectl, LocalControlPlane, REPO_ROOT } from '../../src/testenv/index.js';
import { cluster, eventually } from '../support/cluster.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';
import { makeRunArgs, mismatch, parseTour, type TourStep } from '../support/tour.js';

const DOCS = ['docs/controller-patterns.md', 'docs/labs.md'];
/** Namespaces the tours create; removed afterwards so a rerun on an external cluster starts clean. */
const TOUR_NAMESPACES = ['tour', 'labs'];
const COMMAND_TIMEOUT_MS = 90_000;
const EVENTUALLY_MS = 90_000;

/** Runs a script with bash; resolves with stdout and stderr interleaved, and the exit code. */
function run(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', script], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      // Colour codes are not part of what a reader compares (CI=true makes some tools colour pipes).
      // eslint-disable-next-line no-control-regex
      resolve({ code, output: output.replace(/\x1b\[[0-9;]*m/g, '') });
    });
  });
}

function logText(operator: OperatorProcess, from: number): string {
  return operator.logs
    .slice(from)
    .map((l) => (typeof l.msg === 'string' && (l.unparsed || l.stderr) ? l.msg : JSON.stringify(l)))
    .join('\n');
}

describe('the guided tours run as written (e2e)', function () {
  this.timeout(300_000);
  let c: { kubeconfigPath: string };
  /** The tour's own plane: `make run` starts a fresh one, and the outputs shown are a fresh plane's. */
  let plane: LocalControlPlane | undefined;
  let operator: OperatorProcess | undefined;
  /** Where the operator's output stood when the last command started. */
  let logMark = 0;

  before(async function () {
    // Against an external cluster (STUDYLAB_KUBECONFIG) the tour runs there, and expects it empty.
    if (process.env.STUDYLAB_KUBECONFIG) c = await cluster();
    else c = plane = await LocalControlPlane.start();
    // What `make run` installs before it starts the operator.
    await installStudyLabCrd(c.kubeconfigPath);
  });

  after(async function () {
    this.timeout(60_000);
    await operator?.stop();
    if (plane) {
      await plane.stop();
      return;
    }
    for (const ns of TOUR_NAMESPACES) {
      try {
        kubectl(c, ['delete', 'namespace', ns, '--ignore-not-found', '--wait=false']);
      } catch {
        // Best effort: the plane is stopped after the run anyway.
      }
    }
  });

  const env = (): NodeJS.ProcessEnv => ({
    ...process.env,
    KUBECONFIG: c.kubeconfigPath,
    FORCE_COLOR: '0',
    NO_COLOR: '1',
  });

  /** The script with make run's fixed ports replaced by the test operator's. */
  const localise = (script: string): string => {
    if (!operator) return script;
    const probes = new URL(operator.probesUrl).host;
    const metrics = new URL(operator.metricsUrl).host;
    return script
      .replace(/(?:localhost|127\.0\.0\.1):8081/g, probes)
      .replace(/(?:localhost|127\.0\.0\.1):8080/g, metrics);
  };

  async function runStep(step: TourStep, where: string): Promise<void> {
    if (step.kind === 'operator') {
      await operator?.stop();
      operator = await startOperator({ kubeconfig: c.kubeconfigPath, args: makeRunArgs(step.script) });
      await operator.waitReady(90_000);
      return;
    }
    if (step.kind === 'operator-log') {
      const current = operator;
      if (!current) throw new Error(`${where}: operator output expected, but no operator step came before`);
      await eventually(
        () => {
          const why = mismatch(step.expected, logText(current, logMark));
          if (!why) return Promise.resolve();
          return Promise.reject(
            new Error(`${where}: operator output: ${why}\n--- got:\n${logText(current, logMark)}`),
          );
        },
        { timeoutMs: EVENTUALLY_MS, intervalMs: 250 },
      );
      return;
    }
    logMark = operator?.logs.length ?? 0;
    const script = localise(step.script);
    await eventually(
      async () => {
        const { code, output } = await run(script, env());
        if (code !== 0) throw new Error(`${where}: exit code ${code}\n--- output:\n${output}`);
        const why = mismatch(step.expected, output);
        if (why) throw new Error(`${where}: ${why}\n--- output:\n${output}`);
      },
      { timeoutMs: step.eventually ? EVENTUALLY_MS : 1, intervalMs: 1000 },
    );
  }

  for (const doc of DOCS) {
    describe(doc, function () {
      const steps = parseTour(readFileSync(join(REPO_ROOT, doc), 'utf8'));

      it('has steps to run', function () {
        expect(steps.filter((s) => s.kind === 'run').length).to.be.above(5);
      });

      for (const step of steps) {
        const first = step.kind === 'operator-log' ? '(operator output)' : (step.script.split('\n')[0] ?? '');
        const where = `${doc}:${step.line}`;
        it(`${where} ${first}`, async function () {
          await runStep(step, where);
        });
      }
    });
  }
});
