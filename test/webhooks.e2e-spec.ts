import { createHmac, randomBytes } from 'node:crypto';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { lastValueFrom } from 'rxjs';
import { Webhook } from 'standardwebhooks';
import { Envelope, Service, WebhookEventIn, WebhookEventType, webhookIngestMsg, WebhookIngestReply, WebhookPattern } from '@app/domain';
import { RedisStreamsClient } from '@app/platform';
import { Suite } from './support/suite';
import { expectError, expectInvalid } from './support/expect';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
/** The retry schedule (libs/domain webhook.rules): the wait after each failed attempt. */
const DELAYS = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];
const TIMEOUT_MS = 2_000;

/** One request the receiver got. */
interface Got {
  id: string;
  headers: Record<string, string>;
  raw: string;
  body: { id: string; type: string; timestamp: string; crm_id: string; data: Record<string, unknown> };
  /** What it answered (0: it hung). */
  answered: number;
}

/** What the receiver does with a request: a status to answer, or hang (never answer). */
type Plan = (got: Got) => number | 'hang';

/**
 * A merchant's endpoint: a node:http server on 127.0.0.1 that records every request and
 * answers what its plan says; it can be closed (connection refused) and opened again on
 * the same port.
 */
class Receiver {
  readonly got: Got[] = [];
  plan: Plan = () => 200;
  private server?: Server;
  private port = 0;
  private readonly hanging = new Set<ServerResponse>();

  async open(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
    return this;
  }

  /** Stops listening and drops every connection (requests in flight get no answer). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  ids(): string[] {
    return this.got.map((g) => g.id);
  }

  delivered(): Got[] {
    return this.got.filter((g) => g.answered >= 200 && g.answered < 300);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      const got: Got = { id: headers['webhook-id'], headers, raw, body: JSON.parse(raw), answered: 0 };
      this.got.push(got);
      const status = this.plan(got);
      if (status === 'hang') {
        this.hanging.add(res);
        return;
      }
      got.answered = status;
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status >= 300 ? `receiver says no (${status})` : 'ok');
    });
  }
}

/** The Standard Webhooks signature of `raw` with `secret`, computed here (the library's verify also checks the timestamp against real time). */
function expectedSignature(secret: string, got: Got): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${got.headers['webhook-id']}.${got.headers['webhook-timestamp']}.${got.raw}`).digest('base64')}`;
}
const signatures = (got: Got) => got.headers['webhook-signature'].split(' ');
const signedWith = (secret: string, got: Got) => signatures(got).includes(expectedSignature(secret, got));

/** The instant of a Shanghai wall time text. */
const shanghaiMs = (text: string) => Date.parse(`${text.replace(' ', 'T')}+08:00`);

/**
 * Webhooks end to end: subscriptions through the gateway's HTTP API, events handed to
 * webhook-service over the transport as the services' forwarders do (webhook.ingest), and
 * deliveries POSTed to a local receiver that checks their Standard Webhooks signatures.
 * Retry waits are passed by moving the services' clock, never by sleeping.
 */
