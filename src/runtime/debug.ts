/**
 * The debug page: what the controllers are doing right now, served by the secure server at
 * /debug/controllers (behind the same authentication and authorization as /metrics, see
 * delegated-auth.ts) as JSON (for curl and jq) or a small self-refreshing HTML page (for a browser).
 *
 * It shows keys and states only, never object contents: informers (synced, resourceVersion, last
 * event, relists, watch restarts), each queue (ready keys, keys waiting with their backoff, keys in
 * progress), active workers, leader status and the last reconciles with their outcome. Error messages
 * of failed reconciles are included (cut short), as they are in the logs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ControllerStats, ReconcileRecord } from './controller.js';
import type { Handler } from './http-server.js';
import type { InformerStats } from './informer.js';

export const DEBUG_DEFAULTS = {
  path: '/debug/controllers',
  /** Reconcile records shown per controller unless ?recent=N asks otherwise. */
  recent: 20,
  /** Longest error message shown for a failed reconcile. */
  errorMaxLength: 300,
  /** Seconds between reloads of the HTML page. */
  refreshSeconds: 2,
} as const;

export type LeaderStatus =
  | { readonly enabled: false; readonly isLeader: boolean }
  | {
      readonly enabled: true;
      readonly isLeader: boolean;
      readonly lease: string;
      readonly identity: string;
      /** The holder last seen on the Lease. */
      readonly leader: string;
    };

/** What the page is built from; the Manager provides it. */
export interface DebugSource {
  ready(): boolean;
  leaderStatus(): LeaderStatus;
  informerStats(): InformerStats[];
  controllerStats(): ControllerStats[];
}

export interface DebugSnapshot {
  now: string;
  /** Every cache synced (what /readyz says). */
  ready: boolean;
  leader: LeaderStatus;
  informers: InformerStats[];
  controllers: (Omit<ControllerStats, 'recent'> & { recent: ReconcileRecord[] })[];
}

/** The snapshot, with the last `recent` reconciles of each controller, most recent first. */
export function debugSnapshot(source: DebugSource, recent: number = DEBUG_DEFAULTS.recent): DebugSnapshot {
  return {
    now: new Date().toISOString(),
    ready: source.ready(),
    leader: source.leaderStatus(),
    informers: source.informerStats(),
    controllers: source.controllerStats().map((c) => ({
      ...c,
      recent: c.recent
        .slice(-Math.max(0, recent))
        .reverse()
        .map((r) => (r.error ? { ...r, error: r.error.slice(0, DEBUG_DEFAULTS.errorMaxLength) } : r)),
    })),
  };
}

/**
 * Serves the snapshot: HTML when asked with ?format=html or by a browser (Accept: text/html),
 * JSON otherwise. ?recent=N sets how many reconciles are shown.
 */
export function controllersDebugHandler(source: DebugSource): Handler {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const asked = Number(url.searchParams.get('recent') ?? DEBUG_DEFAULTS.recent);
    const recent = Number.isInteger(asked) && asked >= 0 ? asked : DEBUG_DEFAULTS.recent;
    const snapshot = debugSnapshot(source, recent);
    const format = url.searchParams.get('format');
    const html = format === 'html' || (format !== 'json' && /\btext\/html\b/.test(req.headers.accept ?? ''));
    const headers = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };
    if (html) {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      res.end(renderHtml(snapshot));
    } else {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify(snapshot, null, 2)}\n`);
    }
  };
}

function renderHtml(s: DebugSnapshot): string {
  const leader = s.leader.enabled
    ? `${s.leader.isLeader ? 'leading' : 'standby'} on Lease ${s.leader.lease} (holder: ${s.leader.leader || '?'}, me: ${s.leader.identity})`
    : `no leader election (${s.leader.isLeader ? 'running' : 'not running'})`;
  const informers = table(
    [
      'kind',
      'namespace',
      'selector',
      'synced',
      'state',
      'resourceVersion',
      'objects',
      'last event',
      'relists',
      'watch restarts',
      'last error',
    ],
    s.informers.map((i) => [
      i.kind,
      i.namespace ?? '(all)',
      [i.labelSelector, i.fieldSelector].filter(Boolean).join(' '),
      String(i.synced),
      i.state,
      i.resourceVersion,
      String(i.objects),
      i.lastEventAt ? new Date(i.lastEventAt).toISOString() : '',
      String(i.relists),
      String(i.watchRestarts),
      i.lastError ?? '',
    ]),
  );
  const controllers = s.controllers
    .map((c) => {
      const waiting = c.queue.waiting.map((w) => `${w.key} (in ${w.readyInMs} ms, retries ${w.retries})`);
      const queue = table(
        ['ready', 'processing', 'waiting'],
        [
          [
            c.queue.ready.join(', ') + more(c.queue.depth, c.queue.ready.length),
            c.queue.processing.join(', '),
            waiting.join(', '),
          ],
        ],
      );
      const recent = table(
        ['started', 'key', 'reconcileID', 'result', 'duration ms', 'requeue after ms', 'error'],
        c.recent.map((r) => [
          new Date(r.startedAt).toISOString(),
          r.key,
          r.reconcileID,
          r.terminal ? `${r.result} (terminal)` : r.result,
          String(r.durationMs),
          r.requeueAfterMs === undefined ? '' : String(r.requeueAfterMs),
          r.error ?? '',
        ]),
      );
      return `<h2>controller ${escape(c.name)}</h2>
<p>workers: ${c.activeWorkers} active of ${c.workers} (${c.highPriorityWorkers} of them only for high-priority keys); queue depth ${c.queue.depth}</p>
${queue}
<h3>last reconciles</h3>
${recent}`;
    })
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="${DEBUG_DEFAULTS.refreshSeconds}">
<title>controllers</title>
<style>body{font-family:sans-serif}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px;text-align:left}</style>
</head><body>
<h1>controllers</h1>
<p><a href="${DEBUG_DEFAULTS.path}/live">the loop, live</a> (why each reconcile ran, and what it did)</p>
<p>${escape(s.now)} - caches ${s.ready ? 'synced' : 'not synced'} - ${escape(leader)}</p>
<h2>informers</h2>
${informers}
${controllers}
</body></html>
`;
}

function table(head: string[], rows: string[][]): string {
  const th = head.map((h) => `<th>${escape(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${escape(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><tr>${th}</tr>\n${trs}</table>`;
}

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** ", and 9 900 more" when a page lists only the first keys of a longer queue. */
function more(depth: number, listed: number): string {
  return depth > listed ? `, and ${depth - listed} more` : '';
}
