/**
 * GET over HTTPS (or HTTP) as a scraper does it: with or without a bearer token, on a new connection
 * each time (so a certificate served now is the one seen), returning the server certificate too.
 * The operator's self-signed certificate is not verified unless `ca` pins it.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface Fetched {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** The server certificate's SHA-256 fingerprint, for HTTPS. */
  fingerprint256?: string;
  /** The TLS version spoken, for HTTPS. */
  protocol?: string;
}

export function get(
  url: string,
  options: { token?: string; ca?: string; method?: 'GET' | 'HEAD'; timeoutMs?: number } = {},
): Promise<Fetched> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const request = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(
      u,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: options.token ? { Authorization: `Bearer ${options.token}` } : {},
        ...(secure ? (options.ca ? { ca: options.ca } : { rejectUnauthorized: false }) : {}),
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert = secure ? socket.getPeerCertificate() : undefined;
        const protocol = secure ? (socket.getProtocol() ?? undefined) : undefined;
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            ...(cert?.fingerprint256 ? { fingerprint256: cert.fingerprint256 } : {}),
            ...(protocol ? { protocol } : {}),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer`)));
    req.on('error', reject);
    req.end();
  });
}
