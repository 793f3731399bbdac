'use strict';
/**
 * Helpers shared by the benchmarks of bench/ (stock.js, claim.js, points.js, dashboard.js): formatting, CPU time of
 * processes, the apps as child processes, HTTP through the gateway, resetting the stores.
 *
 * Environment: BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres),
 * BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */
const { fork, spawn } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { Client } = require('pg');
const Redis = require('ioredis');

const ROOT = path.resolve(__dirname, '..');
const PG_ADMIN_URL = process.env.BENCH_PG_ADMIN_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_BASE_URL = (process.env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379').replace(/\/\d*$/, '');

/** URL of database `name` on the admin URL's server. */
const databaseUrl = (name) => PG_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);
/** URL of Redis logical db `n`. */
const redisUrl = (n) => `${REDIS_BASE_URL}/${n}`;

// ---------- small helpers ----------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.now();
const fmt = (n, digits = 0) =>
  n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const secs = (ms) => (ms === null || ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(3)} s`);

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

function sha(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 12);
}

const machineLine = () =>
  `machine: ${os.cpus().length} cpu (${os.cpus()[0].model.trim()}), load ${os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, node ${process.version}`;

// ---------- options and figures ----------

/**
 * Parses `--flag N` / `--flag=N` options: `flags` maps each flag to its key in `defaults`;
 * every value must be a positive whole number, except the keys of `fractions` (a number
 * from 0 to 1) and of `counts` (a whole number, 0 allowed). `--help` prints `usage` and
 * exits. Answers a copy of `defaults` with the values given; the caller checks what
 * depends on several options.
 */
function parseOptions(argv, { defaults, flags, usage, fractions = [], counts = [] }) {
  const opts = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split('=', 2);
    if (flag === '--help' || flag === '-h') {
      console.log(usage);
      process.exit(0);
    }
    const key = flags[flag];
    if (!key) throw new Error(`unknown option ${flag}\n${usage}`);
    if (value === undefined) value = argv[++i];
    const n = Number(value);
    if (fractions.includes(key)) {
      if (value === undefined || value === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new Error(`${flag} needs a number from 0 to 1, got "${value}"`);
    } else if (counts.includes(key)) {
      if (value === undefined || value === '' || !Number.isInteger(n) || n < 0) throw new Error(`${flag} needs a whole number (0 or more), got "${value}"`);
    } else if (!Number.isInteger(n) || n <= 0) {
      throw new Error(`${flag} needs a positive whole number, got "${value}"`);
    }
    opts[key] = n;
  }
  return opts;
}

/** p50, p95, p99 and max of `values` (nearest rank). */
function percentiles(values) {
  const a = Float64Array.from(values).sort();
  const at = (p) => (a.length ? a[Math.min(a.length - 1, Math.max(0, Math.ceil((p / 100) * a.length) - 1))] : null);
  return { n: a.length, p50: at(50), p95: at(95), p99: at(99), max: a.length ? a[a.length - 1] : null };
}

/** Milliseconds with one decimal, or n/a. */
const ms = (v) => (v === null || v === undefined ? 'n/a' : `${v.toFixed(1)}`);

// ---------- CPU time of processes (less sensitive than wall time to a busy machine) ----------

const TICKS_PER_S = 100; // USER_HZ on Linux

/** utime + stime of a process in seconds, or null when it is gone / not Linux. */
function cpuOf(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_S;
  } catch {
    return null;
  }
}

/** PostgreSQL processes that work for this run: backends of our database and the server's own (WAL writer, checkpointer...). */
async function pgProcesses(db, dbName) {
  const rows = (await db.query(`SELECT pid, backend_type, application_name FROM pg_stat_activity WHERE datname = $1 OR datname IS NULL`, [dbName])).rows;
  return rows.map((r) => ({ pid: r.pid, group: r.backend_type === 'client backend' ? `pg:${r.application_name || 'client'}` : 'pg:server' }));
}

/** A snapshot of CPU seconds by group; `diff` gives what each group used since. */
async function cpuSnapshot(db, dbName, named) {
  const procs = [...named, ...(await pgProcesses(db, dbName))];
  const at = new Map();
  for (const p of procs) at.set(p.pid, { group: p.group, cpu: cpuOf(p.pid) });
  return {
    async diff() {
      const after = [...named, ...(await pgProcesses(db, dbName))];
      const used = {};
      for (const p of after) {
        const now = cpuOf(p.pid);
        if (now === null) continue;
        const before = at.get(p.pid);
        const d = now - (before && before.cpu !== null ? before.cpu : 0); // a process born in the window counts whole
        used[p.group] = (used[p.group] || 0) + d;
      }
      return used;
    },
  };
}

const fmtCpu = (used) =>
  Object.entries(used)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v.toFixed(2)}`)
    .join(', ');

