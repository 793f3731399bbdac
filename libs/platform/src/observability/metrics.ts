import { collectDefaultMetrics, Counter, Gauge, Histogram, register } from 'prom-client';
import type { Queue as BullQueue } from 'bull';
import type { DataSource } from 'typeorm';

/**
 * The process's Prometheus metrics (prom-client's default registry): CPU, memory and
 * event-loop lag of the process, and the suite's own series. Each process names itself in
 * the `app` label of every series (card-service api and worker replicas are told apart by
 * Prometheus's own `instance` label). What each series means and which worker it scales:
 * docs/operations.md.
 */
let started = false;
export function startMetrics(app: string): void {
  if (started) return;
  started = true;
  register.setDefaultLabels({ app });
  collectDefaultMetrics();
}

export const metricsText = (): Promise<string> => register.metrics();
export const METRICS_CONTENT_TYPE = register.contentType;

const LATENCY_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpDuration = new Histogram({
  name: 'http_request_duration_seconds',
  help: 'HTTP requests answered by the gateway, by route template and status',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: LATENCY_BUCKETS,
});

/** Envelope codes of the gateway's failed answers: tells 503 50301 (a service) from 50302 (a store), 429 42901 from the rest. */
export const httpErrors = new Counter({
  name: 'http_errors_total',
  help: 'HTTP answers of the gateway with a non-zero envelope code, by code (50301 a service did not answer, 50302 a store is down, 42901 rate limited, 50001 a bug)',
  labelNames: ['code'] as const,
});

export const rpcClientDuration = new Histogram({
  name: 'rpc_client_request_duration_seconds',
  help: 'Transport requests sent to a service, from send to answer (outcome: answered, failed, timeout: no answer by the deadline)',
  labelNames: ['service', 'outcome'] as const,
  buckets: LATENCY_BUCKETS,
});

export const rpcClientShed = new Counter({
  name: 'rpc_client_shed_total',
  help: 'Transport requests refused at once because RPC_MAX_PENDING were already waiting on the service',
  labelNames: ['service'] as const,
});

/** Requests each client waits on now, read at scrape time. */
const pendingSources = new Map<string, Set<() => number>>();
export function trackPending(service: string, read: () => number): () => void {
  const set = pendingSources.get(service) ?? new Set();
  pendingSources.set(service, set);
  set.add(read);
  return () => set.delete(read);
}
new Gauge({
  name: 'rpc_client_pending',
  help: 'Transport requests sent and not answered yet, per service (scale api replicas on it)',
  labelNames: ['service'] as const,
  collect() {
    this.reset();
    for (const [service, reads] of pendingSources)
      this.set(
        { service },
        [...reads].reduce((n, read) => n + read(), 0),
      );
  },
});

export const rpcServerInFlight = new Gauge({
  name: 'rpc_server_in_flight',
  help: 'Transport requests this process works on now',
  labelNames: ['service'] as const,
});
export const rpcServerDuration = new Histogram({
  name: 'rpc_server_request_duration_seconds',
  help: 'Transport requests handled by this process, from taking to answering',
  labelNames: ['service'] as const,
  buckets: LATENCY_BUCKETS,
});
export const rpcServerTakeovers = new Counter({
  name: 'rpc_server_takeovers_total',
  help: 'Requests taken over from an instance that stopped heart-beating',
  labelNames: ['service'] as const,
});
export const rpcServerDeadlineDrops = new Counter({
  name: 'rpc_server_deadline_drops_total',
  help: 'Requests dropped unanswered because their deadline had passed when taken (the caller had given up)',
  labelNames: ['service'] as const,
});

const BATCH_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
export const claimBatchSize = new Histogram({
  name: 'claim_batch_size',
  help: 'Claims answered together in one transaction',
  buckets: BATCH_BUCKETS,
});
export const pointsBatchSize = new Histogram({
  name: 'points_batch_size',
  help: 'Points earns and spends answered together in one transaction',
  buckets: BATCH_BUCKETS,
});

/** Bull queues of this process, read at scrape time. */
const queues = new Set<BullQueue>();
export function trackQueue(queue: BullQueue): void {
  queues.add(queue);
}
/** waiting: ready for a worker; paused: waiting in a paused queue (the console's pause), counted apart. */
const QUEUE_STATES = ['waiting', 'paused', 'active', 'delayed', 'failed'] as const;
new Gauge({
  name: 'bull_queue_jobs',
  help: 'Jobs of a Bull queue by state',
  labelNames: ['queue', 'state'] as const,
  async collect() {
    this.reset();
    await Promise.all(
      [...queues].map(async (q) => {
        // Bull counts the paused list too, though its JobCounts type does not say so.
        const counts = (await q.getJobCounts().catch(() => null)) as Partial<Record<(typeof QUEUE_STATES)[number], number>> | null;
        if (counts) for (const state of QUEUE_STATES) this.set({ queue: q.name, state }, counts[state] ?? 0);
      }),
    );
  },
});
new Gauge({
  name: 'bull_queue_oldest_waiting_age_seconds',
  help: 'Age of the oldest job waiting in a Bull queue; 0 when none waits (scale that queue’s workers on it)',
  labelNames: ['queue'] as const,
  async collect() {
    this.reset();
    await Promise.all(
      [...queues].map(async (q) => {
        // Ascending (Bull's getWaiting reads the wait and paused lists): the first of each list waits longest.
        const heads = await q.getWaiting(0, 0).catch(() => []);
        const oldest = Math.min(...heads.filter(Boolean).map((j) => j.timestamp));
        this.set({ queue: q.name }, Number.isFinite(oldest) ? Math.max(0, (Date.now() - oldest) / 1000) : 0);
      }),
    );
  },
});

/** The PostgreSQL pool of each data source of this process, read at scrape time. */
interface PgPool {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}
const pools = new Map<string, DataSource>();
export function trackPool(name: string, db: DataSource): void {
  pools.set(name, db);
}
new Gauge({
  name: 'pg_pool_connections',
  help: 'PostgreSQL pool connections: in_use, idle, and waiting (callers waiting for a connection)',
  labelNames: ['pool', 'state'] as const,
  collect() {
    this.reset();
    for (const [pool, db] of pools) {
      const p = (db.driver as unknown as { master?: PgPool }).master;
      if (!p) continue;
      this.set({ pool, state: 'in_use' }, p.totalCount - p.idleCount);
      this.set({ pool, state: 'idle' }, p.idleCount);
      this.set({ pool, state: 'waiting' }, p.waitingCount);
    }
  },
});
