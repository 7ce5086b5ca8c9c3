/** Starting and stopping a plane of its own: nothing is left behind. */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalControlPlane } from '../../src/testenv/index.js';
import { cluster } from '../support/cluster.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('local control plane lifecycle', function () {
  before(async function () {
    if (!(await cluster()).local) this.skip(); // only meaningful where we start planes ourselves
  });

  it('stops cleanly: no process and no directory left', async function () {
    this.timeout(120_000);
    const plane = await LocalControlPlane.start({ apiOnly: true });
    const pids = readdirSync(join(plane.dir, 'pids')).map((f) =>
      Number(readFileSync(join(plane.dir, 'pids', f), 'utf8')),
    );
    expect(pids).to.have.length(2);
    for (const pid of pids) expect(alive(pid), `pid ${pid} before stop`).to.be.true;
    await plane.stop();
    for (const pid of pids) expect(alive(pid), `pid ${pid} after stop`).to.be.false;
    expect(existsSync(plane.dir)).to.be.false;
  });

  it('is cleaned up by its reaper when the owning process is SIGKILLed', async function () {
    this.timeout(120_000);
    // A child process starts a plane, prints its dir and pids, then is killed without a chance to clean up.
    const script = `
      import { LocalControlPlane } from './src/testenv/index.ts';
      import { readFileSync, readdirSync } from 'node:fs';
      const p = await LocalControlPlane.start({ apiOnly: true });
      const pids = readdirSync(p.dir + '/pids').map((f) => readFileSync(p.dir + '/pids/' + f, 'utf8'));
      console.log(JSON.stringify({ dir: p.dir, pids }));
      setInterval(() => {}, 1000);
    `;
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(d.toString()));
      child.once('exit', (code) => reject(new Error(`child exited early: ${code}`)));
    });
    const { dir, pids } = JSON.parse(line) as { dir: string; pids: string[] };
    child.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while ((existsSync(dir) || pids.some((p) => alive(Number(p)))) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(existsSync(dir), 'plane directory').to.be.false;
    for (const pid of pids) expect(alive(Number(pid)), `component pid ${pid}`).to.be.false;
  });
});
