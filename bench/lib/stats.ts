/** Pure helpers of the benchmark: percentiles and the API server's request counters. */

/** The p-th percentile (0..100) by the nearest-rank method; undefined for no samples. */
export function percentile(samples: readonly number[], p: number): number | undefined {
  if (samples.length === 0) return undefined;
  if (p < 0 || p > 100) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

/** One series of apiserver_request_total, its code summed away. */
export interface RequestKey {
  verb: string;
  group: string;
  resource: string;
  subresource: string;
}

/** Counts by `verb group resource subresource`. */
export type RequestCounts = Map<string, number>;

export function requestKey(k: RequestKey): string {
  return `${k.verb} ${k.group || 'core'} ${k.resource} ${k.subresource || '-'}`;
}

export function parseRequestKey(key: string): RequestKey {
  const [verb = '', group = '', resource = '', subresource = ''] = key.split(' ');
  return {
    verb,
    group: group === 'core' ? '' : group,
    resource,
    subresource: subresource === '-' ? '' : subresource,
  };
}

/** apiserver_request_total from the API server's Prometheus text, summed over codes and the other labels. */
export function parseRequestTotals(text: string): RequestCounts {
  const counts: RequestCounts = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const m = /^apiserver_request_total\{(.*)\}\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const x of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[x[1]!] = x[2]!;
    const key = requestKey({
      verb: labels.verb ?? '',
      group: labels.group ?? '',
      resource: labels.resource ?? '',
      subresource: labels.subresource ?? '',
    });
    counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
  }
  return counts;
}

/** after - before, dropping zeros. */
export function diffCounts(after: RequestCounts, before: RequestCounts): RequestCounts {
  const out: RequestCounts = new Map();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out.set(k, d);
  }
  return out;
}

/** Sums the counts whose key passes `keep`, grouped by `by` (a verb, a resource...). */
export function groupCounts(
  counts: RequestCounts,
  by: (k: RequestKey) => string,
  keep: (k: RequestKey) => boolean = () => true,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of counts) {
    const k = parseRequestKey(key);
    if (!keep(k)) continue;
    const g = by(k);
    out[g] = (out[g] ?? 0) + v;
  }
  return out;
}

/**
 * The mean of several runs of one measurement, field by field: numbers averaged (to 2 decimals),
 * records of numbers averaged key by key (a key missing from a run counts as 0 there), anything else
 * taken from the first run. Used for a convergence measured once in each order, so that neither
 * operator's figure is only ever the one measured on a plane the other has already loaded.
 */
export function meanOf<T extends object>(runs: readonly T[]): T {
  if (runs.length === 0) throw new RangeError('meanOf needs at least one run');
  const mean = (values: number[]): number =>
    Math.round((values.reduce((a, b) => a + b, 0) / values.length) * 100) / 100;
  const out: Record<string, unknown> = { ...runs[0] };
  for (const [key, first] of Object.entries(runs[0]!)) {
    const all = runs.map((r) => (r as Record<string, unknown>)[key]);
    if (typeof first === 'number') out[key] = mean(all as number[]);
    else if (first && typeof first === 'object' && !Array.isArray(first)) {
      const keys = new Set(all.flatMap((r) => Object.keys(r as object)));
      if (
        [...keys].every((k) => all.every((r) => typeof ((r as Record<string, unknown>)[k] ?? 0) === 'number'))
      )
        out[key] = Object.fromEntries(
          [...keys].sort().map((k) => [k, mean(all.map((r) => (r as Record<string, number>)[k] ?? 0))]),
        );
    }
  }
  return out as T;
}
