/** The README documents what the code does: its flag list is `--help`, its metric table names every metric. */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { Metrics } from '../../src/runtime/index.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('README', function () {
  it('shows exactly what `--help` prints', async function () {
    // Importing main.ts loads @kubernetes/client-node: seconds on a loaded machine, not a verdict.
    this.timeout(120_000);
    // The --log-level default is read from LOG_LEVEL when main.ts is first imported.
    const saved = process.env.LOG_LEVEL;
    delete process.env.LOG_LEVEL;
    try {
      const { usage } = await import('../../src/main.js');
      const block = /### Flags[\s\S]*?```text\n([\s\S]*?)```/.exec(README)?.[1];
      expect(block, 'a ```text block under ### Flags').to.be.a('string');
      expect(block).to.equal(usage());
    } finally {
      if (saved !== undefined) process.env.LOG_LEVEL = saved;
    }
  });

  it('names every metric the runtime registers in its metrics table', async function () {
    const names = (await new Metrics().registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).to.be.greaterThan(15);
    const table = README.slice(README.indexOf('### Metrics'));
    const missing = names.filter((n) => !table.includes(`\`${n}\``));
    expect(missing).to.deep.equal([]);
  });

  it('samples/README.md names no path outside the repository', function () {
    const samples = readFileSync(new URL('../../samples/README.md', import.meta.url), 'utf8');
    expect(samples).to.not.match(/(^|[\s(`])\/(work|home|root|tmp|Users)\//m);
    const links = [...samples.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]!);
    expect(links.filter((l) => l.startsWith('/') || l.startsWith('../..'))).to.deep.equal([]);
  });
});
