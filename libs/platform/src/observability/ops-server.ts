import { createServer, Server } from 'node:http';
import { Logger } from '@nestjs/common';
import { METRICS_CONTENT_TYPE, metricsText } from './metrics';

export type Probe = () => Promise<Record<string, 'up' | 'down'>>;

/**
 * The operations port of a process (METRICS_PORT): `GET /metrics` (Prometheus text),
 * `GET /health/live` (the process runs: 200, also while it drains), `GET /health/ready`
 * (it can serve: every dependency the probe checks is up, else 503 with which is down).
 * Plain node:http, apart from the API: a worker has no HTTP server of its own, and a
 * busy API must not delay a scrape.
 */
export class OpsServer {
  private readonly log = new Logger('OpsServer');
  private server?: Server;
  private stopping = false;

  constructor(
    private readonly port: number,
    private readonly ready: Probe,
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.answer(req.method ?? 'GET', (req.url ?? '/').split('?')[0]).then(({ status, type, body }) => {
        res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        res.end(body);
      });
    });
    this.server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, () => resolve());
    });
    this.log.log(`metrics and probes on :${this.port} (/metrics, /health/live, /health/ready)`);
  }

  /** From now on ready answers 503: the process is draining and takes no new work. */
  markStopping(): void {
    this.stopping = true;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async answer(method: string, path: string): Promise<{ status: number; type: string; body: string }> {
    const json = (status: number, body: unknown) => ({ status, type: 'application/json', body: JSON.stringify(body) });
    if (method !== 'GET') return json(405, { status: 'method not allowed' });
    switch (path) {
      case '/metrics':
        return { status: 200, type: METRICS_CONTENT_TYPE, body: await metricsText() };
      case '/health/live':
        // Still live while draining: a restart now would cut the work being finished.
        return json(200, { status: this.stopping ? 'stopping' : 'up' });
      case '/health':
      case '/health/ready': {
        if (this.stopping) return json(503, { status: 'stopping' });
        const checks = await this.ready().catch(() => ({ probe: 'down' as const }));
        const up = Object.values(checks).every((c) => c === 'up');
        return json(up ? 200 : 503, { status: up ? 'up' : 'down', ...checks });
      }
      default:
        return json(404, { status: 'not found', paths: ['/metrics', '/health/live', '/health/ready'] });
    }
  }
}

/** Resolves `check` to 'up' or 'down' within `ms`, so one dead store never hangs a probe. */
export async function upWithin(check: () => Promise<unknown>, ms = 1_000): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => (timer = setTimeout(() => resolve('down'), ms)));
  try {
    return await Promise.race([
      check().then(
        () => 'up' as const,
        () => 'down' as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
