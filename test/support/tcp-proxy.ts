/**
 * A TCP proxy between a client and the API server that a test can break on
 * purpose. TLS passes through untouched, so the client still verifies the
 * API server's certificate and sends its own credentials.
 *
 * - block(): drops every connection and refuses new ones, as a partition would.
 * - freeze(): the connections open now stop delivering anything to the client,
 *   without closing: what a half-open connection or a stuck middlebox looks like.
 *   A frozen connection the client writes to again is an idle keep-alive
 *   connection being reused (a watch never writes after its request), so it is
 *   thawed: only the streams the client waits on stay silent. New connections pass.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';

interface Pair {
  downstream: Socket;
  upstream: Socket;
  frozen: boolean;
}

export class TcpProxy {
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;
  /** Connections freeze() silenced that the client closed while they were still silent. */
  silencedClosed = 0;
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private blocked = false;

  private constructor(private readonly targetPort: number) {
    this.server = createServer((downstream) => this.accept(downstream));
  }

  static async start(targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    const address = proxy.server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy: no port');
    proxy.port = address.port;
    return proxy;
  }

  block(): void {
    this.blocked = true;
    for (const p of this.pairs) {
      p.downstream.destroy();
      p.upstream.destroy();
    }
  }

  unblock(): void {
    this.blocked = false;
  }

  /** Silences every connection open now; returns how many. */
  freeze(): number {
    for (const p of this.pairs) p.frozen = true;
    return this.pairs.size;
  }

  /** Connections still frozen: streams the client has not given up on yet. */
  get frozen(): number {
    return [...this.pairs].filter((p) => p.frozen).length;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(downstream: Socket): void {
    if (this.blocked) {
      downstream.destroy();
      return;
    }
    this.accepted++;
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: Pair = { downstream, upstream, frozen: false };
    this.pairs.add(pair);
    // A cut connection is the point: errors only end the pair.
    for (const s of [downstream, upstream]) s.on('error', () => undefined);
    downstream.on('data', (chunk: Buffer) => {
      // The client speaks again on a frozen connection: a reused keep-alive socket, not a watch.
      pair.frozen = false;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      // Frozen: what the server sends is swallowed; the client sees an open, quiet connection.
      if (!pair.frozen) downstream.write(chunk);
    });
    const end = (closedBy: 'client' | 'server'): void => {
      if (!this.pairs.delete(pair)) return;
      if (pair.frozen && closedBy === 'client') this.silencedClosed++;
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on('close', () => end('client'));
    upstream.on('close', () => end('server'));
  }
}

/** A copy of `kc` that reaches its API server through 127.0.0.1:`port`. */
export function viaProxy(kc: KubeConfig, port: number): KubeConfig {
  const copy = new KubeConfig();
  copy.loadFromString(kc.exportConfig());
  const current = copy.getCurrentCluster()?.name;
  copy.loadFromOptions({
    clusters: copy.clusters.map((c) =>
      c.name === current ? { ...c, server: `https://127.0.0.1:${port}` } : c,
    ),
    users: copy.users,
    contexts: copy.contexts,
    currentContext: copy.currentContext,
  });
  return copy;
}

/** Writes a copy of the kubeconfig file `from` to `to`, with every cluster's server behind the proxy. */
export function proxiedKubeconfigFile(from: string, to: string, port: number): string {
  const config = parse(readFileSync(from, 'utf8')) as { clusters: { cluster: { server: string } }[] };
  for (const c of config.clusters) c.cluster.server = `https://127.0.0.1:${port}`;
  writeFileSync(to, stringify(config), { mode: 0o600 });
  return to;
}
