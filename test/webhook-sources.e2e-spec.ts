import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { Suite } from './support/suite';
import { uid } from './support/expect';

interface Delivered {
  headers: Record<string, string>;
  raw: string;
  body: { id: string; type: string; timestamp: string; crm_id: string; data: Record<string, any> };
}

/**
 * Webhooks from the changes themselves: coupon and points changes made through the
 * gateway reach a merchant's endpoint, each once, signed, with the fields a merchant needs
 * (card-service and points-service write each event in the change's transaction; their
 * forwarders hand them to webhook-service). webhook-service down for a while delays events
 * and loses none: they wait in the services' outboxes.
 */
describe('webhooks from coupon and points changes', () => {
  let s: Suite;
  let server: Server;
  const got: Delivered[] = [];
  const crm = 'crm_wh_src';
  let adminKey: string;
  let secret: string;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        got.push({ headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])), raw, body: JSON.parse(raw) });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    s = await Suite.start({
      name: 'webhook_sources',
      services: ['card-service', 'points-service', 'webhook-service'],
      env: { WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true', WEBHOOK_POLL_MS: '20', WEBHOOK_FORWARD_POLL_MS: '20' },
    });
    adminKey = (await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' })).body.data.key as string;
    const created = await s.post(
      `/api/crm/webhooks/${crm}`,
      {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
        events: ['card.created', 'card.stock_generated', 'coupon.claimed', 'coupon.redeemed', 'points.earned', 'points.spent'],
      },
      adminKey,
    );
    expect(created.body.code).toBe(0);
    secret = created.body.data.secret as string;
  });
  afterAll(async () => {
    await s?.stop();
    server?.close();
  });

  const ofType = (type: string, where: (d: Record<string, any>) => boolean = () => true) => got.filter((g) => g.body.type === type && where(g.body.data));
  const one = (type: string, where: (d: Record<string, any>) => boolean) =>
    s.eventually(`one ${type}`, async () => (ofType(type, where).length ? ofType(type, where) : undefined), 30_000, 50);

  it('sends card.created, card.stock_generated, coupon.claimed and coupon.redeemed from the changes, each once, signed', async () => {
    const cardId = await s.createStockedCard(crm, { total_quantity: 5 });
    const receivedId = uid('rcv');
    const claim = await s.post(
      `/api/crm/card/${crm}/member/receive`,
      { received_id: receivedId, member_no: 'm-1', out_str: 'mini_program', card_info: { [cardId]: 2 } },
      adminKey,
    );
    expect(claim.body.code).toBe(0);
    const codes = (claim.body.data as Array<{ card_code: string }>).map((c) => c.card_code).sort();
    const redeemId = uid('rdm');
    const redeem = await s.post(
      `/api/crm/card/${crm}/member/redeem`,
      { member_no: 'm-1', card_id: cardId, card_code: codes[0], redeem_channel: 'store_01', redeem_id: redeemId, redeem_extra: 'at the till' },
      adminKey,
    );
    expect(redeem.body).toMatchObject({ code: 0 });

    const [created] = await one('card.created', (d) => d.card_id === cardId);
    const [generated] = await one('card.stock_generated', (d) => d.card_id === cardId);
    const [claimed] = await one('coupon.claimed', (d) => d.received_id === receivedId);
    const [redeemed] = await one('coupon.redeemed', (d) => d.redeem_id === redeemId);
    expect(created.body.data).toMatchObject({ card_id: cardId, total_quantity: 5 });
    expect(generated.body.data).toMatchObject({ card_id: cardId, status: 'done', count: 5 });
    expect(claimed.body).toMatchObject({ type: 'coupon.claimed', crm_id: crm, data: { card_id: cardId, member_no: 'm-1', count: 2, channel: 'mini_program' } });
    expect([...(claimed.body.data.codes as string[])].sort()).toEqual(codes);
    expect(redeemed.body.data).toMatchObject({ card_id: cardId, member_no: 'm-1', card_code: codes[0], redeem_id: redeemId, channel: 'store_01' });

    for (const d of [created, generated, claimed, redeemed]) {
      // Signed with the subscription's secret (verify also checks the timestamp is recent), webhook-id = the event's id.
      expect(new Webhook(secret).verify(d.raw, d.headers)).toEqual(d.body);
      expect(d.headers['webhook-id']).toBe(d.body.id);
      expect(d.body.id).toMatch(/^card-\d+$/);
    }
    // Each once: no second delivery of any of these events.
    const ids = [created, generated, claimed, redeemed].map((d) => d.body.id);
    expect(got.filter((g) => ids.includes(g.body.id))).toHaveLength(4);
  });

  it('sends points.earned and points.spent with exact points', async () => {
    const earnNo = uid('earn');
    const spendNo = uid('spend');
    expect(
      (await s.post(`/api/crm/points/${crm}/produce/direct`, { event_no: earnNo, member_no: 'm-2', event_type: 'order', points: 12.5 }, adminKey)).body.code,
    ).toBe(0);
    expect((await s.post(`/api/crm/points/${crm}/consume/direct`, { event_no: spendNo, member_no: 'm-2', points: 2.25 }, adminKey)).body.code).toBe(0);
    const [earned] = await one('points.earned', (d) => d.event_no === earnNo);
    const [spent] = await one('points.spent', (d) => d.event_no === spendNo);
    expect(earned.body.data).toMatchObject({ member_no: 'm-2', points: '12.5000' });
    expect(spent.body.data).toMatchObject({ member_no: 'm-2', points: '2.2500' });
    expect(earned.body.id).toMatch(/^points-\d+$/);
    // In order for the member: the earn was delivered before the spend.
    expect(got.indexOf(earned)).toBeLessThan(got.indexOf(spent));
  });

  it('loses nothing while webhook-service is down: the events wait in the outboxes and go when it is back', async () => {
    for (const p of s.processes('webhook-service')) await p.kill('SIGKILL');
    const earnNo = uid('earn');
    expect(
      (await s.post(`/api/crm/points/${crm}/produce/direct`, { event_no: earnNo, member_no: 'm-3', event_type: 'order', points: 1 }, adminKey)).body.code,
    ).toBe(0);
    const waiting = await s.eventually('the event to wait in the outbox', async () => {
      const [row] = await s.sql(`SELECT count(*)::int AS n FROM points.webhook_outbox WHERE crm_id = $1`, [crm]);
      return row.n >= 1 ? row.n : undefined;
    });
    expect(waiting).toBeGreaterThanOrEqual(1);
    expect(ofType('points.earned', (d) => d.event_no === earnNo)).toHaveLength(0);

    s.spawn('webhook-service', { WEBHOOK_ALLOW_PRIVATE_HOSTS: 'true', WEBHOOK_POLL_MS: '20' });
    const [earned] = await one('points.earned', (d) => d.event_no === earnNo);
    expect(earned.body.data).toMatchObject({ member_no: 'm-3', points: '1.0000' });
    expect(await s.sql(`SELECT count(*)::int AS n FROM points.webhook_outbox WHERE crm_id = $1`, [crm])).toEqual([{ n: 0 }]);
  });
});
