/**
 * What one bench run measures and how hard it pushes: the sizes, the edits, which operators, their
 * concurrency and how long any wait may take. run.ts builds it from the flags; the loops read it, and
 * the report prints it next to the figures, so a figure always comes with the options it was taken under.
 */
import type { OperatorName } from './operator-process.js';

export interface BenchOptions {
  quick: boolean;
  /** Convergence sizes, ascending: the smallest also measures latency and equivalence, the largest restart. */
  sizes: number[];
  /** Sizes at which memory is read, ascending; those above the largest size grow its namespace. */
  memorySizes: number[];
  /** Single-change edits at the smallest size. */
  edits: number;
  operators: OperatorName[];
  /** Concurrent reconciles of each operator, and writers of the write loops. */
  concurrency: number;
  /** Lab creations in flight. */
  createConcurrency: number;
  /** The bound of each wait for a whole namespace (convergence, restart, claims Bound, idle). */
  timeoutMs: number;
  /** Extra node flags, log level and flags for our operator (profiling, --trace). */
  ours: { nodeArgs: string[]; logLevel: string; extraArgs: string[] };
}

export const smallestSize = (o: BenchOptions): number => o.sizes[0]!;
export const largestSize = (o: BenchOptions): number => o.sizes[o.sizes.length - 1]!;

/** Progress, on stderr: stdout holds only the table. */
export const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
