/**
 * The alerts and the dashboard of deploy/monitoring/, checked with promtool: the rules are valid,
 * every alert has a summary, a description and a runbook section in docs/operations.md, its unit
 * tests (alerts.test.yaml) pass with at least one case where it fires and one where it stays quiet,
 * and every PromQL expression of the dashboard parses. That the metrics they name are the ones an
 * operator exports is checked against a real scrape in test/e2e/monitoring.test.ts.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from '../../src/testenv/index.js';
import { alertRules, dashboardExpressions, metricNames, MONITORING } from '../support/monitoring.js';
import { runTool } from '../support/tools.js';

describe('alerts and dashboard (promtool)', function () {
  this.timeout(600_000);
  let dir: string;

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'studylab-promtool-'));
    const rule = parse(readFileSync(`${MONITORING}/prometheus-rule.yaml`, 'utf8')) as { spec: unknown };
    writeFileSync(join(dir, 'rules.yaml'), stringify(rule.spec));
    copyFileSync(`${REPO_ROOT}/test/monitoring/alerts.test.yaml`, join(dir, 'alerts.test.yaml'));
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('`promtool check rules` accepts the PrometheusRule', function () {
    const out = runTool('promtool', ['check', 'rules', join(dir, 'rules.yaml')]);
    expect(out).to.match(new RegExp(`SUCCESS: ${alertRules().length} rules found`));
  });

  it('gives every alert a summary, a description and a runbook section in docs/operations.md', function () {
    const operations = readFileSync(`${REPO_ROOT}/docs/operations.md`, 'utf8');
    const rules = alertRules();
    expect(rules.length).to.be.greaterThan(0);
    for (const r of rules) {
      expect(r.alert, r.expr).to.be.a('string');
      expect(r.annotations?.summary, r.alert).to.be.a('string').and.not.be.empty;
      expect(r.annotations?.description, r.alert).to.be.a('string').and.not.be.empty;
      const anchor = r.alert!.toLowerCase();
      expect(r.annotations?.runbook_url, r.alert).to.equal(`docs/operations.md#${anchor}`);
      expect(operations, `a "### ${r.alert}" section`).to.match(new RegExp(`^### ${r.alert}$`, 'm'));
    }
  });

  it('`promtool test rules` passes, with a firing and a quiet case for every alert', function () {
    const out = runTool('promtool', ['test', 'rules', join(dir, 'alerts.test.yaml')]);
    expect(out).to.match(/SUCCESS/);
    const tests = parse(readFileSync(join(dir, 'alerts.test.yaml'), 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[];
    };
    const cases = tests.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const r of alertRules()) {
      const mine = cases.filter((c) => c.alertname === r.alert);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${r.alert} fires in some case`,
      ).to.equal(true);
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${r.alert} is quiet in some case`,
      ).to.equal(true);
    }
  });

  it('every PromQL expression of the dashboard parses (`promtool check rules` on them as recording rules)', function () {
    const exprs = dashboardExpressions();
    expect(exprs.length).to.be.greaterThan(10);
    const file = join(dir, 'dashboard-rules.yaml');
    writeFileSync(
      file,
      stringify({
        groups: [
          {
            name: 'dashboard',
            rules: exprs.map((e, i) => ({ record: `dashboard:expr_${i}`, expr: e.expr })),
          },
        ],
      }),
    );
    const out = runTool('promtool', ['check', 'rules', file]);
    expect(out).to.match(new RegExp(`SUCCESS: ${exprs.length} rules found`));
  });

  it('the dashboard shows what the issue lists', function () {
    const all = dashboardExpressions()
      .map((e) => e.expr)
      .join('\n');
    for (const metric of [
      'controller_runtime_reconcile_total',
      'controller_runtime_reconcile_time_seconds_bucket',
      'workqueue_depth',
      'workqueue_adds_total',
      'workqueue_retries_total',
      'workqueue_queue_duration_seconds_bucket',
      'controller_runtime_active_workers',
      'rest_client_requests_total',
      'informer_relists_total',
      'informer_watch_restarts_total',
      'studylab_labs',
      'leader_election_master_status',
    ]) {
      expect(metricNames(all), metric).to.include(metric);
    }
  });

  it('finds metric names in expressions', function () {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, name) (rate(workqueue_work_duration_seconds_bucket{job="x", a=~"b"}[2m]))) and on (pod) up',
      ),
    ).to.deep.equal(['workqueue_work_duration_seconds_bucket', 'up']);
  });
});
