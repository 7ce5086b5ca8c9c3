/**
 * `npm run bundle`: the operator as one ES module, dist/bundle/main.mjs, which the image runs.
 *
 * Why: loading @kubernetes/client-node's package entry loads every generated API model and client
 * (about 80 MiB of RSS and most of a second before main() runs), while the operator calls only
 * KubeConfig and its own HTTP client. esbuild keeps what src/main.ts reaches, so the image needs no
 * node_modules at all and the process starts lighter (bench/README.md, "Start and idle memory").
 *
 * What else keeps the loaded bundle small (idle on the local plane, all three together: RSS 88 -> 68 MiB,
 * V8 heap 21 -> 11 MiB):
 * - client-node's files are marked free of side effects (they are: generated models and classes), so
 *   esbuild drops what KubeConfig does not reach. Otherwise config.js's import of gen/index.js keeps
 *   ObjectSerializer, whose type map holds every one of the ~740 generated models, all built at load.
 * - socks-proxy-agent is loaded on first use (socksProxyAgentOnFirstUse), not at start.
 * - whatwg-url is replaced by node's own URL: node-fetch (which client-node's config.js imports)
 *   takes `require('url').URL` first and never uses it, but loading it parses tr46's 290 KB table.
 * - Whitespace and comments are minified: node keeps the script's source in memory, and a single
 *   non-ASCII character in a comment makes V8 hold all of it as a two-byte string (4.6 MiB before).
 *   Names are kept (no minifyIdentifiers), so stack traces still name the function; no source map,
 *   which node would have to load and keep. Only node: built-ins stay outside the file.
 *
 *   npx tsx hack/bundle.ts [outfile]     (default dist/bundle/main.mjs)
 */
import { build, type Plugin } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// Not src/testenv's REPO_ROOT: the image's build stage runs this file, and needs nothing of the plane.
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export const BUNDLE = join(REPO_ROOT, 'dist', 'bundle', 'main.mjs');

/** The lock's packages; `dev` marks those `npm ci --omit=dev` leaves out. */
function lockedPackages(): Record<string, { dev?: boolean }> {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  return lock.packages;
}

/** client-node's own files carry no side effect the operator needs: what nothing imports is left out. */
const clientNodeWithoutSideEffects: Plugin = {
  name: 'client-node-without-side-effects',
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === 'resolved') return undefined;
      if (
        !args.path.startsWith('@kubernetes/client-node') &&
        !args.importer.includes('/@kubernetes/client-node/')
      )
        return undefined;
      const r = await b.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: 'resolved',
      });
      if (r.errors.length) return { errors: r.errors };
      return r.path.includes('/@kubernetes/client-node/') ? { ...r, sideEffects: false } : r;
    });
  },
};

/**
 * client-node imports socks-proxy-agent for a kubeconfig whose cluster has a socks5 proxy-url, and an
 * import is evaluated at start: with `socks`, `ip-address` and `debug` under it, 10 ms of every start
 * (a fifth of the bundle's own evaluation), for a proxy almost nobody has. Here client-node gets a
 * stand-in that requires the real module the first time an agent is made.
 */
const socksProxyAgentOnFirstUse: Plugin = {
  name: 'socks-proxy-agent-on-first-use',
  setup(b) {
    b.onResolve({ filter: /^socks-proxy-agent$/ }, (args) =>
      args.importer.includes('/@kubernetes/client-node/')
        ? { path: 'socks-proxy-agent', namespace: 'on-first-use' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'on-first-use' }, () => ({
      contents: `let real;
export class SocksProxyAgent {
  constructor(...args) {
    real ??= require('socks-proxy-agent');
    return new real.SocksProxyAgent(...args);
  }
}`,
      loader: 'js',
      resolveDir: REPO_ROOT,
    }));
  },
};

/** node-fetch's fallback for a node without a global URL, which every node we run on has. */
const whatwgUrlIsNodes: Plugin = {
  name: 'whatwg-url-is-nodes',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: 'node-url' }));
    b.onLoad({ filter: /.*/, namespace: 'node-url' }, () => ({
      contents: 'module.exports = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };',
      loader: 'js',
    }));
  },
};

export async function bundle(outfile = BUNDLE): Promise<{ outfile: string; bytes: number }> {
  const locked = lockedPackages();
  // Production dependencies sometimes try a development-only package inside a try/catch (debug tries
  // supports-color). A production install does not have it, so neither does the bundle: the require
  // stays, fails at run time, and the dependency takes the path it takes in production.
  const devOnly = Object.keys(locked)
    .filter((p) => locked[p]!.dev && p.startsWith('node_modules/') && !p.includes('/node_modules/', 1))
    .map((p) => p.slice('node_modules/'.length));
  const result = await build({
    entryPoints: [join(REPO_ROOT, 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // Some dependencies are CommonJS and call require() at run time; an ES module has no require of
    // its own, so the bundle makes one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'eof',
    logLevel: 'warning',
    external: devOnly,
    metafile: true,
    plugins: [socksProxyAgentOnFirstUse, clientNodeWithoutSideEffects, whatwgUrlIsNodes],
    absWorkingDir: REPO_ROOT,
  });
  // The image ships what the bundle holds: never the plane's code, never a development dependency.
  const inputs = Object.keys(result.metafile.inputs);
  const testenv = inputs.filter((f) => f.startsWith('src/testenv/'));
  if (testenv.length) throw new Error(`the bundle reaches the test environment: ${testenv.join(', ')}`);
  const packages = new Set(
    inputs.map((f) => /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1]).filter((p) => p !== undefined),
  );
  const dev = [...packages].filter((p) => locked[p]?.dev);
  if (dev.length) throw new Error(`the bundle holds development dependencies: ${dev.join(', ')}`);
  return { outfile, bytes: statSync(outfile).size };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { outfile, bytes } = await bundle(process.argv[2] ?? BUNDLE);
  console.log(`${relative(process.cwd(), outfile)}: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
}
