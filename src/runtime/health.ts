/**
 * The probes the kubelet asks (/healthz, /readyz): open to anyone who reaches the port, and saying
 * nothing but ok or why not. The manager serves them on an HttpEndpoint (http-server.ts) of their own.
 */
import { reply, type Handler } from './http-server.js';
import { errorFields } from './logger.js';

/** A health or readiness check: resolves when fine, throws (with a reason) when not. */
export type Check = () => void | Promise<void>;

/**
 * Runs every check; 200 "ok" when all pass, 500 with one line per check otherwise (the API server's
 * format: "[+]name ok" / "[-]name failed: reason"). `?verbose` lists the checks on success too.
 */
export function checksHandler(kind: string, checks: ReadonlyMap<string, Check>): Handler {
  return async (req, res) => {
    const results = await Promise.all(
      [...checks].map(async ([name, check]) => {
        try {
          await check();
          return { name, ok: true, line: `[+]${name} ok` };
        } catch (err) {
          return { name, ok: false, line: `[-]${name} failed: ${errorFields(err).error}` };
        }
      }),
    );
    const ok = results.every((r) => r.ok);
    const verbose = new URL(req.url ?? '/', 'http://localhost').searchParams.has('verbose');
    if (ok && !verbose) return reply(res, 200, 'ok');
    const lines = results.map((r) => r.line).join('\n');
    reply(res, ok ? 200 : 500, `${lines}\n${kind} check ${ok ? 'passed' : 'failed'}\n`);
  };
}
