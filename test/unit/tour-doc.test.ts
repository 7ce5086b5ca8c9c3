import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../src/testenv/index.js';
import { makeRunArgs, mismatch, parseTour } from '../support/tour.js';

describe('tour documents (format)', function () {
  it('parses sh blocks, their expected text, and the markers', function () {
    const doc = [
      '<!-- tour: operator -->',
      '```sh',
      "make run ARGS='--trace --log-format=pretty'",
      '```',
      '',
      '```sh',
      'kubectl get ns',
      '```',
      '',
      '```text',
      'NAME STATUS AGE',
      '```',
      '<!-- tour: operator-log -->',
      '```text',
      'TRACE watch ...',
      '```',
      '<!-- tour: eventually -->',
      '```sh',
      'true',
      '```',
      '```yaml',
      'not: a step',
      '```',
    ].join('\n');
    const steps = parseTour(doc);
    expect(steps.map((s) => [s.kind, s.line, s.expected, s.eventually])).to.deep.equal([
      ['operator', 2, [], false],
      ['run', 6, ['NAME STATUS AGE'], false],
      ['operator-log', 14, ['TRACE watch ...'], true],
      ['run', 18, [], true],
    ]);
    expect(makeRunArgs(steps[0]!.script)).to.deep.equal(['--trace', '--log-format=pretty']);
  });

  it('refuses a marker that is not followed by its block', function () {
    expect(() => parseTour('<!-- tour: operator -->\nsome prose')).to.throw(/followed by its block/);
    expect(() => parseTour('<!-- tour: operator-log -->\n```sh\ntrue\n```')).to.throw(/text block/);
  });

  it('matches expected lines in order, with ... for anything and spaces squashed', function () {
    const output = 'NAME   READY   AGE\nweb    1/1     3s\ndb     0/1     9s\n';
    expect(mismatch(['NAME READY AGE', 'web 1/1 ...', 'db ...'], output)).to.equal(undefined);
    expect(mismatch(['db ...', 'web ...'], output)).to.match(/no line matching "web \.\.\."/);
    expect(mismatch(['web 2/2 ...'], output)).to.match(/no line matching/);
    expect(mismatch(['a.c'], 'abc'), 'a dot is a dot, not any character').to.match(/no line/);
  });

  for (const doc of ['docs/controller-patterns.md', 'docs/labs.md']) {
    it(`${doc}: starts the operator first, and every command is a step`, function () {
      const text = readFileSync(join(REPO_ROOT, doc), 'utf8');
      const steps = parseTour(text);
      expect(steps[0]?.kind).to.equal('operator');
      expect(steps.filter((s) => s.kind === 'run').length).to.be.above(10);
      // Commands only in sh blocks: a console block would be a command nobody runs.
      expect(text).not.to.match(/^```(console|bash|shell)$/m);
    });
  }
});
