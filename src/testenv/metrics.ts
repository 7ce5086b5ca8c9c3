/** Reading an operator's /metrics text, as the suites and the bench do. */

/** Sums every series of `name` whose labels include `labels` in Prometheus text format. */
export function sumMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const seriesLabels: Record<string, string> = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!] as const),
    );
    if (Object.entries(labels).every(([k, v]) => seriesLabels[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
