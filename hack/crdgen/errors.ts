/** The error the CRD generator throws: it names the schema path and the source line it could not turn into a schema. */
import type { Node } from 'ts-morph';

export class CrdGenerationError extends Error {
  override readonly name = 'CrdGenerationError';

  constructor(
    /** Where in the schema, such as `spec.app.ports`. */
    readonly schemaPath: string,
    detail: string,
    /** The declaration or type the problem is in, for a `file:line` pointer. */
    readonly node?: Node,
    options?: ErrorOptions,
  ) {
    super(`${schemaPath || '<root>'}: ${detail}${node ? ` (${locate(node)})` : ''}`, options);
  }
}

function locate(node: Node): string {
  const file = node.getSourceFile().getFilePath();
  const cwd = process.cwd();
  const shown = file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
  return `${shown}:${node.getStartLineNumber()}`;
}
