/**
 * /metrics: the Prometheus text format of the manager's registry, served on the secure server (see
 * http-server.ts and delegated-auth.ts), like controller-runtime's metrics endpoint.
 */
import type { Registry } from 'prom-client';
import type { Handler } from './http-server.js';

/** Serves a prom-client registry in the text format it declares. */
export function metricsHandler(registry: Registry): Handler {
  return async (_req, res) => {
    const body = await registry.metrics();
    res.writeHead(200, { 'Content-Type': registry.contentType });
    res.end(body);
  };
}
