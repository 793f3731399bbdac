import { ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { stripVTControlCharacters } from 'node:util';
import { createConnection, createServer, Server, Socket } from 'node:net';
import Redis from 'ioredis';
import { Answer, AppName, freePort, PG_ADMIN_URL, Suite } from './support/suite';
import { uid } from './support/expect';

/**
 * A TCP proxy the test owns between the apps and PostgreSQL: `down()` breaks every
 * connection through it and refuses new ones, as a PostgreSQL that stopped does; `up()`
 * lets connections through again.
 */
class PgProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async up(): Promise<void> {
    this.port ||= await freePort();
    this.server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async down(): Promise<void> {
    const closed = new Promise((r) => this.server?.close(r));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

/** A redis-server of this file's own, which it kills and starts again (on the same port, without its data). */
class PrivateRedis {
  private proc?: ChildProcess;
  port = 0;

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => undefined);
    for (let i = 0; i < 100; i++) {
      if (
        await probe.connect().then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 50));
    }
    probe.disconnect();
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
  }
}

/**
 * A store outage is answered as one: while the apps' PostgreSQL (through a proxy the test
 * owns) or their Redis (a redis-server the test starts and kills) is away, every request
 * that needs it gets 503 with code 50302 "store unavailable, retry" and a Retry-After,
 * never a 500; afterwards the same requests (same ids) are answered normally, recorded once;
 * and the logs say it in a few lines, not a stack per reconnect attempt.
 */
