import Bull from 'bull';
import { lastValueFrom } from 'rxjs';
import {
  CARD_EVENTS_PER_JOB,
  CardEvent,
  CardEventBatch,
  cardEventBatchJobId,
  CardFact,
  CardFactsPage,
  CardPattern,
  Envelope,
  Queue,
  Service,
} from '@app/domain';
import { RedisStreamsClient } from '@app/platform';
import { Answer, Suite } from './support/suite';
import { uid } from './support/expect';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * Card events through real HTTP, PostgreSQL and Redis: every state change of member codes
 * writes its outbox rows in its own transaction, and card-service's relay moves them to
 * the `card-events` Bull queue, in jobs of up to CARD_EVENTS_PER_JOB events of one tenant.
 * No dashboard runs here, so the relayed jobs wait in the queue, where the test reads
 * them (every job checked, its events exactly, field by field) with a Bull client. Refused
 * and repeated calls must add nothing. The card-service clock is moved by the harness
 * (setClock); sweeps run every 300 ms and the relay polls every 50 ms.
 */
describe('card events (outbox -> card-events queue)', () => {
  let s: Suite;
  let queue: Bull.Queue<CardEventBatch>;
  const crm = 'crm_card_events';
  const member = `/api/crm/card/${crm}/member`;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'card_events',
      services: ['card-service'],
      controlClock: true,
      env: { EXPIRY_SWEEP_MS: '300', PRESENT_TIMEOUT_HOURS: '24', OUTBOX_POLL_MS: '50' },
    });
    // card-service registers Bull with the prefix 'loyalty'; nothing here processes the queue.
    queue = new Bull(Queue.CARD_EVENTS, s.redisUrl, { prefix: 'loyalty' });
  });
  afterAll(async () => {
    await queue?.close();
    await s?.stop();
  });

  /** A card with stock, valid for ever and usable at any time unless `over` says otherwise; waits for its stock. */
  const createCard = (title: string, over: Record<string, unknown> = {}, quantity = 20, tenant = crm) =>
    s.createStockedCard(tenant, { title, total_quantity: quantity, ...over });

  const receive = (receivedId: string, memberNo: string, cardInfo: Record<string, number>, outStr = 'wechat_mp') =>
    s.post(`${member}/receive`, { received_id: receivedId, member_no: memberNo, out_str: outStr, card_info: cardInfo });
  /** Claims `n` codes of one card; answers the codes. */
  async function claim(cardId: string, memberNo: string, n = 1): Promise<string[]> {
    const res = await receive(uid('rcv'), memberNo, { [cardId]: n });
    expect(res.body).toMatchObject({ code: 0 });
    return res.body.data.map((c: { card_code: string }) => c.card_code);
  }
  const present = (memberNo: string, cardId: string, code: string, presentId: string) =>
    s.post(`${member}/present`, { member_no: memberNo, card_id: cardId, card_code: code, presant_extra: '送你', present_id: presentId });
  const presentReceive = (memberNo: string, presentId: string) => s.post(`${member}/present_receive`, { member_no: memberNo, present_id: presentId });
  const redeem = (memberNo: string, cardId: string, code: string, redeemId: string, channel = 'store_01') =>
    s.post(`${member}/redeem`, { member_no: memberNo, card_id: cardId, card_code: code, redeem_channel: channel, redeem_id: redeemId, redeem_extra: '已核销' });
  const obsolete = (memberNo: string, cardId: string, code: string) =>
    s.post(`${member}/obsolete`, { member_no: memberNo, card_id: cardId, card_code: code, operator: 'ops_zhang' });

  function expectCode(res: Answer, code: number): void {
    expect(res.body.code).toBe(code);
  }

  const one = async <T = any>(sql: string, params: unknown[]): Promise<T> => (await s.sql<T>(sql, params))[0];
  const iso = (d: Date) => d.toISOString();

  /** Waits until the relay has moved every outbox row (a change answered has committed its rows; relayed rows stay until their job completed). */
  const relayed = () =>
    s.eventually(
      'the outbox to be relayed',
      async () => ((await one<{ n: number }>(`SELECT count(*)::int AS n FROM card.outbox WHERE relayed_at IS NULL`, [])).n === 0 ? true : undefined),
      20_000,
      50,
    );

  const byEventId = (a: CardEvent, b: CardEvent) => Number(BigInt(a.event_id) - BigInt(b.event_id));

  /**
   * Every waiting job (after the outbox is empty), each checked as the relay must add it:
   * id = cardEventBatchJobId, 1 to CARD_EVENTS_PER_JOB events, all of the job's tenant (a
   * job never mixes tenants), in event_id order, with the relay's retry options.
   */
  async function relayedJobs(): Promise<Array<Bull.Job<CardEventBatch>>> {
    await relayed();
    const jobs = await queue.getJobs(['waiting'], 0, -1);
    for (const j of jobs) {
      const { crm_id, events } = j.data;
      expect(j.id).toBe(cardEventBatchJobId(j.data));
      expect(String(j.id).startsWith(`${crm_id}.${events[0].event_id}-${events[events.length - 1].event_id}.`)).toBe(true);
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.length).toBeLessThanOrEqual(CARD_EVENTS_PER_JOB);
      expect(events.filter((e) => e.crm_id !== crm_id)).toEqual([]);
      expect(events.map((e) => e.event_id)).toEqual([...events].sort(byEventId).map((e) => e.event_id));
      expect(j.opts).toMatchObject({ removeOnComplete: { age: expect.any(Number) }, removeOnFail: false, attempts: expect.any(Number) });
      expect(j.opts.attempts).toBeGreaterThan(1);
    }
    return jobs;
  }

  /** Every relayed event, the jobs flattened. */
  const relayedEvents = async (): Promise<CardEvent[]> => (await relayedJobs()).flatMap((j) => j.data.events);

  /** Every relayed event of a card, in event_id order. */
  async function eventsOf(cardId: string): Promise<CardEvent[]> {
    return (await relayedEvents()).filter((e) => e.card_id === cardId).sort(byEventId);
  }

  /** The event as the contract says, for a test's expectation: every field present. */
  const event = (e: Omit<CardEvent, 'crm_id' | 'event_id'>): CardEvent => ({ crm_id: crm, event_id: expect.stringMatching(/^\d+$/), ...e });

  describe('claims', () => {
    it('writes one claim event per card of a claim with its count, out_str and title; repeats, conflicts and refusals add none', async () => {
      const a = await createCard('事件券 A');
      const b = await createCard('事件券 B');
      const m = uid('m');
      const rid = uid('rcv');
      const res = await receive(rid, m, { [a]: 2, [b]: 3 }, 'mini_app');
      expect(res.body).toMatchObject({ code: 0 });
      expect(res.body.data).toHaveLength(5);
      const { received_time } = await one(`SELECT received_time FROM card.member_receive WHERE crm_id = $1 AND received_id = $2`, [crm, rid]);
      const at = iso(received_time);
      const eventsA = await eventsOf(a);
      const eventsB = await eventsOf(b);
      expect(eventsA).toEqual([
        event({ kind: 'claim', card_id: a, title: '事件券 A', member_no: m, count: 2, channel: 'mini_app', occurred_at: at, day_of: at, ref: rid }),
      ]);
      expect(eventsB).toEqual([
        event({ kind: 'claim', card_id: b, title: '事件券 B', member_no: m, count: 3, channel: 'mini_app', occurred_at: at, day_of: at, ref: rid }),
      ]);
      expect(eventsA[0].event_id).not.toBe(eventsB[0].event_id);

      // The same claim again answers the same codes and adds nothing; another payload under its id is a conflict.
      const again = await receive(rid, m, { [a]: 2, [b]: 3 }, 'mini_app');
      expect(again.body).toEqual(res.body);
      expectCode(await receive(rid, m, { [a]: 1 }, 'mini_app'), 40901);
      // Refused: out of stock, an unknown card in the claim, over get_limit.
      expectCode(await receive(uid('rcv'), m, { [a]: 100 }), 40903);
      expectCode(await receive(uid('rcv'), m, { [a]: 1, no_such_card: 1 }), 40402);
      const limited = await createCard('限领券', { get_limit: 1 });
      expect(await claim(limited, m)).toHaveLength(1);
      expectCode(await receive(uid('rcv'), m, { [limited]: 1 }), 40904);
      expect(await eventsOf(a)).toEqual(eventsA);
      expect(await eventsOf(b)).toEqual(eventsB);
      expect((await eventsOf(limited)).map((e) => [e.kind, e.count])).toEqual([['claim', 1]]);
    });

    it('gives 50 concurrent claims (and copies of some) of one card exactly one event per successful claim, counts summing to the codes issued', async () => {
      const card = await createCard('抢购券', {}, 40);
      const claims = Array.from({ length: 50 }, (_, i) => ({ rid: uid('flash'), m: uid('fm'), n: i % 3 === 0 ? 2 : 1 }));
      // The first ten are sent twice at once: the copy repeats the answer and must add nothing.
      const sent = [...claims, ...claims.slice(0, 10)];
      const answers = await Promise.all(sent.map((c) => receive(c.rid, c.m, { [card]: c.n }, 'flash')));
      for (const a of answers) expect([0, 40903]).toContain(a.body.code);
      const won = new Map<string, { m: string; n: number }>();
      answers.forEach((a, i) => {
        if (a.body.code === 0) won.set(sent[i].rid, sent[i]);
      });
      expect(won.size).toBeGreaterThan(0);
      expect(won.size).toBeLessThan(claims.length); // 67 codes asked of 40: some were refused

      const events = await eventsOf(card);
      const { received_count } = await one(`SELECT received_count::int FROM card.card_info WHERE crm_id = $1 AND card_id = $2`, [crm, card]);
      const { held } = await one(`SELECT count(*)::int AS held FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2`, [crm, card]);
      expect(events).toHaveLength(won.size);
      expect(new Set(events.map((e) => e.ref))).toEqual(new Set(won.keys()));
      expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);
      for (const e of events) {
        expect(e).toMatchObject({ kind: 'claim', title: '抢购券', channel: 'flash', member_no: won.get(e.ref!)!.m, count: won.get(e.ref!)!.n });
      }
      const total = events.reduce((sum, e) => sum + e.count, 0);
      expect(total).toBe(received_count);
      expect(total).toBe(held);
      expect(total).toBeLessThanOrEqual(40);
    });
  });

  describe('gifts', () => {
    it('writes gift for the giver and gift_accept for the friend; repeats and refusals add none', async () => {
      const card = await createCard('转赠券');
      const giver = uid('giver');
      const friend = uid('friend');
      const [code, other] = await claim(card, giver, 2);
      const presentId = uid('pr');
      expect((await present(giver, card, code, presentId)).body).toMatchObject({ code: 0 });
      expectCode(await present(giver, card, code, presentId), 0); // repeat
      expectCode(await present(giver, card, other, presentId), 40901); // another payload under the id
      expectCode(await present(giver, card, 'no-such-code', uid('pr')), 40405);
      expectCode(await present(giver, card, code, uid('pr')), 42203); // already being gifted
      expectCode(await presentReceive(giver, presentId), 42204); // one's own gift
      expect((await presentReceive(friend, presentId)).body).toMatchObject({ code: 0 });
      expectCode(await presentReceive(friend, presentId), 0); // repeat
      expectCode(await presentReceive(uid('late'), presentId), 40905);

      const p = await one(`SELECT present_time, received_time FROM card.member_present WHERE crm_id = $1 AND present_id = $2`, [crm, presentId]);
      const events = await eventsOf(card);
      expect(events.slice(1)).toEqual([
        event({
          kind: 'gift',
          card_id: card,
          title: '转赠券',
          member_no: giver,
          count: 1,
          channel: null,
          occurred_at: iso(p.present_time),
          day_of: iso(p.present_time),
          ref: presentId,
        }),
        event({
          kind: 'gift_accept',
          card_id: card,
          title: '转赠券',
          member_no: friend,
          count: 1,
          channel: null,
          occurred_at: iso(p.received_time),
          day_of: iso(p.received_time),
          ref: presentId,
        }),
      ]);
      expect(events[0]).toMatchObject({ kind: 'claim', member_no: giver, count: 2 });
    });
  });

  describe('redemptions and voiding', () => {
    it('writes redeem with its channel; repeats, conflicts and refusals add none', async () => {
      const card = await createCard('核销券', { use_limit: 1 });
      const m = uid('m');
      const [code, second] = await claim(card, m, 2);
      const redeemId = uid('rd');
      expect((await redeem(m, card, code, redeemId, 'store_42')).body).toMatchObject({ code: 0 });
      expectCode(await redeem(m, card, code, redeemId, 'store_42'), 0); // repeat
      expectCode(await redeem(m, card, code, redeemId, 'store_43'), 40901);
      expectCode(await redeem(m, card, code, uid('rd')), 42203); // already redeemed
      expectCode(await redeem(m, card, second, uid('rd')), 40906); // over use_limit
      expectCode(await redeem(uid('nobody'), card, second, uid('rd')), 40405);
      const { redeem_time } = await one(`SELECT redeem_time FROM card.member_redeem WHERE crm_id = $1 AND redeem_id = $2`, [crm, redeemId]);
      expect((await eventsOf(card)).slice(1)).toEqual([
        event({
          kind: 'redeem',
          card_id: card,
          title: '核销券',
          member_no: m,
          count: 1,
          channel: 'store_42',
          occurred_at: iso(redeem_time),
          day_of: iso(redeem_time),
          ref: redeemId,
        }),
      ]);
    });

    it('writes void once per code voided, without a ref; voiding again or a redeemed code adds none', async () => {
      const card = await createCard('作废券');
      const m = uid('m');
      const [code, redeemed] = await claim(card, m, 2);
      expect((await redeem(m, card, redeemed, uid('rd'))).body).toMatchObject({ code: 0 });
      expect((await obsolete(m, card, code)).body).toMatchObject({ code: 0 });
      expectCode(await obsolete(m, card, code), 0); // again: the same answer
      expectCode(await obsolete(m, card, redeemed), 42203);
      const { obsoleted_time } = await one(`SELECT obsoleted_time FROM card.member_card_code WHERE crm_id = $1 AND card_code = $2`, [crm, code]);
      const events = await eventsOf(card);
      expect(events.map((e) => e.kind)).toEqual(['claim', 'redeem', 'void']);
      expect(events[2]).toEqual(
        event({
          kind: 'void',
          card_id: card,
          title: '作废券',
          member_no: m,
          count: 1,
          channel: null,
          occurred_at: iso(obsoleted_time),
          day_of: iso(obsoleted_time),
          ref: null,
        }),
      );
    });
  });

  describe('with the clock moved', () => {
    afterEach(() => s.setClock(0));

    it("writes claim_reverse per card a day later, counting on the claim's day; a repeat or a refused reversal adds none", async () => {
      const a = await createCard('冲正券 A');
      const b = await createCard('冲正券 B');
      const m = uid('m');
      const rid = uid('rcv');
      expect((await receive(rid, m, { [a]: 3, [b]: 1 }, 'kiosk')).body).toMatchObject({ code: 0 });
      // A claim with a redeemed code cannot be reversed.
      const blockedRid = uid('rcv');
      const blocked = await receive(blockedRid, m, { [a]: 1 }, 'kiosk');
      expect(blocked.body).toMatchObject({ code: 0 });
      expect((await redeem(m, a, blocked.body.data[0].card_code, uid('rd'))).body).toMatchObject({ code: 0 });
      const claimed = (await eventsOf(a)).find((e) => e.ref === rid)!;
      expect(claimed).toMatchObject({ kind: 'claim', count: 3 });

      await s.setClock(DAY);
      expect((await s.post(`${member}/receive_reverse`, { received_id: rid })).body).toMatchObject({ code: 0 });
      expectCode(await s.post(`${member}/receive_reverse`, { received_id: rid }), 0); // repeat
      expectCode(await s.post(`${member}/receive_reverse`, { received_id: blockedRid }), 40907);
      expectCode(await s.post(`${member}/receive_reverse`, { received_id: 'no-such-claim' }), 40407);
      const { reversed_time } = await one(`SELECT reversed_time FROM card.member_receive WHERE crm_id = $1 AND received_id = $2`, [crm, rid]);
      expect(reversed_time.getTime() - new Date(claimed.occurred_at).getTime()).toBeGreaterThanOrEqual(DAY);
      const reversal = (card: string, title: string, count: number) =>
        event({
          kind: 'claim_reverse',
          card_id: card,
          title,
          member_no: m,
          count,
          channel: 'kiosk',
          occurred_at: iso(reversed_time),
          day_of: claimed.occurred_at,
          ref: rid,
        });
      expect((await eventsOf(a)).filter((e) => e.kind === 'claim_reverse')).toEqual([reversal(a, '冲正券 A', 3)]);
      expect((await eventsOf(b)).filter((e) => e.kind === 'claim_reverse')).toEqual([reversal(b, '冲正券 B', 1)]);
      expect((await eventsOf(a)).map((e) => e.kind)).toEqual(['claim', 'claim', 'redeem', 'claim_reverse']);
    });

    it("writes redeem_reverse a day later, counting on the redemption's day and channel; a repeat adds none", async () => {
      const card = await createCard('核销冲正券');
      const m = uid('m');
      const [code] = await claim(card, m);
      const redeemId = uid('rd');
      expect((await redeem(m, card, code, redeemId, 'store_07')).body).toMatchObject({ code: 0 });
      const redeemed = (await eventsOf(card)).find((e) => e.kind === 'redeem')!;
      await s.setClock(DAY);
      expect((await s.post(`${member}/redeem_reverse`, { redeem_id: redeemId })).body).toMatchObject({ code: 0 });
      expectCode(await s.post(`${member}/redeem_reverse`, { redeem_id: redeemId }), 0); // repeat
      expectCode(await s.post(`${member}/redeem_reverse`, { redeem_id: 'no-such-redeem' }), 40408);
      const { rollback_time } = await one(`SELECT rollback_time FROM card.member_redeem WHERE crm_id = $1 AND redeem_id = $2`, [crm, redeemId]);
      expect(rollback_time.getTime() - new Date(redeemed.occurred_at).getTime()).toBeGreaterThanOrEqual(DAY);
      const events = await eventsOf(card);
      expect(events.map((e) => e.kind)).toEqual(['claim', 'redeem', 'redeem_reverse']);
      expect(events[2]).toEqual(
        event({
          kind: 'redeem_reverse',
          card_id: card,
          title: '核销冲正券',
          member_no: m,
          count: 1,
          channel: 'store_07',
          occurred_at: iso(rollback_time),
          day_of: redeemed.occurred_at,
          ref: redeemId,
        }),
      );
    });

    it('writes gift_return for the giver when the sweep sends a gift back', async () => {
      const card = await createCard('退回券');
      const giver = uid('giver');
      const [code] = await claim(card, giver);
      const presentId = uid('pr');
      expect((await present(giver, card, code, presentId)).body).toMatchObject({ code: 0 });
      await s.setClock(25 * HOUR);
      const p = await s.eventually(
        'the sweep to send the gift back',
        async () => {
          const row = await one(`SELECT go_back_time FROM card.member_present WHERE crm_id = $1 AND present_id = $2`, [crm, presentId]);
          return row.go_back_time ? row : undefined;
        },
        20_000,
      );
      expectCode(await presentReceive(uid('friend'), presentId), 40905);
      const events = await eventsOf(card);
      expect(events.map((e) => e.kind)).toEqual(['claim', 'gift', 'gift_return']);
      expect(events[2]).toEqual(
        event({
          kind: 'gift_return',
          card_id: card,
          title: '退回券',
          member_no: giver,
          count: 1,
          channel: null,
          occurred_at: iso(p.go_back_time),
          day_of: iso(p.go_back_time),
          ref: presentId,
        }),
      );
    });

    it('writes expire per member and card from the sweep, and redeem_reverse plus expire when a reversal finds the code ended', async () => {
      const card = await createCard('过期券', { date_type: 2, start_day_count: 0, expire_day_count: 1 });
      const m1 = uid('m');
      const m2 = uid('m');
      await claim(card, m1, 3);
      const [r2, ...m2codes] = await claim(card, m2, 3);
      const redeemId = uid('rd');
      expect((await redeem(m2, card, r2, redeemId)).body).toMatchObject({ code: 0 });
      const redeemed = (await eventsOf(card)).find((e) => e.kind === 'redeem')!;
      await s.setClock(2 * DAY);
      await s.eventually(
        'the sweep to expire the codes',
        async () => {
          const { n } = await one<{ n: number }>(
            `SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND code_status = 4`,
            [crm, card],
          );
          return n === 5 ? true : undefined;
        },
        20_000,
      );
      const sweeps = await s.sql(
        `SELECT member_no, count(*)::int AS n, min(create_time) AS at FROM card.member_card_expired WHERE crm_id = $1 AND card_id = $2 GROUP BY member_no`,
        [crm, card],
      );
      const expired = (await eventsOf(card)).filter((e) => e.kind === 'expire');
      for (const e of expired) {
        const at = sweeps.find((r) => r.member_no === e.member_no)!.at;
        expect(e).toEqual(
          event({
            kind: 'expire',
            card_id: card,
            title: '过期券',
            member_no: e.member_no,
            count: e.count,
            channel: null,
            occurred_at: iso(at),
            day_of: iso(at),
            ref: null,
          }),
        );
      }
      const perMember = (m: string) => expired.filter((e) => e.member_no === m).reduce((sum, e) => sum + e.count, 0);
      expect([perMember(m1), perMember(m2)]).toEqual([3, m2codes.length]);

      // The redeemed code ended meanwhile: its reversal leaves it expired, with both events.
      expect((await s.post(`${member}/redeem_reverse`, { redeem_id: redeemId })).body).toMatchObject({ code: 0 });
      const { rollback_time } = await one(`SELECT rollback_time FROM card.member_redeem WHERE crm_id = $1 AND redeem_id = $2`, [crm, redeemId]);
      const tail = (await eventsOf(card)).slice(-2);
      expect(tail).toEqual([
        event({
          kind: 'redeem_reverse',
          card_id: card,
          title: '过期券',
          member_no: m2,
          count: 1,
          channel: 'store_01',
          occurred_at: iso(rollback_time),
          day_of: redeemed.occurred_at,
          ref: redeemId,
        }),
        event({
          kind: 'expire',
          card_id: card,
          title: '过期券',
          member_no: m2,
          count: 1,
          channel: null,
          occurred_at: iso(rollback_time),
          day_of: iso(rollback_time),
          ref: null,
        }),
      ]);
    });
  });

  it("groups a pass of two tenants' rows into jobs of one tenant each, at most CARD_EVENTS_PER_JOB events, in event_id order", async () => {
    // 1,300 rows of two tenants interleaved (9 of A for every 4 of B), committed at once: the
    // relay takes 1,000 in one pass and the other 300 in the next.
    const [a, b] = ['crm_relay_a', 'crm_relay_b'];
    const rows = await s.sql<{ crm_id: string; event_id: string }>(
      `INSERT INTO card.outbox (crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of, ref)
       SELECT CASE WHEN i % 13 < 9 THEN $1 ELSE $2 END, 'claim', 'card-relay', 'relay', 'm' || i, 1, 'x', now(), now(), 'r' || i
         FROM generate_series(1, 1300) AS i ORDER BY i
       RETURNING crm_id, event_id::text`,
      [a, b],
    );
    expect(rows).toHaveLength(1_300);
    const jobs = (await relayedJobs()).filter((j) => j.data.crm_id === a || j.data.crm_id === b);
    // Every row once, in no more jobs than the passes and the size need.
    const sent = jobs.flatMap((j) => j.data.events);
    expect(sent.map((e) => `${e.crm_id}.${e.event_id}`).sort()).toEqual(rows.map((r) => `${r.crm_id}.${r.event_id}`).sort());
    expect(Math.max(...jobs.map((j) => j.data.events.length))).toBe(CARD_EVENTS_PER_JOB);
    const perTenant = (t: string) => rows.filter((r) => r.crm_id === t).length;
    for (const t of [a, b]) {
      const mine = jobs.filter((j) => j.data.crm_id === t);
      expect(mine.length).toBeLessThanOrEqual(Math.ceil(perTenant(t) / CARD_EVENTS_PER_JOB) + 1);
      for (const e of mine.flatMap((j) => j.data.events)) expect(e).toMatchObject({ crm_id: t, kind: 'claim', card_id: 'card-relay', count: 1 });
    }
  });

  it('keeps every relayed row until its job completes (marked with the job), every event on the queue once, every job under its id', async () => {
    const jobs = await relayedJobs();
    expect(jobs.length).toBeGreaterThan(0);
    const ids = jobs.map((j) => j.id);
    expect(new Set(ids).size).toBe(ids.length);
    const events = jobs.flatMap((j) => j.data.events.map((e) => `${e.crm_id}.${e.event_id}`));
    expect(new Set(events).size).toBe(events.length);
    // Nothing processes the queue here: every row stays, marked relayed with the id of a waiting job that carries it.
    const rows = await s.sql<{ crm_id: string; event_id: string; job_id: string | null; relayed_at: Date | null }>(
      `SELECT crm_id, event_id::text, job_id, relayed_at FROM card.outbox`,
    );
    expect(rows.length).toBe(events.length);
    const carried = new Map(jobs.flatMap((j) => j.data.events.map((e) => [`${e.crm_id}.${e.event_id}`, String(j.id)] as const)));
    for (const r of rows) {
      expect(r.relayed_at).not.toBeNull();
      expect(r.job_id).toBe(carried.get(`${r.crm_id}.${r.event_id}`));
    }
  });
  /**
   * card.event_facts: the events card-service's own tables tell (for the dashboard's
   * rebuild), read over the transport page by page. After a workload of every kind in a
   * second tenant, each tenant's facts must equal the events relayed to the queue: exactly
   * (but for event_id) for every kind but expire, which the tables tell per code (the sweep
   * wrote one event per member and card of a batch), so that kind is compared summed per
   * (card, member, instant); and, as the dashboard sums them, per (kind, card, member,
   * channel, day in Asia/Shanghai of day_of).
   */
  describe("facts for the dashboard's rebuild (card.event_facts)", () => {
    const other = 'crm_card_facts';
    const otherMember = `/api/crm/card/${other}/member`;
    let client: RedisStreamsClient;
    const shanghaiDay = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' });

    beforeAll(async () => {
      client = new RedisStreamsClient({ service: Service.CARD, redisUrl: s.redisUrl, timeoutMs: 10_000 });
      await client.connect();
    });
    afterAll(() => client?.close());
    afterEach(() => s.setClock(0));

    const facts = (msg: Record<string, unknown>) => lastValueFrom(client.send<Envelope<CardFactsPage>>(CardPattern.EVENT_FACTS, msg));

    /** Every page from the first until the cursor is null; a page with a cursor is full, and no cursor comes twice. */
    async function allFacts(tenant: string, limit?: number): Promise<{ facts: CardFact[]; pages: number }> {
      const out: CardFact[] = [];
      const cursors = new Set<string>();
      let cursor: string | null = null;
      let pages = 0;
      do {
        const answer: Envelope<CardFactsPage> = await facts({
          crm_id: tenant,
          ...(limit === undefined ? {} : { limit }),
          ...(cursor === null ? {} : { cursor }),
        });
        expect(answer).toMatchObject({ code: 0, data: { facts: expect.any(Array) } });
        const page = answer.data!;
        out.push(...page.facts);
        cursor = page.cursor;
        pages++;
        if (cursor !== null) {
          expect(page.facts).toHaveLength(limit ?? 5_000);
          expect(cursors.has(cursor)).toBe(false);
          cursors.add(cursor);
        }
        expect(pages).toBeLessThan(2_000);
      } while (cursor !== null);
      return { facts: out, pages };
    }

    /** The relayed events of a tenant (the outbox empty first). */
    async function queued(tenant: string): Promise<CardEvent[]> {
      return (await relayedEvents()).filter((e) => e.crm_id === tenant);
    }

    const sum = (items: Array<Omit<CardEvent, 'event_id'>>, key: (e: Omit<CardEvent, 'event_id'>) => unknown[]) => {
      const out: Record<string, number> = {};
      for (const e of items) {
        const k = JSON.stringify(key(e));
        out[k] = (out[k] ?? 0) + e.count;
      }
      return out;
    };
    const byDay = (e: Omit<CardEvent, 'event_id'>) => [e.kind, e.card_id, e.member_no, e.channel, shanghaiDay.format(new Date(e.day_of))];
    const sorted = (items: Array<Omit<CardEvent, 'event_id'>>) => items.map((e) => JSON.stringify(e)).sort();
    const withoutId = ({ event_id: _id, ...rest }: CardEvent): CardFact => rest;

    /** Facts and events of a tenant agree as the comment above says; answers the facts. */
    async function expectFactsMatchEvents(tenant: string, limit?: number): Promise<CardFact[]> {
      const events = (await queued(tenant)).map(withoutId);
      const { facts: got, pages } = await allFacts(tenant, limit);
      if (limit) expect(pages).toBeGreaterThanOrEqual(Math.ceil(got.length / limit));
      for (const f of got) expect(f.crm_id).toBe(tenant);
      expect(sum(got, byDay)).toEqual(sum(events, byDay));
      expect(sorted(got.filter((f) => f.kind !== 'expire'))).toEqual(sorted(events.filter((e) => e.kind !== 'expire')));
      const expiry = (e: Omit<CardEvent, 'event_id'>) => [e.card_id, e.title, e.member_no, e.channel, e.occurred_at, e.day_of, e.ref];
      expect(
        sum(
          got.filter((f) => f.kind === 'expire'),
          expiry,
        ),
      ).toEqual(
        sum(
          events.filter((e) => e.kind === 'expire'),
          expiry,
        ),
      );
      const titles = new Map(events.map((e) => [e.card_id, e.title]));
      for (const f of got) expect(f.title).toBe(titles.get(f.card_id));
      return got;
    }

    it('tell every claim, reversal, gift, acceptance, return, redemption, expiry and void exactly as the events did, page by page, tenant by tenant', async () => {
      const post = (p: string, body: unknown) => s.post(`${otherMember}/${p}`, body);
      const ok = async (p: string, body: unknown) => {
        const res = await post(p, body);
        expect(res.body).toMatchObject({ code: 0 });
        return res.body.data;
      };
      const claimOf = async (
        m: string,
        cardInfo: Record<string, number>,
        outStr: string,
        rid = uid('rcv'),
      ): Promise<Array<{ card_id: string; card_code: string }>> => ok('receive', { received_id: rid, member_no: m, out_str: outStr, card_info: cardInfo });
      const redeemOf = (m: string, cardId: string, code: string, redeemId: string, channel: string) =>
        ok('redeem', { member_no: m, card_id: cardId, card_code: code, redeem_channel: channel, redeem_id: redeemId, redeem_extra: '已核销' });

      // Ends at the end of the day it is claimed (Asia/Shanghai).
      const daily = await createCard('日券', { date_type: 2, start_day_count: 0, expire_day_count: 1 }, 20, other);
      const forever = await createCard('长期券', {}, 20, other);
      const gifts = await createCard('礼品券', {}, 20, other);
      const [m1, m2, m3, m4, friend] = ['m1', 'm2', 'm3', 'm4', 'friend'].map(uid);

      const [d1, , f1] = await claimOf(m1, { [daily]: 2, [forever]: 1 }, 'mini_app'); // the second daily code expires by the sweep
      const [f2, f3] = await claimOf(m2, { [forever]: 2 }, 'kiosk');
      const [g1] = await claimOf(m3, { [gifts]: 1 }, 'wechat_mp');
      const [g2] = await claimOf(m2, { [gifts]: 1 }, 'wechat_mp');
      const reversedRid = uid('rcv');
      await claimOf(m4, { [forever]: 2, [gifts]: 1 }, 'kiosk', reversedRid);
      await claimOf(m4, { [daily]: 1 }, 'kiosk');
      // A gift accepted, and one the sweep will send back.
      const accepted = uid('pr');
      await ok('present', { member_no: m2, card_id: gifts, card_code: g2.card_code, presant_extra: '送你', present_id: accepted });
      await ok('present_receive', { member_no: friend, present_id: accepted });
      const returned = uid('pr');
      await ok('present', { member_no: m3, card_id: gifts, card_code: g1.card_code, presant_extra: '送你', present_id: returned });
      // Redemptions: one kept, one reversed a day later, one reversed after its code ended.
      await redeemOf(m1, forever, f1.card_code, uid('rd'), 'store_01');
      const reversedRedeem = uid('rd');
      await redeemOf(m2, forever, f2.card_code, reversedRedeem, 'store_02');
      const endedRedeem = uid('rd');
      await redeemOf(m1, daily, d1.card_code, endedRedeem, 'store_03');
      // A code voided.
      await ok('obsolete', { member_no: m2, card_id: forever, card_code: f3.card_code, operator: 'ops_zhang' });

      await s.setClock(DAY);
      await ok('receive_reverse', { received_id: reversedRid });
      await ok('redeem_reverse', { redeem_id: reversedRedeem });
      // The sweeps: the daily codes not redeemed expire, the gift not accepted goes back.
      await s.eventually(
        'the sweeps to expire the daily codes and send the gift back',
        async () => {
          const { n } = await one<{ n: number }>(
            `SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND code_status = 4`,
            [other, daily],
          );
          const { back } = await one<{ back: boolean }>(
            `SELECT go_back_time IS NOT NULL AS back FROM card.member_present WHERE crm_id = $1 AND present_id = $2`,
            [other, returned],
          );
          return n === 2 && back ? true : undefined;
        },
        20_000,
      );
      const reversal = await ok('redeem_reverse', { redeem_id: endedRedeem });
      expect(reversal).toMatchObject({ rollback_status: 1 });
      await s.setClock(0);

      const got = await expectFactsMatchEvents(other, 3);
      const kinds = new Set(got.map((f) => f.kind));
      expect([...kinds].sort()).toEqual(['claim', 'claim_reverse', 'expire', 'gift', 'gift_accept', 'gift_return', 'redeem', 'redeem_reverse', 'void']);
      // The reversals count on the day of what they reverse, not their own.
      const claimReverse = got.filter((f) => f.kind === 'claim_reverse');
      expect(claimReverse.map((f) => [f.card_id, f.count, f.channel, f.member_no]).sort()).toEqual(
        [
          [forever, 2, 'kiosk', m4],
          [gifts, 1, 'kiosk', m4],
        ].sort(),
      );
      for (const f of claimReverse) expect(new Date(f.occurred_at).getTime() - new Date(f.day_of).getTime()).toBeGreaterThanOrEqual(DAY);
      expect(got.filter((f) => f.kind === 'expire').reduce((n, f) => n + f.count, 0)).toBe(3); // m1's second daily code and m4's by the sweep, d1 on its reversal

      // Every page size gives the same facts in the same order.
      const whole = await allFacts(other);
      expect(whole.pages).toBe(1);
      expect(whole.facts).toEqual(got);
      expect((await allFacts(other, got.length)).facts).toEqual(got);

      // The first tenant's facts are its own events (none of the second's), and a tenant with none has none.
      await expectFactsMatchEvents(crm, 7);
      expect(await facts({ crm_id: 'crm_no_cards' })).toEqual({ code: 0, msg: expect.any(String), data: { facts: [], cursor: null } });
    });

    it("refuses a cursor that is not one, or is another tenant's, and a limit out of 1..10,000, naming the field", async () => {
      const card = await createCard('游标券');
      await claim(card, uid('m'));
      await claim(card, uid('m')); // the tenant has facts: more than one page of 1
      const first = await facts({ crm_id: crm, limit: 1 });
      expect(first).toMatchObject({ code: 0, data: { cursor: expect.any(String) } });
      const cursor = first.data!.cursor!;
      const refused = (field: string) => ({ code: 40001, errors: [expect.objectContaining({ field })] });
      expect(await facts({ crm_id: crm, cursor: 'not-a-cursor' })).toMatchObject(refused('cursor'));
      expect(await facts({ crm_id: crm, cursor: 'has spaces!' })).toMatchObject(refused('cursor'));
      expect(await facts({ crm_id: crm, cursor: 42 })).toMatchObject(refused('cursor'));
      expect(await facts({ crm_id: crm, cursor: Buffer.from(JSON.stringify({ t: crm, s: 'outbox', k: [1] })).toString('base64url') })).toMatchObject(
        refused('cursor'),
      );
      expect(await facts({ crm_id: other, cursor })).toMatchObject(refused('cursor'));
      for (const limit of [0, 10_001, 2.5, '5']) expect(await facts({ crm_id: crm, limit })).toMatchObject(refused('limit'));
      expect(await facts({ limit: 10 })).toMatchObject(refused('crm_id'));
      expect(await facts({ crm_id: crm, limit: 10_000 })).toMatchObject({ code: 0 });
      expect(await facts({ crm_id: crm, cursor, limit: 1 })).toMatchObject({ code: 0, data: { facts: [expect.objectContaining({ crm_id: crm })] } });
    });

    it('is not exposed by the gateway', async () => {
      for (const p of [`/api/crm/card/${crm}/event_facts`, `/api/crm/card/${crm}/facts`]) {
        expect((await s.get(p)).status).toBe(404);
        expect((await s.post(p, {})).status).toBe(404);
      }
    });
  });
});
