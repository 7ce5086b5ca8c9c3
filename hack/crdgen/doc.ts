/** Doc comments: the description text and the `@tag value` lines of a declaration's JSDoc. */
import type { Node } from 'ts-morph';

export interface DocTag {
  /** Without the `@`. */
  name: string;
  /** Everything after the tag name up to the next tag, trimmed; continuation lines are kept with their newlines. */
  value: string;
  /** The node the comment is on, for error messages. */
  node?: Node;
}

export interface Doc {
  /** The text before the first tag, whitespace-normalised; undefined when there is none. */
  description?: string;
  tags: DocTag[];
}

export interface DocOptions {
  /**
   * Whether `@name` at the start of a line starts a tag. Off for
   * @kubernetes/client-node, whose comments are plain prose copied from the
   * Kubernetes API and may contain anything.
   */
  tags: boolean;
  /**
   * client-node's generator writes descriptions as escaped string bodies
   * (`pod\'s`, `\"$$(VAR_NAME)\"`); undo that so `kubectl explain` reads well.
   */
  unescape: boolean;
}

/**
 * The doc comment right above a declaration: the last `/** ... *\/` between
 * the previous token and the node. Read from the text rather than from
 * TypeScript's JSDoc nodes, which leave out a comment on the same line as
 * the previous member (`{ /** @int32 *\/ port: number }`): a tag there must
 * not be dropped silently.
 */
export function readDoc(node: Node, options: DocOptions): Doc {
  const trivia = node.getSourceFile().getFullText().slice(node.getPos(), node.getStart());
  const raw = [...trivia.matchAll(/\/\*\*(?!\/)[\s\S]*?\*\//g)].at(-1)?.[0];
  if (!raw) return { tags: [] };
  const doc = parseDocComment(raw, options);
  return { ...doc, tags: doc.tags.map((t) => ({ ...t, node })) };
}

/** Parses the raw text of a `/** ... *\/` comment. */
export function parseDocComment(raw: string, options: DocOptions): Doc {
  const body = raw.replace(/^\/\*\*/, '').replace(/\*\/$/, '');
  const lines = body.split(/\r?\n/).map((line) => line.replace(/^\s*\*(?!\/) ?/, ''));
  const description: string[] = [];
  const tags: DocTag[] = [];
  let current: DocTag | undefined;
  for (const line of lines) {
    const tag = options.tags ? /^\s*@([A-Za-z][\w-]*)(?:\s+(.*))?$/.exec(line) : null;
    if (tag) {
      current = { name: tag[1]!, value: (tag[2] ?? '').trim() };
      tags.push(current);
    } else if (current) {
      current.value = `${current.value}\n${line}`.trim();
    } else {
      description.push(line);
    }
  }
  let text = description.join(' ').replace(/\{@link\s+([^}\s]+)\s*\}/g, '$1');
  if (options.unescape) text = text.replace(/\\(['"\\])/g, '$1');
  text = normaliseWhitespace(text);
  return text ? { description: text, tags } : { tags };
}

export function normaliseWhitespace(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
