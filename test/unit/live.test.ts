import { request, type IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { HttpEndpoint } from '../../src/runtime/http-server.js';
import { HISTORY_DEFAULTS, ReconcileHistory } from '../../src/runtime/history.js';
import { LIVE_DEFAULTS, liveHandlers, type LiveSource } from '../../src/runtime/live.js';
import { createLogger } from '../../src/runtime/logger.js';
import { NO_TRACE } from '../../src/runtime/trace.js';

const quiet = createLogger({ stream: new Writable({ write: (_c, _e, cb) => cb() }) });

function source(history: ReconcileHistory): LiveSource {
  return {
    ready: () => true,
    leaderStatus: () => ({ enabled: false, isLeader: true }),
    informerStats: () => [],
    controllerStats: () => [
      {
        name: 'studylab',
        workers: 1,
        highPriorityWorkers: 0,
        activeWorkers: 0,
        queue: {
          depth: 0,
          depthByPriority: { low: 0, normal: 0, high: 0 },
          ready: [],
          waiting: [],
          processing: [],
        },
        recent: [],
      },
    ],
    history,
  };
}

function open(port: number, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, agent: false }, resolve).on('error', reject).end();
  });
}

async function body(res: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res) text += String(chunk);
  return text;
}

describe('the live page', function () {
  let endpoint: HttpEndpoint;
  let port: number;
  let closing: AbortController;
  let history: ReconcileHistory;

  beforeEach(async function () {
    history = new ReconcileHistory();
    closing = new AbortController();
    endpoint = new HttpEndpoint('test', quiet);
    for (const [path, handler] of liveHandlers(source(history), closing.signal))
      endpoint.handle(path, handler);
    port = (await endpoint.listen('127.0.0.1:0'))!.port;
  });

  afterEach(async function () {
    closing.abort();
    await endpoint.close();
  });

  it('serves a page without external resources', async function () {
    const res = await open(port, LIVE_DEFAULTS.pagePath);
    expect(res.headers['content-type']).to.match(/^text\/html/);
    const page = await body(res);
    expect(page).to.contain('new EventSource("stream"');
    expect(page).to.not.match(/(src|href)="https?:/);
  });

  it("streams the loop, then the picked key's history when it changes, and ends when the server closes", async function () {
    history.triggered('ns/a', { kind: 'StudyLab', type: 'ADDED', queue: 'added' });
    const res = await open(port, `${LIVE_DEFAULTS.streamPath}?key=ns%2Fa`);
    expect(res.headers['content-type']).to.equal('text/event-stream');
    let text = '';
    const ended = new Promise<void>((resolve) => res.on('end', resolve));
    const seen = (what: string): Promise<void> =>
      new Promise((resolve) => {
        const check = (): void => {
          if (text.includes(what)) {
            res.off('data', onData);
            resolve();
          }
        };
        const onData = (chunk: Buffer): void => {
          text += String(chunk);
          check();
        };
        res.on('data', onData);
        check();
      });
    await seen('event: loop');
    history.begin('studylab', 'ns/a', 'r1', NO_TRACE, 0, 0).step('result', { outcome: 'done' });
    await seen('event: history');
    await seen('"outcome":"done"');
    const sent = text.slice(text.indexOf('event: history'));
    expect(sent).to.contain('"reconcileID":"r1"').and.to.contain('"type":"ADDED"');
    res.resume();
    closing.abort();
    await ended;
  });

  it('streams every reconcile of the key, even more than the history keeps between two ticks', async function () {
    const res = await open(port, `${LIVE_DEFAULTS.streamPath}?key=ns%2Fa`);
    let text = '';
    res.on('data', (chunk: Buffer) => (text += String(chunk)));
    const streamed = new Set<string>();
    const sent = new Promise<void>((resolve) =>
      res.on('data', () => {
        for (const m of text.matchAll(/^event: history\ndata: (.*)$/gm))
          for (const e of (JSON.parse(m[1]!) as { entries: { reconcileID: string }[] }).entries)
            streamed.add(e.reconcileID);
        if (ids.every((id) => streamed.has(id))) resolve();
      }),
    );
    // All in one turn of the event loop, so no tick falls between them: a rollout's burst.
    const ids = Array.from({ length: HISTORY_DEFAULTS.perKey * 4 }, (_, i) => `r${i}`);
    for (const id of ids) {
      history.begin('studylab', 'ns/a', id, NO_TRACE, 0, 0).step('result', { outcome: 'done' });
      history.end(id, 1);
    }
    history.begin('studylab', 'ns/b', 'elsewhere', NO_TRACE, 0, 0);
    await sent;
    expect(streamed).to.not.include('elsewhere');
    expect(history.entries('ns/a')).to.have.length(HISTORY_DEFAULTS.perKey);
    res.destroy();
  });

  it('serves the history as JSON, as a text table, and the keys known', async function () {
    history.triggered('ns/a', { kind: 'Service', type: 'DELETED', object: 'ns/svc', queue: 'added' });
    history.begin('studylab', 'ns/a', 'r1', NO_TRACE, 0, 0).step('result', { outcome: 'done' });
    history.end('r1', 5);
    const json = JSON.parse(await body(await open(port, `${LIVE_DEFAULTS.historyPath}?key=ns/a`))) as {
      entries: { reconcileID: string; triggers: { kind: string }[] }[];
    };
    expect(json.entries.map((e) => [e.reconcileID, e.triggers[0]!.kind])).to.deep.equal([['r1', 'Service']]);
    const text = await body(await open(port, `${LIVE_DEFAULTS.historyPath}?key=ns/a&format=text`));
    expect(text).to.match(/\nr?.*r1\s+Service DELETED ns\/svc\s+0ms\s+-\s+-\s+done\s+5ms\n$/);
    const keys = JSON.parse(await body(await open(port, LIVE_DEFAULTS.historyPath))) as { keys: string[] };
    expect(keys.keys).to.deep.equal(['ns/a']);
  });
});
