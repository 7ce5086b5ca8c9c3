/**
 * The commands of a guided-tour document (docs/controller-patterns.md, docs/labs.md), made runnable.
 *
 * The format, readable as plain Markdown:
 * - Every ```sh block is a step: its lines run as one bash script (cwd: the repository root).
 * - A ```text block right after it (only blank lines between) is the output to expect.
 * - A marker comment on the line before a block changes what it is:
 *   `<!-- tour: operator -->` before a ```sh block: the `make run ARGS='...'` a human types; a test
 *     starts the operator with those ARGS instead (startOperator) and runs nothing.
 *   `<!-- tour: eventually -->` before a ```sh block: re-run it until the output matches (the cluster
 *     gets there in its own time), for up to a minute.
 *   `<!-- tour: operator-log -->` before a ```text block: lines the operator prints (in the terminal
 *     where `make run` runs) after the previous step began.
 *
 * Expected output is matched line by line, in order, each expected line against some later output
 * line: runs of spaces count as one, `...` stands for anything, and a line matches anywhere in an
 * output line (so a timestamp or a trailing AGE column need not be written out).
 */

export type TourStepKind = 'run' | 'operator' | 'operator-log';

export interface TourStep {
  readonly kind: TourStepKind;
  /** 1-based line of the block's opening fence, for failure messages. */
  readonly line: number;
  /** The script of a run or operator step. */
  readonly script: string;
  /** Lines to expect (empty: only the exit code counts). */
  readonly expected: string[];
  readonly eventually: boolean;
}

const MARKER = /^<!--\s*tour:\s*(operator|operator-log|eventually)\s*-->$/;

/** Every step of a tour document, in order. Throws on a marker that is not followed by its kind of block. */
export function parseTour(markdown: string): TourStep[] {
  const lines = markdown.split('\n');
  const steps: TourStep[] = [];
  let marker: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    const m = MARKER.exec(line);
    if (m) {
      marker = m[1];
      continue;
    }
    const fence = /^```(\w*)/.exec(line);
    if (!fence) {
      if (line !== '' && marker)
        throw new Error(`line ${i + 1}: a tour marker must be followed by its block`);
      continue;
    }
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && (lines[i] ?? '').trim() !== '```'; i++) body.push(lines[i] ?? '');
    const lang = fence[1];
    if (marker === 'operator-log') {
      if (lang !== 'text') throw new Error(`line ${start + 1}: operator-log wants a text block`);
      steps.push({
        kind: 'operator-log',
        line: start + 1,
        script: '',
        expected: nonEmpty(body),
        eventually: true,
      });
    } else if (lang === 'sh') {
      if (marker !== undefined && marker !== 'operator' && marker !== 'eventually') {
        throw new Error(`line ${start + 1}: unknown marker for a sh block: ${marker}`);
      }
      const expected = followingText(lines, i + 1);
      if (expected) i = expected.end;
      steps.push({
        kind: marker === 'operator' ? 'operator' : 'run',
        line: start + 1,
        script: body.join('\n'),
        expected: expected ? nonEmpty(expected.lines) : [],
        eventually: marker === 'eventually',
      });
    } else if (marker) {
      throw new Error(`line ${start + 1}: marker ${marker} before a ${lang || 'plain'} block`);
    }
    marker = undefined;
  }
  return steps;
}

/** The ```text block starting after blank lines from `from`, if any, and the index of its closing fence. */
function followingText(lines: string[], from: number): { lines: string[]; end: number } | undefined {
  let i = from;
  while (i < lines.length && (lines[i] ?? '').trim() === '') i++;
  if ((lines[i] ?? '').trim() !== '```text') return undefined;
  const body: string[] = [];
  for (i++; i < lines.length && (lines[i] ?? '').trim() !== '```'; i++) body.push(lines[i] ?? '');
  return { lines: body, end: i };
}

function nonEmpty(lines: string[]): string[] {
  return lines.map((l) => l.trimEnd()).filter((l) => l.trim() !== '');
}

/** Why `output` does not show `expected` (see the module comment), or undefined when it does. */
export function mismatch(expected: readonly string[], output: string): string | undefined {
  const got = output.split('\n').map(squash);
  let at = 0;
  for (const want of expected) {
    const pattern = new RegExp(squash(want).split('...').map(escapeRegExp).join('.*'));
    const found = got.findIndex((line, i) => i >= at && pattern.test(line));
    if (found < 0) return `no line matching ${JSON.stringify(want)} (after output line ${at + 1})`;
    at = found + 1;
  }
  return undefined;
}

/** The ARGS='...' (or ARGS="...", or ARGS=word) of a `make run` line, split into flags. */
export function makeRunArgs(script: string): string[] {
  const m = /\bARGS=(?:'([^']*)'|"([^"]*)"|(\S+))/.exec(script);
  return (m?.[1] ?? m?.[2] ?? m?.[3] ?? '').split(/\s+/).filter(Boolean);
}

function squash(s: string): string {
  return s.trim().replace(/\s+/g, ' ');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
