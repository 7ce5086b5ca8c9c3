import { request } from 'node:http';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import type { ControllerStats } from '../../src/runtime/controller.js';
import { controllersDebugHandler, debugSnapshot, type DebugSource } from '../../src/runtime/debug.js';
import { HttpEndpoint } from '../../src/runtime/http-server.js';
import { createLogger } from '../../src/runtime/logger.js';

const record = (i: number, error?: string): ControllerStats['recent'][number] => ({
  key: `ns/lab-${i}`,
  reconcileID: `0000000${i}`,
  result: error ? 'error' : 'success',
  startedAt: new Date(1_700_000_000_000 + i * 1000),
  durationMs: i,
  ...(error ? { error } : {}),
});

const source = (recent: ControllerStats['recent']): DebugSource => ({
  ready: () => true,
  leaderStatus: () => ({ enabled: false, isLeader: true }),
  informerStats: () => [
    {
      kind: 'StudyLab',
      synced: true,
      state: 'Watching',
      resourceVersion: '42',
      objects: 3,
      relists: 0,
      watchRestarts: 1,
      consecutiveFailures: 0,
    },
  ],
  controllerStats: () => [
    {
      name: 'studylab',
      workers: 4,
      highPriorityWorkers: 0,
      activeWorkers: 1,
      queue: {
        depth: 0,
        depthByPriority: { low: 0, normal: 0, high: 0 },
        ready: [],
        processing: ['ns/lab-9'],
        waiting: [{ key: 'ns/x', readyInMs: 5, retries: 2 }],
      },
      recent,
    },
  ],
});

function get(port: number, path: string, accept = ''): Promise<{ type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { accept } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('debug page', function () {
  it('shows the last N reconciles, most recent first, with long errors cut short', function () {
    const recent = [record(1), record(2, 'x'.repeat(1000)), record(3)];
    const s = debugSnapshot(source(recent), 2);
    const shown = s.controllers[0]!.recent;
    expect(shown.map((r) => r.key)).to.deep.equal(['ns/lab-3', 'ns/lab-2']);
    expect(shown[1]!.error).to.have.length(300);
    expect(recent[1]!.error, 'the controller’s own records are left alone').to.have.length(1000);
  });

  it('serves JSON by default and escaped HTML to a browser', async function () {
    const endpoint = new HttpEndpoint(
      'test',
      createLogger({ stream: new Writable({ write: (_c, _e, d) => d() }) }),
    );
    endpoint.handle(
      '/debug/controllers',
      controllersDebugHandler(source([record(1, '<script>alert(1)</script>')])),
    );
    const address = await endpoint.listen('127.0.0.1:0');
    try {
      const json = await get(address!.port, '/debug/controllers');
      expect(json.type).to.equal('application/json');
      const parsed = JSON.parse(json.body) as ReturnType<typeof debugSnapshot>;
      expect(parsed.controllers[0]!.queue.waiting).to.deep.equal([{ key: 'ns/x', readyInMs: 5, retries: 2 }]);
      const html = await get(address!.port, '/debug/controllers', 'text/html');
      expect(html.type).to.equal('text/html; charset=utf-8');
      expect(html.body).to.contain('ns/x (in 5 ms, retries 2)');
      expect(html.body).to.contain('1 active of 4');
      expect(html.body).not.to.contain('<script>');
      expect(html.body).to.contain('&#60;script&#62;');
    } finally {
      await endpoint.close();
    }
  });
});
