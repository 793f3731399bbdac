import {
  CardEventKind,
  CreateCardDto,
  CreateCardMsg,
  EXAMPLE_CARD,
  GenerateType,
  ObsoleteMsg,
  PresentMsg,
  PresentReceiveMsg,
  ReceivedIdMsg,
  ReceiveMsg,
  RedeemIdMsg,
  RedeemMsg,
} from '@app/domain';
import { ManualClock, Middle, startMiddle } from '../../../../test/support/middle';
import { CardRepository } from '../card/card.repository';
import { CardService } from '../card/card.service';
import { CARD_MIGRATIONS } from '../migrations';
import { ClaimRepository } from '../member/claim.repository';
import { ClaimService } from '../member/claim.service';
import { CodeRepository } from '../member/code.repository';
import { CodeService } from '../member/code.service';
import { GiftRepository } from '../member/gift.repository';
import { GiftService } from '../member/gift.service';
import { RedeemRepository } from '../member/redeem.repository';
import { RedeemService } from '../member/redeem.service';
import { StockQueue } from '../stock/stock.queue';
import { StockRepository } from '../stock/stock.repository';
import { StockService } from '../stock/stock.service';
import { OutboxRepository } from './outbox.repository';

interface HookRow {
  id: string;
  crm_id: string;
  type: string;
  member_no: string | null;
  occurred_at: Date;
  data: Record<string, any>;
}

/**
 * card.webhook_outbox with card-service's use cases on PostgreSQL, in-process: every card
 * change writes exactly one webhook event per card event (and card.created,
 * card.stock_generated), with its data, in the transaction of the change; a change that
 * rolls back or is refused writes none.
 */
