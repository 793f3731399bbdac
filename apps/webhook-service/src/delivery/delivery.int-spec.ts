import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { WEBHOOK_MAX_ATTEMPTS, WebhookEventIn, webhookIngestMsg } from '@app/domain';
import { Middle, startMiddle } from '../../../../test/support/middle';
import { WEBHOOK_MIGRATIONS } from '../app.module';
import { EndpointRepository } from '../endpoint/endpoint.repository';
import { WebhookSchema1733400000000 } from '../migrations/1733400000000-webhook-schema';
import { WebhookReadyQueue1733500000000 } from '../migrations/1733500000000-webhook-ready-queue';
import { AttemptResult, ClaimedDelivery, DeliveryRepository } from './delivery.repository';
import { DeliverySignal } from './delivery.signal';
import { DeliveryWorker } from './delivery.worker';

/**
 * The delivery queue on PostgreSQL, in-process: a delivery is taken only when it is its
 * member's earliest pending one at its subscription, while events keep arriving and several
 * workers finish deliveries at the same time; member_queue counts what each member has pending.
 */
describe('webhook deliveries on PostgreSQL', () => {
  let mid: Middle;
  let deliveries: DeliveryRepository;
  const lease = () => new Date(mid.clock.now().getTime() + 40_000);
  let n = 0;

  const subscribe = async (crm: string, webhookId: string) => {
    await mid
      .get(EndpointRepository)
      .insert(crm, webhookId, { url: 'https://example.com/hook', events: ['coupon.claimed'], description: '' }, 'whsec_x', 'UTC', mid.clock.now());
  };
  /** DeliveryRepository.ingest of these events, as a webhook.ingest message carries them. */
  const ingest = (events: WebhookEventIn[], now: Date) => deliveries.ingest(webhookIngestMsg('card', events), now);
  const event = (crm: string, member: string | null, k: number): WebhookEventIn => ({
    crm_id: crm,
    event_id: `${member ?? 'none'}-${k}-${++n}`,
    type: 'coupon.claimed',
    member_no: member,
    occurred_at: mid.clock.now().toISOString(),
    data_json: JSON.stringify({ k }),
  });
  const delivered = (d: ClaimedDelivery): AttemptResult => ({
    crm_id: d.crm_id,
    delivery_id: d.delivery_id,
    webhook_id: d.webhook_id,
    member_no: d.member_no,
    status: 204,
    error: null,
    outcome: 'delivered',
    next_at: null,
    attempted_at: mid.clock.now(),
  });
  const finish = (results: AttemptResult[]) => mid.db.transaction((em) => deliveries.finish(em, results, mid.clock.now()));
  const ready = (crm: string) =>
    mid.sql<{ member_no: string; k: number }>(
      `SELECT member_no, (data->>'k')::int AS k FROM webhook.delivery WHERE crm_id = $1 AND status = 'pending' AND ready ORDER BY member_no, seq`,
      [crm],
    );

  beforeAll(async () => {
    mid = await startMiddle({
      name: 'webhook_delivery',
      schema: 'webhook',
      migrations: WEBHOOK_MIGRATIONS,
      providers: [DeliveryRepository, EndpointRepository],
    });
    deliveries = mid.get(DeliveryRepository);
  });
  afterAll(() => mid?.close());

  it("events arriving while 3 workers finish deliveries: each member's go one at a time, in order, and none is left behind", async () => {
    const crm = 'mid_race';
    await subscribe(crm, 'wh_race');
    const members = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const perMember = 60;
    // 3 forwarders, each with its own members (a member's events come in order from one of them), in batches of 1 to 5 per member.
    const forwarder = async (own: string[]) => {
      for (let k = 0; k < perMember;) {
        const size = 1 + (k % 5);
        const batch = own.flatMap((m) => Array.from({ length: Math.min(size, perMember - k) }, (_, j) => event(crm, m, k + j)));
        await ingest(batch, mid.clock.now());
        k += size;
      }
    };
    const total = members.length * perMember;
    const sent = new Map<string, number[]>(members.map((m) => [m, []]));
    const inFlight = new Set<string>();
    let done = 0;
    let forwarding = true;
    let idleRounds = 0;
    const problems: string[] = [];
    const worker = async () => {
      while (done < total) {
        const claimed = await deliveries.claim(mid.clock.now(), lease(), 4);
        if (!claimed.length) {
          // Nothing ready: only while events are still arriving or another worker holds a delivery.
          if (!forwarding && !inFlight.size && ++idleRounds > 200) throw new Error(`stuck: ${total - done} deliveries never became ready`);
          await new Promise((r) => setImmediate(r));
          continue;
        }
        idleRounds = 0;
        for (const d of claimed) {
          if (inFlight.has(d.member_no!)) problems.push(`${d.member_no} taken twice at once`);
          inFlight.add(d.member_no!);
          sent.get(d.member_no!)!.push(d.data.k as number);
        }
        // Released inside the transaction, before its commit: the member's next delivery cannot be ready before then.
        await mid.db.transaction(async (em) => {
          await deliveries.finish(em, claimed.map(delivered), mid.clock.now());
          for (const d of claimed) inFlight.delete(d.member_no!);
        });
        done += claimed.length;
      }
    };
    const workers = [worker(), worker(), worker()];
    await Promise.all([0, 1, 2].map((f) => forwarder(members.filter((_, i) => i % 3 === f))));
    forwarding = false;
    await Promise.all(workers);

    expect(problems).toEqual([]);
    for (const m of members) expect(sent.get(m)).toEqual(Array.from({ length: perMember }, (_, k) => k));
    expect(await mid.sql(`SELECT status, count(*)::int AS n FROM webhook.delivery WHERE crm_id = $1 GROUP BY 1`, [crm])).toEqual([
      { status: 'delivered', n: total },
    ]);
    expect(await mid.sql('SELECT * FROM webhook.member_queue WHERE crm_id = $1', [crm])).toEqual([]);
  });

  it('one ready delivery per member; events without a member are all ready; the queue counts what is pending', async () => {
    const crm = 'mid_ready';
    await subscribe(crm, 'wh_ready');
    await ingest([event(crm, 'a', 0), event(crm, 'a', 1), event(crm, 'b', 0), event(crm, null, 0), event(crm, null, 1)], mid.clock.now());
    await ingest([event(crm, 'a', 2), event(crm, 'b', 1)], mid.clock.now());
    expect(await ready(crm)).toEqual([
      { member_no: 'a', k: 0 },
      { member_no: 'b', k: 0 },
      { member_no: null, k: 0 },
      { member_no: null, k: 1 },
    ]);
    expect(await mid.sql('SELECT member_no, pending FROM webhook.member_queue WHERE crm_id = $1 ORDER BY 1', [crm])).toEqual([
      { member_no: 'a', pending: 3 },
      { member_no: 'b', pending: 2 },
    ]);
  });

  it('an outcome for a delivery no longer pending (its lease ran out and another attempt ended first) changes nothing', async () => {
    const crm = 'mid_stale';
    await subscribe(crm, 'wh_stale');
    await ingest([event(crm, 'a', 0), event(crm, 'a', 1), event(crm, 'a', 2)], mid.clock.now());
    const [first] = (await deliveries.claim(mid.clock.now(), lease(), 10)).filter((d) => d.crm_id === crm);
    await finish([delivered(first)]);
    await finish([delivered(first)]); // the same outcome again, late
    expect(await ready(crm)).toEqual([{ member_no: 'a', k: 1 }]);
    expect(await mid.sql('SELECT pending FROM webhook.member_queue WHERE crm_id = $1', [crm])).toEqual([{ pending: 2 }]);
  });

  it('a delivered delivery retried while its member has others pending waits behind the one in flight, then goes first', async () => {
    const crm = 'mid_retry';
    await subscribe(crm, 'wh_retry');
    await ingest([event(crm, 'a', 0), event(crm, 'a', 1), event(crm, 'a', 2)], mid.clock.now());
    const take = async () => (await deliveries.claim(mid.clock.now(), lease(), 10)).filter((d) => d.crm_id === crm);
    const [k0] = await take();
    await finish([delivered(k0)]);
    const [k1] = await take(); // in flight
    expect(await deliveries.retry(crm, 'wh_retry', k0.delivery_id, mid.clock.now())).toBe(true);
    expect(await ready(crm)).toEqual([{ member_no: 'a', k: 1 }]);
    expect(await take()).toEqual([]);
    await finish([delivered(k1)]);
    expect((await take()).map((d) => d.data.k)).toEqual([0]);
    expect(await mid.sql('SELECT pending FROM webhook.member_queue WHERE crm_id = $1', [crm])).toEqual([{ pending: 2 }]);
  });

  it('a batch where an endpoint failed, then delivered, leaves no failure streak; delivered, then failed, starts one at the failure', async () => {
    const crm = 'mid_streak';
    await subscribe(crm, 'wh_streak');
    await ingest([event(crm, 'a', 0), event(crm, 'b', 0)], mid.clock.now());
    const [a, b] = (await deliveries.claim(mid.clock.now(), lease(), 10)).filter((d) => d.crm_id === crm);
    const failedAt = (d: ClaimedDelivery, at: string): AttemptResult => ({
      ...delivered(d),
      status: 500,
      outcome: 'retry',
      next_at: new Date(at),
      attempted_at: new Date(at),
    });
    const streak = async () => (await mid.sql('SELECT failing_since FROM webhook.endpoint WHERE crm_id = $1', [crm]))[0].failing_since;
    await finish([failedAt(a, '2026-06-15T03:00:00Z'), delivered(b)]);
    expect(await streak()).toBeNull();
    await finish([delivered(b), failedAt(a, '2026-06-15T03:30:00Z')]);
    expect(await streak()).toEqual(new Date('2026-06-15T03:30:00Z'));
  });

  it('the migration makes ready the earliest pending delivery of each member and counts the queues of deliveries made before it', async () => {
    const old = await startMiddle({ name: 'webhook_migrate', schema: 'webhook', migrations: [WebhookSchema1733400000000], providers: [] });
    try {
      const q = (text: string) => old.sql(text);
      await q(`INSERT INTO webhook.endpoint (crm_id, webhook_id, url, events, secret, create_time, update_time)
               VALUES ('c', 'w', 'https://example.com', '{coupon.claimed}', 's', now(), now())`);
      await q(`INSERT INTO webhook.event (crm_id, event_id, type, member_no, occurred_at, data, received_at)
               SELECT 'c', 'e' || i, 'coupon.claimed', CASE WHEN i < 5 THEN 'a' WHEN i < 7 THEN 'b' END, now(), jsonb_build_object('k', i), now()
                 FROM generate_series(1, 8) i`);
      // a's first delivered; a's 2-4, b's 5-6 and two without a member pending
      await q(`INSERT INTO webhook.delivery (crm_id, webhook_id, event_id, seq, member_no, status, next_at, create_time)
               SELECT 'c', 'w', event_id, seq, member_no, CASE WHEN event_id = 'e1' THEN 'delivered' ELSE 'pending' END, now(), now() FROM webhook.event`);
      const runner = old.db.createQueryRunner();
      await new WebhookReadyQueue1733500000000().up(runner);
      await runner.release();
      expect(await q(`SELECT event_id, ready, type, (data->>'k')::int AS k FROM webhook.delivery WHERE status = 'pending' AND ready ORDER BY seq`)).toEqual([
        { event_id: 'e2', ready: true, type: 'coupon.claimed', k: 2 },
        { event_id: 'e5', ready: true, type: 'coupon.claimed', k: 5 },
        { event_id: 'e7', ready: true, type: 'coupon.claimed', k: 7 },
        { event_id: 'e8', ready: true, type: 'coupon.claimed', k: 8 },
      ]);
      expect(await q('SELECT member_no, pending FROM webhook.member_queue ORDER BY 1')).toEqual([
        { member_no: 'a', pending: 3 },
        { member_no: 'b', pending: 2 },
      ]);
    } finally {
      await old.close();
    }
  });
});