describe('webhooks', () => {
  let s: Suite;
  let client: RedisStreamsClient;
  /** The services' clock offset; only ever moved forward (deliveries of earlier tests stay consistent). */
  let offset = 0;
  let eventNo = 0;
  const receivers: Receiver[] = [];

  beforeAll(async () => {
    s = await Suite.start({
      name: 'webhooks',
      services: ['webhook-service'],
      env: { WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true', WEBHOOK_POLL_MS: '20', WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS) },
      controlClock: true,
    });
    client = new RedisStreamsClient({ service: Service.WEBHOOK, redisUrl: s.redisUrl, timeoutMs: 10_000 });
    await client.connect();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(receivers.map((r) => r.close()));
    await client?.close();
    await s?.stop();
  });

  const moveClock = async (ms: number) => {
    offset += ms;
    await s.setClock(offset);
  };
  const receiver = async () => {
    const r = await new Receiver().open();
    receivers.push(r);
    return r;
  };
  const base = (crm: string) => `/api/crm/webhooks/${crm}`;

  const subscribe = async (crm: string, url: string, events: WebhookEventType[]) => {
    const res = await s.post(base(crm), { url, events, description: 'test receiver' });
    expect(res.body).toMatchObject({ code: 0 });
    return res.body.data as { webhook_id: string; secret: string };
  };

  /** An event as a forwarder hands it over; its id is new to the run. */
  const event = (crm: string, type: WebhookEventType, member: string | null, over: Partial<WebhookEventIn> = {}): WebhookEventIn => ({
    crm_id: crm,
    event_id: `points-${++eventNo}`,
    type,
    member_no: member,
    occurred_at: new Date().toISOString(),
    data_json: JSON.stringify({ member_no: member, n: eventNo }),
    ...over,
  });

  const ingest = async (events: WebhookEventIn[]): Promise<WebhookIngestReply> => {
    const answer = await lastValueFrom(client.send<Envelope<WebhookIngestReply>>(WebhookPattern.INGEST, webhookIngestMsg('points', events)));
    expect(answer.code).toBe(0);
    return answer.data!;
  };

  const deliveries = async (crm: string, webhookId: string, query = '') => {
    const res = await s.get(`${base(crm)}/${webhookId}/deliveries?page_size=100${query}`);
    expect(res.body.code).toBe(0);
    return res.body.data.result as Array<Record<string, any>>;
  };
  const deliveryOf = async (crm: string, webhookId: string, eventId: string) => (await deliveries(crm, webhookId)).find((d) => d.event_id === eventId)!;

  /** Waits until the receiver has got `n` requests in all. */
  const untilGot = (r: Receiver, n: number, what = `${n} request(s) at the receiver`) =>
    s.eventually(what, async () => (r.got.length >= n ? true : undefined), 20_000, 20);

  /** Waits until a delivery is in a state `check` accepts. */
  const untilDelivery = (crm: string, webhookId: string, eventId: string, check: (d: Record<string, any>) => boolean, what: string) =>
    s.eventually(
      what,
      async () => {
        const d = await deliveryOf(crm, webhookId, eventId);
        return d && check(d) ? d : undefined;
      },
      20_000,
      50,
    );

  /** Attempt `n` written: past it (delivered, failed) or waiting the schedule's wait after it (not the lease of an attempt in flight). */
  const settled = (n: number) => (x: Record<string, any>) =>
    x.attempts === n && (x.status !== 'pending' || Math.abs(shanghaiMs(x.next_time) - shanghaiMs(x.last_attempt_time) - DELAYS[n - 1]) <= SECOND);

  describe('subscriptions through the gateway', () => {
    const crm = 'wh_crud';

    it('creates with the secret shown once; list and detail never show it; updates, disables, enables, deletes', async () => {
      const created = await s.post(base(crm), { url: 'http://127.0.0.1:9/a', events: ['coupon.claimed'], description: 'orders' });
      expect(created.status).toBe(200);
      expect(created.body.code).toBe(0);
      const { webhook_id: id, secret } = created.body.data;
      expect(id).toMatch(/^wh_[a-z0-9]+$/);
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      expect(created.body.data).toMatchObject({
        crm_id: crm,
        url: 'http://127.0.0.1:9/a',
        events: ['coupon.claimed'],
        description: 'orders',
        status: 'enabled',
      });

      const list = await s.get(base(crm));
      expect(list.body.code).toBe(0);
      expect(list.body.data.map((w: any) => w.webhook_id)).toEqual([id]);
      expect(JSON.stringify(list.body)).not.toContain(secret.slice(6));
      expect(list.body.data[0]).not.toHaveProperty('secret');
      const detail = await s.get(`${base(crm)}/${id}`);
      expect(detail.body.data).toMatchObject({ webhook_id: id, status: 'enabled', disabled_reason: null });
      expect(detail.body.data).not.toHaveProperty('secret');

      const updated = await s.post(`${base(crm)}/${id}/update`, {
        url: 'https://hooks.example.com/v2',
        events: ['points.earned', 'coupon.redeemed'],
        description: 'v2',
      });
      expect(updated.body.data).toMatchObject({ url: 'https://hooks.example.com/v2', events: ['points.earned', 'coupon.redeemed'], description: 'v2' });
      expect(updated.body.data).not.toHaveProperty('secret');
      expect((await s.get(`${base(crm)}/${id}`)).body.data).toMatchObject({ url: 'https://hooks.example.com/v2', description: 'v2' });
      expectInvalid(await s.post(`${base(crm)}/${id}/update`, {}), 'body');

      const disabled = await s.post(`${base(crm)}/${id}/disable`, {});
      expect(disabled.body.data).toMatchObject({ status: 'disabled', disabled_reason: expect.stringMatching(/by hand/) });
      const enabled = await s.post(`${base(crm)}/${id}/enable`, {});
      expect(enabled.body.data).toMatchObject({ status: 'enabled', disabled_reason: null });

      const deleted = await s.call('DELETE', `${base(crm)}/${id}`);
      expect(deleted.body).toMatchObject({ code: 0, data: { webhook_id: id, deleted: true } });
      expectError(await s.get(`${base(crm)}/${id}`), 404, 40412);
      expectError(await s.call('DELETE', `${base(crm)}/${id}`), 404, 40412);
      expectError(await s.post(`${base(crm)}/${id}/enable`, {}), 404, 40412);
      expect((await s.get(base(crm))).body.data).toEqual([]);
    });

    it('names the bad input: scheme, credentials, unknown or no event types, a bad webhook_id, a bad replay range', async () => {
      const ok = { url: 'https://hooks.example.com/x', events: ['coupon.claimed'] };
      expectInvalid(await s.post(base(crm), { ...ok, url: 'ftp://hooks.example.com/x' }), 'url');
      expectInvalid(await s.post(base(crm), { ...ok, url: 'https://user:pw@hooks.example.com/x' }), 'url');
      expectInvalid(await s.post(base(crm), { ...ok, events: ['coupon.claimed', 'coupon.eaten'] }), 'events');
      expectInvalid(await s.post(base(crm), { ...ok, events: [] }), 'events');
      expectInvalid(await s.post(base(crm), { url: ok.url }), 'events');
      expectInvalid(await s.get(`${base(crm)}/not-a-webhook`), 'webhook_id');
      expectInvalid(await s.post(`${base(crm)}/wh_$$/disable`, {}), 'webhook_id');
      const { webhook_id: id } = await subscribe(crm, ok.url, ['coupon.claimed']);
      expectInvalid(await s.post(`${base(crm)}/${id}/update`, { url: 'https://a:b@hooks.example.com/' }), 'url');
      expectInvalid(await s.post(`${base(crm)}/${id}/deliveries/x1/retry`, {}), 'delivery_id');
      expectInvalid(await s.post(`${base(crm)}/${id}/replay`, { from: '2026-12-01 00:00:00', to: '2026-11-30 00:00:00' }), 'to');
      expectInvalid(await s.post(`${base(crm)}/${id}/replay`, { from: '2026-12-01', to: '2026-12-02 00:00:00' }), 'from');
      expect((await s.get(base(crm))).body.data).toHaveLength(1);
    });

    it("refuses a client key (403) and hides another tenant's subscription (404)", async () => {
      const admin = (await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' })).body.data.key as string;
      const clientKey = (await s.post(`/api/crm/keys/${crm}`, { scope: 'client' })).body.data.key as string;
      const { webhook_id: id } = await subscribe(crm, 'https://hooks.example.com/y', ['points.earned']);
      expect((await s.get(`${base(crm)}/${id}`, admin)).body.code).toBe(0);
      expect((await s.get(`${base(crm)}/${id}`, clientKey)).status).toBe(403);
      expect((await s.post(base(crm), { url: 'https://hooks.example.com/z', events: ['points.earned'] }, clientKey)).status).toBe(403);
      expect((await s.get(base('wh_other'), admin)).status).toBe(403);
      expectError(await s.get(`${base('wh_other')}/${id}`), 404, 40412);
      expectError(await s.post(`${base('wh_other')}/${id}/update`, { description: 'mine now' }), 404, 40412);
      expectError(await s.call('DELETE', `${base('wh_other')}/${id}`), 404, 40412);
      expectError(await s.get(`${base('wh_other')}/${id}/deliveries`), 404, 40412);
      expect((await s.get(`${base(crm)}/${id}`)).body.data.description).toBe('test receiver');
    });
  });

  describe('delivery', () => {
    const crm = 'wh_deliver';
    let r: Receiver;
    let hook: { webhook_id: string; secret: string };
    let first: Got;

    it('POSTs each subscribed event once, signed, with the event id as webhook-id; the same events again deliver nothing', async () => {
      r = await receiver();
      hook = await subscribe(crm, r.url, ['coupon.claimed', 'points.earned']);
      const events = [
        event(crm, 'coupon.claimed', 'm1', { data_json: JSON.stringify({ card_id: 'c1', code: 'X1', member_no: 'm1' }) }),
        event(crm, 'points.spent', 'm1'),
        event(crm, 'points.earned', 'm2', { data_json: JSON.stringify({ member_no: 'm2', points: '10.0000' }) }),
        event('wh_nobody', 'coupon.claimed', 'm1'), // a tenant without subscriptions: not kept
      ];
      expect(await ingest(events)).toEqual({ accepted: 3, deliveries: 2 });
      await untilGot(r, 2);

      const wh = new Webhook(hook.secret);
      expect(r.ids().sort()).toEqual([events[0].event_id, events[2].event_id].sort());
      for (const got of r.got) {
        const sent = events.find((e) => e.event_id === got.id)!;
        expect(() => wh.verify(got.raw, got.headers)).not.toThrow();
        expect(got.headers['content-type']).toMatch(/^application\/json/);
        expect(got.body).toEqual({ id: sent.event_id, type: sent.type, timestamp: sent.occurred_at, crm_id: crm, data: JSON.parse(sent.data_json) });
        expect(Number(got.headers['webhook-timestamp'])).toBeCloseTo(Date.now() / 1000 + offset / 1000, -1);
      }
      first = r.got[0];
      await untilDelivery(crm, hook.webhook_id, events[2].event_id, (d) => d.status === 'delivered', 'both delivered');
      const rows = await deliveries(crm, hook.webhook_id);
      expect(rows).toHaveLength(2);
      for (const d of rows)
        expect(d).toMatchObject({ status: 'delivered', attempts: 1, last_status: 200, next_time: null, delivered_time: expect.any(String) });

      // A forwarder that sends again (it died before deleting its outbox rows): nothing new.
      expect(await ingest(events)).toEqual({ accepted: 0, deliveries: 0 });
      await new Promise((resolve) => setTimeout(resolve, 300)); // several polls of the worker
      expect(r.got).toHaveLength(2);
      expect(await deliveries(crm, hook.webhook_id)).toHaveLength(2);
    });

    it('signatures are real: a wrong secret or a changed body fails verification', () => {
      expect(() => new Webhook(hook.secret).verify(first.raw, first.headers)).not.toThrow();
      const wrong = `whsec_${randomBytes(32).toString('base64')}`;
      expect(() => new Webhook(wrong).verify(first.raw, first.headers)).toThrow(/signature/i);
      expect(() => new Webhook(hook.secret).verify(first.raw.replace('"crm_id"', '"crm_id" '), first.headers)).toThrow(/signature/i);
      expect(() => new Webhook(hook.secret).verify(first.raw, { ...first.headers, 'webhook-id': 'points-0' })).toThrow(/signature/i);
      expect(signedWith(hook.secret, first)).toBe(true);
      expect(signedWith(wrong, first)).toBe(false);
    });

    it('after rotate_secret signs with both secrets for 24 hours, then with the new one only', async () => {
      const rotated = await s.post(`${base(crm)}/${hook.webhook_id}/rotate_secret`, {});
      expect(rotated.body.code).toBe(0);
      const secret2 = rotated.body.data.secret as string;
      expect(secret2).toMatch(/^whsec_/);
      expect(secret2).not.toBe(hook.secret);
      expect((await s.get(`${base(crm)}/${hook.webhook_id}`)).body.data).not.toHaveProperty('secret');

      const e1 = event(crm, 'coupon.claimed', 'm3');
      await ingest([e1]);
      await untilGot(r, 3);
      const got = r.got[2];
      expect(got.id).toBe(e1.event_id);
      expect(signatures(got)).toHaveLength(2);
      expect(() => new Webhook(secret2).verify(got.raw, got.headers)).not.toThrow();
      expect(() => new Webhook(hook.secret).verify(got.raw, got.headers)).not.toThrow();

      await moveClock(24 * HOUR + MINUTE);
      const e2 = event(crm, 'coupon.claimed', 'm3');
      await ingest([e2]);
      await untilGot(r, 4);
      const later = r.got[3];
      expect(signatures(later)).toHaveLength(1);
      expect(signedWith(secret2, later)).toBe(true);
      expect(signedWith(hook.secret, later)).toBe(false);
    });
  });

  describe('retries', () => {
    it('500 three times then 200: attempts at 5 s, 5 min and 30 min; one delivery, delivered after 4 attempts', async () => {
      const crm = 'wh_retry';
      const r = await receiver();
      let failures = 3;
      r.plan = () => (failures-- > 0 ? 500 : 200);
      const hook = await subscribe(crm, r.url, ['points.earned']);
      const e = event(crm, 'points.earned', 'm1');
      await ingest([e]);
      await untilGot(r, 1);
      let d = await untilDelivery(crm, hook.webhook_id, e.event_id, settled(1), 'attempt 1 written');
      for (const [i, delay] of DELAYS.slice(0, 3).entries()) {
        expect(d).toMatchObject({ status: 'pending', attempts: i + 1, last_status: 500, last_error: expect.stringMatching(/^HTTP 500/), delivered_time: null });
        const wait = shanghaiMs(d.next_time) - shanghaiMs(d.last_attempt_time);
        expect(Math.abs(wait - delay)).toBeLessThanOrEqual(SECOND);
        // Not before its time.
        await moveClock(delay - 2 * SECOND);
        await new Promise((resolve) => setTimeout(resolve, 150));
        expect(r.got).toHaveLength(i + 1);
        await moveClock(3 * SECOND);
        await untilGot(r, i + 2);
        d = await untilDelivery(crm, hook.webhook_id, e.event_id, settled(i + 2), `attempt ${i + 2} written`);
      }
      expect(d).toMatchObject({ status: 'delivered', attempts: 4, last_status: 200, last_error: null, next_time: null, delivered_time: expect.any(String) });
      expect(r.ids()).toEqual([e.event_id, e.event_id, e.event_id, e.event_id]);
      expect(r.got.map((g) => g.answered)).toEqual([500, 500, 500, 200]);
      expect(await deliveries(crm, hook.webhook_id)).toHaveLength(1);
      expect((await s.get(`${base(crm)}/${hook.webhook_id}`)).body.data).toMatchObject({ status: 'enabled', failing_since: null });
    });

    it('500 for the whole schedule: the delivery fails after 8 attempts (~27.6 h), the endpoint is disabled saying why; enable and retry deliver again', async () => {
      const crm = 'wh_giveup';
      const r = await receiver();
      r.plan = () => 500;
      const hook = await subscribe(crm, r.url, ['coupon.redeemed']);
      const e = event(crm, 'coupon.redeemed', 'm1');
      await ingest([e]);
      await untilGot(r, 1);
      await untilDelivery(crm, hook.webhook_id, e.event_id, settled(1), 'attempt 1 written');
      for (const [i, delay] of DELAYS.entries()) {
        await moveClock(delay + SECOND);
        await untilGot(r, i + 2);
        await untilDelivery(crm, hook.webhook_id, e.event_id, settled(i + 2), `attempt ${i + 2} written`);
      }
      const failed = await untilDelivery(crm, hook.webhook_id, e.event_id, (x) => x.status === 'failed', 'the delivery failed');
      expect(failed).toMatchObject({ status: 'failed', attempts: 8, last_status: 500, next_time: null, delivered_time: null });
      const view = await s.eventually('the endpoint disabled', async () => {
        const w = (await s.get(`${base(crm)}/${hook.webhook_id}`)).body.data;
        return w.status === 'disabled' ? w : undefined;
      });
      expect(view.disabled_reason).toMatch(/HTTP 500/);
      expect(view.disabled_reason).toMatch(/receiver says no/);
      expect((await deliveries(crm, hook.webhook_id, '&status=failed')).map((d) => d.event_id)).toEqual([e.event_id]);

      // Disabled: an event that comes meanwhile is kept (for a replay) but not delivered to it.
      expect(await ingest([event(crm, 'coupon.redeemed', 'm2')])).toEqual({ accepted: 1, deliveries: 0 });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(r.got).toHaveLength(8);

      r.plan = () => 200;
      expect((await s.post(`${base(crm)}/${hook.webhook_id}/enable`, {})).body.data).toMatchObject({
        status: 'enabled',
        disabled_reason: null,
        failing_since: null,
      });
      const e2 = event(crm, 'coupon.redeemed', 'm2');
      expect(await ingest([e2])).toEqual({ accepted: 1, deliveries: 1 });
      await untilGot(r, 9);
      expect(r.got[8].id).toBe(e2.event_id);
      await untilDelivery(crm, hook.webhook_id, e2.event_id, (x) => x.status === 'delivered', 'the new event delivered');

      const retried = await s.post(`${base(crm)}/${hook.webhook_id}/deliveries/${failed.delivery_id}/retry`, {});
      expect(retried.body.code).toBe(0);
      expect(retried.body.data).toMatchObject({ delivery_id: failed.delivery_id, attempts: 0 });
      await untilGot(r, 10);
      expect(r.got[9].id).toBe(e.event_id);
      expect(await untilDelivery(crm, hook.webhook_id, e.event_id, (x) => x.status === 'delivered', 'the retried delivery delivered')).toMatchObject({
        attempts: 1,
        last_status: 200,
      });
      expectError(await s.post(`${base(crm)}/${hook.webhook_id}/deliveries/999999/retry`, {}), 404, 40413);
    });
  });

  it("keeps each member's order: a member's 2nd event waits while the 1st fails, other members' go", async () => {
    const crm = 'wh_order';
    const r = await receiver();
    const hook = await subscribe(crm, r.url, ['points.earned', 'points.spent']);
    const a1 = event(crm, 'points.earned', 'ma');
    const a2 = event(crm, 'points.spent', 'ma');
    const b = [event(crm, 'points.earned', 'mb'), event(crm, 'points.spent', 'mb'), event(crm, 'points.earned', 'mb')];
    let a1Fails = true;
    r.plan = (g) => (g.id === a1.event_id && a1Fails ? 500 : 200);
    await ingest([a1, a2, ...b]);
    await untilGot(r, 4);
    await untilDelivery(crm, hook.webhook_id, b[2].event_id, (x) => x.status === 'delivered', "the other member's events delivered");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.ids()).not.toContain(a2.event_id);
    expect(r.ids().filter((id) => id === a1.event_id)).toHaveLength(1);
    expect(r.delivered().map((g) => g.id)).toEqual(b.map((e) => e.event_id));
    expect(await deliveryOf(crm, hook.webhook_id, a2.event_id)).toMatchObject({ status: 'pending', attempts: 0 });

    a1Fails = false;
    await moveClock(5 * SECOND + SECOND);
    await untilDelivery(crm, hook.webhook_id, a2.event_id, (x) => x.status === 'delivered', "the member's 2nd event delivered");
    const ids = r.ids();
    expect(ids.filter((id) => id === a1.event_id)).toHaveLength(2);
    expect(ids.lastIndexOf(a1.event_id)).toBeLessThan(ids.indexOf(a2.event_id));
    expect(ids.filter((id) => id === a2.event_id)).toHaveLength(1);
  });

  it('loses nothing when the receiver goes away mid-run (connection refused) and comes back', async () => {
    const crm = 'wh_gone';
    const r = await receiver();
    r.plan = () => 200;
    const hook = await subscribe(crm, r.url, ['coupon.claimed']);
    const events = Array.from({ length: 300 }, (_, i) => event(crm, 'coupon.claimed', `m${i % 30}`));
    await ingest(events);
    await untilGot(r, 20);
    await r.close();
    const before = new Set(r.ids()).size;
    expect(before).toBeLessThan(events.length);
    // Refused attempts are written as such.
    await s.eventually('a refused attempt written', async () => {
      const [row] = await s.sql(`SELECT last_error FROM webhook.delivery WHERE crm_id = $1 AND last_status IS NULL AND last_error IS NOT NULL LIMIT 1`, [crm]);
      return row ? row : undefined;
    });

    await r.open();
    // Failed ones wait 5 s, 5 min or 30 min: move past them.
    await moveClock(HOUR);
    await s.eventually(
      'every event delivered',
      async () => {
        const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM webhook.delivery WHERE crm_id = $1 AND status <> 'delivered'`, [crm]);
        if (n > 0) await moveClock(HOUR); // a member's later event failed after the earlier one was retried
        return n === 0 ? true : undefined;
      },
      30_000,
      250,
    );
    const distinct = new Set(r.delivered().map((g) => g.id));
    expect(distinct.size).toBe(events.length);
    expect([...distinct].sort()).toEqual(events.map((e) => e.event_id).sort());
    expect(await deliveries(crm, hook.webhook_id, '&status=pending')).toEqual([]);
  });

  it('replays exactly the events of a range (tenant zone, both ends included) of the subscription types', async () => {
    const crm = 'wh_replay';
    const r = await receiver();
    const hook = await subscribe(crm, r.url, ['coupon.claimed', 'points.earned']);
    const at = (text: string) => new Date(shanghaiMs(text)).toISOString();
    const before = event(crm, 'coupon.claimed', 'm1', { occurred_at: at('2026-11-01 09:59:59') });
    const start = event(crm, 'coupon.claimed', 'm1', { occurred_at: at('2026-11-01 10:00:00') });
    const mid = event(crm, 'points.earned', 'm2', { occurred_at: at('2026-11-01 10:30:00') });
    const otherType = event(crm, 'coupon.redeemed', 'm2', { occurred_at: at('2026-11-01 10:30:00') });
    const end = event(crm, 'points.earned', null, { occurred_at: at('2026-11-01 10:59:59') });
    const after = event(crm, 'coupon.claimed', 'm1', { occurred_at: at('2026-11-01 11:00:00') });
    const all = [before, start, mid, otherType, end, after];
    expect(await ingest(all)).toEqual({ accepted: 6, deliveries: 5 });
    await untilGot(r, 5);
    await s.eventually('first deliveries done', async () => ((await deliveries(crm, hook.webhook_id, '&status=delivered')).length === 5 ? true : undefined));

    const res = await s.post(`${base(crm)}/${hook.webhook_id}/replay`, { from: '2026-11-01 10:00:00', to: '2026-11-01 10:59:59' });
    expect(res.body).toMatchObject({ code: 0, data: { replayed: 3 } });
    await untilGot(r, 8);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.got).toHaveLength(8);
    expect(r.ids().slice(5).sort()).toEqual([start.event_id, mid.event_id, end.event_id].sort());
    for (const g of r.got.slice(5)) expect(signedWith(hook.secret, g)).toBe(true);
    expect(r.got.slice(5).find((g) => g.id === mid.event_id)!.body).toEqual(r.got.find((g) => g.id === mid.event_id)!.body);
    expect((await s.post(`${base(crm)}/${hook.webhook_id}/replay`, { from: '2026-11-02 00:00:00', to: '2026-11-02 23:59:59' })).body.data).toEqual({
      replayed: 0,
    });
    expectError(await s.post(`${base(crm)}/wh_nosuch/replay`, { from: '2026-11-01 10:00:00', to: '2026-11-01 10:59:59' }), 404, 40412);
  });

  // Last: it kills the suite's webhook-service and starts another.
  it('a webhook-service killed (SIGKILL) mid-delivery loses nothing: its leases run out and another delivers', async () => {
    const crm = 'wh_kill';
    const r = await receiver();
    r.plan = () => 'hang';
    const hook = await subscribe(crm, r.url, ['points.earned']);
    const events = Array.from({ length: 10 }, (_, i) => event(crm, 'points.earned', `m${i}`));
    await ingest(events);
    await untilGot(r, 10);
    const [worker] = s.processes('webhook-service');
    await worker.kill('SIGKILL');
    r.plan = () => 200;
    s.spawn('webhook-service');
    await s.eventually('a new webhook-service answering', async () => ((await s.get(`${base(crm)}/${hook.webhook_id}`)).body.code === 0 ? true : undefined));
    // Leased until the attempt's timeout + 30 s: not before.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(r.got).toHaveLength(10);
    const pending = await deliveries(crm, hook.webhook_id, '&status=pending');
    expect(pending).toHaveLength(10);
    for (const d of pending) expect(d.attempts).toBe(1);

    await moveClock(TIMEOUT_MS + 30 * SECOND + SECOND);
    await s.eventually(
      'every event delivered',
      async () => ((await deliveries(crm, hook.webhook_id, '&status=delivered')).length === 10 ? true : undefined),
      20_000,
      100,
    );
    expect(new Set(r.delivered().map((g) => g.id))).toEqual(new Set(events.map((e) => e.event_id)));
    for (const d of await deliveries(crm, hook.webhook_id)) expect(d).toMatchObject({ status: 'delivered', attempts: 2 });
  });
});
