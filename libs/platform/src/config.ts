import { randomBytes } from 'node:crypto';

export type Role = 'api' | 'worker' | 'both';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;

/** Every setting of the suite. This is the only place that reads the environment. */
export interface AppConfig {
  /** Gateway HTTP port. */
  port: number;
  host: string;
  databaseUrl: string;
  redisUrl: string;
  /** Key that may act for every tenant; generated for the run when not set. */
  rootApiKey: string;
  rootApiKeyGenerated: boolean;
  /** Zone of API times and day boundaries. */
  appTz: string;
  role: Role;
  /** Deadline of a request over the transport. */
  rpcTimeoutMs: number;
  /** A request held this long by an instance that stopped heart-beating is taken over by another. */
  rpcClaimIdleMs: number;
  /** Requests one instance works on at once. */
  rpcConcurrency: number;
  /** Requests a gateway keeps waiting on one service at once; more are refused at once (503 50301). */
  rpcMaxPending: number;
  /** HTTP requests one gateway has in hand at most; more are answered 503 at once. */
  httpMaxInFlight: number;
  /** On SIGTERM a process finishes the work in hand for at most this long, then exits (what is unfinished is taken over). */
  drainTimeoutMs: number;
  /** Bull lock: a worker that dies loses its jobs to another after about this long. */
  queueLockMs: number;
  /** Codes written per transaction by the stock job. */
  stockBatchSize: number;
  dbPoolSize: number;
  /** Whether a generate_file may point at loopback, private or link-local addresses (off: no reaching into our own network). */
  importAllowPrivateHosts: boolean;
  /** Claims answered together in one transaction, at most. */
  claimBatchMax: number;
  /** Points earns and spends answered together in one transaction, at most. */
  pointsBatchMax: number;
  /** Card events a dashboard worker applies together in one transaction, at most. */
  dashboardBatchMax: number;
  /** Batch lanes per tenant in a dashboard worker: each takes the events of its share of the members, so their batches never wait for each other's member locks. */
  dashboardLanes: number;
  /** A gift not accepted within this many hours goes back to the giver. */
  presentTimeoutHours: number;
  /** A points transfer not accepted within this many hours goes back to the sender. */
  transferTimeoutHours: number;
  /** How often the card-expiry sweeps run, and how many rows each transaction takes. */
  expirySweepMs: number;
  expiryBatchSize: number;
  /** How often card-service's relay looks for card events in its outbox when the last pass found less than a full batch. */
  outboxPollMs: number;
  /** How often a card or points worker's webhook forwarder looks for events in its webhook outbox (it keeps going while batches come back full). */
  webhookForwardPollMs: number;
  /** How often card-service's relay checks the card-events jobs of relayed outbox rows (completed: rows deleted; gone from Redis: relayed again). */
  outboxRecheckMs: number;
  /** How often the card-stock recovery sweep queues again the unfinished stock jobs whose Bull job is gone (records at least this old). */
  stockRecoverMs: number;
  /** How often a process checks that its repeatable sweeps are still defined in Redis (re-adding them after Redis lost its data). */
  queueRepeatCheckMs: number;
  /** How often a points-service worker looks for events in points.inbox when the last pass found less than a full batch. */
  pointsInboxPollMs: number;
  /** Applied points.inbox rows are deleted after this many hours. */
  pointsInboxKeepHours: number;
  /** Tests only: a Redis key through which the test moves this process's clock (unset: the system clock). */
  clockControlKey: string | undefined;
  /** Port of this process's /metrics and /health/live, /health/ready (unset: none; the gateway also has them on PORT). */
  metricsPort: number | undefined;
  /** Requests per minute one API key may make, by scope (0: no limit); the root key has none. Counted in Redis, shared by every gateway. */
  rateLimitAdminPerMin: number;
  rateLimitClientPerMin: number;
  /** One access log line per HTTP request at the gateway. */
  accessLog: boolean;
  /** A webhook attempt gets its whole answer within this long, or counts as failed. */
  webhookTimeoutMs: number;
  /** Whether a webhook may point at loopback, private or link-local addresses (off: no reaching into our own network). */
  webhookAllowPrivateHosts: boolean;
  /** Webhook deliveries one webhook-service worker has in flight at once, at most. */
  webhookConcurrency: number;
  /** How often a webhook-service worker looks for due deliveries when the last look found none. */
  webhookPollMs: number;
  /** Events handed to webhook-service are kept this many days (for replays), then deleted. */
  webhookEventKeepDays: number;
  logJson: boolean;
  logLevel: (typeof LOG_LEVELS)[number];
}

/** A setting's text; an empty or blank value counts as not set. */
function text(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

/** A whole number of at least `min` (1 unless said: no setting here makes sense at 0). */
function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 1): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`${name} must be a whole number of at least ${min}, got "${raw}"`);
  return Number(raw);
}

function bool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = text(env, name);
  return raw === undefined ? fallback : oneOf(name, raw, ['true', 'false']) === 'true';
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
  return raw as T;
}