/**
 * The worker against a receiver that answers only 500: a delivery failed for good disables
 * its endpoint when nothing but failures came back since that delivery's first attempt, and
 * only then; each endpoint is judged once per batch of outcomes.
 */
describe('webhook worker: deliveries failed for good', () => {
  let mid: Middle;
  let receiver: Server;
  let posts = 0;

  beforeAll(async () => {
    mid = await startMiddle({ name: 'webhook_worker', schema: 'webhook', migrations: WEBHOOK_MIGRATIONS, providers: [DeliveryRepository, EndpointRepository] });
    receiver = createServer((req, res) => {
      posts++;
      req.resume().on('end', () => res.writeHead(500).end('down'));
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await mid?.close();
  });

  it('disables the endpoint whose streak covers the delivery (once, with the reason), not the one whose streak began after it', async () => {
    const { port } = receiver.address() as AddressInfo;
    const endpoints = mid.get(EndpointRepository);
    const deliveries = mid.get(DeliveryRepository);
    const now = mid.clock.now();
    const crm = 'mid_worker';
    for (const id of ['wh_down', 'wh_flaky'])
      await endpoints.insert(
        crm,
        id,
        { url: `http://127.0.0.1:${port}/${id}`, events: ['coupon.claimed'], description: '' },
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'UTC',
        now,
      );
    await deliveries.ingest(
      webhookIngestMsg(
        'card',
        ['a', 'b', 'c'].map((m) => ({
          crm_id: crm,
          event_id: `ev-${m}`,
          type: 'coupon.claimed' as const,
          member_no: m,
          occurred_at: now.toISOString(),
          data_json: JSON.stringify({ m }),
        })),
      ),
      now,
    );
    // Every delivery at its last attempt. wh_down's were never tried (their first attempt is this one, when its
    // streak starts); wh_flaky's were first tried an hour ago, and it has failed only since now.
    await mid.sql(`UPDATE webhook.delivery SET attempts = $2, first_attempt_at = NULL WHERE crm_id = $1`, [crm, WEBHOOK_MAX_ATTEMPTS - 1]);
    await mid.sql(`UPDATE webhook.delivery SET first_attempt_at = $2 WHERE crm_id = $1 AND webhook_id = 'wh_flaky'`, [
      crm,
      new Date(now.getTime() - 3_600_000),
    ]);

    const worker = new DeliveryWorker(mid.db, deliveries, new DeliverySignal(), mid.clock, {
      ...mid.cfg,
      webhookAllowPrivateHosts: true,
      webhookTimeoutMs: 5_000,
    });
    expect(await worker.takeAndSend(32)).toBe(6);
    await worker.settle();

    expect(posts).toBe(6);
    expect(await mid.sql(`SELECT webhook_id, status, count(*)::int AS n FROM webhook.delivery WHERE crm_id = $1 GROUP BY 1, 2 ORDER BY 1`, [crm])).toEqual([
      { webhook_id: 'wh_down', status: 'failed', n: 3 },
      { webhook_id: 'wh_flaky', status: 'failed', n: 3 },
    ]);
    const state = await mid.sql(`SELECT webhook_id, status, disabled_reason FROM webhook.endpoint WHERE crm_id = $1 ORDER BY 1`, [crm]);
    expect(state).toEqual([
      {
        webhook_id: 'wh_down',
        status: 'disabled',
        disabled_reason: expect.stringMatching(/^disabled: every attempt failed from .*; the last: HTTP 500: down$/),
      },
      { webhook_id: 'wh_flaky', status: 'enabled', disabled_reason: null },
    ]);
    expect(await mid.sql('SELECT count(*)::int AS n FROM webhook.member_queue WHERE crm_id = $1', [crm])).toEqual([{ n: 0 }]);
  });
});
