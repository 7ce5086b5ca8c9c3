/**
 * The alerts and the dashboard name only metrics a running operator exports: an operator against the
 * local plane, leading and reconciling a lab, is scraped, and every metric named in a PromQL
 * expression of deploy/monitoring/ must be in that scrape.
 */
import { expect } from 'chai';
import { kubectl, OPERATOR_NAMESPACE, REPO_ROOT } from '../../src/testenv/index.js';
import { cluster, eventually, testNamespace, type Cluster } from '../support/cluster.js';
import { installOperatorPrerequisites } from '../support/install.js';
import { alertRules, dashboardExpressions, metricNames } from '../support/monitoring.js';
import { startOperator, type OperatorProcess } from '../support/operator.js';

describe('alerts and dashboard against a real scrape (e2e)', function () {
  this.timeout(180_000);
  let c: Cluster;
  let operator: OperatorProcess;
  let exported: Set<string>;
  let scrape: string;

  before(async function () {
    c = await cluster();
    const { kubeconfig } = await installOperatorPrerequisites();
    const ns = await testNamespace('monitoring');
    operator = await startOperator({
      kubeconfig,
      args: [
        `--namespace=${ns}`,
        '--leader-elect',
        `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
        `--leader-election-id=studylab-monitoring-${process.pid}`,
        '--retry-period=1',
      ],
    });
    await operator.waitReady();
    kubectl(c, ['apply', '-n', ns, '-f', `${REPO_ROOT}/samples/01-clusterip.yaml`]);
    // Leading, and the lab counted in a phase: every series the operator has is there by then.
    scrape = await eventually(
      async () => {
        const text = await operator.metrics();
        if (!/^leader_election_master_status\{[^}]*\} 1$/m.test(text)) throw new Error('not leading yet');
        if (!/^studylab_labs\{phase="Ready"\} 1$/m.test(text))
          throw new Error('the lab is not counted Ready yet');
        return text;
      },
      { timeoutMs: 120_000 },
    );
    exported = new Set([...scrape.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{| )/gm)].map((m) => m[1]!));
  });

  after(async function () {
    await operator?.stop();
  });

  it('exports studylab_labs with every phase from the cache, and no lab name', function () {
    for (const phase of ['Pending', 'Progressing', 'Ready', 'Degraded', 'Invalid', 'Paused', 'Unknown']) {
      expect(scrape).to.match(new RegExp(`^studylab_labs\\{phase="${phase}"\\} \\d+$`, 'm'));
    }
    expect(scrape).to.not.match(/^studylab_labs\{[^}]*clusterip/m);
  });

  it('every metric the dashboard names is in the scrape', function () {
    const missing = dashboardExpressions().flatMap((e) =>
      metricNames(e.expr)
        .filter((m) => !exported.has(m))
        .map((m) => `${e.panel}: ${m}`),
    );
    expect(missing).to.deep.equal([]);
  });

  it('every metric an alert names is in the scrape', function () {
    const missing = alertRules().flatMap((r) =>
      metricNames(r.expr)
        .filter((m) => !exported.has(m))
        .map((m) => `${r.alert}: ${m}`),
    );
    expect(missing).to.deep.equal([]);
  });
});