describe('card webhook outbox on PostgreSQL', () => {
  let mid: Middle;
  let clock: ManualClock;
  const crm = 'mid_hooks';
  let last = '0';
  let n = 0;
  const id = (p: string) => `${p}-${++n}`;

  beforeAll(async () => {
    mid = await startMiddle({
      name: 'card_hooks',
      schema: 'card',
      migrations: CARD_MIGRATIONS,
      providers: [
        CardService,
        CardRepository,
        ClaimService,
        ClaimRepository,
        CodeService,
        CodeRepository,
        GiftService,
        GiftRepository,
        RedeemService,
        RedeemRepository,
        OutboxRepository,
        StockService,
        StockRepository,
        { provide: StockQueue, useValue: { enqueue: async () => undefined } },
      ],
    });
    clock = mid.clock;
  });
  afterAll(() => mid?.close());

  /** Webhook rows written since the last call, in id order. */
  async function written(): Promise<HookRow[]> {
    const rows = await mid.sql<HookRow>(
      `SELECT id::text, crm_id, type, member_no, occurred_at, data FROM card.webhook_outbox WHERE id > $1 ORDER BY webhook_outbox.id`,
      [last],
    );
    if (rows.length) last = rows[rows.length - 1].id;
    return rows;
  }
  /** The one webhook row written since the last call. */
  async function one(): Promise<HookRow> {
    const rows = await written();
    expect(rows).toHaveLength(1);
    expect(rows[0].crm_id).toBe(crm);
    expect(rows[0].occurred_at.toISOString()).toBe(clock.now().toISOString());
    return rows[0];
  }

  async function newCard(quantity: number, over: Partial<CreateCardDto> = {}): Promise<string> {
    const cardId = id('card').padEnd(32, '0');
    const msg = Object.assign(new CreateCardMsg(), {
      ...(EXAMPLE_CARD as unknown as CreateCardDto),
      crm_id: crm,
      card_id: cardId,
      date_type: 3,
      begin_time: null,
      end_time: null,
      weekdays: null,
      monthdays: null,
      day_begin_time: null,
      day_end_time: null,
      generate_type: GenerateType.SYSTEM,
      total_quantity: quantity,
      ...over,
    });
    expect((await mid.get(CardService).create(msg)).code).toBe(0);
    return cardId;
  }
  const claim = (memberNo: string, cardId: string, count: number, receivedId = id('rcv')) =>
    mid
      .get(ClaimService)
      .receive(Object.assign(new ReceiveMsg(), { crm_id: crm, received_id: receivedId, member_no: memberNo, out_str: 'mini', card_info: { [cardId]: count } }));

  it('card.created and card.stock_generated: one event each, in the create transaction and when the stock job finishes', async () => {
    await written();
    const cardId = await newCard(5);
    const created = await one();
    expect(created).toMatchObject({ type: 'card.created', member_no: null });
    expect(created.data).toEqual({
      card_id: cardId,
      title: EXAMPLE_CARD.title,
      card_type: 1,
      date_type: 3,
      begin_time: null,
      end_time: null,
      total_quantity: 5,
      generate_type: GenerateType.SYSTEM,
      generate_id: `init-${cardId}`,
    });
    await mid.get(StockService).fill(crm, `init-${cardId}`, () => undefined);
    const done = await one();
    expect(done).toMatchObject({ type: 'card.stock_generated', member_no: null });
    expect(done.data).toEqual({
      card_id: cardId,
      title: EXAMPLE_CARD.title,
      generate_id: `init-${cardId}`,
      generate_type: GenerateType.SYSTEM,
      status: 'done',
      card_num: 5,
      count: 5,
      rejected: 0,
      error: null,
    });
    // A create delivered again makes nothing, and writes nothing.
    await newCard(5, { card_id: cardId } as Partial<CreateCardDto>).catch(() => undefined);
    expect(await written()).toHaveLength(0);
  });

  it('every coupon change: claimed, claim_reversed, gifted, gift_accepted, gift_returned, redeemed, redeem_reversed, voided, expired', async () => {
    const cardId = await newCard(10);
    await mid.get(StockService).fill(crm, `init-${cardId}`, () => undefined);
    await written();
    const base = { card_id: cardId, title: EXAMPLE_CARD.title };

    const r1 = id('rcv');
    const claimed = await claim('alice', cardId, 3, r1);
    const codes1 = claimed.data!.map((c) => c.card_code);
    let e = await one();
    expect(e).toMatchObject({ type: 'coupon.claimed', member_no: 'alice' });
    expect(e.data).toEqual({ ...base, member_no: 'alice', count: 3, channel: 'mini', received_id: r1, codes: codes1 });

    expect((await mid.get(ClaimService).reverse(Object.assign(new ReceivedIdMsg(), { crm_id: crm, received_id: r1 }))).code).toBe(0);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.claim_reversed', member_no: 'alice' });
    expect(e.data).toEqual({ ...base, member_no: 'alice', count: 3, channel: 'mini', received_id: r1, codes: codes1 });

    const [c1, c2] = (await claim('alice', cardId, 2)).data!.map((c) => c.card_code);
    await written();
    const gifts = mid.get(GiftService);
    const p1 = id('gift');
    expect(
      (
        await gifts.present(
          Object.assign(new PresentMsg(), { crm_id: crm, present_id: p1, member_no: 'alice', card_id: cardId, card_code: c1, presant_extra: 'hi' }),
        )
      ).code,
    ).toBe(0);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.gifted', member_no: 'alice' });
    expect(e.data).toEqual({ ...base, member_no: 'alice', count: 1, channel: null, present_id: p1, card_code: c1 });

    expect((await gifts.accept(Object.assign(new PresentReceiveMsg(), { crm_id: crm, present_id: p1, member_no: 'bob' }))).code).toBe(0);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.gift_accepted', member_no: 'bob' });
    expect(e.data).toEqual({ ...base, member_no: 'bob', count: 1, channel: null, present_id: p1, card_code: c1, from_member_no: 'alice' });

    const p2 = id('gift');
    await gifts.present(
      Object.assign(new PresentMsg(), { crm_id: crm, present_id: p2, member_no: 'alice', card_id: cardId, card_code: c2, presant_extra: '' }),
    );
    await written();
    clock.advance((mid.cfg.presentTimeoutHours + 1) * 3_600_000);
    expect(await gifts.returnTimedOut()).toBe(1);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.gift_returned', member_no: 'alice' });
    expect(e.data).toEqual({ ...base, member_no: 'alice', count: 1, channel: null, present_id: p2, card_code: c2 });

    const redeems = mid.get(RedeemService);
    const d1 = id('redeem');
    expect(
      (
        await redeems.redeem(
          Object.assign(new RedeemMsg(), {
            crm_id: crm,
            redeem_id: d1,
            member_no: 'alice',
            card_id: cardId,
            card_code: c2,
            redeem_channel: 'pos',
            redeem_extra: '',
          }),
        )
      ).code,
    ).toBe(0);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.redeemed', member_no: 'alice' });
    expect(e.data).toEqual({ ...base, member_no: 'alice', count: 1, channel: 'pos', redeem_id: d1, card_code: c2 });

    expect((await redeems.reverse(Object.assign(new RedeemIdMsg(), { crm_id: crm, redeem_id: d1 }))).code).toBe(0);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.redeem_reversed', member_no: 'alice' });
    expect(e.data).toEqual({ ...base, member_no: 'alice', count: 1, channel: 'pos', redeem_id: d1, card_code: c2 });

    const codes = mid.get(CodeService);
    expect(
      (await codes.obsolete(Object.assign(new ObsoleteMsg(), { crm_id: crm, member_no: 'bob', card_id: cardId, card_code: c1, operator: 'ops' }))).code,
    ).toBe(0);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.voided', member_no: 'bob' });
    expect(e.data).toEqual({ ...base, member_no: 'bob', count: 1, channel: null, card_code: c1, operator: 'ops' });
    // Voiding it again changes nothing and writes nothing.
    await codes.obsolete(Object.assign(new ObsoleteMsg(), { crm_id: crm, member_no: 'bob', card_id: cardId, card_code: c1, operator: 'ops' }));
    expect(await written()).toHaveLength(0);

    // A card valid for an hour: two codes of carol's expire together in one event.
    const nowS = Math.floor(clock.now().getTime() / 1000);
    const short = await newCard(4, { date_type: 1, begin_time: nowS - 60, end_time: nowS + 3600 });
    await mid.get(StockService).fill(crm, `init-${short}`, () => undefined);
    const held = (await claim('carol', short, 2)).data!.map((c) => c.card_code).sort();
    await written();
    clock.advance(2 * 3_600_000);
    expect(await codes.expireDue()).toBe(2);
    e = await one();
    expect(e).toMatchObject({ type: 'coupon.expired', member_no: 'carol' });
    expect(e.data).toEqual({ card_id: short, title: EXAMPLE_CARD.title, member_no: 'carol', count: 2, channel: null, codes: held });
  });

  it('writes nothing for a change that rolls back or is refused', async () => {
    const cardId = await newCard(1);
    await mid.get(StockService).fill(crm, `init-${cardId}`, () => undefined);
    await written();
    const outbox = mid.get(OutboxRepository);
    const now = clock.now();
    await expect(
      mid.db.transaction(async (em) => {
        await outbox.add(em, [
          {
            crm_id: crm,
            kind: CardEventKind.VOID,
            card_id: cardId,
            member_no: 'x',
            count: 1,
            channel: null,
            occurred_at: now,
            day_of: now,
            ref: null,
            codes: ['c'],
          },
        ]);
        expect(await em.query(`SELECT count(*)::int AS n FROM card.webhook_outbox WHERE id > $1`, [last])).toEqual([{ n: 1 }]);
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    expect((await claim('dave', cardId, 2)).code).not.toBe(0); // more than the stock
    expect(await written()).toHaveLength(0);
    expect(await mid.sql(`SELECT count(*)::int AS n FROM card.outbox WHERE member_no IN ('x', 'dave')`)).toEqual([{ n: 0 }]);
  });

  it('writes one event per (claim, card) of a claim batch, all in the statement of the batch', async () => {
    const cardId = await newCard(50);
    await mid.get(StockService).fill(crm, `init-${cardId}`, () => undefined);
    await written();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => claim(`m${i}`, cardId, 2)));
    expect(answers.every((a) => a.code === 0)).toBe(true);
    const rows = await written();
    expect(rows).toHaveLength(20);
    const outbox = await mid.sql(`SELECT ref, member_no, count FROM card.outbox WHERE card_id = $1 AND kind = 'claim' ORDER BY event_id`, [cardId]);
    expect(rows.map((r) => [r.data.received_id, r.member_no, r.data.count])).toEqual(outbox.map((o) => [o.ref, o.member_no, o.count]));
    for (const [i, a] of answers.entries()) expect(rows.find((r) => r.member_no === `m${i}`)!.data.codes).toEqual(a.data!.map((c) => c.card_code));
  });
});