describe('store outages', () => {
  let s: Suite;
  let proxy: PgProxy;
  let redis: PrivateRedis;
  const crm = 'crm_outage';
  const points = `/api/crm/points/${crm}`;
  const cards = `/api/crm/card/${crm}`;
  const APPS: AppName[] = ['gateway', 'card-service', 'points-service'];

  beforeAll(async () => {
    const pg = new URL(PG_ADMIN_URL);
    proxy = new PgProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    await proxy.up();
    redis = new PrivateRedis();
    await redis.start();
    const name = 'store_outage';
    const dbName = `${process.env.TEST_DB_PREFIX ?? 'e2e'}_${name}`;
    const proxied = new URL(PG_ADMIN_URL);
    proxied.port = String(proxy.port);
    proxied.pathname = `/${dbName}`;
    s = await Suite.start({
      name,
      redisUrl: `redis://127.0.0.1:${redis.port}/0`,
      services: ['card-service', 'points-service'],
      env: { DATABASE_URL: proxied.toString() },
    });
  });
  afterAll(async () => {
    await s?.stop();
    await redis?.kill();
    await proxy?.down();
  });

  function expectStoreUnavailable(res: Answer & { retryAfter?: string | null }, what: string): void {
    expect({ what, status: res.status, code: res.body.code }).toEqual({ what, status: 503, code: 50302 });
    expect(res.body.msg).toMatch(/store unavailable, retry/);
    expect(res.retryAfter).toBe('2');
  }

  /** One call, with the Retry-After header of the answer. */
  async function call(method: string, path: string, body?: unknown, key: string | null = s.rootKey) {
    const headers: Record<string, string> = {};
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(s.url(path), { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Answer['body'], retryAfter: res.headers.get('retry-after') };
  }

  const logOf = (app: AppName) =>
    s
      .processes(app)
      .map((p) => readFileSync(p.logFile, 'utf8'))
      .join('\n');
  const alive = () => APPS.flatMap((a) => s.processes(a)).every((p) => p.child.exitCode === null && p.child.signalCode === null);

  it('answers 503 50302 with Retry-After while PostgreSQL is away, on every route and from every service, then serves the same ids normally, once', async () => {
    const member = uid('m');
    expect((await call('POST', `${points}/produce/direct`, { event_no: uid('warm'), member_no: member, event_type: 'order', points: 10 })).body).toMatchObject({
      code: 0,
    });
    const card = await s.createStockedCard(crm, { total_quantity: 10 });
    // Never used before the outage, so the gateway must look it up in its own PostgreSQL.
    const freshKey = (await call('POST', `/api/crm/keys/${crm}`, { scope: 'admin' })).body.data!.key as string;

    await proxy.down();
    const earnNo = uid('earn');
    const receivedId = uid('rcv');
    const during = {
      earn: await call('POST', `${points}/produce/direct`, { event_no: earnNo, member_no: member, event_type: 'order', points: 5 }),
      spend: await call('POST', `${points}/consume/direct`, { event_no: uid('spend'), member_no: member, points: 1 }),
      summary: await call('GET', `${points}/summary?member_no=${member}`),
      claim: await call('POST', `${cards}/member/receive`, { received_id: receivedId, member_no: member, out_str: 'e2e', card_info: { [card]: 1 } }),
      cardList: await call('GET', `${cards}/list`),
      freshKey: await call('GET', `${cards}/list`, undefined, freshKey),
    };
    for (const [what, res] of Object.entries(during)) expectStoreUnavailable(res, what);
    expect(alive()).toBe(true);

    await proxy.up();
    const earned = await s.eventually(
      'the earn to go through',
      async () => {
        const res = await call('POST', `${points}/produce/direct`, { event_no: earnNo, member_no: member, event_type: 'order', points: 5 });
        return res.body.code === 0 ? res : undefined;
      },
      30_000,
      200,
    );
    expect(earned.status).toBe(200);
    expect(
      (await call('POST', `${cards}/member/receive`, { received_id: receivedId, member_no: member, out_str: 'e2e', card_info: { [card]: 1 } })).body,
    ).toMatchObject({ code: 0 });
    expect((await call('GET', `${cards}/list`, undefined, freshKey)).body).toMatchObject({ code: 0 });
    expect(await s.sql(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crm, earnNo])).toEqual([{ n: 1 }]);
    expect((await call('GET', `${points}/summary?member_no=${member}`)).body).toMatchObject({ code: 0, data: { total_points: 15 } });

    // Nobody answered 500, and the outage left a few warnings, not one per request with a stack.
    for (const app of APPS) {
      const log = logOf(app);
      expect({ app, internal: (log.match(/internal error|Internal server error/g) ?? []).length }).toEqual({ app, internal: 0 });
    }
    const warnings = APPS.map((a) => (logOf(a).match(/store unavailable, answered 503/g) ?? []).length);
    expect(warnings.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...warnings)).toBeLessThanOrEqual(3);
  });

  it('answers 503 50302 with Retry-After while Redis is away, then serves again on a fresh Redis; one line per connection lost and back, no unhandled errors', async () => {
    const member = uid('m');
    const eventNo = uid('earn');
    await redis.kill();
    const during = {
      earn: await call('POST', `${points}/produce/direct`, { event_no: eventNo, member_no: member, event_type: 'order', points: 7 }),
      claim: await call('POST', `${cards}/member/receive`, { received_id: uid('rcv'), member_no: member, out_str: 'e2e', card_info: { abc: 1 } }),
      detail: await call('GET', `${cards}/detail?card_id=abc`),
    };
    for (const [what, res] of Object.entries(during)) expectStoreUnavailable(res, what);
    // Let every client run through a few reconnect attempts while Redis is away.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(alive()).toBe(true);

    await redis.start(); // same port, no data: consumer groups and instance records are gone too
    const earned = await s.eventually(
      'the earn to go through on the new Redis',
      async () => {
        const res = await call('POST', `${points}/produce/direct`, { event_no: eventNo, member_no: member, event_type: 'order', points: 7 });
        return res.body.code === 0 ? res : undefined;
      },
      30_000,
      200,
    );
    expect(earned.body).toMatchObject({ data: { points: 7 } });
    expect(await s.sql(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crm, eventNo])).toEqual([{ n: 1 }]);

    for (const app of APPS) {
      const log = logOf(app);
      expect({ app, unhandled: (log.match(/Unhandled error event/g) ?? []).length, internal: (log.match(/internal error/g) ?? []).length }).toEqual({
        app,
        unhandled: 0,
        internal: 0,
      });
      // One warning when a connection is lost and one line when it is back, not one per reconnect attempt:
      // once every connection is back, the two counts are equal (some idle ones reconnect a little later).
      const counts = await s.eventually(
        `${app}'s connections all back`,
        async () => {
          const text = logOf(app);
          const lost = (text.match(/Redis connection lost/g) ?? []).length;
          const back = (text.match(/Redis connection back/g) ?? []).length;
          if (lost >= 1 && lost === back) return { lost, back };
          // Which connections are still away, by name, for the failure message.
          const away = new Map<string, number>();
          for (const [, name, state] of stripVTControlCharacters(text).matchAll(/(?:\] )([^:\n]+): Redis connection (lost|back)/g))
            away.set(name, (away.get(name) ?? 0) + (state === 'lost' ? 1 : -1));
          throw new Error(
            `${lost} lost, ${back} back; still away: ${[...away]
              .filter(([, n]) => n !== 0)
              .map(([name, n]) => `${name} (${n})`)
              .join(', ')}`,
          );
        },
        15_000,
        200,
      );
      expect(counts.lost).toBe(counts.back);
    }
  });
});
