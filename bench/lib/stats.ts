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
