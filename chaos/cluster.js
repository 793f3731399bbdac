'use strict';
/**
 * The suite as separate processes (dist/apps/*) against a PRIVATE PostgreSQL cluster (initdb +
 * pg_ctl from the machine's binaries, on a free port, in a temp dir) and a PRIVATE redis-server
 * (appendonly, its own dir): what the chaos scenarios kill, stop and restart. Nothing here
 * touches the PostgreSQL on 5432 or the Redis on 6379.
 *
 * Processes, by label: gateway, card-api-1, card-api-2 (ROLE api), card-worker (ROLE worker),
 * points, dashboard (role both). Logs in <dir>/logs/<label>-<n>.log.
 */
const { spawn, execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');

const ROOT = path.resolve(__dirname, '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** The newest PostgreSQL server binaries of this machine (/usr/lib/postgresql/<version>/bin). */
function pgBin() {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).filter((v) => fs.existsSync(path.join(base, v, 'bin', 'initdb'))) : [];
  if (!versions.length) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install postgresql');
  versions.sort((a, b) => Number(b) - Number(a));
  return path.join(base, versions[0], 'bin');
}

/** The apps each label runs, with its role. */
const APPS = {
  gateway: { app: 'gateway', env: {} },
  'card-api-1': { app: 'card-service', env: { ROLE: 'api' } },
  'card-api-2': { app: 'card-service', env: { ROLE: 'api' } },
  'card-worker': { app: 'card-service', env: { ROLE: 'worker' } },
  points: { app: 'points-service', env: { ROLE: 'both' } },
  dashboard: { app: 'dashboard-service', env: { ROLE: 'both' } },
  webhook: { app: 'webhook-service', env: { ROLE: 'both' } },
};

class Cluster {
  constructor(dir, opts) {
    this.dir = dir;
    this.opts = opts;
    this.rootKey = `root_${randomBytes(12).toString('hex')}`;
    this.procs = new Map(); // label -> { label, child, exited, logFile }
    this.gateways = []; // base URLs clients may use, first live one first (a balancer's list)
    this.spawned = 0;
    this.bin = pgBin();
  }

  static async start(opts = {}) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loyalty-chaos-'));
    fs.mkdirSync(path.join(dir, 'logs'));
    const c = new Cluster(dir, opts);
    try {
      await c.startPostgres(true);
      await c.startRedis(path.join(dir, 'redis'));
      c.gatewayPort = await freePort();
      for (const label of Object.keys(APPS)) c.spawn(label);
      await c.waitReady(`http://127.0.0.1:${c.gatewayPort}`);
    } catch (err) {
      await c.stop({ keep: opts.keep }); // whatever started, stopped; the temp dir removed
      throw err;
    }
    c.gateways.unshift(`http://127.0.0.1:${c.gatewayPort}`);
    return c;
  }

  get databaseUrl() {
    return `postgres://postgres@127.0.0.1:${this.pgPort}/chaos`;
  }
  get redisUrl() {
    return `redis://127.0.0.1:${this.redisPort}`;
  }
  get base() {
    return this.gateways[0];
  }

  // ---------- PostgreSQL ----------

  /**
   * The cluster's dir is <dir>/pg (data in pg/data, its log and socket in pg/). initdb refuses to
   * run as root: as root, the binaries run as the `postgres` user, who owns pg/.
   */
  pgRun(tool, args) {
    const cmd = path.join(this.bin, tool);
    const asRoot = process.getuid?.() === 0;
    execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: 'ignore' });
  }

  async startPostgres(fresh = false) {
    const home = path.join(this.dir, 'pg');
    const data = path.join(home, 'data');
    if (fresh) {
      this.pgPort = await freePort();
      fs.mkdirSync(home);
      if (process.getuid?.() === 0) {
        fs.chmodSync(this.dir, 0o755);
        execFileSync('chown', ['postgres:postgres', home]);
      }
      this.pgRun('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
    }
    const o = `-p ${this.pgPort} -k ${home} -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=128MB`;
    this.pgRun('pg_ctl', ['-D', data, '-o', o, '-l', path.join(home, 'postgres.log'), '-w', '-t', '60', 'start']);
    if (fresh) {
      const admin = new Client({ connectionString: `postgres://postgres@127.0.0.1:${this.pgPort}/postgres` });
      await admin.connect();
      await admin.query('CREATE DATABASE chaos');
      await admin.end();
    }
  }

  /** `pg_ctl stop -m immediate`: every backend killed, no checkpoint; WAL replays at the next start. */
  stopPostgres(mode = 'immediate') {
    this.pgRun('pg_ctl', ['-D', path.join(this.dir, 'pg', 'data'), '-m', mode, '-w', 'stop']);
  }

  async sql(text, params = []) {
    for (let attempt = 0; ; attempt++) {
      const db = new Client({ connectionString: this.databaseUrl });
      try {
        await db.connect();
        return (await db.query(text, params)).rows;
      } catch (err) {
        if (attempt >= 20 || /^[0-9A-Z]{5}$/.test(err.code ?? '')) throw err;
        await sleep(500);
      } finally {
        await db.end().catch(() => undefined);
      }
    }
  }

  // ---------- Redis ----------

  async startRedis(dir) {
    fs.mkdirSync(dir, { recursive: true });
    this.redisDir = dir;
    this.redisPort ??= await freePort();
    const args = ['--port', String(this.redisPort), '--bind', '127.0.0.1', '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--dir', dir];
    const log = fs.openSync(path.join(this.dir, 'logs', 'redis.log'), 'a');
    const child = spawn('redis-server', args, { stdio: ['ignore', log, log] });
    this.redis = { child, exited: new Promise((r) => child.once('exit', r)) };
    for (let i = 0; i < 100; i++) {
      if (
        await new Promise((r) =>
          net
            .connect(this.redisPort, '127.0.0.1')
            .once('connect', function () {
              this.destroy();
              r(true);
            })
            .once('error', () => r(false)),
        )
      )
        return;
      await sleep(100);
    }
    throw new Error('redis-server did not start');
  }

  /** SIGKILL Redis; `lose` restarts it on a fresh dir (the data lost), else on its AOF. */
  async killRedis() {
    this.redis.child.kill('SIGKILL');
    await this.redis.exited;
  }
  async restartRedis({ lose = false } = {}) {
    await this.startRedis(lose ? path.join(this.dir, `redis-fresh-${Date.now()}`) : this.redisDir);
  }

  // ---------- the apps ----------

  env(label, extra = {}) {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      CRM_ROOT_API_KEY: this.rootKey,
      HOST: '127.0.0.1',
      PORT: String(this.gatewayPort),
      DB_POOL_SIZE: '10',
      ACCESS_LOG: 'false',
      RPC_CLAIM_IDLE_MS: '2000',
      QUEUE_LOCK_MS: '10000',
      // Recovery within a scenario's settle time: the sweeps' definitions checked every 5 s
      // (they are lost with Redis's data), unfinished stock records swept every 10 s.
      QUEUE_REPEAT_CHECK_MS: '5000',
      STOCK_RECOVER_MS: '10000',
      DRAIN_TIMEOUT_MS: '10000',
      ...APPS[label].env,
      ...extra,
    };
  }

  /** Starts the process of `label` (a replacement when one runs: the old one stays in `procs` under label~old). */
  spawn(label, extra = {}) {
    const { app } = APPS[label];
    const main = path.join(ROOT, 'dist', 'apps', app, 'main.js');
    if (!fs.existsSync(main)) throw new Error(`${main} is missing: run npm run build first`);
    const logFile = path.join(this.dir, 'logs', `${label}-${++this.spawned}.log`);
    const log = fs.openSync(logFile, 'a');
    const env = this.env(label, extra);
    const child = spawn(process.execPath, [main], { env, stdio: ['ignore', log, log] });
    const proc = { label, child, logFile, port: Number(env.PORT), exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
    this.procs.set(label, proc);
    return proc;
  }

  pid(label) {
    return this.procs.get(label).child.pid;
  }

  /** Sends `signal` and waits for the exit: { code, signal }. */
  async kill(label, signal = 'SIGKILL') {
    const p = this.procs.get(label);
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
    const timer = setTimeout(() => p.child.kill('SIGKILL'), 60_000);
    const res = await p.exited;
    clearTimeout(timer);
    if (APPS[label].app === 'gateway') this.gateways = this.gateways.filter((g) => g !== `http://127.0.0.1:${p.port}`);
    return res;
  }

  /** A killed process started again, and waited for. */
  async restart(label) {
    const p = this.spawn(label);
    const gateway = APPS[label].app === 'gateway' ? `http://127.0.0.1:${p.port}` : undefined;
    await this.waitReady(gateway);
    if (gateway) this.gateways.unshift(gateway);
  }

  /**
   * Rolling replacement of `label`: a new process first (a gateway on a new port, put first in
   * the balancer's list), ready, then SIGTERM to the old one; answers the old one's exit.
   */
  async replace(label) {
    const old = this.procs.get(label);
    const extra = APPS[label].app === 'gateway' ? { PORT: String((this.gatewayPort = await freePort())) } : {};
    const p = this.spawn(label, extra);
    const gateway = APPS[label].app === 'gateway' ? `http://127.0.0.1:${p.port}` : undefined;
    await this.waitReady(gateway); // a new gateway joins the balancer's list once it serves
    if (gateway) this.gateways.unshift(gateway);
    if (old.child.exitCode === null && old.child.signalCode === null) old.child.kill('SIGTERM');
    const timer = setTimeout(() => old.child.kill('SIGKILL'), 60_000);
    const res = await old.exited;
    clearTimeout(timer);
    if (APPS[label].app === 'gateway') this.gateways = this.gateways.filter((g) => g !== `http://127.0.0.1:${old.port}`);
    return res;
  }

  /** Until the gateway's /health reports the stores and every service up (2 card api instances and a worker). */
  async waitReady(base = this.base, limitMs = 120_000) {
    const until = Date.now() + limitMs;
    let last = 'no answer';
    while (Date.now() < until) {
      for (const p of this.procs.values()) {
        if (p.child.exitCode !== null && p.child.exitCode !== 0) throw new Error(`${p.label} exited with ${p.child.exitCode}; log: ${p.logFile}`);
      }
      try {
        const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(3_000) });
        const d = (await res.json()).data || {};
        const pids = (s) => new Set(d.services?.[s]?.status === 'up' ? d.services[s].instances.map((i) => i.pid) : []);
        const live = { card: pids('card'), points: pids('points'), dashboard: pids('dashboard'), webhook: pids('webhook') };
        const missing = [...this.procs.values()].filter((p) => {
          const service = APPS[p.label].app.replace('-service', '');
          return live[service] && !live[service].has(p.child.pid);
        });
        if (d.postgres === 'up' && d.redis === 'up' && missing.length === 0) return;
        last = JSON.stringify(d).slice(0, 300);
      } catch (err) {
        last = err.message;
      }
      await sleep(300);
    }
    throw new Error(`the suite was not ready within ${limitMs / 1000} s: ${last}`);
  }

  /** Resident memory of each running app process, MB. */
  rss() {
    const out = {};
    for (const p of this.procs.values()) {
      try {
        const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8'));
        if (m) out[p.label] = Math.round(Number(m[1]) / 1024);
      } catch {
        /* gone */
      }
    }
    return out;
  }

  /** `dashboard:rebuild --crm-id <crm>` (compare only): exit code and output. */
  dashboardRebuild(crm) {
    const main = path.join(ROOT, 'dist', 'apps', 'dashboard-service', 'main.js');
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [main, 'rebuild', '--crm-id', crm], { env: this.env('dashboard'), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (b) => (out += b));
      child.stderr.on('data', (b) => (out += b));
      child.on('exit', (code) => resolve({ code, out }));
    });
  }

  async stop({ keep = false } = {}) {
    await Promise.all(
      [...this.procs.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill('SIGTERM');
        const timer = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
        await p.exited;
        clearTimeout(timer);
      }),
    );
    try {
      this.stopPostgres('fast');
    } catch {
      /* already stopped */
    }
    this.redis?.child.kill('SIGKILL');
    if (!keep) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

module.exports = { Cluster, sleep };
