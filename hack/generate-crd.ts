/**
 * Writes crds/studylab.io_studylabs.yaml from src/api/v1alpha1/studylab-types.ts.
 *
 *   npx tsx hack/generate-crd.ts           regenerate the CRD (npm run generate)
 *   npx tsx hack/generate-crd.ts --check   exit 1 when the committed CRD is stale (npm run verify:generated)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CrdGenerationError } from './crdgen/errors.js';
import { CRD_FILE, generateCrd } from './crdgen/generate.js';
import { describeStaleness } from './crdgen/staleness.js';

const USAGE = 'usage: tsx hack/generate-crd.ts [--check]';

function main(args: string[]): number {
  const unknown = args.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown.join(' ')}\n${USAGE}`);
    return 2;
  }
  const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const target = join(repoRoot, CRD_FILE);
  let fresh: string;
  try {
    fresh = generateCrd(repoRoot).yaml;
  } catch (err) {
    // A problem in the API types is the user's to fix: say where, without a stack trace.
    if (err instanceof CrdGenerationError) {
      console.error(`generate-crd: ${err.message}`);
      return 1;
    }
    throw err;
  }
  const committed = existsSync(target) ? readFileSync(target, 'utf8') : undefined;

  if (args.includes('--check')) {
    const differences = describeStaleness(committed, fresh);
    if (differences.length === 0) {
      console.log(`${CRD_FILE} is up to date`);
      return 0;
    }
    console.error(
      `${CRD_FILE} is stale: it differs from what src/api generates. Run \`npm run generate\` and commit it.`,
    );
    for (const line of differences) console.error(`  ${line}`);
    return 1;
  }

  if (committed === fresh) {
    console.log(`${CRD_FILE} unchanged`);
  } else {
    writeFileSync(target, fresh);
    console.log(`wrote ${CRD_FILE}`);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
