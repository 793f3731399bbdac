import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import Redis from 'ioredis';
import { EXAMPLE_CARD } from '@app/domain';

/**
 * Boots the real apps (built in dist/) as child processes against the real PostgreSQL
 * and Redis on 127.0.0.1, once per e2e file. Each file gets its own database and its
 * own Redis logical database, so files never see each other's data or queues.
 */

export const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_BASE_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * Names the suites' databases (`<prefix>_<suite name>`): two checkouts running e2e suites
 * on one machine at once set different prefixes (and TEST_REDIS_URL to different Redis servers).
 */
const DB_PREFIX = process.env.TEST_DB_PREFIX ?? 'e2e';
/** Keys (in Redis db 0) naming the process that holds each logical database handed to a suite. */
const REDIS_DB_LOCK = 'loyalty:e2e-redis-db';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
const ROOT = path.resolve(__dirname, '..', '..');
export const LOG_DIR = path.join(tmpdir(), 'loyalty-e2e-logs');

export type AppName = 'gateway' | 'card-service' | 'points-service' | 'dashboard-service' | 'webhook-service';

export interface Answer<T = any> {
  status: number;
  body: { code: number; msg: string; data?: T; errors?: Array<{ field: string; message: string }> };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export class AppProcess {
  private exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** SIGKILL: the process dies where it stands, as in a crash. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }
}

export interface SuiteOptions {
  /** Names the database and the log files. */
  name: string;
  /** A Redis of the file's own (e.g. one it kills); else the file is handed a free logical database (1-15) of TEST_REDIS_URL. */
  redisUrl?: string;
  /** Services to boot besides the gateway; default all three. */
  services?: AppName[];
  /** Extra environment for every process. */
  env?: Record<string, string>;
  /** Let the test move the services' clocks (setClock); off by default. */
  controlClock?: boolean;
}

/** The Redis key (and pub/sub channel) through which a suite moves its processes' clocks (see ControlledClock). */
const CLOCK_KEY_PREFIX = 'loyalty:test-clock';

export class Suite {
  readonly rootKey = `root-${Math.random().toString(36).slice(2)}`;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  port = 0;
  private readonly procs: AppProcess[] = [];
  private pg?: Client;
  private redisClient?: Redis;
  private counter = 0;

