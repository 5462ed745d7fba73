/**
 * `--metrics HOST:PORT`: an HTTP endpoint serving GET /metrics in the Prometheus text format
 * from a prom-client registry (with the default process metrics). Loopback by default.
 */
import http from 'node:http';
import { Registry } from 'prom-client';
import { registerDefaultMetrics } from './default-metrics.js';
import { isIP, type AddressInfo } from 'node:net';

export class MetricsServer {
  readonly registry = new Registry();
  private server?: http.Server;
  private readonly stopGc: () => void;
  /** Runs before each scrape (the runner asks the datapath threads for fresh counters). */
  beforeScrape?: () => Promise<void>;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.stopGc = registerDefaultMetrics(this.registry);
    // prom-client names these gauges *_total, which Prometheus's own lint (promtool check
    // metrics) rejects: only counters may end in _total. The same numbers stay available as
    // nodejs_active_handles / nodejs_active_requests / nodejs_active_resources.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
  }

  async start(): Promise<AddressInfo> {
    this.server = http.createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404).end('only GET /metrics here\n');
        return;
      }
      Promise.resolve(this.beforeScrape?.())
        .then(() => this.registry.metrics())
        .then(
          (body) => res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body),
          (e: Error) => res.writeHead(500).end(`${e.message}\n`),
        );
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', (e: NodeJS.ErrnoException) => reject(new Error(listenError('--metrics', this.host, this.port, e))));
      this.server!.listen(this.port, this.host, () => resolve());
    });
    return this.server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    this.stopGc();
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

/**
 * One line for a listen that failed: the flag, the address, the cause in words, e.g.
 * `--metrics 127.0.0.1:9100: address in use`. (Also used for --grpc.)
 */
export function listenError(flag: string, host: string, port: number, e: { code?: string; message: string }): string {
  const addr = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
  const why: Record<string, string> = {
    EADDRINUSE: 'address in use',
    EADDRNOTAVAIL: 'address not available on this host',
    EACCES: 'permission denied (a port below 1024 needs CAP_NET_BIND_SERVICE)',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name not found',
    EAFNOSUPPORT: 'address family not supported',
  };
  return `${flag} ${addr}: ${(e.code && why[e.code]) ?? e.code ?? e.message.split('\n')[0]}`;
}

/** HOST:PORT or [IPv6]:PORT. */
export function parseListenAddress(v: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(v) ?? /^([^:]+):(\d+)$/.exec(v);
  if (!m || Number(m[2]) > 65535) throw new Error(`"${v}" is not HOST:PORT or [IPv6]:PORT`);
  return { host: m[1], port: Number(m[2]) };
}
