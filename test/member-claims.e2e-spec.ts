import { ClaimedCodeView } from '@app/domain';
import { Answer, cardBody, Suite } from './support/suite';

/**
 * Member claims (receive), receive_detail and receive_reverse, through real HTTP against
 * real PostgreSQL and Redis: all or nothing, idempotency by received_id under concurrent
 * duplicates, no oversell under concurrent load, and no lost or leaked code when a
 * card-service process is killed in the middle of a claim load.
 */
describe('member claims', () => {
  let s: Suite;

  beforeAll(async () => {
    s = await Suite.start({ name: 'member_claims', services: ['card-service'] });
  });
  afterAll(() => s?.stop());

  const TZ = 'Asia/Shanghai';
  const inTz = new Intl.DateTimeFormat('en-CA', {
    timeZone: TZ,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });

  /** 'YYYY-MM-DD HH:mm:ss' of an instant in Asia/Shanghai. */
  function tzTime(d: Date): string {
    const p = Object.fromEntries(inTz.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }

  /** 'YYYY-MM-DD' n days after a calendar day (pure calendar arithmetic). */
  function plusDays(day: string, n: number): string {
    const [y, m, d] = day.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d + n)).toISOString().slice(0, 10);
  }

  const nowSeconds = () => Math.floor(Date.now() / 1000);

  interface ReceiveBody {
    received_id?: string;
    member_no?: string;
    out_str?: string;
    card_info?: Record<string, unknown>;
  }

  const receive = (crmId: string, body: ReceiveBody): Promise<Answer<ClaimedCodeView[]>> =>
    s.post<ClaimedCodeView[]>(`/api/crm/card/${crmId}/member/receive`, body);

  const reverse = (crmId: string, receivedId: string) => s.post(`/api/crm/card/${crmId}/member/receive_reverse`, { received_id: receivedId });

  /** A card usable at any time (date_type 3, no weekday/monthday restriction) with `total` codes generated. */
  async function stockedCard(crmId: string, total: number, over: Record<string, unknown> = {}): Promise<string> {
    const res = await s.post(
      `/api/crm/card/${crmId}/create`,
      cardBody({ date_type: 3, begin_time: null, end_time: null, weekdays: null, monthdays: null, generate_type: 1, total_quantity: total, ...over }),
    );
    expect(res.body).toMatchObject({ code: 0 });
    expect(res.status).toBe(200);
    const cardId: string = res.body.data.card_id;
    await s.eventually(`stock of card ${cardId} to be generated`, async () => {
      const st = await s.get(`/api/crm/card/${crmId}/stock/status?generate_id=init-${cardId}`);
      return st.body.data?.is_generated ? true : undefined;
    });
    const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [crmId, cardId]);
    expect(n).toBe(total);
    return cardId;
  }

  interface CardState {
    generated: number;
    received: number;
    pool: number;
    codes: number;
    issued: number;
    free: number;
    live: number;
    live_codes: number;
  }

  /** The pool bookkeeping of one card, read from the database. */
  async function cardState(crmId: string, cardId: string): Promise<CardState> {
    const [c] = await s.sql(
      `SELECT generated_count::int AS generated, received_count::int AS received, (next_slot - claim_slot)::int AS pool
         FROM card.card_info WHERE crm_id = $1 AND card_id = $2`,
      [crmId, cardId],
    );
    const [p] = await s.sql(
      `SELECT count(*)::int AS codes, (count(*) FILTER (WHERE card_code_status = 1))::int AS issued,
              (count(*) FILTER (WHERE card_code_status = 0))::int AS free
         FROM card.card_code WHERE crm_id = $1 AND card_id = $2`,
      [crmId, cardId],
    );
    const [m] = await s.sql(
      `SELECT count(*)::int AS live, count(DISTINCT card_code)::int AS live_codes
         FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND is_reversed = 0 AND code_status <> 6`,
      [crmId, cardId],
    );
    return { ...c, ...p, ...m } as CardState;
  }

  /** generated = pool + issued; every issued code has exactly one live holder, every pool code is free. */
  function expectConsistent(st: CardState): void {
    expect(st.generated).toBe(st.pool + st.received);
    expect(st.codes).toBe(st.generated);
    expect(st.issued).toBe(st.received);
    expect(st.free).toBe(st.pool);
    expect(st.live).toBe(st.received);
    expect(st.live_codes).toBe(st.live);
  }

  /** How many answers had each [HTTP status, code] pair, e.g. {'200/0': 100, '409/40903': 400}. */
  function tally(answers: Array<Answer<unknown>>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const a of answers) out[`${a.status}/${a.body.code}`] = (out[`${a.status}/${a.body.code}`] ?? 0) + 1;
    return out;
  }

  async function liveRowsOf(crmId: string, receivedId: string): Promise<Array<{ card_id: string; card_code: string; member_no: string; out_str: string }>> {
    return s.sql(
      `SELECT card_id, card_code, member_no, out_str FROM card.member_card_code
        WHERE crm_id = $1 AND received_id = $2 AND is_reversed = 0 ORDER BY auto_id`,
      [crmId, receivedId],
    );
  }

  async function receivedSum(crmId: string, cardId: string, memberNo: string): Promise<number | null> {
    const rows = await s.sql(`SELECT received_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [
      crmId,
      cardId,
      memberNo,
    ]);
    return rows.length ? rows[0].received_sum : null;
  }

  it('500 concurrent claims on a card with stock 100: exactly 100 distinct codes, the other 400 out of stock', async () => {
    const crmId = 'mc_rush';
    const cardId = await stockedCard(crmId, 100);
    const bodies = Array.from({ length: 500 }, (_, i) => ({ received_id: `rush-${i}`, member_no: `m-rush-${i}`, out_str: 'rush', card_info: { [cardId]: 1 } }));
    const answers = await Promise.all(bodies.map((b) => receive(crmId, b)));

    expect(tally(answers)).toEqual({ '200/0': 100, '409/40903': 400 });
    const codes: string[] = [];
    answers.forEach((a) => {
      if (a.body.code !== 0) {
        expect(a.body.msg).toContain(cardId);
        return;
      }
      expect(a.body.data).toEqual([
        { card_id: cardId, card_code: expect.any(String), start_time: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/), end_time: null },
      ]);
      codes.push(a.body.data![0].card_code);
    });
    expect(new Set(codes).size).toBe(100);

    // Each acknowledged claim holds exactly the code it was answered, under its received_id and member.
    const rows = await s.sql(`SELECT received_id, member_no, card_code FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND is_reversed = 0`, [
      crmId,
      cardId,
    ]);
    const byReceipt = new Map(rows.map((r) => [r.received_id, r]));
    answers.forEach((a, i) => {
      if (a.body.code === 0)
        expect(byReceipt.get(bodies[i].received_id)).toEqual({
          received_id: bodies[i].received_id,
          member_no: bodies[i].member_no,
          card_code: a.body.data![0].card_code,
        });
    });
    expect(rows.length).toBe(100);

    const st = await cardState(crmId, cardId);
    expect(st).toMatchObject({ generated: 100, received: 100, pool: 0, issued: 100, live: 100, live_codes: 100 });
    expectConsistent(st);
    const [{ receipts }] = await s.sql(`SELECT count(*)::int AS receipts FROM card.member_receive WHERE crm_id = $1`, [crmId]);
    expect(receipts).toBe(100);
  }, 90_000);

  it('one member with get_limit 2 and 20 concurrent claims (different received_ids): exactly 2 succeed', async () => {
    const crmId = 'mc_limit';
    const cardId = await stockedCard(crmId, 50, { get_limit: 2 });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => receive(crmId, { received_id: `limit-${i}`, member_no: 'm-limit', out_str: 'limit', card_info: { [cardId]: 1 } })),
    );
    expect(tally(answers)).toEqual({ '200/0': 2, '409/40904': 18 });
    for (const a of answers.filter((x) => x.body.code === 40904)) expect(a.body.msg).toContain(cardId);
    expect(await receivedSum(crmId, cardId, 'm-limit')).toBe(2);
    const st = await cardState(crmId, cardId);
    expect(st).toMatchObject({ received: 2, pool: 48, live: 2 });
    expectConsistent(st);
    const [{ receipts }] = await s.sql(`SELECT count(*)::int AS receipts FROM card.member_receive WHERE crm_id = $1`, [crmId]);
    expect(receipts).toBe(2);
  });

  describe('idempotency by received_id', () => {
    const crmId = 'mc_dup';
    let cardId: string;

    beforeAll(async () => {
      cardId = await stockedCard(crmId, 10);
    });

    it('20 concurrent copies of one claim take the codes once and answer 20 identical answers', async () => {
      const body = { received_id: 'dup-1', member_no: 'm-dup', out_str: 'dup', card_info: { [cardId]: 2 } };
      const before = await cardState(crmId, cardId);
      const answers = await Promise.all(Array.from({ length: 20 }, () => receive(crmId, body)));
      expect(tally(answers)).toEqual({ '200/0': 20 });
      const first = answers[0].body.data!;
      expect(first).toHaveLength(2);
      expect(new Set(first.map((c) => c.card_code)).size).toBe(2);
      for (const a of answers) expect(a.body.data).toEqual(first);

      const rows = await liveRowsOf(crmId, 'dup-1');
      expect(rows.map((r) => r.card_code).sort()).toEqual(first.map((c) => c.card_code).sort());
      const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND received_id = 'dup-1'`, [crmId]);
      expect(n).toBe(2);
      const after = await cardState(crmId, cardId);
      expect(after.pool).toBe(before.pool - 2);
      expect(after.received).toBe(before.received + 2);
      expectConsistent(after);
      expect(await receivedSum(crmId, cardId, 'm-dup')).toBe(2);

      // Later, the same claim still answers the original codes and takes nothing.
      const again = await receive(crmId, body);
      expect(again.status).toBe(200);
      expect(again.body.data).toEqual(first);
      expect(await cardState(crmId, cardId)).toEqual(after);
    });

    it('10 concurrent claims of one received_id with 5 different payloads: one payload wins, the others conflict', async () => {
      const before = await cardState(crmId, cardId);
      const bodies = Array.from({ length: 10 }, (_, i) => ({
        received_id: 'dup-2',
        member_no: 'm-dup2',
        out_str: `channel-${i % 5}`,
        card_info: { [cardId]: 1 },
      }));
      const answers = await Promise.all(bodies.map((b) => receive(crmId, b)));
      // Each payload is sent twice: the winner's two copies answer 0 (the same codes), the other 8 answer 40901.
      expect(tally(answers)).toEqual({ '200/0': 2, '409/40901': 8 });
      const winners = answers.map((a, i) => ({ a, b: bodies[i] })).filter((x) => x.a.body.code === 0);
      expect(winners[0].b.out_str).toBe(winners[1].b.out_str);
      expect(winners[1].a.body.data).toEqual(winners[0].a.body.data);
      expect(winners[0].a.body.data).toHaveLength(1);
      for (const a of answers.filter((x) => x.body.code === 40901)) expect(a.body.msg).toContain('dup-2');

      const [receipt] = await s.sql(`SELECT member_no, out_str FROM card.member_receive WHERE crm_id = $1 AND received_id = 'dup-2'`, [crmId]);
      expect(receipt).toEqual({ member_no: 'm-dup2', out_str: winners[0].b.out_str });
      const rows = await liveRowsOf(crmId, 'dup-2');
      expect(rows).toEqual([{ card_id: cardId, card_code: winners[0].a.body.data![0].card_code, member_no: 'm-dup2', out_str: winners[0].b.out_str }]);
      const after = await cardState(crmId, cardId);
      expect(after.pool).toBe(before.pool - 1);
      expectConsistent(after);
    });

    it('answers a repeat of a recorded claim with the original, also when it arrives together with other payloads of the id', async () => {
      const original = { received_id: 'dup-3', member_no: 'm-dup3', out_str: 'original', card_info: { [cardId]: 1 } };
      const first = await receive(crmId, original);
      expect(first.status).toBe(200);
      const before = await cardState(crmId, cardId);
      // Alternating: another payload of the id, then the original payload again, 40 at once (they reach the service in batches).
      const bodies = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? { ...original, out_str: `other-${i}` } : original));
      const answers = await Promise.all(bodies.map((b) => receive(crmId, b)));
      const got = answers.map((a, i) => ({ out_str: bodies[i].out_str, answer: `${a.status}/${a.body.code}` }));
      expect(got).toEqual(bodies.map((b) => ({ out_str: b.out_str, answer: b === original ? '200/0' : '409/40901' })));
      answers.forEach((a, i) => {
        if (bodies[i] === original) expect(a.body.data).toEqual(first.body.data);
      });
      expect(await cardState(crmId, cardId)).toEqual(before);
      expect(await liveRowsOf(crmId, 'dup-3')).toEqual([
        { card_id: cardId, card_code: first.body.data![0].card_code, member_no: 'm-dup3', out_str: 'original' },
      ]);
    });
  });

  describe('all or nothing', () => {
    const crmId = 'mc_all';

    async function nothingRecordedFor(receivedId: string): Promise<void> {
      const [{ receipts }] = await s.sql(`SELECT count(*)::int AS receipts FROM card.member_receive WHERE crm_id = $1 AND received_id = $2`, [
        crmId,
        receivedId,
      ]);
      const [{ rows }] = await s.sql(`SELECT count(*)::int AS rows FROM card.member_card_code WHERE crm_id = $1 AND received_id = $2`, [crmId, receivedId]);
      expect({ receipts, rows }).toEqual({ receipts: 0, rows: 0 });
    }

    it('takes nothing of any card when one card of the claim is out of stock, naming that card', async () => {
      const a = await stockedCard(crmId, 10);
      const b = await stockedCard(crmId, 1);
      const res = await receive(crmId, { received_id: 'all-1', member_no: 'm-all', out_str: 'all', card_info: { [a]: 2, [b]: 2 } });
      expect(res.status).toBe(409);
      expect(res.body.code).toBe(40903);
      expect(res.body.msg).toContain(b);
      expect(res.body.msg).not.toContain(a);
      expect(res.body.data).toBeUndefined();
      expect(await cardState(crmId, a)).toMatchObject({ pool: 10, received: 0, issued: 0, live: 0 });
      expect(await cardState(crmId, b)).toMatchObject({ pool: 1, received: 0, issued: 0, live: 0 });
      expect(await receivedSum(crmId, a, 'm-all')).toBeFalsy();
      await nothingRecordedFor('all-1');

      // A refused claim records nothing, so its received_id can be used for a claim that fits.
      const fits = await receive(crmId, { received_id: 'all-1', member_no: 'm-all', out_str: 'all', card_info: { [a]: 2, [b]: 1 } });
      expect(fits.status).toBe(200);
      expect(fits.body.data!.map((c) => c.card_id).sort()).toEqual([a, a, b].sort());
      const sa = await cardState(crmId, a);
      expect(sa).toMatchObject({ pool: 8, received: 2 });
      expectConsistent(sa);
      const sb = await cardState(crmId, b);
      expect(sb).toMatchObject({ pool: 0, received: 1 });
      expectConsistent(sb);
    });

    it('refuses a removed card with 40902, an unknown card with 40402, and takes nothing of the other cards', async () => {
      const ok = await stockedCard(crmId, 5);
      const gone = await stockedCard(crmId, 5);
      const removed = await s.post(`/api/crm/card/${crmId}/remove`, { card_id: gone });
      expect(removed.status).toBe(200);

      const r1 = await receive(crmId, { received_id: 'all-removed', member_no: 'm-all2', out_str: 'all', card_info: { [ok]: 1, [gone]: 1 } });
      expect(r1.status).toBe(409);
      expect(r1.body.code).toBe(40902);
      expect(r1.body.msg).toContain(gone);
      await nothingRecordedFor('all-removed');

      const unknown = 'f'.repeat(32);
      const r2 = await receive(crmId, { received_id: 'all-unknown', member_no: 'm-all2', out_str: 'all', card_info: { [ok]: 1, [unknown]: 1 } });
      expect(r2.status).toBe(404);
      expect(r2.body.code).toBe(40402);
      expect(r2.body.msg).toContain(unknown);
      await nothingRecordedFor('all-unknown');

      // A card of another tenant is unknown here.
      const r3 = await receive('mc_all_other', { received_id: 'all-other', member_no: 'm-all2', out_str: 'all', card_info: { [ok]: 1 } });
      expect(r3.status).toBe(404);
      expect(r3.body.code).toBe(40402);

      expect(await cardState(crmId, ok)).toMatchObject({ pool: 5, received: 0, live: 0 });
      expect(await cardState(crmId, gone)).toMatchObject({ pool: 5, received: 0, live: 0 });
    });

    it('refuses a date_type 1 card before its begin_time and after its end_time with 42202', async () => {
      const now = nowSeconds();
      const ok = await stockedCard(crmId, 5);
      const future = await stockedCard(crmId, 5, { date_type: 1, begin_time: now + 86_400, end_time: now + 10 * 86_400 });
      const ended = await stockedCard(crmId, 5, { date_type: 1, begin_time: now - 10 * 86_400, end_time: now - 86_400 });

      const r1 = await receive(crmId, { received_id: 'all-future', member_no: 'm-all3', out_str: 'all', card_info: { [ok]: 1, [future]: 1 } });
      expect(r1.status).toBe(422);
      expect(r1.body.code).toBe(42202);
      expect(r1.body.msg).toContain(future);
      await nothingRecordedFor('all-future');

      const r2 = await receive(crmId, { received_id: 'all-ended', member_no: 'm-all3', out_str: 'all', card_info: { [ended]: 1 } });
      expect(r2.status).toBe(422);
      expect(r2.body.code).toBe(42202);
      expect(r2.body.msg).toContain(ended);
      await nothingRecordedFor('all-ended');

      for (const c of [ok, future, ended]) expect(await cardState(crmId, c)).toMatchObject({ pool: 5, received: 0, live: 0 });
    });
  });

  describe('validity of the codes given', () => {
    const crmId = 'mc_valid';

    it('date_type 2: from the claim day + start_day_count at 00:00:00 for expire_day_count days, in Asia/Shanghai', async () => {
      const cardId = await stockedCard(crmId, 3, { date_type: 2, start_day_count: 1, expire_day_count: 3 });
      const dayBefore = tzTime(new Date()).slice(0, 10);
      const res = await receive(crmId, { received_id: 'valid-2', member_no: 'm-valid', out_str: 'valid', card_info: { [cardId]: 1 } });
      const dayAfter = tzTime(new Date()).slice(0, 10);
      expect(res.status).toBe(200);
      // The claim day is the Shanghai day the claim was made (either side of the request if it crossed midnight).
      const expected = [...new Set([dayBefore, dayAfter])].map((day) => ({
        card_id: cardId,
        card_code: res.body.data![0].card_code,
        start_time: `${plusDays(day, 1)} 00:00:00`,
        end_time: `${plusDays(day, 3)} 23:59:59`,
      }));
      expect(res.body.data).toHaveLength(1);
      expect(expected).toContainEqual(res.body.data![0]);
    });

    it('date_type 3: from the claim, without an end', async () => {
      const cardId = await stockedCard(crmId, 3, { date_type: 3 });
      const before = tzTime(new Date(Date.now() - 1000));
      const res = await receive(crmId, { received_id: 'valid-3', member_no: 'm-valid', out_str: 'valid', card_info: { [cardId]: 2 } });
      const after = tzTime(new Date(Date.now() + 1000));
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(2);
      for (const c of res.body.data!) {
        expect(c.end_time).toBeNull();
        expect(c.start_time >= before && c.start_time <= after).toBe(true);
      }
    });

    it("date_type 1: the card's begin_time and end_time", async () => {
      const begin = nowSeconds() - 3_600;
      const end = nowSeconds() + 7 * 86_400 + 123;
      const cardId = await stockedCard(crmId, 3, { date_type: 1, begin_time: begin, end_time: end });
      const res = await receive(crmId, { received_id: 'valid-1', member_no: 'm-valid', out_str: 'valid', card_info: { [cardId]: 1 } });
      expect(res.status).toBe(200);
      expect(res.body.data).toEqual([
        { card_id: cardId, card_code: expect.any(String), start_time: tzTime(new Date(begin * 1000)), end_time: tzTime(new Date(end * 1000)) },
      ]);
    });
  });

  describe('validation', () => {
    const crmId = 'mc_validate';
    let cardId: string;

    beforeAll(async () => {
      cardId = await stockedCard(crmId, 5);
    });

    const good = (over: ReceiveBody = {}): ReceiveBody => ({ received_id: 'bad-1', member_no: 'm-bad', out_str: 'bad', card_info: { [cardId]: 1 }, ...over });

    async function written(): Promise<number[]> {
      const [r] = await s.sql(
        `SELECT (SELECT count(*) FROM card.member_receive)::int AS receipts, (SELECT count(*) FROM card.member_card_code)::int AS codes,
                (SELECT count(*) FROM card.member_card_record)::int AS records,
                (SELECT claim_slot FROM card.card_info WHERE crm_id = $1 AND card_id = $2)::int AS claim_slot`,
        [crmId, cardId],
      );
      return [r.receipts, r.codes, r.records, r.claim_slot];
    }

    const cases: Array<[string, () => ReceiveBody, () => string]> = [
      ['an empty card_info', () => good({ card_info: {} }), () => 'card_info'],
      ['a count of 0', () => good({ card_info: { [cardId]: 0 } }), () => `card_info.${cardId}`],
      ['a count of 101', () => good({ card_info: { [cardId]: 101 } }), () => `card_info.${cardId}`],
      ['a count of 1.5', () => good({ card_info: { [cardId]: 1.5 } }), () => `card_info.${cardId}`],
      [
        '21 cards',
        () => good({ card_info: Object.fromEntries([cardId, ...Array.from({ length: 20 }, (_, i) => `card${i}`)].map((c) => [c, 1])) }),
        () => 'card_info',
      ],
      ['a missing received_id', () => good({ received_id: undefined }), () => 'received_id'],
      ['a received_id with a space', () => good({ received_id: 'bad 1' }), () => 'received_id'],
      ['a missing member_no', () => good({ member_no: undefined }), () => 'member_no'],
      ['an out_str over 32 characters', () => good({ out_str: 'x'.repeat(33) }), () => 'out_str'],
    ];

    it.each(cases)('refuses %s with 400 naming the field, and writes nothing', async (_what, body, field) => {
      const before = await written();
      const res = await receive(crmId, body());
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(40001);
      expect(res.body.errors!.map((e) => e.field)).toContain(field());
      expect(await written()).toEqual(before);
    });

    it('still claims with the same received_id once the input is valid', async () => {
      const res = await receive(crmId, good());
      expect(res.status).toBe(200);
      expect(res.body.data).toHaveLength(1);
    });
  });

  describe('receive_detail', () => {
    const crmId = 'mc_detail';

    it('lists the codes of a claim with their pool rows; an unknown received_id is 404 40407', async () => {
      const cardId = await stockedCard(crmId, 5);
      const claimed = await receive(crmId, { received_id: 'detail-1', member_no: 'm-detail', out_str: 'detail', card_info: { [cardId]: 2 } });
      expect(claimed.status).toBe(200);
      const codes = claimed.body.data!.map((c) => c.card_code).sort();

      const res = await s.get(`/api/crm/card/${crmId}/member/receive_detail?received_id=detail-1`);
      expect(res.status).toBe(200);
      expect(res.body.code).toBe(0);
      expect(res.body.data).toHaveLength(2);
      for (const item of res.body.data) {
        expect(item.card_info).toMatchObject({
          received_id: 'detail-1',
          member_no: 'm-detail',
          card_id: cardId,
          out_str: 'detail',
          code_status: 1,
          is_reversed: 0,
          receive_type: 0,
        });
        expect(item.card_code).toMatchObject({ card_code: item.card_info.card_code, card_id: cardId, card_code_status: 1, member_no: 'm-detail' });
      }
      expect(res.body.data.map((i: any) => i.card_info.card_code).sort()).toEqual(codes);

      const unknown = await s.get(`/api/crm/card/${crmId}/member/receive_detail?received_id=detail-nope`);
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe(40407);
    });
  });

  describe('receive_reverse', () => {
    const crmId = 'mc_reverse';
    let cardId: string;

    beforeAll(async () => {
      cardId = await stockedCard(crmId, 5, { get_limit: 2 });
    });

    async function snapshot() {
      return {
        card: await cardState(crmId, cardId),
        sum: await receivedSum(crmId, cardId, 'm-rev'),
        rows: await s.sql(`SELECT received_id, card_code, member_no, code_status, is_reversed FROM card.member_card_code WHERE crm_id = $1 ORDER BY auto_id`, [
          crmId,
        ]),
        receipts: await s.sql(`SELECT received_id, is_reversed FROM card.member_receive WHERE crm_id = $1 ORDER BY received_id`, [crmId]),
        pool: await s.sql(`SELECT slot::int, card_code, card_code_status, member_no FROM card.card_code WHERE crm_id = $1 ORDER BY slot`, [crmId]),
      };
    }

    it('returns the codes to the pool and the limit to the member; refuses once a code is redeemed', async () => {
      const first = await receive(crmId, { received_id: 'rev-1', member_no: 'm-rev', out_str: 'rev', card_info: { [cardId]: 2 } });
      expect(first.status).toBe(200);
      const returned = first.body.data!.map((c) => c.card_code);
      expect(await cardState(crmId, cardId)).toMatchObject({ pool: 3, received: 2 });
      expect(await receivedSum(crmId, cardId, 'm-rev')).toBe(2);
      // At the limit: a third code is refused.
      expect((await receive(crmId, { received_id: 'rev-over', member_no: 'm-rev', out_str: 'rev', card_info: { [cardId]: 1 } })).body.code).toBe(40904);

      const res = await reverse(crmId, 'rev-1');
      expect(res.status).toBe(200);
      expect(res.body.code).toBe(0);
      const st = await cardState(crmId, cardId);
      expect(st).toMatchObject({ pool: 5, received: 0, issued: 0, live: 0 });
      expectConsistent(st);
      expect(await receivedSum(crmId, cardId, 'm-rev')).toBe(0);
      const rows = await s.sql(`SELECT card_code, is_reversed FROM card.member_card_code WHERE crm_id = $1 AND received_id = 'rev-1' ORDER BY card_code`, [
        crmId,
      ]);
      expect(rows).toEqual([...returned].sort().map((c) => ({ card_code: c, is_reversed: 1 })));
      const [receipt] = await s.sql(`SELECT is_reversed FROM card.member_receive WHERE crm_id = $1 AND received_id = 'rev-1'`, [crmId]);
      expect(receipt.is_reversed).toBe(1);
      // Reads say the claim was reversed (7), not usable: the code is no longer the member's.
      const detail = await s.get(`/api/crm/card/${crmId}/member/card_detail?member_no=m-rev&card_id=${cardId}&card_code=${returned[0]}`);
      expect(detail.body.data).toMatchObject({ card_code: returned[0], code_status: 7, is_reversed: 1 });
      const listed = await s.get(`/api/crm/card/${crmId}/member/card_list?member_no=m-rev&code_status=7`);
      expect(listed.body.data.result.map((r: { card_code: string }) => r.card_code).sort()).toEqual([...returned].sort());
      expect((await s.get(`/api/crm/card/${crmId}/member/card_list?member_no=m-rev&code_status=1`)).body.data.total).toBe(0);

      // The member's limit is given back: two codes again, then no more.
      const second = await receive(crmId, { received_id: 'rev-2', member_no: 'm-rev', out_str: 'rev', card_info: { [cardId]: 2 } });
      expect(second.status).toBe(200);
      expect(second.body.data).toHaveLength(2);
      const third = await receive(crmId, { received_id: 'rev-3', member_no: 'm-rev', out_str: 'rev', card_info: { [cardId]: 1 } });
      expect(third.status).toBe(409);
      expect(third.body.code).toBe(40904);

      // The returned codes can be claimed again: drain the pool, they are among the codes handed out.
      const drained: string[] = [];
      for (let i = 0; i < 10; i++) {
        const a = await receive(crmId, { received_id: `rev-drain-${i}`, member_no: `m-drain-${i}`, out_str: 'rev', card_info: { [cardId]: 1 } });
        if (a.body.code === 40903) break;
        expect(a.status).toBe(200);
        drained.push(a.body.data![0].card_code);
      }
      expect(drained).toHaveLength(3);
      expect(drained).toEqual(expect.arrayContaining(returned));
      const all = [...second.body.data!.map((c) => c.card_code), ...drained];
      expect(new Set(all).size).toBe(5);
      const empty = await cardState(crmId, cardId);
      expect(empty).toMatchObject({ pool: 0, received: 5, live: 5 });
      expectConsistent(empty);

      // Reversing again answers 0 and changes nothing (its codes now belong to others).
      const beforeAgain = await snapshot();
      const again = await reverse(crmId, 'rev-1');
      expect(again.status).toBe(200);
      expect(again.body.code).toBe(0);
      expect(await snapshot()).toEqual(beforeAgain);

      // Once a code of a claim is redeemed, the claim cannot be reversed: 409 naming the code, nothing changed.
      const redeemed = second.body.data![0].card_code;
      const redeem = await s.post(`/api/crm/card/${crmId}/member/redeem`, {
        member_no: 'm-rev',
        card_id: cardId,
        card_code: redeemed,
        redeem_channel: 'store_01',
        redeem_id: 'rev-redeem-1',
        redeem_extra: 'at the till',
      });
      expect(redeem.body.code).toBe(0);
      expect(redeem.status).toBe(200);
      const beforeRefused = await snapshot();
      const refused = await reverse(crmId, 'rev-2');
      expect(refused.status).toBe(409);
      expect(refused.body.code).toBe(40907);
      expect(refused.body.msg).toContain(redeemed);
      expect(refused.body.msg).not.toContain(second.body.data![1].card_code);
      expect(await snapshot()).toEqual(beforeRefused);
      expect(beforeRefused.sum).toBe(2);

      const unknown = await reverse(crmId, 'rev-nope');
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe(40407);
    });

    it('gives the codes back once when 10 reversals of one claim arrive at once', async () => {
      const card = await stockedCard(crmId, 4, { get_limit: 2 });
      const claimed = await receive(crmId, { received_id: 'rev-many', member_no: 'm-rev-many', out_str: 'rev', card_info: { [card]: 2 } });
      expect(claimed.status).toBe(200);
      expect(await cardState(crmId, card)).toMatchObject({ pool: 2, received: 2 });
      const answers = await Promise.all(Array.from({ length: 10 }, () => reverse(crmId, 'rev-many')));
      expect(tally(answers)).toEqual({ '200/0': 10 });
      const st = await cardState(crmId, card);
      expect(st).toMatchObject({ pool: 4, received: 0, live: 0 });
      expectConsistent(st);
      expect(await receivedSum(crmId, card, 'm-rev-many')).toBe(0);
      const [{ slots }] = await s.sql(`SELECT count(DISTINCT slot)::int AS slots FROM card.card_code WHERE crm_id = $1 AND card_id = $2`, [crmId, card]);
      expect(slots).toBe(4);
    });

    it('lets either a redemption or a reversal of the same code win when they arrive at once, never both', async () => {
      const card = await stockedCard(crmId, 6);
      const claims = await Promise.all(
        Array.from({ length: 6 }, (_, i) => receive(crmId, { received_id: `race-${i}`, member_no: `m-race-${i}`, out_str: 'race', card_info: { [card]: 1 } })),
      );
      expect(tally(claims)).toEqual({ '200/0': 6 });
      const races = await Promise.all(
        claims.map((c, i) =>
          Promise.all([
            s.post(`/api/crm/card/${crmId}/member/redeem`, {
              member_no: `m-race-${i}`,
              card_id: card,
              card_code: c.body.data![0].card_code,
              redeem_channel: 'store_01',
              redeem_id: `race-redeem-${i}`,
              redeem_extra: 'race',
            }),
            reverse(crmId, `race-${i}`),
          ]),
        ),
      );
      let redeemed = 0;
      for (const [i, [redeem, rev]] of races.entries()) {
        const [row] = await s.sql(`SELECT code_status, is_reversed FROM card.member_card_code WHERE crm_id = $1 AND received_id = $2`, [crmId, `race-${i}`]);
        if (redeem.body.code === 0) {
          redeemed++;
          expect([rev.status, rev.body.code]).toEqual([409, 40907]);
          expect(rev.body.msg).toContain(claims[i].body.data![0].card_code);
          expect(row).toEqual({ code_status: 3, is_reversed: 0 });
        } else {
          expect([rev.status, rev.body.code]).toEqual([200, 0]);
          expect(redeem.body.code).toBe(40405);
          expect(row).toEqual({ code_status: 1, is_reversed: 1 });
        }
      }
      const st = await cardState(crmId, card);
      expect(st).toMatchObject({ received: redeemed, pool: 6 - redeemed });
      expectConsistent(st);
      const [{ redemptions }] = await s.sql(`SELECT count(*)::int AS redemptions FROM card.member_redeem WHERE crm_id = $1 AND card_id = $2`, [crmId, card]);
      expect(redemptions).toBe(redeemed);
    });
  });

  // Last: two card-service instances, then one is killed.
  describe('tenants', () => {
    it('a claim of one tenant does not wait for a card lock held in another tenant', async () => {
      const cardA = await stockedCard('mc_lane_a', 5);
      const cardB = await stockedCard('mc_lane_b', 5);
      // Another transaction holds tenant A's card row (as a long stock batch would).
      const { Client } = await import('pg');
      const holder = new Client({ connectionString: s.databaseUrl });
      await holder.connect();
      try {
        await holder.query('BEGIN');
        await holder.query(`SELECT 1 FROM card.card_info WHERE crm_id = 'mc_lane_a' AND card_id = $1 FOR UPDATE`, [cardA]);
        const waitingA = receive('mc_lane_a', { received_id: 'lane-a', member_no: 'm-a', out_str: 'lane', card_info: { [cardA]: 1 } });
        // Tenant B's claim is answered while A's card is still locked (A's claim cannot be).
        const b = await receive('mc_lane_b', { received_id: 'lane-b', member_no: 'm-b', out_str: 'lane', card_info: { [cardB]: 1 } });
        expect(b.status).toBe(200);
        expect(b.body.data).toHaveLength(1);
        expect(await cardState('mc_lane_a', cardA)).toMatchObject({ received: 0 });
        await holder.query('COMMIT');
        const a = await waitingA;
        expect(a.status).toBe(200);
        expect(a.body.data).toHaveLength(1);
      } finally {
        await holder.end();
      }
    });
  });

  describe('two card-service instances', () => {
    beforeAll(async () => {
      s.spawn('card-service');
      await s.waitForInstances('card-service', 2);
    });

    it('answers 20 concurrent copies of one claim identically when replicas share them', async () => {
      const crmId = 'mc_dup_replicas';
      const cardId = await stockedCard(crmId, 10);
      for (let round = 0; round < 3; round++) {
        const body = { received_id: `dup-replicas-${round}`, member_no: `m-dup-replicas-${round}`, out_str: 'dup', card_info: { [cardId]: 2 } };
        const answers = await Promise.all(Array.from({ length: 20 }, () => receive(crmId, body)));
        expect(tally(answers)).toEqual({ '200/0': 20 });
        for (const a of answers) expect(a.body.data).toEqual(answers[0].body.data);
        expect(answers[0].body.data).toHaveLength(2);
        const rows = await liveRowsOf(crmId, body.received_id);
        expect(rows.map((r) => r.card_code).sort()).toEqual(answers[0].body.data!.map((c) => c.card_code).sort());
      }
      const st = await cardState(crmId, cardId);
      expect(st).toMatchObject({ pool: 4, received: 6, live: 6 });
      expectConsistent(st);
    });

    it('loses no acknowledged claim and leaks no code when one is killed under claim load', async () => {
      const crmId = 'mc_crash';
      const cardId = await stockedCard(crmId, 300);
      const victim = s.processes('card-service')[0];

      const TOTAL = 400;
      const CONCURRENCY = 40;
      const KILL_AFTER = 100;
      const MAX_ATTEMPTS = 20;
      interface Outcome {
        received_id: string;
        member_no: string;
        attempts: string[];
        final: Answer<ClaimedCodeView[]>;
      }
      const outcomes: Outcome[] = [];
      let next = 0;
      let answered = 0;
      let killed: Promise<void> | undefined;
      let answeredAtKill = 0;

      async function worker(): Promise<void> {
        while (next < TOTAL) {
          const i = next++;
          const body = { received_id: `crash-${i}`, member_no: `m-crash-${i}`, out_str: 'crash', card_info: { [cardId]: 1 } };
          const attempts: string[] = [];
          let a: Answer<ClaimedCodeView[]>;
          // A request caught in the crash may be answered 503 (deadline) or 500: send the same claim again.
          do {
            a = await receive(crmId, body);
            attempts.push(`${a.status}/${a.body.code}`);
          } while ((a.status === 503 || a.status === 500) && attempts.length < MAX_ATTEMPTS);
          outcomes.push({ received_id: body.received_id, member_no: body.member_no, attempts, final: a });
          answered++;
          if (answered === KILL_AFTER && !killed) {
            answeredAtKill = answered;
            killed = victim.kill();
          }
        }
      }
      await Promise.all(Array.from({ length: CONCURRENCY }, () => worker()));
      await killed;
      expect(answeredAtKill).toBe(KILL_AFTER);
      expect(victim.child.signalCode).toBe('SIGKILL');

      // Every request was answered, in the end with a claim or out of stock.
      expect(outcomes).toHaveLength(TOTAL);
      const finals = tally(outcomes.map((o) => o.final));
      expect(finals).toEqual({ '200/0': 300, '409/40903': 100 });

      // Every acknowledged claim holds its code, under its received_id and member; nothing else holds one.
      const rows = await s.sql(`SELECT received_id, member_no, card_code FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND is_reversed = 0`, [
        crmId,
        cardId,
      ]);
      const held = new Map(rows.map((r) => [r.received_id, r]));
      const acknowledged = outcomes.filter((o) => o.final.body.code === 0);
      for (const o of acknowledged) {
        expect(o.final.body.data).toHaveLength(1);
        expect(held.get(o.received_id)).toEqual({ received_id: o.received_id, member_no: o.member_no, card_code: o.final.body.data![0].card_code });
      }
      expect(rows.length).toBe(acknowledged.length);
      expect(new Set(rows.map((r) => r.card_code)).size).toBe(rows.length);
      expect(new Set(acknowledged.map((o) => o.final.body.data![0].card_code)).size).toBe(acknowledged.length);

      const st = await cardState(crmId, cardId);
      expect(st).toMatchObject({ generated: 300, received: Math.min(300, acknowledged.length), pool: 0, issued: 300, live: 300 });
      expectConsistent(st);
      const [{ receipts }] = await s.sql(`SELECT count(*)::int AS receipts FROM card.member_receive WHERE crm_id = $1`, [crmId]);
      expect(receipts).toBe(300);
      const [{ sums }] = await s.sql(`SELECT coalesce(sum(received_sum), 0)::int AS sums FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2`, [
        crmId,
        cardId,
      ]);
      expect(sums).toBe(300);
    }, 120_000);
  });
});