// ---------- child processes ----------

const children = [];
let stopping = false;

/** Boots dist/apps/<app>/main.js with `env`; output goes to <logDir>/<label>.log. */
function spawnApp(app, env, logDir, label = app) {
  const main = path.join(ROOT, 'dist', 'apps', app, 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: build first (npm run build)`);
  const logFile = path.join(logDir, `${label}.log`);
  const log = fs.createWriteStream(logFile);
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const proc = { app: label, child, logFile, main, exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
  proc.exited.then(({ code, signal }) => {
    if (!stopping) console.error(`! ${label} (pid ${child.pid}) exited early: code ${code} signal ${signal}; log: ${logFile}`);
  });
  children.push(proc);
  return proc;
}

/** Registers a process that stopChildren ends too (same shape as spawnApp's answer). */
function adoptChild(label, child, logFile = null) {
  const proc = { app: label, child, logFile, main: null, exited: new Promise((r) => child.once('exit', (code, signal) => r({ code, signal }))) };
  children.push(proc);
  return proc;
}

const isGone = (p) => p.child.exitCode !== null || p.child.signalCode !== null;

async function stopChildren() {
  stopping = true;
  await Promise.all(
    children.map(async (p) => {
      if (isGone(p)) return;
      p.child.kill('SIGTERM');
      const done = await Promise.race([p.exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!done) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }),
  );
}

/** On Ctrl-C or SIGTERM: stop the children, exit 130. */
function stopOnSignals() {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      console.error(`\n${sig}: stopping the apps`);
      stopChildren().finally(() => process.exit(130));
    });
  }
}

// ---------- HTTP through the gateway ----------

async function call(base, key, method, p, body) {
  const headers = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${p} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body: json };
}

/**
 * Waits until the gateway's /health reports PostgreSQL, Redis and the card service up (and,
 * with `cardInstances`, at least that many card-service instances that answer requests).
 */
/**
 * Waits until the gateway's /health reports PostgreSQL, Redis and `service` up with at
 * least `instances` API instances (only the gateway and that service run, so /health
 * itself answers 503 for the others: what matters is these).
 */
async function waitForHealth(base, procs, limitMs = 90_000, { service = 'card', instances = 1 } = {}) {
  const until = Date.now() + limitMs;
  let last = 'no answer';
  while (Date.now() < until) {
    for (const p of procs) {
      if (isGone(p)) throw new Error(`${p.app} exited while booting; see ${p.logFile}`);
    }
    try {
      const res = await fetch(`${base}/health`);
      const body = await res.json();
      const d = body.data || {};
      const svc = d.services && d.services[service];
      const serving = svc && Array.isArray(svc.instances) ? svc.instances.filter((i) => i.role !== 'worker').length : 0;
      if (d.postgres === 'up' && d.redis === 'up' && svc && svc.status === 'up' && serving >= instances) return d;
      last = JSON.stringify({ postgres: d.postgres, redis: d.redis, [service]: svc });
    } catch (err) {
      last = err.message;
    }
    await sleep(250);
  }
  throw new Error(`gateway /health did not report ${service}-service up within ${limitMs / 1000} s: ${last}`);
}

// ---------- stores ----------

/** Drops and creates database `dbName`, flushes the Redis logical db of `redisDbUrl`. */
async function resetStores(dbName, redisDbUrl) {
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  const redis = new Redis(redisDbUrl, { maxRetriesPerRequest: 1 });
  await redis.flushdb();
  redis.disconnect();
}

async function pgSettings(db, extra = []) {
  const names = ['shared_buffers', 'synchronous_commit', 'max_wal_size', 'wal_level', 'fsync', 'full_page_writes', ...extra];
  const rows = (await db.query(`SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1) ORDER BY name`, [names])).rows;
  return rows.map((r) => `${r.name}=${r.setting}${r.unit ? r.unit : ''}`).join(' ');
}

/** The environment of the apps a benchmark boots: its own database and Redis db, a known root key, and `extra`. */
function appEnv({ databaseUrl, redisUrl, rootKey, port }, extra = {}) {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    CRM_ROOT_API_KEY: rootKey,
    PORT: String(port),
    HOST: '127.0.0.1',
    DB_POOL_SIZE: '10',
    ...extra,
  };
}

/**
 * Runs a load worker (`script`, e.g. claim-load.js: autocannon) in a second process:
 * sends it `cfg`, shows its progress, fails when an app dies meanwhile, and resolves
 * with the result message it sends.
 */
async function runLoad(script, cfg, procs, onFork) {
  const child = fork(path.join(__dirname, script), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const proc = adoptChild('load (autocannon)', child);
  await onFork(child.pid);
  return new Promise((resolve, reject) => {
    let result = null;
    let lastShown = -1;
    const watch = setInterval(() => {
      for (const p of procs) {
        if (isGone(p)) {
          clearInterval(watch);
          reject(new Error(`${p.app} died during the load; see ${p.logFile}`));
        }
      }
    }, 250);
    child.on('message', (m) => {
      if (m.type === 'progress') {
        const pct = Math.floor((m.done / cfg.requests) * 20);
        if (process.stdout.isTTY && pct !== lastShown) {
          process.stdout.write(`\r  load: ${fmt(m.done)} / ${fmt(cfg.requests)} answered`);
          lastShown = pct;
        }
      } else if (m.type === 'result') {
        result = m;
      } else if (m.type === 'error') {
        clearInterval(watch);
        reject(new Error(`load process: ${m.message}`));
      }
    });
    proc.exited.then(({ code, signal }) => {
      clearInterval(watch);
      if (process.stdout.isTTY && lastShown !== -1) process.stdout.write('\r\x1b[K');
      if (result) resolve(result);
      else reject(new Error(`load process exited (code ${code}, signal ${signal}) without a result`));
    });
    child.send(cfg);
  });
}

/** Runs a benchmark's main(): exits with its code; on a crash says why, where the app logs are, and exits 2. Children are stopped either way. */
function runMain(name, main) {
  main()
    .then(async (code) => {
      await stopChildren();
      process.exit(code);
    })
    .catch(async (err) => {
      console.error(`\n${name} failed: ${err && err.stack ? err.stack : err}`);
      await stopChildren();
      for (const p of children) if (p.logFile) console.error(`  log of ${p.app}: ${p.logFile}`);
      process.exit(2);
    });
}

/** What a load worker reports of autocannon's own result (its counts and latency figures, as a cross-check). */
function autocannonStats(result) {
  return {
    requestsSent: result.requests.sent,
    total: result.requests.total,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    resets: result.resets,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    statusCodeStats: result.statusCodeStats,
  };
}

module.exports = {
  parseOptions,
  percentiles,
  ms,
  runMain,
  autocannonStats,
  runLoad,
  appEnv,
  ROOT,
  PG_ADMIN_URL,
  REDIS_BASE_URL,
  databaseUrl,
  redisUrl,
  sleep,
  now,
  fmt,
  secs,
  freePort,
  sha,
  machineLine,
  cpuOf,
  pgProcesses,
  cpuSnapshot,
  fmtCpu,
  children,
  spawnApp,
  adoptChild,
  isGone,
  stopChildren,
  stopOnSignals,
  call,
  waitForHealth,
  resetStores,
  pgSettings,
};
