/**
 * The Dockerfile's bases are pinned by digest: every FROM names either an earlier stage or an ARG
 * whose default is `tag@sha256:<64 hex>`, so `docker build .` builds on the same bytes every time,
 * and the offline build (hack/build-image.sh) can still pass the tags alone as --build-arg.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../src/testenv/index.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');

describe('the Dockerfile', function () {
  it('builds every stage on an earlier stage or a base pinned by digest', function () {
    const args = new Map([...dockerfile.matchAll(/^ARG\s+(\w+)=(\S+)/gm)].map((m) => [m[1]!, m[2]!]));
    const stages: string[] = [];
    const froms = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)];
    expect(froms).to.not.be.empty;
    for (const [, image, stage] of froms) {
      const arg = /^\$\{(\w+)\}$/.exec(image!)?.[1];
      if (arg) expect(args.get(arg), `ARG ${arg}`).to.match(/^[^@\s]+:[^@\s]+@sha256:[0-9a-f]{64}$/);
      else expect(stages, `FROM ${image}: neither an earlier stage nor an ARG`).to.include(image);
      if (stage) stages.push(stage);
    }
  });

  it("runs main.mjs with node's flags, the same the bench runs ours with", function () {
    const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
    expect(entrypoint, 'an exec-form ENTRYPOINT').to.be.a('string');
    const [node, ...rest] = JSON.parse(entrypoint!) as string[];
    expect(node).to.match(/\/node$/);
    expect(rest.at(-1), 'the script last, so the args reach it').to.equal('main.mjs');
    const flags = rest.slice(0, -1);
    expect(flags).to.include('--max-semi-space-size=1');
    // What the bench measures must be what the image runs.
    const bench = readFileSync(join(REPO_ROOT, 'bench', 'lib', 'operator-process.ts'), 'utf8');
    for (const flag of flags)
      expect(bench, `bench/lib/operator-process.ts passes ${flag}`).to.contain(`'${flag}'`);
  });

  it('says how to update the pinned digests', function () {
    expect(dockerfile).to.contain('docker buildx imagetools inspect');
  });
});
