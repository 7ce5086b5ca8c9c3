/** The alerts and the dashboard of deploy/monitoring/, read for the promtool and scrape checks. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../src/testenv/index.js';

export const MONITORING = `${REPO_ROOT}/deploy/monitoring`;

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  annotations?: Record<string, string>;
}

export function alertRules(): Rule[] {
  const rule = parse(readFileSync(`${MONITORING}/prometheus-rule.yaml`, 'utf8')) as {
    spec: { groups: { rules: Rule[] }[] };
  };
  return rule.spec.groups.flatMap((g) => g.rules);
}

/** Every expression of the dashboard, with Grafana's variables replaced by what they stand for. */
export function dashboardExpressions(): { panel: string; expr: string }[] {
  const dashboard = JSON.parse(readFileSync(`${MONITORING}/dashboard.json`, 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  return dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr
        .replaceAll('$__rate_interval', '2m')
        .replaceAll('$job', 'studylab-operator-metrics')
        .replaceAll('$namespace', 'studylab-system'),
    })),
  );
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords or labels. */
export function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"[^"]*"/g, '""').replace(/\{[^}]*\}/g, '{}');
  const withoutClauses = withoutStrings.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g,
    '',
  );
  const names = [...withoutClauses.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!);
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
  return [...new Set(names.filter((n) => !keywords.has(n.toLowerCase()) && !/^\d/.test(n)))];
}
