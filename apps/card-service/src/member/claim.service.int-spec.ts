import { ClaimedCodeView, CreateCardDto, Envelope, EXAMPLE_CARD, GenerateType, payloadHash, ReceiveMsg } from '@app/domain';
import { ManualClock, Middle, startMiddle } from '../../../../test/support/middle';
import { CardRepository } from '../card/card.repository';
import { CARD_MIGRATIONS } from '../migrations';
import { OutboxRepository } from '../outbox/outbox.repository';
import { StockQueue } from '../stock/stock.queue';
import { StockRepository } from '../stock/stock.repository';
import { StockService } from '../stock/stock.service';
import { ClaimRepository } from './claim.repository';
import { ClaimService } from './claim.service';
import { CodeRepository } from './code.repository';

/**
 * The claim rules with ClaimService and its real repositories on PostgreSQL, in-process:
 * no oversell, get_limit, all or nothing, the validity window by the injected clock, and
 * idempotency under concurrent duplicates. (Through the gateway: test/member-claims.e2e-spec.ts.)
 */
describe('ClaimService on PostgreSQL', () => {
  let mid: Middle;
  let claims: ClaimService;
  let clock: ManualClock;
  const crm = 'mid_claims';
  let n = 0;
  const id = (p: string) => `${p}-${++n}`;

  beforeAll(async () => {
    mid = await startMiddle({
      name: 'claims',
      schema: 'card',
      migrations: CARD_MIGRATIONS,
      // Stock jobs run in-process here (fill), so nothing is queued.
      providers: [
        ClaimService,
        ClaimRepository,
        CodeRepository,
        OutboxRepository,
        CardRepository,
        StockService,
        StockRepository,
        { provide: StockQueue, useValue: { enqueue: async () => undefined } },
      ],
    });
    claims = mid.get(ClaimService);
    clock = mid.clock;
  });
  afterAll(() => mid?.close());

  /** A card with `quantity` system codes generated, valid for ever unless `over` says otherwise. */
  async function card(quantity: number, over: Partial<CreateCardDto> = {}): Promise<string> {
    const cardId = id('card').padEnd(32, '0');
    const dto = {
      ...(EXAMPLE_CARD as unknown as CreateCardDto),
      date_type: 3,
      begin_time: null,
      end_time: null,
      weekdays: null,
      monthdays: null,
      day_begin_time: null,
      day_end_time: null,
      get_limit: 0,
      generate_type: GenerateType.SYSTEM,
      total_quantity: 0,
      ...over,
    };
    const stock = mid.get(StockService);
    await mid.db.transaction(async (em) => {
      await mid.get(CardRepository).insert(em, crm, cardId, dto);
      await stock.schedule(em, {
        crm_id: crm,
        card_id: cardId,
        generate_id: `init-${cardId}`,
        generate_type: GenerateType.SYSTEM,
        card_num: quantity,
        source_file: null,
        payload_hash: payloadHash({ card: cardId }),
      });
    });
    await stock.fill(crm, `init-${cardId}`, () => undefined);
    return cardId;
  }

  const claim = (memberNo: string, cardInfo: Record<string, number>, receivedId = id('rcv')): Promise<Envelope<ClaimedCodeView[]>> =>
    claims.receive(Object.assign(new ReceiveMsg(), { crm_id: crm, received_id: receivedId, member_no: memberNo, out_str: 'mid', card_info: cardInfo }));
  const held = async (cardId: string) =>
    (
      await mid.sql(`SELECT count(*)::int AS n, count(DISTINCT card_code)::int AS d FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2`, [
        crm,
        cardId,
      ])
    )[0];

  it('never gives more codes than the stock: 60 claims of 2 at once for 100 codes, exactly 50 granted, each code once', async () => {
    const c = await card(100);
    const answers = await Promise.all(Array.from({ length: 60 }, (_, i) => claim(`m${i}`, { [c]: 2 })));
    expect(answers.filter((a) => a.code === 0)).toHaveLength(50);
    expect(answers.filter((a) => a.code === 40903)).toHaveLength(10);
    expect(await held(c)).toEqual({ n: 100, d: 100 });
    // The pool is empty and the card's count says so.
    expect(
      await mid.sql(`SELECT received_count::int AS claimed, (next_slot - claim_slot)::int AS left FROM card.card_info WHERE crm_id = $1 AND card_id = $2`, [
        crm,
        c,
      ]),
    ).toEqual([{ claimed: 100, left: 0 }]);
  });

  it('keeps a member within get_limit however many claims arrive at once', async () => {
    const c = await card(50, { get_limit: 3 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => claim('greedy', { [c]: 1 })));
    expect(answers.filter((a) => a.code === 0)).toHaveLength(3);
    expect(answers.filter((a) => a.code === 40904)).toHaveLength(7);
    expect(await held(c)).toEqual({ n: 3, d: 3 });
  });

  it('is all or nothing across cards: a card that refuses leaves the others untouched and names itself', async () => {
    const plenty = await card(5);
    const empty = await card(1);
    expect((await claim('first', { [empty]: 1 })).code).toBe(0);
    const refused = await claim('second', { [plenty]: 2, [empty]: 1 });
    expect(refused).toMatchObject({ code: 40903, msg: expect.stringContaining(empty) });
    expect(await held(plenty)).toEqual({ n: 0, d: 0 });
    expect(await mid.sql(`SELECT count(*)::int AS n FROM card.member_receive WHERE crm_id = $1 AND member_no = 'second'`, [crm])).toEqual([{ n: 0 }]);
  });

  it('gives a date_type 1 card only from begin_time to end_time, by the injected clock', async () => {
    const begin = Math.floor(clock.now().getTime() / 1000) + 3600;
    const c = await card(5, { date_type: 1, begin_time: begin, end_time: begin + 86_400 });
    expect((await claim('early', { [c]: 1 })).code).toBe(42202);
    clock.set(new Date(begin * 1000));
    expect((await claim('on-time', { [c]: 1 })).code).toBe(0);
    clock.set(new Date((begin + 86_401) * 1000));
    expect((await claim('late', { [c]: 1 })).code).toBe(42202);
    expect(await held(c)).toEqual({ n: 1, d: 1 });
  });

  it('answers 20 concurrent copies of one received_id alike and claims once; another payload under it is 40901', async () => {
    const c = await card(10);
    const receivedId = id('dup');
    const answers = await Promise.all(Array.from({ length: 20 }, () => claim('twin', { [c]: 2 }, receivedId)));
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0].code).toBe(0);
    expect(await held(c)).toEqual({ n: 2, d: 2 });
    expect((await claim('twin', { [c]: 3 }, receivedId)).code).toBe(40901);
  });
});
