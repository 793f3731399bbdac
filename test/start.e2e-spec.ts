import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import Redis from 'ioredis';
import { freePort, LOG_DIR, PG_ADMIN_URL, REDIS_BASE_URL } from './support/suite';

/**
 * `node scripts/start.js` (what `npm start` runs after the build): it starts every app,
 * waits for /health, prints the URL and root key, and on SIGINT leaves no process behind.
 */
const ROOT = path.resolve(__dirname, '..');
const READY = /^\[start\] ready: (http:\/\/127\.0\.0\.1:\d+) /;

interface Child {
  pid: number;
  command: string;
}

class StartScript {
  readonly lines: string[] = [];
  readonly exited: Promise<number | null>;
  children: Child[] = [];
  private readonly proc: ChildProcess;

  constructor(name: string, env: Record<string, string>) {
    mkdirSync(LOG_DIR, { recursive: true });
    const log = createWriteStream(path.join(LOG_DIR, `${name}.log`));
    this.proc = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.js')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.proc.stdout!, this.proc.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        this.lines.push(line);
        log.write(`${line}\n`);
      });
    }
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async waitForLine(pattern: RegExp, limitMs = 120_000): Promise<RegExpMatchArray> {
    for (const until = Date.now() + limitMs; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const match = this.lines.map((line) => line.match(pattern)).find(Boolean);
      if (match) return match;
      if (!this.running) break;
    }
    throw new Error(`no line matching ${pattern}; last lines:\n${this.lines.slice(-20).join('\n')}`);
  }

  /** The script's direct child processes, as ps sees them now. */
  listChildren(): Child[] {
    const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(this.proc.pid)]).toString();
    this.children = out
      .trim()
      .split('\n')
      .map((row) => row.trim().match(/^(\d+)\s+(.*)$/)!)
      .map(([, pid, command]) => ({ pid: Number(pid), command }));
    return this.children;
  }

  signal(signal: NodeJS.Signals): void {
    this.proc.kill(signal);
  }

  /** After a failed test: stop the script, and kill whatever it left behind. */
  async cleanUp(): Promise<void> {
    if (this.running) this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 20_000);
    await this.exited;
    clearTimeout(timer);
    for (const { pid } of this.children.filter(({ pid }) => isAlive(pid))) process.kill(pid, 'SIGKILL');
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

interface Health {
  status: number;
  body: { data: { status: string; postgres: string; redis: string; services: Record<string, { status: string }> } };
}

async function healthOf(url: string): Promise<Health> {
  const res = await fetch(`${url}/health`);
  return { status: res.status, body: await res.json() };
}

function expectAllUp(health: Health): void {
  expect(health.status).toBe(200);
  expect(health.body.data).toMatchObject({ status: 'up', postgres: 'up', redis: 'up' });
  expect(Object.keys(health.body.data.services).sort()).toEqual(['card', 'dashboard', 'points', 'webhook']);
  for (const service of Object.values(health.body.data.services)) expect(service.status).toBe('up');
}

const APPS = ['gateway', 'card-service', 'points-service', 'dashboard-service', 'webhook-service'];
const APP_COMMANDS = APPS.map((app) => `dist/apps/${app}/main.js`);

describe('npm start (scripts/start.js)', () => {
  let script: StartScript | undefined;
  afterEach(async () => {
    await script?.cleanUp();
    script = undefined;
  });

  it('runs every app against the PostgreSQL and Redis it is given, and stops them all on SIGINT', async () => {
    const databaseUrl = PG_ADMIN_URL.replace(/\/[^/]*$/, '/e2e_start');
    const admin = new Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    await admin.query('DROP DATABASE IF EXISTS e2e_start WITH (FORCE)');
    await admin.query('CREATE DATABASE e2e_start');
    await admin.end();
    const redisUrl = `${REDIS_BASE_URL}/11`;
    const redis = new Redis(redisUrl);
    await redis.flushdb();
    redis.disconnect();
    const port = await freePort();

    script = new StartScript('start-given-stores', { PORT: String(port), DATABASE_URL: databaseUrl, REDIS_URL: redisUrl });
    const [, url] = await script.waitForLine(READY);
    expect(url).toBe(`http://127.0.0.1:${port}`);
    const [, rootKey] = await script.waitForLine(/^\[start\] root API key: (root_\S+) \(generated/);
    expect(script.lines.some((line) => /started a private/.test(line))).toBe(false);

    expectAllUp(await healthOf(url));
    const list = await fetch(`${url}/api/crm/card/crm_e2e_start/list`, { headers: { authorization: `Bearer ${rootKey}` } });
    expect(list.status).toBe(200);
    expect((await fetch(`${url}/api/crm/card/crm_e2e_start/list`)).status).toBe(401);
    const prefixed = APPS.map((app) => expect.stringMatching(new RegExp(`^\\[${app}\\] `)));
    expect(script.lines).toEqual(expect.arrayContaining(prefixed));

    const children = script.listChildren();
    expect(children.map((c) => APP_COMMANDS.find((app) => c.command.includes(app))).sort()).toEqual([...APP_COMMANDS].sort());

    script.signal('SIGINT');
    expect(await script.exited).toBe(0);
    expect(children.filter(({ pid }) => isAlive(pid))).toEqual([]);
    expect(await portOpen(port)).toBe(false);
  });

  it('starts a private PostgreSQL and Redis when the given ones do not answer, and stops them on SIGINT', async () => {
    const [port, closedPgPort, closedRedisPort] = [await freePort(), await freePort(), await freePort()];

    const dataDir = mkdtempSync(path.join(tmpdir(), 'loyalty-e2e-start-'));
    chmodSync(dataDir, 0o755); // the private PostgreSQL may run as another user
    script = new StartScript('start-private-stores', {
      PORT: String(port),
      LOYALTY_DATA_DIR: dataDir,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPgPort}/e2e_start_private`,
      REDIS_URL: `redis://127.0.0.1:${closedRedisPort}/12`,
    });
    const [, url] = await script.waitForLine(READY);
    const [, pgPort] = await script.waitForLine(/started a private one at postgres:\/\/\S+@127\.0\.0\.1:(\d+)\//);
    const [, redisPort] = await script.waitForLine(/started a private one at redis:\/\/127\.0\.0\.1:(\d+)/);

    expectAllUp(await healthOf(url));
    const children = script.listChildren();
    expect(children.filter((c) => APP_COMMANDS.some((app) => c.command.includes(app)))).toHaveLength(APPS.length);
    expect(script.lines).toContain(`[start] initialising a private PostgreSQL in ${dataDir}/postgres`);
    expect(children.some((c) => c.command.includes(`/bin/postgres -D ${dataDir}/postgres`))).toBe(true);
    expect(children.some((c) => c.command.startsWith('redis-server'))).toBe(true);
    expect(children).toHaveLength(APPS.length + 2);

    script.signal('SIGINT');
    expect(await script.exited).toBe(0);
    expect(children.filter(({ pid }) => isAlive(pid))).toEqual([]);
    for (const p of [port, Number(pgPort), Number(redisPort)]) expect(await portOpen(p)).toBe(false);
    expect(script.lines).toEqual(expect.arrayContaining(['[start] stopping the private PostgreSQL', '[start] stopping the private Redis']));
    rmSync(dataDir, { recursive: true, force: true });
  });
});