  private constructor(
    readonly opts: SuiteOptions,
    /** The logical database handed to this file (null: the file brought its own Redis). */
    private readonly redisDb: number | null,
  ) {
    const dbName = `${DB_PREFIX}_${opts.name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
    this.databaseUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, `/${dbName}`);
    this.redisUrl = opts.redisUrl ?? `${REDIS_BASE_URL}/${redisDb}`;
  }

  /**
   * Hands out a Redis logical database no other running suite holds: a key per database
   * in db 0 names the process holding it; one whose process is gone is taken over.
   */
  private static async claimRedisDb(): Promise<number> {
    const r = new Redis(`${REDIS_BASE_URL}/0`);
    try {
      for (let db = 1; db <= 15; db++) {
        const key = `${REDIS_DB_LOCK}:${db}`;
        if (await r.set(key, String(process.pid), 'NX')) return db;
        const holder = Number(await r.get(key));
        if (holder && holder !== process.pid && !isAlive(holder) && (await r.getset(key, String(process.pid))) === String(holder)) return db;
      }
      throw new Error('every Redis logical database 1-15 is held by a running e2e suite');
    } finally {
      r.disconnect();
    }
  }

  /** Fresh database and Redis db, then the gateway and the services, waiting until each answers. */
  static async start(opts: SuiteOptions): Promise<Suite> {
    const suite = new Suite(opts, opts.redisUrl ? null : await Suite.claimRedisDb());
    await suite.resetStores();
    suite.port = await freePort();
    const services = opts.services ?? ['card-service', 'points-service', 'dashboard-service', 'webhook-service'];
    try {
      suite.spawn('gateway');
      for (const s of services) suite.spawn(s);
      await suite.waitForGateway();
      for (const s of services) await suite.waitForInstances(s, 1);
    } catch (e) {
      // A file whose apps never came up must not keep them running nor hold its Redis db.
      await suite.stop();
      throw e;
    }
    return suite;
  }

  private async resetStores(): Promise<void> {
    const admin = new Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    const dbName = this.databaseUrl.split('/').pop()!;
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName}`);
    await admin.end();
    const redis = new Redis(this.redisUrl);
    await redis.flushdb();
    redis.disconnect();
  }

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'test',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      CRM_ROOT_API_KEY: this.rootKey,
      PORT: String(this.port),
      HOST: '127.0.0.1',
      DB_POOL_SIZE: '10',
      ...(this.opts.controlClock ? { CLOCK_CONTROL_KEY: this.clockKey } : {}),
      ...this.opts.env,
      ...extra,
    };
  }

  /** Starts one more process of an app (a replica, a worker), logging to LOG_DIR. */
  spawn(app: AppName, extraEnv: Record<string, string> = {}): AppProcess {
    mkdirSync(LOG_DIR, { recursive: true });
    const n = ++this.counter;
    const logFile = path.join(LOG_DIR, `${this.opts.name}-${app}-${n}.log`);
    const log = createWriteStream(logFile);
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'apps', app, 'main.js')], {
      env: this.env(extraEnv),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    const proc = new AppProcess(`${app}#${n}`, child, logFile);
    this.procs.push(proc);
    return proc;
  }

  /** `dashboard:rebuild` as its npm script runs it (dist, with the suite's environment): exit code and output. */
  dashboardRebuild(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
    const child = spawn(process.execPath, [path.join(ROOT, 'dist', 'apps', 'dashboard-service', 'main.js'), 'rebuild', ...args], {
      env: this.env(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
  }

  /** The processes of one app started so far (dead ones included). */
  processes(app: AppName): AppProcess[] {
    return this.procs.filter((p) => p.name.startsWith(`${app}#`));
  }

  get db(): Promise<Client> {
    if (!this.pg) {
      this.pg = new Client({ connectionString: this.databaseUrl });
      return this.pg.connect().then(() => this.pg!);
    }
    return Promise.resolve(this.pg);
  }

  get redis(): Redis {
    this.redisClient ??= new Redis(this.redisUrl);
    return this.redisClient;
  }

  async sql<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
    const db = await this.db;
    return (await db.query(text, params)).rows as T[];
  }

  url(p: string): string {
    return `http://127.0.0.1:${this.port}${p}`;
  }

  /** One HTTP call through the gateway; the key defaults to the root key (null: no Authorization header). */
  async call<T = any>(method: string, p: string, body?: unknown, key: string | null = this.rootKey): Promise<Answer<T>> {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.url(p), { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: Answer<T>['body'];
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`${method} ${p} answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
    }
    return { status: res.status, body: parsed };
  }

  get<T = any>(p: string, key?: string | null) {
    return this.call<T>('GET', p, undefined, key);
  }

  post<T = any>(p: string, body: unknown, key?: string | null) {
    return this.call<T>('POST', p, body, key);
  }

  /**
   * A card with system-generated stock (`total_quantity`, default 20), valid for ever and
   * usable at any time, any member, no limits, giftable, unless `over` says otherwise;
   * answers its card_id once its stock is generated.
   */
  async createStockedCard(crmId: string, over: Record<string, unknown> = {}): Promise<string> {
    const res = await this.post(
      `/api/crm/card/${crmId}/create`,
      cardBody({
        date_type: 3,
        begin_time: null,
        end_time: null,
        weekdays: null,
        monthdays: null,
        day_begin_time: null,
        day_end_time: null,
        get_limit: 0,
        use_limit: 0,
        can_give_friend: true,
        generate_type: 1,
        total_quantity: 20,
        ...over,
      }),
    );
    if (res.status !== 200 || res.body.code !== 0) throw new Error(`creating a card answered ${res.status}: ${JSON.stringify(res.body)}`);
    const cardId = res.body.data.card_id as string;
    await this.eventually(`stock of card ${cardId}`, async () => {
      const st = await this.get(`/api/crm/card/${crmId}/stock/status?generate_id=init-${cardId}`);
      return st.body.data?.is_generated ? true : undefined;
    });
    return cardId;
  }

  /** Polls until `check` returns a value (not undefined) or the limit passes. */
  async eventually<T>(what: string, check: () => Promise<T | undefined>, limitMs = 60_000, everyMs = 100): Promise<T> {
    const until = Date.now() + limitMs;
    let last: unknown;
    while (Date.now() < until) {
      try {
        const v = await check();
        if (v !== undefined) return v;
      } catch (err) {
        last = err;
      }
      await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
  }

  async waitForGateway(): Promise<void> {
    await this.eventually('the gateway to listen', async () => ((await fetch(this.url('/health'))).status > 0 ? true : undefined), 60_000);
  }

  /** Waits until `count` instances of a service are registered as live. */
  async waitForInstances(app: AppName, count: number): Promise<void> {
    const service = app.replace('-service', '');
    await this.eventually(`${count} live ${app} instance(s)`, async () => {
      const all = await this.redis.hgetall(`loyalty:instances:${service}`);
      const live = Object.values(all).filter((raw) => Date.now() - JSON.parse(raw).last_seen < 10_000);
      return live.length >= count ? true : undefined;
    });
  }

  /** Pub/sub channels are shared by every logical database of a Redis server: each suite has its own. */
  get clockKey(): string {
    return `${CLOCK_KEY_PREFIX}:${this.opts.name}`;
  }

  /**
   * Moves the clock of every process with a controlled clock to `offsetMs` from real time
   * (0: back to real time) and waits until each live one has applied it. Needs controlClock.
   */
  async setClock(offsetMs: number): Promise<void> {
    if (!this.opts.controlClock) throw new Error('setClock needs Suite.start({ controlClock: true })');
    await this.redis.set(this.clockKey, String(offsetMs));
    await this.eventually(
      `every process to move its clock by ${offsetMs} ms`,
      async () => {
        const listening = Number(await this.redis.publish(this.clockKey, String(offsetMs)));
        const seen = Object.values(await this.redis.hgetall(`${this.clockKey}:seen`));
        return listening > 0 && seen.filter((v) => v === String(offsetMs)).length >= listening ? true : undefined;
      },
      10_000,
      50,
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.kill('SIGTERM').catch(() => undefined)));
    await this.pg?.end().catch(() => undefined);
    this.redisClient?.disconnect();
    if (this.redisDb !== null) {
      const r = new Redis(`${REDIS_BASE_URL}/0`);
      await r
        .eval(
          `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
          1,
          `${REDIS_DB_LOCK}:${this.redisDb}`,
          String(process.pid),
        )
        .catch(() => undefined);
      r.disconnect();
    }
  }
}

/** A card body that passes validation, without stock; override what a test is about. */
export function cardBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...EXAMPLE_CARD, total_quantity: 0, ...over };
}
