/**
 * The small HTTP(S) server under the manager's two endpoints: probes (health.ts) for the kubelet, and
 * the secure server (/metrics, the debug page, profiles) for Prometheus and humans, over HTTPS behind
 * delegated authentication and authorization (delegated-auth.ts), as in controller-runtime.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { CertificatePair } from './certificates.js';
import { errorFields, type Logger } from './logger.js';

/** The oldest TLS the secure server speaks. */
export const MIN_TLS_VERSION = 'TLSv1.2';

export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * Parses a bind address: ':8080' (all interfaces), '127.0.0.1:8080', '[::1]:8080', ':0' (a free port).
 * '0' (or '') means "disabled" and returns undefined, as controller-runtime's flags do.
 */
export function parseBindAddress(address: string): { host?: string; port: number } | undefined {
  if (address === '0' || address === '') return undefined;
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!match)
    throw new RangeError(`invalid bind address "${address}": want host:port, :port, or 0 to disable`);
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (port > 65535) throw new RangeError(`invalid bind address "${address}": port out of range`);
  return host ? { host, port } : { port };
}

/** A tiny router over node:http: exact paths, plus prefixes ending in '/'. */
export class HttpEndpoint {
  private readonly routes = new Map<string, Handler>();
  private server: Server | HttpsServer | undefined;

  constructor(
    readonly name: string,
    private readonly log: Logger,
  ) {}

  /** Serves `path` exactly, or every path under it when it ends in '/'. */
  handle(path: string, handler: Handler): void {
    this.routes.set(path, handler);
  }

  /**
   * Starts listening, over HTTPS with `tls` (TLS 1.2 at the least), plain HTTP without; resolves with
   * the bound address, or undefined when the address disables it.
   */
  async listen(bindAddress: string, tls?: CertificatePair): Promise<AddressInfo | undefined> {
    const bind = parseBindAddress(bindAddress);
    if (!bind) return undefined;
    const serve = (req: IncomingMessage, res: ServerResponse): void => void this.serve(req, res);
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: MIN_TLS_VERSION }, serve)
      : createServer(serve);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bind.port, bind.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.log.info(`Serving ${this.name}`, {
      address: `${address.address}:${address.port}`,
      scheme: tls ? 'https' : 'http',
    });
    return address;
  }

  /** New TLS connections get this certificate; open ones keep theirs. Without TLS, throws. */
  setCertificate(pair: CertificatePair): void {
    const server = this.server;
    if (!server) return;
    if (!('setSecureContext' in server)) throw new Error(`${this.name}: not serving TLS`);
    server.setSecureContext({ cert: pair.cert, key: pair.key, minVersion: MIN_TLS_VERSION });
  }

  /** Stops listening and drops idle keep-alive connections so close completes promptly. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = this.routes.get(path) ?? this.prefixHandler(path);
    try {
      if (!handler) return reply(res, 404, 'not found\n');
      if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed\n');
      await handler(req, res);
    } catch (err) {
      this.log.error(`${this.name} handler failed`, { path, ...errorFields(err) });
      if (!res.headersSent) reply(res, 500, 'internal error\n');
      else res.end();
    }
  }

  private prefixHandler(path: string): Handler | undefined {
    let best: string | undefined;
    for (const prefix of this.routes.keys()) {
      if (prefix.endsWith('/') && path.startsWith(prefix) && (!best || prefix.length > best.length))
        best = prefix;
    }
    return best === undefined ? undefined : this.routes.get(best);
  }
}

/** A plain-text answer that browsers will not sniff into something else. */
export function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(body);
}
