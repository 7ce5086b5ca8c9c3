/** Staleness of the committed CRD: what differs from a fresh generation, as a short list a human can act on. */
import { parse } from 'yaml';
import { isPlainObject } from '../../src/runtime/equality.js';

const MAX_LINES = 20;

/**
 * The differences between the committed file and a fresh generation, by
 * schema path (`~ changed`, `+ only in the fresh one`, `- only in the
 * committed one`); empty when the bytes are identical.
 */
export function describeStaleness(committed: string | undefined, fresh: string): string[] {
  if (committed === undefined) return ['the file does not exist'];
  if (committed === fresh) return [];
  let before: unknown;
  try {
    before = parse(committed, { version: '1.1' });
  } catch (err) {
    return [`the committed file is not valid YAML (${err instanceof Error ? err.message : String(err)})`];
  }
  const changes: string[] = [];
  diffValues(before, parse(fresh, { version: '1.1' }), '', changes);
  if (changes.length === 0) {
    return [
      `same content, different formatting or comments from line ${firstDifferentLine(committed, fresh)}`,
    ];
  }
  const shown = changes.slice(0, MAX_LINES);
  if (changes.length > MAX_LINES) shown.push(`... and ${changes.length - MAX_LINES} more`);
  return shown;
}

function diffValues(before: unknown, after: unknown, path: string, out: string[]): void {
  if (isPlainObject(before) && isPlainObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    for (const key of keys) {
      const sub = path ? `${path}.${key}` : key;
      if (!(key in after)) out.push(`- ${shorten(sub)}`);
      else if (!(key in before)) out.push(`+ ${shorten(sub)}: ${summarise(after[key])}`);
      else diffValues(before[key], after[key], sub, out);
    }
    return;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      const sub = `${path}[${i}]`;
      if (i >= after.length) out.push(`- ${shorten(sub)}`);
      else if (i >= before.length) out.push(`+ ${shorten(sub)}: ${summarise(after[i])}`);
      else diffValues(before[i], after[i], sub, out);
    }
    return;
  }
  if (JSON.stringify(before) !== JSON.stringify(after)) {
    out.push(`~ ${shorten(path)}: ${summarise(before)} -> ${summarise(after)}`);
  }
}

/** `spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.app` reads better as `<schema>.spec.app`. */
function shorten(path: string): string {
  return path
    .replace(/^spec\.versions\[(\d+)\]\.schema\.openAPIV3Schema/, (_, i: string) =>
      i === '0' ? '<schema>' : `<schema ${i}>`,
    )
    .replace(/\.properties\./g, '.');
}

function summarise(value: unknown): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function firstDifferentLine(a: string, b: string): number {
  const left = a.split('\n');
  const right = b.split('\n');
  let i = 0;
  while (i < left.length && i < right.length && left[i] === right[i]) i++;
  return i + 1;
}
