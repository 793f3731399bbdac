import { Logger } from '@nestjs/common';
import Redis from 'ioredis';
import { register } from 'prom-client';
import {
  Envelope,
  ErrorCode,
  fail,
  ok,
  Service,
  WebhookEventIn,
  WebhookEventType,
  webhookIngestEvents,
  WebhookIngestMsg,
  WebhookIngestReply,
  WebhookPattern,
} from '@app/domain';
import { RedisStreamsClient, RedisStreamsServer, trackWebhookOutbox, WebhookForwarder, writeWebhookEvents } from '@app/platform';
import { Middle, startMiddle } from '../../../../test/support/middle';
import { REDIS_BASE_URL } from '../../../../test/support/suite';
import { CARD_MIGRATIONS } from '../migrations';

/** The key test/support/suite.ts hands out Redis logical databases by (db 0 names the holder of each). */
const REDIS_DB_LOCK = 'loyalty:e2e-redis-db';

/** A Redis logical database no running suite holds, held by this process until released. */
async function holdRedisDb(): Promise<{ url: string; release: () => Promise<void> }> {
  const r = new Redis(`${REDIS_BASE_URL}/0`);
  try {
    for (let db = 1; db <= 15; db++) {
      if (await r.set(`${REDIS_DB_LOCK}:${db}`, String(process.pid), 'NX')) {
        const url = `${REDIS_BASE_URL}/${db}`;
        const flush = new Redis(url);
        await flush.flushdb();
        flush.disconnect();
        return {
          url,
          release: async () => {
            const a = new Redis(`${REDIS_BASE_URL}/0`);
            await a.eval(
              `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
              1,
              `${REDIS_DB_LOCK}:${db}`,
              String(process.pid),
            );
            a.disconnect();
          },
        };
      }
    }
    throw new Error('every Redis logical database 1-15 is held by a running suite');
  } finally {
    r.disconnect();
  }
}

/**
 * The webhook forwarder of card-service over the real transport and Redis, with a stand-in
 * for webhook-service: a RedisStreamsServer in this process answering `webhook.ingest` as
 * the test says. Rows go in id order and are deleted only once it answered code 0; an error
 * answer or no answer leaves them for later; two forwarders at once never send a row twice
 * nor out of order.
 */
describe('webhook forwarder (card) over the Redis transport', () => {
  let mid: Middle;
  let redis: { url: string; release: () => Promise<void> };
  let server: RedisStreamsServer | undefined;
  /** What the stand-in does with a request: answer ok, answer an error, or hang past the deadline. */
  let mode: 'ok' | 'error' = 'ok';
  /** Every event the stand-in took (answered ok), in arrival order. */
  let taken: WebhookEventIn[] = [];
  /** Rows of the outbox the stand-in saw while answering (the forwarder must not have deleted them yet). */
  let seenWhileAnswering: number[] = [];
  const forwarders: WebhookForwarder[] = [];

  const forwarder = (pollMs = 20, timeoutMs = 1_500) => {
    const f = new WebhookForwarder(mid.db, 'card', new RedisStreamsClient({ service: Service.WEBHOOK, redisUrl: redis.url, timeoutMs }), pollMs);
    forwarders.push(f);
    return f;
  };

  async function startStandIn(): Promise<void> {
    server = new RedisStreamsServer({ service: Service.WEBHOOK, redisUrl: redis.url, consumer: `stand-in-${process.pid}`, concurrency: 4, claimIdleMs: 5_000 });
    server.addHandler(WebhookPattern.INGEST, async (msg: WebhookIngestMsg): Promise<Envelope<WebhookIngestReply>> => {
      const [{ n }] = await mid.sql<{ n: number }>(`SELECT count(*)::int AS n FROM card.webhook_outbox`);
      seenWhileAnswering.push(n);
      if (mode === 'error') return fail(ErrorCode.SERVICE_UNAVAILABLE, 'stand-in refuses');
      expect(msg.source).toBe('card');
      taken.push(...webhookIngestEvents(msg));
      return ok({ accepted: msg.event_id.length, deliveries: 0 });
    });
    await new Promise<void>(
      (resolve, reject) => void server!.listen((err?: unknown) => (err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve())),
    );
  }
  async function stopStandIn(): Promise<void> {
    await server?.close();
    server = undefined;
  }

  let seq = 0;
  async function addEvents(count: number, crm = 'fw_a'): Promise<void> {
    await mid.db.transaction((em) =>
      writeWebhookEvents(
        em,
        'card',
        Array.from({ length: count }, () => ({
          crm_id: crm,
          type: WebhookEventType.COUPON_CLAIMED,
          member_no: `m${++seq % 7}`,
          occurred_at: mid.clock.now(),
          data: { seq },
        })),
      ),
    );
  }
  const waiting = async () => (await mid.sql<{ n: number }>(`SELECT count(*)::int AS n FROM card.webhook_outbox`))[0].n;
  const ids = async () => (await mid.sql<{ id: string }>(`SELECT id::text FROM card.webhook_outbox ORDER BY webhook_outbox.id`)).map((r) => `card-${r.id}`);
  async function until(what: () => Promise<boolean>, ms = 15_000): Promise<void> {
    const end = Date.now() + ms;
    while (!(await what())) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  beforeAll(async () => {
    redis = await holdRedisDb();
    mid = await startMiddle({ name: 'webhook_forwarder', schema: 'card', migrations: CARD_MIGRATIONS, providers: [] });
  });
  beforeEach(async () => {
    mode = 'ok';
    taken = [];
    seenWhileAnswering = [];
    await mid.sql(`DELETE FROM card.webhook_outbox`);
  });
  afterEach(async () => {
    await Promise.all(forwarders.splice(0).map((f) => f.onModuleDestroy()));
    await stopStandIn();
  });
  afterAll(async () => {
    await mid?.close();
    await redis?.release();
  });

  it('sends the rows in id order as webhook events and deletes them only after the answer (code 0)', async () => {
    await startStandIn();
    await addEvents(3, 'fw_a');
    await addEvents(2, 'fw_b');
    const expected = await ids();
    const rows = await mid.sql(`SELECT crm_id, id::text, member_no, occurred_at, data FROM card.webhook_outbox ORDER BY webhook_outbox.id`);
    expect(await forwarder().forwardOnce()).toBe(5);
    expect(taken.map((e) => e.event_id)).toEqual(expected);
    expect(taken[0]).toEqual({
      crm_id: 'fw_a',
      event_id: `card-${rows[0].id}`,
      type: 'coupon.claimed',
      member_no: rows[0].member_no,
      occurred_at: mid.clock.now().toISOString(),
      data_json: expect.any(String),
    });
    expect(JSON.parse(taken[0].data_json)).toEqual(rows[0].data);
    expect(taken[4].crm_id).toBe('fw_b');
    expect(seenWhileAnswering).toEqual([5]);
    expect(await waiting()).toBe(0);
    expect(await forwarder().forwardOnce()).toBe(0);
  });

  it('keeps the rows when webhook-service answers an error, and sends them on a later pass', async () => {
    await startStandIn();
    await addEvents(4);
    const expected = await ids();
    mode = 'error';
    const f = forwarder();
    await expect(f.forwardOnce()).rejects.toThrow(/50301/);
    expect(await waiting()).toBe(4);
    mode = 'ok';
    expect(await f.forwardOnce()).toBe(4);
    expect(taken.map((e) => e.event_id)).toEqual(expected);
    expect(await waiting()).toBe(0);
  });

  it('keeps the rows while no webhook-service answers (timeout), and sends them once one does', async () => {
    await addEvents(3);
    const expected = await ids();
    const f = forwarder(20, 300);
    await expect(f.forwardOnce()).rejects.toThrow(/no answer within 300 ms/);
    expect(await waiting()).toBe(3);
    await startStandIn();
    expect(await f.forwardOnce()).toBe(3);
    // The request that timed out is past its deadline: the stand-in dropped it unanswered.
    expect(taken.map((e) => e.event_id)).toEqual(expected);
  });

  it('holds neither a transaction id nor a snapshot while it waits on webhook-service (dead rows can still be removed meanwhile)', async () => {
    await addEvents(3);
    const f = forwarder(20, 2_000);
    const pass = f.forwardOnce();
    // Its backend, idle in its transaction after reading the rows, while the request waits for an answer that does not come.
    let backend: { backend_xid: string | null; backend_xmin: string | null } | undefined;
    await until(async () => {
      [backend] = await mid.sql<{ backend_xid: string | null; backend_xmin: string | null }>(
        `SELECT backend_xid::text, backend_xmin::text FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle in transaction' AND query LIKE '%FROM card.webhook_outbox ORDER BY id%'`,
      );
      return backend !== undefined;
    });
    expect(backend).toEqual({ backend_xid: null, backend_xmin: null });
    await expect(pass).rejects.toThrow(/no answer within 2000 ms/);
    expect(await waiting()).toBe(3);
  });

  it('runs on its own: one warning per outage, backs off, then catches up in batches of 500 without waiting', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      await addEvents(1_100);
      const f = forwarder(20, 200);
      f.onApplicationBootstrap();
      // Several failed tries (200 ms timeouts, backing off) ...
      await new Promise((r) => setTimeout(r, 1_200));
      expect(await waiting()).toBe(1_100);
      const outage = warn.mock.calls.filter(([m]) => String(m).includes('handing webhook events to webhook-service failed'));
      expect(outage).toHaveLength(1);
      // ... then webhook-service is there: everything goes, in id order.
      const expected = await ids();
      await startStandIn();
      await until(async () => (await waiting()) === 0);
      expect(taken.map((e) => e.event_id)).toEqual(expected);
      expect(warn.mock.calls.filter(([m]) => String(m).includes('failed'))).toHaveLength(1);
    } finally {
      warn.mockRestore();
    }
  });

  it('two forwarders at once never send a row twice nor out of order', async () => {
    await startStandIn();
    const [a, b] = [forwarder(5), forwarder(5)];
    a.onApplicationBootstrap();
    b.onApplicationBootstrap();
    for (let wave = 0; wave < 10; wave++) {
      await addEvents(150, wave % 2 ? 'fw_a' : 'fw_b');
      await new Promise((r) => setTimeout(r, 10));
    }
    await until(async () => (await waiting()) === 0);
    const got = taken.map((e) => Number(e.event_id.slice('card-'.length)));
    expect(got).toHaveLength(1_500);
    expect(new Set(got).size).toBe(1_500);
    expect(got).toEqual([...got].sort((x, y) => x - y));
  });

  it('exports webhook_outbox_rows_waiting and webhook_outbox_oldest_age_seconds by source, read at scrape time', async () => {
    trackWebhookOutbox(mid.db, 'card');
    await addEvents(3);
    mid.clock.advance(0);
    const rows = (await register.getSingleMetric('webhook_outbox_rows_waiting')!.get()).values;
    expect(rows).toEqual([expect.objectContaining({ labels: { source: 'card' }, value: 3 })]);
    const age = (await register.getSingleMetric('webhook_outbox_oldest_age_seconds')!.get()).values;
    expect(age).toEqual([expect.objectContaining({ labels: { source: 'card' } })]);
    expect(age[0].value).toBeGreaterThanOrEqual(0);
  });
});
