import { randomBytes } from 'node:crypto';

export type Role = 'api' | 'worker' | 'both';

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
  /** Bull lock: a worker that dies loses its jobs to another after about this long. */
  queueLockMs: number;
  /** Codes written per transaction by the stock job. */
  stockBatchSize: number;
  dbPoolSize: number;
  logJson: boolean;
  logLevel: string;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return n;
}

export function roleFrom(env: NodeJS.ProcessEnv, argv: string[]): Role {
  const arg = argv.find((a) => a.startsWith('--role='));
  const raw = (arg ? arg.slice('--role='.length) : env.ROLE) ?? 'both';
  if (raw !== 'api' && raw !== 'worker' && raw !== 'both') {
    throw new Error(`role must be api, worker or both, got "${raw}"`);
  }
  return raw;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv): AppConfig {
  const rootKey = env.CRM_ROOT_API_KEY;
  return {
    port: int(env, 'PORT', 3000),
    host: env.HOST ?? '0.0.0.0',
    databaseUrl: env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    rootApiKey: rootKey || `root_${randomBytes(24).toString('base64url')}`,
    rootApiKeyGenerated: !rootKey,
    appTz: env.APP_TZ ?? 'Asia/Shanghai',
    role: roleFrom(env, argv),
    rpcTimeoutMs: int(env, 'RPC_TIMEOUT_MS', 10_000),
    rpcClaimIdleMs: int(env, 'RPC_CLAIM_IDLE_MS', 3_000),
    rpcConcurrency: int(env, 'RPC_CONCURRENCY', 64),
    queueLockMs: int(env, 'QUEUE_LOCK_MS', 30_000),
    stockBatchSize: int(env, 'STOCK_BATCH_SIZE', 20_000),
    dbPoolSize: int(env, 'DB_POOL_SIZE', 10),
    logJson: env.LOG_FORMAT === 'json',
    logLevel: env.LOG_LEVEL ?? 'log',
  };
}

export const CONFIG = Symbol('CONFIG');
