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
 * - hold(): a partition that keeps every connection open, as a network does that
 *   loses everything for a while: nothing passes either way, and what each side
 *   writes is held, in order, as TCP would keep retransmitting it. release()
 *   delivers what was held, on the connections still there, and counts it in
 *   `deliveredAfterRelease`. A client that closed its connection normally (FIN)
 *   still has what it wrote delivered, as its kernel would go on sending it; a
 *   client that reset it (RST) has it dropped, as a reset purges the send queue.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';

interface Pair {
  downstream: Socket;
  upstream: Socket;
  frozen: boolean;
  /** What the client wrote while the proxy held; delivered on release unless the client reset. */
  heldUp: Buffer[];
  /** What the server wrote while the proxy held. */
  heldDown: Buffer[];
  /** The client closed (FIN) while held: end the server side once what it wrote is delivered. */
  clientEnded: boolean;
}

export class TcpProxy {
  port = 0;
  /** Connections accepted so far. */
  accepted = 0;
  /** Connections freeze() silenced that the client closed while they were still silent. */
  silencedClosed = 0;
  private readonly server: Server;
  /** Bytes held by hold() that release() delivered to the server. */
  deliveredAfterRelease = 0;
  /** Bytes held by hold() that were dropped because their client reset the connection. */
  droppedOnReset = 0;
  private readonly pairs = new Set<Pair>();
  private blocked = false;
  private holding = false;

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

  /** Starts holding every connection, open now or accepted later (see the class comment). */
  hold(): void {
    this.holding = true;
  }

  /** Ends the hold: delivers what was held on the connections still there. */
  release(): void {
    this.holding = false;
    for (const p of [...this.pairs]) {
      for (const chunk of p.heldUp.splice(0)) {
        this.deliveredAfterRelease += chunk.length;
        p.upstream.write(chunk);
      }
      for (const chunk of p.heldDown.splice(0)) p.downstream.write(chunk);
      if (p.clientEnded) this.endPair(p);
    }
  }

  /** Connections open through the proxy now (a held connection its client closed stays until release). */
  get open(): number {
    return this.pairs.size;
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
    const pair: Pair = { downstream, upstream, frozen: false, heldUp: [], heldDown: [], clientEnded: false };
    this.pairs.add(pair);
    // A cut connection is the point: errors only end the pair. A reset by the client drops what it
    // wrote while held.
    upstream.on('error', () => undefined);
    downstream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') {
        for (const chunk of pair.heldUp.splice(0)) this.droppedOnReset += chunk.length;
      }
    });
    downstream.on('data', (chunk: Buffer) => {
      if (this.holding) return void pair.heldUp.push(chunk);
      // The client speaks again on a frozen connection: a reused keep-alive socket, not a watch.
      pair.frozen = false;
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (this.holding) return void pair.heldDown.push(chunk);
      // Frozen: what the server sends is swallowed; the client sees an open, quiet connection.
      if (!pair.frozen) downstream.write(chunk);
    });
    downstream.on('close', () => {
      if (pair.frozen && this.pairs.has(pair)) this.silencedClosed++;
      // Closed normally while held: what it wrote is still on its way, delivered on release.
      if (this.holding && pair.heldUp.length > 0) pair.clientEnded = true;
      else this.endPair(pair);
    });
    upstream.on('close', () => this.endPair(pair));
  }

  private endPair(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    pair.downstream.destroy();
    // end(), not destroy(): what was just delivered must still reach the server.
    pair.upstream.end();
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
