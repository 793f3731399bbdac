import { Logger } from '@nestjs/common';
import IORedis, { Redis, RedisOptions } from 'ioredis';
import { Envelope, ErrorCode, fail } from '@app/domain';
import type { AppConfig } from './config';

/**
 * One place that tells a store outage from a bug. A request that fails because PostgreSQL
 * or Redis is unreachable, restarting or read-only is answered 503 with code 50302 and a
 * Retry-After (the caller may send it again with the same idempotency id); a 500 stays
 * reserved for bugs.
 */

/** Seconds a caller is asked to wait before sending a request again after a 503. */
export const RETRY_AFTER_SECONDS = 2;

/** PostgreSQL SQLSTATEs of a server that cannot serve now (not of a statement that is wrong). */
const PG_UNAVAILABLE = new Set([
  '57P01', // admin_shutdown: terminating connection due to administrator command
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the database system is starting up / shutting down / in recovery
  '08000', // connection_exception
  '08001', // sqlclient_unable_to_establish_sqlconnection
  '08003', // connection_does_not_exist
  '08004', // sqlserver_rejected_establishment_of_sqlconnection
  '08006', // connection_failure
  '53300', // too_many_connections
  '25006', // read_only_sql_transaction: a standby, or a primary being demoted
]);

/** Socket errors: the store's address answers nothing, or the connection broke. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** What node-postgres, pg-pool and ioredis say when the connection, not the statement, failed. */
const MESSAGES = [
  /Connection terminated/i, // node-postgres: the server closed the connection (restart, terminate)
  /timeout exceeded when trying to connect/i, // pg-pool: no connection within connectionTimeoutMillis
  /is not queryable/i, // node-postgres: a client whose connection already broke
  /the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)/i,
  /terminating connection due to administrator command/i,
  /Connection is closed/i, // ioredis: a command on a closed connection
  /max retries per request/i, // ioredis: MaxRetriesPerRequestError while reconnecting
  /Stream isn't writeable/i, // ioredis: offline queue disabled and no connection
  /READONLY You can't write against a read only replica/i,
  /LOADING Redis is loading the dataset in memory/i,
];

interface ErrorLike {
  name?: string;
  code?: unknown;
  message?: unknown;
  driverError?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** True when `err` (or what it wraps: TypeORM's driverError, a cause, an AggregateError's errors) is a store outage. */
export function isStoreUnavailable(err: unknown, depth = 0): boolean {
  if (typeof err !== 'object' || err === null || depth > 4) return false;
  const e = err as ErrorLike;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  if (typeof e.code === 'string' && (PG_UNAVAILABLE.has(e.code) || NETWORK_CODES.has(e.code))) return true;
  if (typeof e.message === 'string' && MESSAGES.some((m) => m.test(e.message as string))) return true;
  if (isStoreUnavailable(e.driverError, depth + 1) || isStoreUnavailable(e.cause, depth + 1)) return true;
  return Array.isArray(e.errors) && e.errors.some((inner) => isStoreUnavailable(inner, depth + 1));
}

/** The answer to a request that failed on a store outage. */
export const storeUnavailable = (): Envelope<never> => fail(ErrorCode.STORE_UNAVAILABLE, 'store unavailable, retry');

/** Codes whose answer tells the caller to come back: they carry a Retry-After header. */
export const RETRYABLE_CODES: ReadonlySet<number> = new Set([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.STORE_UNAVAILABLE]);

/**
 * Logs requests refused for a store outage without a line per request: the first at
 * once, then one line per `everyMs` with how many more there were.
 */
export class OutageLog {
  private windowStart = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly everyMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(err: unknown): void {
    const t = this.now();
    if (t - this.windowStart < this.everyMs) {
      this.suppressed++;
      return;
    }
    const more = this.suppressed ? ` (and ${this.suppressed} more in the last ${Math.round((t - this.windowStart) / 1000)} s)` : '';
    this.log.warn(`store unavailable, answered 503: ${errorText(err)}${more}`);
    this.windowStart = t;
    this.suppressed = 0;
  }
}

function errorText(err: unknown): string {
  const e = err as ErrorLike;
  const code = typeof e?.code === 'string' ? `${e.code} ` : '';
  return `${code}${typeof e?.message === 'string' && e.message ? e.message : String(err)}`;
}

/**
 * Gives an ioredis client an `error` listener (without one, ioredis prints "Unhandled
 * error event" with a stack at every reconnect attempt): one warning when the connection
 * is lost, one line when it is back. A client that has not been ready yet says it cannot
 * reach Redis instead (some give up there, as the RPC client's first connection does), so
 * every "lost" line is followed by a "back" line once Redis answers again.
 */
export function watchRedis<T extends Redis>(client: T, what: string, log: Pick<Logger, 'warn' | 'log'> = new Logger('Redis')): T {
  let everReady = false;
  let failingSince: number | null = null;
  client.on('error', (err: Error) => {
    if (failingSince !== null) return;
    failingSince = Date.now();
    log.warn(`${what}: ${everReady ? 'Redis connection lost' : 'cannot reach Redis'} (${errorText(err)}); ${everReady ? 'reconnecting' : 'retrying'}`);
  });
  client.on('ready', () => {
    const since = failingSince;
    const first = !everReady;
    everReady = true;
    failingSince = null;
    if (since === null) return;
    const after = `${((Date.now() - since) / 1000).toFixed(1)} s`;
    log.log(first ? `${what}: Redis reached after ${after}` : `${what}: Redis connection back after ${after}`);
  });
  return client;
}

/**
 * Bull's `createClient` for one process: every queue shares one command connection and
 * one subscriber (a blocking connection each stays Bull's own), all watched as above. The
 * command connection gives up on a command after 3 reconnect attempts (under a second), so
 * a request that queues work while Redis is away is answered 503 instead of hanging.
 */
export function bullClients(redisUrl: string, log: Pick<Logger, 'warn' | 'log'> = new Logger('Queue')) {
  let client: Redis | undefined;
  let subscriber: Redis | undefined;
  const open = (what: string, opts: RedisOptions) => watchRedis(new IORedis(redisUrl, opts), what, log);
  return (type: 'client' | 'subscriber' | 'bclient'): Redis => {
    if (type === 'client') return (client ??= open('queue commands', { maxRetriesPerRequest: 3 }));
    if (type === 'subscriber') return (subscriber ??= open('queue events', { maxRetriesPerRequest: null, enableReadyCheck: false }));
    return open('queue worker', { maxRetriesPerRequest: null, enableReadyCheck: false });
  };
}

/** What every service's `BullModule.forRoot` takes: our key prefix, the lock settings, and the watched clients above. */
export function bullRootOptions(cfg: Pick<AppConfig, 'redisUrl' | 'queueLockMs'>) {
  return {
    prefix: 'loyalty',
    settings: { lockDuration: cfg.queueLockMs, stalledInterval: cfg.queueLockMs, maxStalledCount: 10 },
    createClient: bullClients(cfg.redisUrl),
  };
}