function timeZone(env: NodeJS.ProcessEnv): string {
  const zone = text(env, 'APP_TZ') ?? 'Asia/Shanghai';
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    throw new Error(`APP_TZ must be an IANA time zone such as Asia/Shanghai, got "${zone}"`);
  }
  return zone;
}

export function roleFrom(env: NodeJS.ProcessEnv, argv: string[]): Role {
  const arg = argv.find((a) => a.startsWith('--role='));
  const raw = arg ? arg.slice('--role='.length) : (text(env, 'ROLE') ?? 'both');
  if (raw !== 'api' && raw !== 'worker' && raw !== 'both') {
    throw new Error(`role must be api, worker or both, got "${raw}"`);
  }
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): AppConfig {
  const rootKey = text(env, 'CRM_ROOT_API_KEY');
  return {
    port: int(env, 'PORT', 3000),
    host: text(env, 'HOST') ?? '0.0.0.0',
    databaseUrl: text(env, 'DATABASE_URL') ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: text(env, 'REDIS_URL') ?? 'redis://127.0.0.1:6379',
    rootApiKey: rootKey ?? `root_${randomBytes(24).toString('base64url')}`,
    rootApiKeyGenerated: !rootKey,
    appTz: timeZone(env),
    role: roleFrom(env, argv),
    rpcTimeoutMs: int(env, 'RPC_TIMEOUT_MS', 10_000),
    rpcClaimIdleMs: int(env, 'RPC_CLAIM_IDLE_MS', 3_000),
    rpcConcurrency: int(env, 'RPC_CONCURRENCY', 64),
    rpcMaxPending: int(env, 'RPC_MAX_PENDING', 2_000),
    httpMaxInFlight: int(env, 'HTTP_MAX_IN_FLIGHT', 1024),
    drainTimeoutMs: int(env, 'DRAIN_TIMEOUT_MS', 15_000),
    queueLockMs: int(env, 'QUEUE_LOCK_MS', 30_000),
    stockBatchSize: int(env, 'STOCK_BATCH_SIZE', 20_000),
    dbPoolSize: int(env, 'DB_POOL_SIZE', 10),
    importAllowPrivateHosts: bool(env, 'IMPORT_ALLOW_PRIVATE_HOSTS', false),
    claimBatchMax: int(env, 'CLAIM_BATCH_MAX', 200),
    pointsBatchMax: int(env, 'POINTS_BATCH_MAX', 500),
    dashboardBatchMax: int(env, 'DASHBOARD_BATCH_MAX', 1000),
    dashboardLanes: int(env, 'DASHBOARD_LANES', 2),
    presentTimeoutHours: int(env, 'PRESENT_TIMEOUT_HOURS', 24),
    transferTimeoutHours: int(env, 'TRANSFER_TIMEOUT_HOURS', 24),
    expirySweepMs: int(env, 'EXPIRY_SWEEP_MS', 60_000),
    expiryBatchSize: int(env, 'EXPIRY_BATCH_SIZE', 5_000),
    outboxPollMs: int(env, 'OUTBOX_POLL_MS', 200),
    webhookForwardPollMs: int(env, 'WEBHOOK_FORWARD_POLL_MS', 200),
    outboxRecheckMs: int(env, 'OUTBOX_RECHECK_MS', 10_000),
    stockRecoverMs: int(env, 'STOCK_RECOVER_MS', 60_000),
    queueRepeatCheckMs: int(env, 'QUEUE_REPEAT_CHECK_MS', 30_000),
    pointsInboxPollMs: int(env, 'POINTS_INBOX_POLL_MS', 200),
    pointsInboxKeepHours: int(env, 'POINTS_INBOX_KEEP_HOURS', 24),
    clockControlKey: text(env, 'CLOCK_CONTROL_KEY'),
    metricsPort: text(env, 'METRICS_PORT') === undefined ? undefined : int(env, 'METRICS_PORT', 0),
    rateLimitAdminPerMin: int(env, 'RATE_LIMIT_ADMIN_PER_MIN', 600_000, 0),
    rateLimitClientPerMin: int(env, 'RATE_LIMIT_CLIENT_PER_MIN', 300_000, 0),
    accessLog: bool(env, 'ACCESS_LOG', true),
    webhookTimeoutMs: int(env, 'WEBHOOK_TIMEOUT_MS', 10_000),
    webhookAllowPrivateHosts: bool(env, 'WEBHOOK_ALLOW_PRIVATE_HOSTS', false),
    webhookConcurrency: int(env, 'WEBHOOK_CONCURRENCY', 32),
    webhookPollMs: int(env, 'WEBHOOK_POLL_MS', 200),
    webhookEventKeepDays: int(env, 'WEBHOOK_EVENT_KEEP_DAYS', 30),
    logJson: oneOf('LOG_FORMAT', text(env, 'LOG_FORMAT') ?? 'text', ['text', 'json']) === 'json',
    logLevel: oneOf('LOG_LEVEL', text(env, 'LOG_LEVEL') ?? 'log', LOG_LEVELS),
  };
}

export const CONFIG = Symbol('CONFIG');
