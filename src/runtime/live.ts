/**
 * The loop, live: a page that draws the controller loop as it runs and tells each lab's story.
 *
 * Served by the secure server next to /debug/controllers (same authentication and authorization; the
 * debug reader role grants /debug/controllers/*), from three paths:
 *
 *   /debug/controllers/live      the page: plain HTML, CSS and JavaScript in this file, no build step
 *   /debug/controllers/stream    server-sent events (text/event-stream): the loop's state, and with
 *                                ?key=namespace/name that key's history, then each of its reconciles
 *                                as it begins, takes a step and ends
 *   /debug/controllers/history   the history as JSON (?key=namespace/name; without it, the keys known),
 *                                or ?format=text, a table for a terminal
 *
 * The page without JavaScript links to /debug/controllers, whose tables need none.
 */
import { DEBUG_DEFAULTS, type DebugSource } from './debug.js';
import type { Handler } from './http-server.js';
import type { HistoryEntry, ReconcileHistory } from './history.js';

export const LIVE_DEFAULTS = {
  pagePath: `${DEBUG_DEFAULTS.path}/live`,
  streamPath: `${DEBUG_DEFAULTS.path}/stream`,
  historyPath: `${DEBUG_DEFAULTS.path}/history`,
  /** How often a stream checks for changes. */
  intervalMs: 500,
  /** A comment line this often keeps proxies from closing a quiet stream. */
  heartbeatMs: 15_000,
  /** A stream's reconciles changed but not yet sent, at most (the page keeps 200). */
  maxUnsent: 200,
  /** Open streams at most; more get a 503 (each costs a timer and a JSON snapshot per interval). */
  maxStreams: 32,
} as const;

export interface LiveSource extends DebugSource {
  history: ReconcileHistory;
}

/** The state of the loop, as the diagram draws it. */
export function loopSnapshot(source: LiveSource): object {
  const h = source.history.snapshot();
  return {
    now: new Date().toISOString(),
    ready: source.ready(),
    leader: source.leaderStatus(),
    informers: source.informerStats().map((i) => ({
      kind: i.kind,
      synced: i.synced,
      state: i.state,
      objects: i.objects,
      resourceVersion: i.resourceVersion,
      lastEvent: h.lastEvents.find((e) => e.kind === i.kind),
    })),
    controllers: source.controllerStats().map((c) => ({
      name: c.name,
      workers: c.workers,
      activeWorkers: c.activeWorkers,
      queue: c.queue,
      running: h.running.filter((r) => r.controller === c.name),
    })),
    api: h.api,
    keys: h.keys,
  };
}

