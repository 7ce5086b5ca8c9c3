/**
 * The layout's two rules, checked on every import and export line (type-only ones too): no module
 * of src/ reaches itself through its imports, and src/runtime/ never imports src/studylab/, so the
 * runtime stays usable without the operator built on it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { expect } from 'chai';
import { REPO_ROOT } from '../../src/testenv/index.js';

const SRC = join(REPO_ROOT, 'src');

/** Each .ts file under src/ (relative to it), with the relative modules it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const files = readdirSync(SRC, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = readFileSync(join(SRC, file), 'utf8');
    const deps = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/g)].map(
      (m) => relative(SRC, resolve(dirname(join(SRC, file)), m[1]!)).replace(/\.js$/, '.ts'),
    );
    graph.set(file, deps);
  }
  return graph;
}

/** Every cycle found by a depth-first walk, each as the path that closes it. */
function cycles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string): void => {
    state.set(file, 'open');
    stack.push(file);
    for (const dep of graph.get(file) ?? []) {
      if (!graph.has(dep)) continue;
      if (state.get(dep) === 'open') found.push([...stack.slice(stack.indexOf(dep)), dep].join(' -> '));
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

describe('the layout of src/', function () {
  const graph = importGraph();

  it('reads the import lines it checks', function () {
    expect(graph.get('runtime/controller.ts')).to.include('runtime/workqueue.ts');
    expect(
      cycles(
        new Map([
          ['a.ts', ['b.ts']],
          ['b.ts', ['a.ts']],
        ]),
      ),
    ).to.deep.equal(['a.ts -> b.ts -> a.ts']);
  });

  it('has no import cycle, type-only imports included', function () {
    expect(cycles(graph)).to.deep.equal([]);
  });

  it('keeps src/runtime free of src/studylab', function () {
    const upward = [...graph]
      .filter(([file]) => file.startsWith('runtime/'))
      .flatMap(([file, deps]) => deps.filter((d) => d.startsWith('studylab/')).map((d) => `${file} -> ${d}`));
    expect(upward).to.deep.equal([]);
  });
});