/** The three handlers, by path. `closing` ends open streams (the server cannot close while they last). */
export function liveHandlers(source: LiveSource, closing: AbortSignal): [string, Handler][] {
  let streams = 0;
  const page: Handler = (_req, res) => {
    res.writeHead(200, { ...NO_CACHE, 'Content-Type': 'text/html; charset=utf-8' });
    res.end(LIVE_PAGE);
  };
  const history: Handler = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const key = url.searchParams.get('key');
    const asked = Number(url.searchParams.get('last') ?? '');
    const last = Number.isInteger(asked) && asked > 0 ? asked : undefined;
    if (!key) {
      res.writeHead(200, { ...NO_CACHE, 'Content-Type': 'application/json' });
      res.end(`${JSON.stringify({ keys: source.history.snapshot().keys }, null, 2)}\n`);
      return;
    }
    const entries = source.history.entries(key, last);
    if (url.searchParams.get('format') === 'text') {
      res.writeHead(200, { ...NO_CACHE, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(historyTable(entries));
      return;
    }
    res.writeHead(200, { ...NO_CACHE, 'Content-Type': 'application/json' });
    res.end(`${JSON.stringify({ key, entries }, null, 2)}\n`);
  };
  const stream: Handler = (req, res) => {
    if (streams >= LIVE_DEFAULTS.maxStreams || closing.aborted) {
      res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' });
      res.end('too many live streams open\n');
      return;
    }
    streams++;
    const key = new URL(req.url ?? '/', 'http://localhost').searchParams.get('key') ?? '';
    res.writeHead(200, { ...NO_CACHE, 'Content-Type': 'text/event-stream', Connection: 'keep-alive' });
    let sentLoop = '';
    let quietSince = Date.now();
    const send = (event: string, data: string): void => {
      res.write(`event: ${event}\ndata: ${data}\n\n`);
      quietSince = Date.now();
    };
    // The key's reconciles that changed since the last tick, by reconcileID, oldest first: every
    // one is sent, however many ran between two ticks (the ring keeps only the last few).
    const changed = new Map<string, HistoryEntry>();
    const unfollow = key
      ? source.history.follow(key, (entry) => {
          changed.delete(entry.reconcileID);
          changed.set(entry.reconcileID, entry);
          if (changed.size > LIVE_DEFAULTS.maxUnsent) changed.delete(changed.keys().next().value!);
        })
      : () => {};
    if (key) for (const entry of source.history.entries(key).reverse()) changed.set(entry.reconcileID, entry);
    const tick = (): void => {
      // Queue depth and waiting times change without a history change: the loop is compared as text.
      const loop = JSON.stringify(loopSnapshot(source));
      if (loop !== sentLoop) {
        send('loop', loop);
        sentLoop = loop;
      }
      if (changed.size > 0) {
        send('history', JSON.stringify({ key, entries: [...changed.values()].reverse() }));
        changed.clear();
      }
      if (Date.now() - quietSince >= LIVE_DEFAULTS.heartbeatMs) {
        res.write(': still here\n\n');
        quietSince = Date.now();
      }
    };
    const timer = setInterval(tick, LIVE_DEFAULTS.intervalMs);
    const stop = (): void => {
      clearInterval(timer);
      unfollow();
      closing.removeEventListener('abort', end);
      streams--;
    };
    const end = (): void => {
      res.end();
    };
    closing.addEventListener('abort', end, { once: true });
    res.once('close', stop);
    tick();
  };
  return [
    [LIVE_DEFAULTS.pagePath, page],
    [LIVE_DEFAULTS.streamPath, stream],
    [LIVE_DEFAULTS.historyPath, history],
  ];
}

const NO_CACHE = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

/** One line a reconcile: when, why, how long it waited, what it compared and wrote, how it ended. */
export function historyTable(entries: HistoryEntry[]): string {
  const rows = entries.map((e) => {
    const triggers = e.triggers.map(
      (t) =>
        `${t.kind || 'queue'} ${t.type}${t.object ? ` ${t.object}` : ''}${t.resourceVersion ? ` rv=${t.resourceVersion}` : ''}${t.queue === 'merged' ? ' (merged)' : ''}`,
    );
    if (e.moreTriggers > 0) triggers.push(`+${e.moreTriggers} more`);
    const diffs = e.steps
      .filter((s) => s.step === 'diff')
      .map((s) => `${String(s.fields.kind)} ${String(s.fields.reason)}`);
    const writes = e.steps
      .filter((s) => s.step === 'api')
      .map(
        (s) =>
          `${String(s.fields.verb)} ${typeof s.fields.kind === 'string' ? s.fields.kind : ''} ${String(s.fields.code)}`,
      );
    return [
      new Date(e.startedAt).toISOString().slice(11, 23),
      e.reconcileID,
      triggers.join(', ') || '-',
      `${e.waitedMs}ms`,
      diffs.join(', ') || '-',
      writes.join(', ') || '-',
      e.outcome ?? 'running',
      e.durationMs === undefined ? '' : `${e.durationMs}ms`,
    ];
  });
  const head = ['STARTED', 'RECONCILE', 'TRIGGERS', 'WAITED', 'DIFFS', 'API', 'OUTCOME', 'TOOK'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[head, ...rows].map(line).join('\n')}\n`;
}

/*
 * The page. Everything it shows comes from the stream; it keeps no state but the key picked (in the
 * URL, so a reload or a link shows the same lab). Each part names the file and function that
 * implement it, as docs/controller-patterns.md does.
 */
const LIVE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>StudyLab: the loop, live</title>
<style>
body{font-family:system-ui,sans-serif;margin:16px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:18px 0 6px}
code{font-size:12px;color:#555}
#diagram{display:flex;gap:10px;align-items:stretch;flex-wrap:wrap}
.box{background:#fff;border:1px solid #bbb;border-radius:6px;padding:8px;min-width:170px;flex:1}
.box h3{margin:0 0 4px;font-size:14px} .box .code{display:block;margin-bottom:6px}
.arrow{align-self:center;font-size:22px;color:#888}
.box ul{margin:0;padding-left:16px;font-size:12px}
#status{font-size:12px;color:#666}
.row{display:flex;flex-wrap:wrap;gap:4px;align-items:center;background:#fff;border:1px solid #ddd;border-radius:6px;padding:6px;margin:4px 0}
.row .id{font:12px monospace;color:#666;width:150px}
.step{border:1px solid #999;border-radius:10px;padding:1px 8px;font-size:12px;cursor:pointer;background:#f4f4f4}
.step.trigger{background:#e3f0ff;border-color:#6a9be0} .step.diff{background:#fff6dc}
.step.api{background:#e8f7e8} .step.status{background:#f3e8ff} .step.result{background:#eee;font-weight:bold}
.step.error{background:#ffe3e3;border-color:#d66}
.step.sel{outline:2px solid #333}
#fields{background:#fff;border:1px solid #bbb;border-radius:6px;padding:8px;font:12px monospace;white-space:pre-wrap;min-height:2em}
</style></head><body>
<h1>The loop, live</h1>
<p id="status">connecting…</p>
<noscript><p>This page needs JavaScript. The same state, as plain tables: <a href="../controllers?format=html">/debug/controllers</a>;
a lab's history as text: <code>history?key=NAMESPACE/NAME&amp;format=text</code>.</p></noscript>
<h2>The loop</h2>
<div id="diagram">
 <div class="box" id="informers"><h3>Informers</h3><code class="code">src/runtime/informer.ts: Informer.apply</code><ul></ul></div>
 <div class="arrow">→</div>
 <div class="box" id="queue"><h3>Work queue</h3><code class="code">src/runtime/workqueue.ts: WorkQueue.add / get</code><ul></ul></div>
 <div class="arrow">→</div>
 <div class="box" id="workers"><h3>Workers</h3><code class="code">src/runtime/controller.ts: Controller.reconcileKey</code><ul></ul></div>
 <div class="arrow">→</div>
 <div class="box" id="api"><h3>API requests</h3><code class="code">src/runtime/client.ts: Client.request</code><ul></ul></div>
</div>
<h2>A lab's reconciles <select id="key"><option value="">pick a lab</option></select></h2>
<p><code>src/runtime/history.ts: ReconcileHistory</code> - most recent first; each row runs from its trigger to its outcome. Click a step for its fields.
The operator keeps the last few reconciles of each lab; this page keeps every one it received while open.</p>
<div id="timeline"></div>
<h2>Step fields</h2>
<div id="fields">(click a step)</div>
<script>
"use strict";
const SOURCES = {
  trigger: "src/runtime/controller.ts: Controller.start (enqueue), handlers.ts: enqueueObject / enqueueControllerOwner",
  dequeue: "src/runtime/controller.ts: Controller.reconcileKey",
  cache: "src/runtime/store.ts: Store.get",
  diff: "the reconciler (in StudyLab: src/studylab/reconciler.ts, intent.ts: decideApply)",
  api: "src/runtime/client.ts: Client.request",
  status: "the reconciler (in StudyLab: src/studylab/reconciler.ts: writeStatus)",
  result: "src/runtime/controller.ts: Controller.handleResult / handleError",
};
const $ = (s) => document.querySelector(s);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const list = (box, items) => { const ul = $(box + " ul"); ul.replaceChildren(...items.map((t) => el("li", "", t))); };
let source;
let keys = [];

function picked() { return new URLSearchParams(location.search).get("key") || ""; }

function connect() {
  if (source) source.close();
  const key = picked();
  source = new EventSource("stream" + (key ? "?key=" + encodeURIComponent(key) : ""));
  source.addEventListener("loop", (m) => drawLoop(JSON.parse(m.data)));
  source.addEventListener("history", (m) => drawHistory(JSON.parse(m.data)));
  source.onerror = () => { $("#status").textContent = "disconnected, retrying…"; };
}

function ago(t) { return t ? Math.max(0, Math.round((Date.now() - t) / 1000)) + "s ago" : ""; }

function drawLoop(s) {
  $("#status").textContent = "live - " + s.now + " - caches " + (s.ready ? "synced" : "not synced");
  list("#informers", s.informers.map((i) => i.kind + (i.synced ? "" : " (syncing)") + ": " + i.objects + " objects" +
    (i.lastEvent ? "; last " + i.lastEvent.type + " " + i.lastEvent.key + " rv " + (i.lastEvent.resourceVersion || "?") + " " + ago(i.lastEvent.at) : "")));
  list("#queue", s.controllers.flatMap((c) => [
    c.name + ": depth " + c.queue.depth,
    "ready: " + (c.queue.ready.join(", ") || "-") + (c.queue.depth > c.queue.ready.length ? ", and " + (c.queue.depth - c.queue.ready.length) + " more" : ""),
    "waiting: " + (c.queue.waiting.map((w) => w.key + " (in " + w.readyInMs + " ms)").join(", ") || "-"),
  ]));
  list("#workers", s.controllers.flatMap((c) => [
    c.name + ": " + c.activeWorkers + " of " + c.workers + " busy",
    ...c.running.map((r) => r.key + " (" + r.reconcileID + "): " + (r.step || "starting") + ", " + r.atMs + " ms"),
  ]));
  list("#api", Object.entries(s.api).sort().map(([k, n]) => k + ": " + n));
  const sel = $("#key");
  if (JSON.stringify(s.keys) !== JSON.stringify(keys)) {
    keys = s.keys;
    const current = picked();
    const all = [...new Set([...(current ? [current] : []), ...[...keys].sort()])];
    sel.replaceChildren(el("option", "", "pick a lab"), ...all.map((k) => { const o = el("option", "", k); o.value = k; return o; }));
    sel.firstChild.value = "";
    sel.value = current;
  }
}

function chip(row, cls, text, fields) {
  const c = el("span", "step " + cls, text);
  c.addEventListener("click", () => {
    document.querySelectorAll(".step.sel").forEach((s) => s.classList.remove("sel"));
    c.classList.add("sel");
    $("#fields").textContent = "emitted by " + (SOURCES[cls.split(" ")[0]] || "") + "\\n" + JSON.stringify(fields, null, 2);
  });
  row.append(c);
}

function stepText(s) {
  const f = s.fields;
  switch (s.step) {
    case "dequeue": return "dequeued, waited " + f.waitedMs + " ms";
    case "cache": return "cache " + f.kind + (f.found ? " found" : " absent");
    case "diff": return "diff " + f.kind + " " + f.reason;
    case "api": return f.verb + " " + (f.kind || "") + (f.subresource ? "/" + f.subresource : "") + " " + f.code + " (" + f.durationMs + " ms)";
    case "status": return f.write ? "status written" : "status unchanged";
    case "result": return f.outcome;
    default: return s.step;
  }
}

// The operator keeps a few reconciles a lab; the page keeps every one it saw while open.
const seen = new Map();
const KEEP = 200;

function drawHistory(h) {
  if (h.key !== picked()) return;
  for (const e of h.entries) seen.set(e.reconcileID, e);
  const entries = [...seen.values()].sort((a, b) => b.startedAt - a.startedAt).slice(0, KEEP);
  for (const id of [...seen.keys()]) if (!entries.some((e) => e.reconcileID === id)) seen.delete(id);
  const rows = entries.map((e) => {
    const row = el("div", "row");
    row.dataset.reconcileId = e.reconcileID;
    row.append(el("span", "id", new Date(e.startedAt).toISOString().slice(11, 23) + " " + e.reconcileID));
    if (e.triggers.length === 0) chip(row, "trigger", "no event (a retry or the first list)", {});
    for (const t of e.triggers)
      chip(row, "trigger", (t.kind || "queue") + " " + t.type + (t.object ? " " + t.object : "") + (t.queue === "merged" ? " (merged)" : ""), t);
    if (e.moreTriggers) chip(row, "trigger", "+" + e.moreTriggers + " more", {});
    for (const s of e.steps) {
      // A GET's 404 is the expected answer of the read before a create, not a failure.
      const expected = /^2/.test(String(s.fields.code)) || (s.fields.verb === "GET" && s.fields.code === "404");
      const bad = (s.step === "api" && !expected) || (s.step === "result" && s.fields.error);
      chip(row, s.step + (bad ? " error" : ""), stepText(s), { atMs: s.atMs, ...s.fields });
    }
    if (e.moreSteps) chip(row, "result", "+" + e.moreSteps + " steps", {});
    if (!e.outcome) chip(row, "result", "running…", {});
    return row;
  });
  $("#timeline").replaceChildren(...(rows.length ? rows : [el("p", "", "no reconcile of " + h.key + " yet")]));
}

$("#key").addEventListener("change", (ev) => {
  const key = ev.target.value;
  history.replaceState(null, "", key ? "?key=" + encodeURIComponent(key) : location.pathname);
  $("#timeline").replaceChildren();
  seen.clear();
  connect();
});
connect();
</script>
</body></html>
`;
