import Bull from 'bull';
import { CardExpiryJob, Queue } from '@app/domain';
import { Answer, Suite } from './support/suite';
import { expectError, uid } from './support/expect';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Asia/Shanghai has no daylight saving time: local time is UTC + 8 hours all year. */
const SHANGHAI = 8 * HOUR;
const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

/** The absolute time of `secs` seconds after the Shanghai midnight `daysAhead` days from today (real time). */
function shanghaiAt(daysAhead: number, secs: number): number {
  const local = Date.now() + SHANGHAI;
  return local - (local % DAY) + daysAhead * DAY + secs * 1000 - SHANGHAI;
}

/** Day of the week (0 = Sunday) and of the month, and the date, of an instant in Shanghai; computed without the app's libraries. */
function shanghaiParts(ms: number): { weekday: number; monthday: number; date: string } {
  const d = new Date(ms + SHANGHAI);
  return { weekday: d.getUTCDay(), monthday: d.getUTCDate(), date: d.toISOString().slice(0, 10) };
}

/**
 * The member coupon lifecycle through real HTTP: gifts, redemptions and their reversal,
 * voiding, the member's lists, the expiry and gift-return sweeps, and client keys. The
 * card-service clock is moved by the harness (setClock); sweeps run every 300 ms.
 */
describe('member coupon lifecycle', () => {
  let s: Suite;
  const crm = 'crm_member_life';
  const otherCrm = 'crm_member_other';
  const member = (crmId = crm) => `/api/crm/card/${crmId}/member`;
  let adminKey: string;
  let clientKey: string;
  let expiry: Bull.Queue;

  beforeAll(async () => {
    s = await Suite.start({
      name: 'member_lifecycle',
      services: ['card-service'],
      controlClock: true,
      env: { EXPIRY_SWEEP_MS: '300', PRESENT_TIMEOUT_HOURS: '24' },
    });
    const admin = await s.post(`/api/crm/keys/${crm}`, { scope: 'admin' });
    expect(admin.status).toBe(200);
    adminKey = admin.body.data.key;
    const client = await s.post(`/api/crm/keys/${crm}`, { scope: 'client' });
    expect(client.status).toBe(200);
    clientKey = client.body.data.key;
    // The app's own card-expiry queue, to hold its sweeps or see them in flight.
    expiry = new Bull(Queue.CARD_EXPIRY, s.redisUrl, { prefix: 'loyalty' });
  });
  afterAll(async () => {
    await expiry?.close();
    await s?.stop();
  });

  /** A card with stock, valid for ever and usable at any time unless `over` says otherwise; waits for its stock. */
  const createCard = (over: Record<string, unknown> = {}, quantity = 20, crmId = crm) => s.createStockedCard(crmId, { total_quantity: quantity, ...over });

  /** Claims `n` codes of a card for a member; answers the claim's codes. */
  async function claimCodes(
    cardId: string,
    memberNo: string,
    n = 1,
    crmId = crm,
    key?: string,
  ): Promise<Array<{ card_id: string; card_code: string; start_time: string; end_time: string | null }>> {
    const res = await s.post(`${member(crmId)}/receive`, { received_id: uid('rcv'), member_no: memberNo, out_str: 'e2e', card_info: { [cardId]: n } }, key);
    expect(res.body).toMatchObject({ code: 0 });
    expect(res.status).toBe(200);
    expect(res.body.data).toHaveLength(n);
    return res.body.data;
  }
  const claim = async (cardId: string, memberNo: string, n = 1) => (await claimCodes(cardId, memberNo, n)).map((c) => c.card_code);

  const present = (memberNo: string, cardId: string, code: string, extra: Record<string, unknown> = {}, key?: string, crmId = crm) =>
    s.post(`${member(crmId)}/present`, { member_no: memberNo, card_id: cardId, card_code: code, presant_extra: '送你一张券', ...extra }, key);
  const presentReceive = (memberNo: string, presentId: string) => s.post(`${member()}/present_receive`, { member_no: memberNo, present_id: presentId });
  const redeem = (memberNo: string, cardId: string, code: string, redeemId = uid('rd'), extra: Record<string, unknown> = {}, key?: string, crmId = crm) =>
    s.post(
      `${member(crmId)}/redeem`,
      { member_no: memberNo, card_id: cardId, card_code: code, redeem_channel: 'store_01', redeem_id: redeemId, redeem_extra: '已核销', ...extra },
      key,
    );
  const cardDetail = (memberNo: string, cardId: string, code: string, receivedId?: string) =>
    s.get(
      `${member()}/card_detail?member_no=${encodeURIComponent(memberNo)}&card_id=${cardId}&card_code=${code}${receivedId ? `&received_id=${receivedId}` : ''}`,
    );
  const cardList = (memberNo: string, query = '') => s.get(`${member()}/card_list?member_no=${encodeURIComponent(memberNo)}${query}`);

  /** Every row ever held of a code, oldest first. */
  const codeRows = (cardId: string, code: string) =>
    s.sql<{ member_no: string; code_status: number; receive_type: number; received_id: string }>(
      `SELECT member_no, code_status, receive_type, received_id FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND card_code = $3 ORDER BY auto_id`,
      [crm, cardId, code],
    );
  const presentRow = async (presentId: string) => (await s.sql(`SELECT * FROM card.member_present WHERE crm_id = $1 AND present_id = $2`, [crm, presentId]))[0];
  const count = async (sql: string, params: unknown[]) => (await s.sql<{ n: number }>(sql, params))[0].n;

  /**
   * Runs `fn` while the real card-expiry queue is paused (no sweep starts and none is in
   * flight), so that what `fn` sees is certainly before the sweeps; `queued` jobs of the
   * named sweep are added to run as soon as the queue is resumed.
   */
  async function holdingSweeps(fn: () => Promise<void>, queued: { name?: string; jobs?: number } = {}): Promise<void> {
    try {
      await expiry.pause();
      await sweepsSettled();
      await fn();
      for (let i = 0; i < (queued.jobs ?? 0); i++) await expiry.add(queued.name!, {}, { removeOnComplete: true, removeOnFail: true });
    } finally {
      await expiry.resume();
    }
  }

  /**
   * Waits until no sweep is in flight. A sweep reads the clock once when it starts, so
   * after the clock is moved back one started before may still act on the old time.
   */
  const sweepsSettled = () => s.eventually('no sweep in flight', async () => ((await expiry.getActiveCount()) === 0 ? true : undefined), 20_000, 50);

  describe('gifts', () => {
    it('gives a code to a friend: the giver row is 2 then 6, the friend gets a new row, and the lists show it', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const friend = uid('friend');
      const [code] = await claim(card, giver);

      const gift = await present(giver, card, code);
      expect(gift.status).toBe(200);
      expect(gift.body).toMatchObject({ code: 0 });
      expect(gift.body.data).toMatchObject({
        crm_id: crm,
        present_id: expect.stringMatching(/^[0-9a-f]{32}$/),
        from_member_no: giver,
        to_member_no: null,
        card_id: card,
        card_code: code,
        present_extra: '送你一张券',
        present_time: expect.stringMatching(TIME),
        received_time: null,
        go_back_time: null,
      });
      const presentId = gift.body.data.present_id as string;
      const giving = await cardDetail(giver, card, code);
      expect(giving.body.data).toMatchObject({ member_no: giver, code_status: 2, present_time: expect.stringMatching(TIME) });
      const open = await s.get(`${member()}/present_list?member_no=${giver}&received=0`);
      expect(open.body.data.total).toBe(1);
      expect(open.body.data.data[0]).toMatchObject({ present_id: presentId, to_member_no: null });

      const accepted = await presentReceive(friend, presentId);
      expect(accepted.body).toMatchObject({ code: 0 });
      expect(accepted.status).toBe(200);
      expect(accepted.body.data).toMatchObject({ member_no: friend, card_id: card, card_code: code, code_status: 1, receive_type: 1, received_id: presentId });
      // The same friend again: the same row.
      const again = await presentReceive(friend, presentId);
      expect(again.status).toBe(200);
      expect(again.body.data).toEqual(accepted.body.data);

      // The gift request repeated after the friend accepted: the original answer, nothing new.
      const repeated = await present(giver, card, code, { present_id: presentId });
      expect(repeated.body).toEqual(gift.body);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1 AND card_code = $2`, [crm, code])).toBe(1);
      expect((await cardDetail(giver, card, code)).body.data).toMatchObject({ member_no: giver, code_status: 6 });
      expect((await cardDetail(friend, card, code, presentId)).body.data).toMatchObject({
        member_no: friend,
        code_status: 1,
        receive_type: 1,
        received_id: presentId,
      });
      expect(await codeRows(card, code)).toEqual([
        { member_no: giver, code_status: 6, receive_type: 0, received_id: expect.any(String) },
        { member_no: friend, code_status: 1, receive_type: 1, received_id: presentId },
      ]);
      const friendList = await cardList(friend, '&code_status=1');
      expect(friendList.body.data.total).toBe(1);
      expect(friendList.body.data.result[0]).toMatchObject({ card_code: code, receive_type: 1 });

      const received = await s.get(`${member()}/present_list?member_no=${giver}&received=1`);
      expect(received.status).toBe(200);
      expect(received.body.data.total).toBe(1);
      expect(received.body.data.data[0]).toMatchObject({
        present_id: presentId,
        from_member_no: giver,
        to_member_no: friend,
        received_time: expect.stringMatching(TIME),
      });
      expect((await s.get(`${member()}/present_list?member_no=${giver}&received=0`)).body.data.total).toBe(0);
      expect((await s.get(`${member()}/present_list?member_no=${friend}`)).body.data.total).toBe(0);
      const detail = await s.get(`${member()}/present_detail?present_id=${presentId}`);
      expect(detail.status).toBe(200);
      expect(detail.body.data).toEqual(received.body.data.data[0]);
      // The code is the friend's now: the giver can neither redeem nor gift it, the friend can redeem it.
      expectError(await redeem(giver, card, code), 404, 40405);
      expectError(await present(giver, card, code), 404, 40405);
      const used = await redeem(friend, card, code);
      expect(used.body).toMatchObject({ code: 0, data: { member_no: friend, card_code: code } });
      expect(await codeRows(card, code)).toEqual([
        { member_no: giver, code_status: 6, receive_type: 0, received_id: expect.any(String) },
        { member_no: friend, code_status: 3, receive_type: 1, received_id: presentId },
      ]);
      const unknown = await s.get(`${member()}/present_detail?present_id=no-such-gift`);
      expectError(unknown, 404, 40406);
      expectError(await presentReceive(friend, 'no-such-gift'), 404, 40406);
    });

    it('answers concurrent repeats of an accepted gift alike, with the row as it was accepted, however the code changed since', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const friend = uid('friend');
      const [code] = await claim(card, giver);
      const presentId = (await present(giver, card, code)).body.data.present_id as string;
      const accepted = await presentReceive(friend, presentId);
      expect(accepted.body).toMatchObject({ code: 0, data: { code_status: 1 } });
      expect((await redeem(friend, card, code)).body).toMatchObject({ code: 0 });
      // More repeats at once than the service has database connections: none may wait on another's lock.
      const repeats = await Promise.all(Array.from({ length: 24 }, () => presentReceive(friend, presentId)));
      for (const r of repeats) {
        expect(r.status).toBe(200);
        expect(r.body).toEqual(accepted.body);
      }
      expect((await cardDetail(friend, card, code, presentId)).body.data).toMatchObject({ code_status: 3 });
    });

    it('lets exactly one of several friends racing for a gift accept it', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const codes = await claim(card, giver, 5);
      // Five gifts, each raced for by three friends, all at once.
      const rounds = await Promise.all(
        codes.map(async (code) => {
          const gift = await present(giver, card, code);
          expect(gift.body).toMatchObject({ code: 0 });
          const presentId = gift.body.data.present_id as string;
          const friends = [uid('f'), uid('f'), uid('f')];
          return { code, presentId, answers: await Promise.all(friends.map((f) => presentReceive(f, presentId))) };
        }),
      );
      for (const { code, presentId, answers } of rounds) {
        const winners = answers.filter((a) => a.body.code === 0);
        expect(winners).toHaveLength(1);
        for (const a of answers.filter((x) => x.body.code !== 0)) expectError(a, 409, 40905, /accepted by another/);
        const winner = winners[0].body.data.member_no;
        const rows = await s.sql(`SELECT member_no FROM card.member_card_code WHERE crm_id = $1 AND received_id = $2 AND receive_type = 1`, [crm, presentId]);
        expect(rows).toEqual([{ member_no: winner }]);
        expect((await presentRow(presentId)).to_member_no).toBe(winner);
        expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([6, 1]);
      }
    });

    it('lets one of several concurrent gifts of a code with different present_ids win; a code being gifted is 42203', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const [code] = await claim(card, giver);
      const answers = await Promise.all(Array.from({ length: 6 }, () => present(giver, card, code)));
      const won = answers.filter((a) => a.body.code === 0);
      expect(won).toHaveLength(1);
      for (const a of answers.filter((x) => x.body.code !== 0)) expectError(a, 422, 42203, /being gifted/);
      const rows = await s.sql(`SELECT present_id FROM card.member_present WHERE crm_id = $1 AND card_code = $2`, [crm, code]);
      expect(rows).toEqual([{ present_id: won[0].body.data.present_id }]);
      expectError(await present(giver, card, code), 422, 42203, /being gifted/);
      expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([2]);
    });

    it('keeps a friend within get_limit when two gifts of the card are accepted at once', async () => {
      const card = await createCard({ get_limit: 2 });
      const friend = uid('friend');
      await claim(card, friend);
      const gifts = await Promise.all(
        [uid('giver'), uid('giver')].map(async (giver) => {
          const [code] = await claim(card, giver);
          const gift = await present(giver, card, code);
          expect(gift.body).toMatchObject({ code: 0 });
          return gift.body.data.present_id as string;
        }),
      );
      const answers = await Promise.all(gifts.map((id) => presentReceive(friend, id)));
      expect(answers.map((a) => a.body.code).sort()).toEqual([0, 40904]);
      expect(
        await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, card, friend]),
      ).toBe(2);
      expect(
        (await s.sql(`SELECT received_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, card, friend]))[0]
          .received_sum,
      ).toBe(2);
      const refused = gifts[answers.findIndex((a) => a.body.code !== 0)];
      expect(await presentRow(refused)).toMatchObject({ to_member_no: null, received_time: null });
    });

    it('answers 10 concurrent presents with one present_id alike and records one gift; another payload is 40901', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const [code, other] = await claim(card, giver, 2);
      const presentId = uid('gift');
      // present_extra: the record's spelling, accepted as an alias of presant_extra.
      const body = { member_no: giver, card_id: card, card_code: code, present_extra: '好友专享', present_id: presentId };
      const answers = await Promise.all(Array.from({ length: 10 }, () => s.post(`${member()}/present`, body)));
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body).toEqual(answers[0].body);
      }
      expect(answers[0].body.data).toMatchObject({ present_id: presentId, card_code: code, present_extra: '好友专享', from_member_no: giver });
      expect(await count(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1 AND present_id = $2`, [crm, presentId])).toBe(1);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1 AND from_member_no = $2`, [crm, giver])).toBe(1);
      expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([2]);
      // The same request later: the same answer.
      expect((await s.post(`${member()}/present`, body)).body).toEqual(answers[0].body);
      expectError(await s.post(`${member()}/present`, { ...body, present_extra: '另一句话' }), 409, 40901);
      expectError(await s.post(`${member()}/present`, { ...body, card_code: other }), 409, 40901);
      expect((await codeRows(card, other)).map((r) => r.code_status)).toEqual([1]);
    });

    it("refuses a card without can_give_friend, an unusable or unheld code, one's own gift and a friend over get_limit, changing nothing", async () => {
      const card0 = await createCard();
      const holder = uid('m');
      const [held] = await claim(card0, holder);
      const noExtra = await s.post(`${member()}/present`, { member_no: holder, card_id: card0, card_code: held });
      expectError(noExtra, 400, 40001, /presant_extra/);
      expect(noExtra.body.errors!.map((e) => e.field)).toEqual(['presant_extra']);
      const badId = await present(holder, card0, held, { present_id: 'no spaces allowed' });
      expectError(badId, 400, 40001, /present_id/);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1 AND card_code = $2`, [crm, held])).toBe(0);

      const noGift = await createCard({ can_give_friend: false });
      const a = uid('m');
      const [locked] = await claim(noGift, a);
      expectError(await present(a, noGift, locked), 422, 42204, /may not be given/);
      expect((await codeRows(noGift, locked)).map((r) => r.code_status)).toEqual([1]);

      const card = await createCard();
      const [redeemed, mine, notHers] = await claim(card, a, 3);
      expect((await redeem(a, card, redeemed)).body).toMatchObject({ code: 0 });
      expectError(await present(a, card, redeemed), 422, 42203, /redeemed/);
      expect((await codeRows(card, redeemed)).map((r) => r.code_status)).toEqual([3]);
      expectError(await present(uid('stranger'), card, notHers), 404, 40405);

      const own = await present(a, card, mine);
      expect(own.body).toMatchObject({ code: 0 });
      expectError(await presentReceive(a, own.body.data.present_id), 422, 42204, /own gift/);
      expect((await codeRows(card, mine)).map((r) => r.code_status)).toEqual([2]);
      expect(await presentRow(own.body.data.present_id)).toMatchObject({ to_member_no: null, received_time: null });
      expect(await count(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1 AND from_member_no = $2`, [crm, a])).toBe(1);

      const limited = await createCard({ get_limit: 1 });
      const giver = uid('giver');
      const friend = uid('friend');
      const [gifted] = await claim(limited, giver);
      await claim(limited, friend);
      const gift = await present(giver, limited, gifted);
      expect(gift.body).toMatchObject({ code: 0 });
      const presentId = gift.body.data.present_id as string;
      expectError(await presentReceive(friend, presentId), 409, 40904, /at most 1/);
      expect(
        await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, limited, friend]),
      ).toBe(1);
      expect(
        (await s.sql(`SELECT received_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, limited, friend]))[0]
          .received_sum,
      ).toBe(1);
      expect(await presentRow(presentId)).toMatchObject({ to_member_no: null, received_time: null, go_back_time: null });
      expect(await codeRows(limited, gifted)).toEqual([{ member_no: giver, code_status: 2, receive_type: 0, received_id: expect.any(String) }]);
      // The gift is still open: a friend within the limit takes it.
      const third = uid('friend');
      const ok = await presentReceive(third, presentId);
      expect(ok.body).toMatchObject({ code: 0 });
      expect(ok.body.data).toMatchObject({ member_no: third, code_status: 1 });
    });
  });

  describe('redemption', () => {
    it('refuses a redemption without redeem_id or channel with 400 naming them', async () => {
      const card = await createCard();
      const m = uid('m');
      const [code] = await claim(card, m);
      const res = await s.post(`${member()}/redeem`, { member_no: m, card_id: card, card_code: code, redeem_extra: '' });
      expectError(res, 400, 40001);
      expect(res.body.errors!.map((e) => e.field).sort()).toEqual(['redeem_channel', 'redeem_id']);
      expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([1]);
    });

    it('redeems a held usable code, recording channel and extra', async () => {
      const card = await createCard();
      const m = uid('m');
      const [code] = await claim(card, m);
      const redeemId = uid('rd');
      const res = await redeem(m, card, code, redeemId, { redeem_channel: 'store_07', redeem_extra: '{"order":"A1"}' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ code: 0 });
      expect(res.body.data).toMatchObject({
        crm_id: crm,
        redeem_id: redeemId,
        card_id: card,
        member_no: m,
        card_code: code,
        redeem_channel: 'store_07',
        redeem_extra: '{"order":"A1"}',
        redeem_time: expect.stringMatching(TIME),
        rollback_status: 0,
        rollback_time: null,
      });
      expect((await cardDetail(m, card, code)).body.data).toMatchObject({ code_status: 3, redeem_time: res.body.data.redeem_time });
      expect(
        (await s.sql(`SELECT used_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, card, m]))[0].used_sum,
      ).toBe(1);
      expectError(await redeem(m, card, code), 422, 42203, /redeemed/);
    });

    it('lets one of two concurrent redemptions of a code win, the other is 42203', async () => {
      const card = await createCard();
      const m = uid('m');
      const codes = await claim(card, m, 5);
      // Five codes, each redeemed twice at once under two redeem_ids, all at once.
      const rounds = await Promise.all(codes.map(async (code) => ({ code, answers: await Promise.all([redeem(m, card, code), redeem(m, card, code)]) })));
      for (const { code, answers } of rounds) {
        expect(answers.map((a) => a.body.code).sort()).toEqual([0, 42203]);
        expect(answers.find((a) => a.body.code !== 0)!.status).toBe(422);
        expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1 AND card_code = $2`, [crm, code])).toBe(1);
      }
      expect(
        (await s.sql(`SELECT used_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, card, m]))[0].used_sum,
      ).toBe(5);
    });

    it('answers 20 concurrent copies of one redeem_id alike with one record; another payload under it is 40901', async () => {
      const card = await createCard();
      const m = uid('m');
      const [code, other] = await claim(card, m, 2);
      const redeemId = uid('rd');
      const answers = await Promise.all(Array.from({ length: 20 }, () => redeem(m, card, code, redeemId)));
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body).toEqual(answers[0].body);
      }
      expect(answers[0].body.data).toMatchObject({ redeem_id: redeemId, card_code: code, rollback_status: 0 });
      expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1 AND redeem_id = $2`, [crm, redeemId])).toBe(1);
      expect(
        (await s.sql(`SELECT used_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, card, m]))[0].used_sum,
      ).toBe(1);
      expect((await redeem(m, card, code, redeemId)).body).toEqual(answers[0].body);
      expectError(await redeem(m, card, code, redeemId, { redeem_channel: 'store_99' }), 409, 40901);
      expectError(await redeem(m, card, other, redeemId), 409, 40901);
      expect((await codeRows(card, other)).map((r) => r.code_status)).toEqual([1]);
    });

    it('keeps a member within use_limit, also for concurrent redemptions, and refuses codes the member does not hold', async () => {
      const card = await createCard({ use_limit: 1 });
      const m = uid('m');
      const [first, second] = await claim(card, m, 2);
      expect((await redeem(m, card, first)).body).toMatchObject({ code: 0 });
      expectError(await redeem(m, card, second), 409, 40906, /at most 1/);
      expect((await codeRows(card, second)).map((r) => r.code_status)).toEqual([1]);

      const racer = uid('m');
      const [x, y] = await claim(card, racer, 2);
      const answers = await Promise.all([redeem(racer, card, x), redeem(racer, card, y)]);
      expect(answers.map((a) => a.body.code).sort()).toEqual([0, 40906]);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1 AND member_no = $2`, [crm, racer])).toBe(1);

      const stranger = uid('m');
      expectError(await redeem(stranger, card, second), 404, 40405);
      expectError(await redeem(m, card, 'not-a-code'), 404, 40405);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1 AND member_no = $2`, [crm, stranger])).toBe(0);
    });

    it('rolls a redemption back: usable again with the use counted back; a repeat answers the same; unknown is 40408', async () => {
      const card = await createCard({ use_limit: 1 });
      const m = uid('m');
      const [code] = await claim(card, m);
      const redeemId = uid('rd');
      const first = await redeem(m, card, code, redeemId);
      expect(first.body).toMatchObject({ code: 0, data: { rollback_status: 0, rollback_time: null } });
      const rev = await s.post(`${member()}/redeem_reverse`, { redeem_id: redeemId });
      expect(rev.status).toBe(200);
      expect(rev.body.data).toMatchObject({ redeem_id: redeemId, card_code: code, rollback_status: 1, rollback_time: expect.stringMatching(TIME) });
      expect((await cardDetail(m, card, code)).body.data).toMatchObject({ code_status: 1, redeem_time: null });
      const again = await s.post(`${member()}/redeem_reverse`, { redeem_id: redeemId });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(rev.body);
      expect(
        (await s.sql(`SELECT used_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3`, [crm, card, m]))[0].used_sum,
      ).toBe(0);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_card_expired WHERE crm_id = $1 AND card_code = $2`, [crm, code])).toBe(0);
      // The redemption request repeated after its reversal: the original answer, not a second redemption.
      const replay = await redeem(m, card, code, redeemId);
      expect(replay.body).toEqual(first.body);
      expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([1]);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1 AND card_code = $2`, [crm, code])).toBe(1);
      // use_limit 1 and the use was given back: the code can be redeemed again.
      expect((await redeem(m, card, code)).body).toMatchObject({ code: 0 });
      expectError(await s.post(`${member()}/redeem_reverse`, { redeem_id: 'no-such-redeem' }), 404, 40408);
    });
  });

  describe('a removed card', () => {
    it('takes no more claims, but the codes already claimed can still be gifted, accepted and redeemed', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const friend = uid('friend');
      const [kept, gifted] = await claim(card, giver, 2);
      expect((await s.post(`/api/crm/card/${crm}/remove`, { card_id: card })).body).toMatchObject({ code: 0 });
      expectError(await s.post(`${member()}/receive`, { received_id: uid('rcv'), member_no: giver, out_str: 'e2e', card_info: { [card]: 1 } }), 409, 40902);
      expect((await redeem(giver, card, kept)).body).toMatchObject({ code: 0 });
      const presentId = (await present(giver, card, gifted)).body.data.present_id as string;
      expect((await presentReceive(friend, presentId)).body).toMatchObject({ code: 0, data: { member_no: friend, card_code: gifted } });
      expect((await redeem(friend, card, gifted)).body).toMatchObject({ code: 0 });
    });
  });

  describe('voiding', () => {
    it('voids with admin and root keys, once, recording the operator; client keys get 403; redeemed codes are 42203', async () => {
      const card = await createCard();
      const m = uid('m');
      const [a, b, c, d] = await claim(card, m, 4);
      const obsolete = (code: string, operator: string, key?: string) =>
        s.post(`${member()}/obsolete`, { member_no: m, card_id: card, card_code: code, operator }, key);
      const obsoletedRows = (code: string) =>
        s.sql(`SELECT member_no, card_id, operator FROM card.member_card_obsoleted WHERE crm_id = $1 AND card_code = $2`, [crm, code]);

      const voided = await obsolete(a, 'ops_zhang', adminKey);
      expect(voided.status).toBe(200);
      expect(voided.body.data).toMatchObject({ card_code: a, code_status: 5, obsoleted_time: expect.stringMatching(TIME) });
      expect(await obsoletedRows(a)).toEqual([{ member_no: m, card_id: card, operator: 'ops_zhang' }]);
      const again = await obsolete(a, 'ops_zhang', adminKey);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ code: 0 });
      expect(again.body.data).toMatchObject({ code_status: 5, obsoleted_time: voided.body.data.obsoleted_time });
      expect(await obsoletedRows(a)).toHaveLength(1);
      expectError(await redeem(m, card, a), 422, 42203, /void/);

      const byRoot = await obsolete(b, 'root_ops');
      expect(byRoot.body.data).toMatchObject({ code_status: 5 });
      expect(await obsoletedRows(b)).toEqual([{ member_no: m, card_id: card, operator: 'root_ops' }]);

      expectError(await obsolete(c, 'mini_app', clientKey), 403, 40301);
      expect((await codeRows(card, c)).map((r) => r.code_status)).toEqual([1]);
      expect(await obsoletedRows(c)).toEqual([]);
      expectError(await s.post(`${member(otherCrm)}/obsolete`, { member_no: m, card_id: card, card_code: c, operator: 'x' }, adminKey), 403, 40301);

      expect((await redeem(m, card, d)).body).toMatchObject({ code: 0 });
      expectError(await obsolete(d, 'ops_zhang', adminKey), 422, 42203, /redeemed/);
      expect((await codeRows(card, d)).map((r) => r.code_status)).toEqual([3]);
      expect(await obsoletedRows(d)).toEqual([]);
    });
  });

  describe("a member's codes", () => {
    it('lists by code_status, newest first, with paging; detail of an unknown code is 40405; bad queries are 400', async () => {
      const card = await createCard();
      const m = uid('m');
      const codes = await claim(card, m, 5);
      expect((await redeem(m, card, codes[1])).body).toMatchObject({ code: 0 });
      expect((await s.post(`${member()}/obsolete`, { member_no: m, card_id: card, card_code: codes[3], operator: 'ops' })).body).toMatchObject({ code: 0 });
      const newest = await s.sql(`SELECT card_code, code_status FROM card.member_card_code WHERE crm_id = $1 AND member_no = $2 ORDER BY auto_id DESC`, [
        crm,
        m,
      ]);
      expect(newest).toHaveLength(5);
      const codesOf = (res: Answer) => res.body.data.result.map((r: any) => r.card_code);

      const all = await cardList(m);
      expect(all.status).toBe(200);
      expect(all.body.data.total).toBe(5);
      expect(codesOf(all)).toEqual(newest.map((r) => r.card_code));
      const usable = await cardList(m, '&code_status=1');
      expect(usable.body.data.total).toBe(3);
      expect(codesOf(usable)).toEqual(newest.filter((r) => r.code_status === 1).map((r) => r.card_code));
      expect(usable.body.data.result.every((r: any) => r.code_status === 1)).toBe(true);
      const redeemed = await cardList(m, '&code_status=3');
      expect(redeemed.body.data).toMatchObject({ total: 1, result: [{ card_code: codes[1], code_status: 3 }] });
      const voided = await cardList(m, '&code_status=5');
      expect(voided.body.data).toMatchObject({ total: 1, result: [{ card_code: codes[3], code_status: 5 }] });
      expect((await cardList(m, '&code_status=4')).body.data).toEqual({ total: 0, result: [] });

      const page2 = await cardList(m, '&page_size=2&page_id=2');
      expect(page2.body.data.total).toBe(5);
      expect(codesOf(page2)).toEqual(newest.slice(2, 4).map((r) => r.card_code));
      const page3 = await cardList(m, '&page_size=2&page_id=3');
      expect(codesOf(page3)).toEqual([newest[4].card_code]);

      expectError(await cardDetail(m, card, 'no-such-code'), 404, 40405);
      expectError(await cardDetail(uid('m'), card, codes[0]), 404, 40405);

      const badStatus = await cardList(m, '&code_status=9');
      expectError(badStatus, 400, 40001, /code_status/);
      expect(badStatus.body.errors!.map((e) => e.field)).toEqual(['code_status']);
      const bigPage = await cardList(m, '&page_size=101');
      expectError(bigPage, 400, 40001, /page_size/);
      expect(bigPage.body.errors!.map((e) => e.field)).toEqual(['page_size']);
      const noMember = await s.get(`${member()}/card_list`);
      expectError(noMember, 400, 40001);
      expect(noMember.body.errors!.map((e) => e.field)).toContain('member_no');
    });
  });

  describe('client keys', () => {
    it('may claim and gift on their own crm_id, not on another; redeeming is for admin keys', async () => {
      const card = await createCard();
      const m = uid('m');
      const codes = (await claimCodes(card, m, 2, crm, clientKey)).map((c) => c.card_code);
      const gift = await present(m, card, codes[0], {}, clientKey);
      expect(gift.status).toBe(200);
      expect(gift.body).toMatchObject({ code: 0 });
      expectError(await redeem(m, card, codes[1], uid('rd'), {}, clientKey), 403, 40301);
      const used = await redeem(m, card, codes[1], uid('rd'), {}, adminKey);
      expect(used.status).toBe(200);
      expect(used.body).toMatchObject({ code: 0 });

      const foreign = await createCard({}, 5, otherCrm);
      const receive = await s.post(
        `${member(otherCrm)}/receive`,
        { received_id: uid('rcv'), member_no: m, out_str: 'e2e', card_info: { [foreign]: 1 } },
        clientKey,
      );
      expectError(receive, 403, 40301, new RegExp(otherCrm));
      expect(await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1`, [otherCrm])).toBe(0);
      const [theirs] = (await claimCodes(foreign, m, 1, otherCrm)).map((c) => c.card_code);
      expectError(await present(m, foreign, theirs, {}, clientKey, otherCrm), 403, 40301);
      expectError(await redeem(m, foreign, theirs, uid('rd'), {}, clientKey, otherCrm), 403, 40301);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND code_status = 1`, [otherCrm])).toBe(1);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_present WHERE crm_id = $1`, [otherCrm])).toBe(0);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1`, [otherCrm])).toBe(0);
    });
  });

  describe('with the clock moved', () => {
    afterEach(async () => {
      await s.setClock(0);
      await sweepsSettled();
    });

    it('sends a gift not accepted within PRESENT_TIMEOUT_HOURS back to the giver, and not one within it', async () => {
      const card = await createCard();
      const giver = uid('giver');
      const [early, late, sentinel] = await claim(card, giver, 3);
      // A gift made 2 hours ago: 25 hours old once the clock is 23 hours ahead.
      await s.setClock(-2 * HOUR);
      const sentinelGift = await present(giver, card, sentinel);
      expect(sentinelGift.body).toMatchObject({ code: 0 });
      await s.setClock(0);
      const earlyGift = await present(giver, card, early);
      const lateGift = await present(giver, card, late);
      expect([earlyGift.body, lateGift.body]).toMatchObject([{ code: 0 }, { code: 0 }]);
      const earlyId = earlyGift.body.data.present_id as string;

      await s.setClock(23 * HOUR);
      const friend = uid('friend');
      const accepted = await presentReceive(friend, lateGift.body.data.present_id);
      expect(accepted.body).toMatchObject({ code: 0 });
      expect(accepted.body.data).toMatchObject({ member_no: friend, code_status: 1 });
      await s.eventually(
        'a sweep at +23h to return the 25-hour-old gift',
        async () => ((await presentRow(sentinelGift.body.data.present_id)).go_back_time ? true : undefined),
        20_000,
      );
      expect((await codeRows(card, sentinel)).map((r) => r.code_status)).toEqual([1]);
      // That sweep ran 23 hours after the early gift and left it alone.
      expect((await presentRow(earlyId)).go_back_time).toBeNull();
      expect((await codeRows(card, early)).map((r) => r.code_status)).toEqual([2]);

      // 25 hours later and before any sweep: accepting is refused, and the refusal changes nothing.
      const tooLate = uid('friend');
      await holdingSweeps(async () => {
        await s.setClock(25 * HOUR);
        expectError(await presentReceive(tooLate, earlyId), 409, 40905, /within 24 hours/);
        expect((await presentRow(earlyId)).go_back_time).toBeNull();
        expect((await codeRows(card, early)).map((r) => r.code_status)).toEqual([2]);
      });
      await s.eventually(
        'the sweep to return the gift not accepted in 24 hours',
        async () => {
          const p = await presentRow(earlyId);
          const rows = await codeRows(card, early);
          return p.go_back_time && rows[0].code_status === 1 ? true : undefined;
        },
        20_000,
      );
      const detail = await s.get(`${member()}/present_detail?present_id=${earlyId}`);
      expect(detail.body.data).toMatchObject({ go_back_time: expect.stringMatching(TIME), received_time: null, to_member_no: null });
      expectError(await presentReceive(tooLate, earlyId), 409, 40905, /went back/);
      expect(await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND member_no = $2`, [crm, tooLate])).toBe(0);
      expect((await cardDetail(giver, card, early)).body.data).toMatchObject({ code_status: 1 });
      // The code is the giver's again: it can be given anew.
      expect((await present(giver, card, early)).body).toMatchObject({ code: 0 });
      // The accepted gift is not touched by the sweep.
      expect((await presentRow(lateGift.body.data.present_id)).go_back_time).toBeNull();
      expect((await codeRows(card, late)).map((r) => r.code_status)).toEqual([6, 1]);
    });

    describe('usability windows in Asia/Shanghai', () => {
      it('validity: a date_type 2 code starting tomorrow is not usable before its first day', async () => {
        const card = await createCard({ date_type: 2, start_day_count: 1, expire_day_count: 1 });
        const m = uid('m');
        const [claimed] = await claimCodes(card, m);
        const tomorrow = shanghaiParts(shanghaiAt(1, 0)).date;
        expect(claimed).toMatchObject({ start_time: `${tomorrow} 00:00:00`, end_time: `${tomorrow} 23:59:59` });
        expectError(await redeem(m, card, claimed.card_code), 422, 42203, /is not valid yet/);
        await s.setClock(shanghaiAt(1, 10 * 3600) - Date.now());
        expect((await redeem(m, card, claimed.card_code)).body).toMatchObject({ code: 0 });
      });

      it('weekdays: usable on a listed day of the week only', async () => {
        const tomorrow = shanghaiAt(1, 10 * 3600);
        const dayAfter = shanghaiAt(2, 10 * 3600);
        const weekday = shanghaiParts(tomorrow).weekday;
        const card = await createCard({ weekdays: String(weekday) });
        const m = uid('m');
        const [code] = await claim(card, m);
        await s.setClock(dayAfter - Date.now());
        expectError(await redeem(m, card, code), 422, 42203, new RegExp(`day of the week \\(weekdays ${weekday}\\)`));
        expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([1]);
        await s.setClock(tomorrow - Date.now());
        const ok = await redeem(m, card, code);
        expect(ok.body).toMatchObject({ code: 0 });
        expect(ok.status).toBe(200);
      });

      it('monthdays: usable on a listed day of the month only', async () => {
        const tomorrow = shanghaiAt(1, 10 * 3600);
        const dayAfter = shanghaiAt(2, 10 * 3600);
        const monthday = shanghaiParts(tomorrow).monthday;
        const card = await createCard({ monthdays: String(monthday) });
        const m = uid('m');
        const [code] = await claim(card, m);
        await s.setClock(dayAfter - Date.now());
        expectError(await redeem(m, card, code), 422, 42203, new RegExp(`day of the month \\(monthdays ${monthday}\\)`));
        await s.setClock(tomorrow - Date.now());
        expect((await redeem(m, card, code)).body).toMatchObject({ code: 0 });
      });

      it('day_begin_time..day_end_time: usable within the local time of day only', async () => {
        const card = await createCard({ day_begin_time: 9 * 3600, day_end_time: 18 * 3600 });
        const m = uid('m');
        const [code, late] = await claim(card, m, 2);
        for (const secs of [8 * 3600 + 30 * 60, 18 * 3600 + 60, 23 * 3600]) {
          await s.setClock(shanghaiAt(1, secs) - Date.now());
          expectError(await redeem(m, card, code), 422, 42203, /usable only between 09:00:00 and 18:00:00/);
        }
        expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([1]);
        await s.setClock(shanghaiAt(1, 10 * 3600) - Date.now());
        expect((await redeem(m, card, code)).body).toMatchObject({ code: 0 });
        await s.setClock(shanghaiAt(1, 18 * 3600 - 30) - Date.now());
        expect((await redeem(m, card, late)).body).toMatchObject({ code: 0 });
      });
    });

    it('expires codes past their end: refused and listed as expired before the sweep, then marked once each by two workers', async () => {
      // The second worker sweeps in small batches, so the two overlap.
      s.spawn('card-service', { ROLE: 'worker', EXPIRY_BATCH_SIZE: '100' });
      await s.waitForInstances('card-service', 2);
      const before = shanghaiParts(Date.now()).date;
      const card = await createCard({ date_type: 2, start_day_count: 0, expire_day_count: 1 }, 2000);
      const members = Array.from({ length: 20 }, () => uid('exp'));
      const claimed = await Promise.all(members.map((m) => claimCodes(card, m, 100)));
      const after = shanghaiParts(Date.now()).date;
      const day = claimed[0][0].end_time!.slice(0, 10);
      expect([before, after]).toContain(day);
      for (const c of claimed.flat()) expect(c).toMatchObject({ start_time: `${day} 00:00:00`, end_time: `${day} 23:59:59` });
      const m0 = members[0];
      const code0 = claimed[0][0].card_code;
      const usable = await cardList(m0, '&code_status=1&page_size=100');
      expect(usable.body.data.total).toBe(100);
      expect(usable.body.data.result.map((r: any) => r.card_code)).toContain(code0);

      // Hold the sweeps (the real queue, paused) so that what follows is certainly before them;
      // on resuming, several sweeps are queued at once so that both workers sweep together.
      await holdingSweeps(
        async () => {
          await s.setClock(2 * DAY);
          expectError(await redeem(m0, card, code0), 422, 42203, /has expired/);
          expectError(await present(m0, card, code0), 422, 42203, /has expired/);
          const expired = await cardList(m0, '&code_status=4&page_size=100');
          expect(expired.body.data.total).toBe(100);
          expect(expired.body.data.result.every((r: any) => r.code_status === 4)).toBe(true);
          expect((await cardList(m0, '&code_status=1')).body.data).toEqual({ total: 0, result: [] });
          expect((await cardDetail(m0, card, code0)).body.data).toMatchObject({ code_status: 4, expired_time: `${day} 23:59:59` });
          // The answers above came before any sweep: the rows are still 1 and nothing is recorded.
          expect(await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND code_status = 1`, [crm, card])).toBe(
            2000,
          );
          expect(await count(`SELECT count(*)::int AS n FROM card.member_card_expired WHERE crm_id = $1 AND card_id = $2`, [crm, card])).toBe(0);
        },
        { name: CardExpiryJob.EXPIRE_CODES, jobs: 4 },
      );

      await s.eventually(
        'the sweep to mark every code expired',
        async () =>
          (await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND card_id = $2 AND code_status = 4`, [crm, card])) === 2000
            ? true
            : undefined,
        60_000,
        200,
      );
      const [rec] = await s.sql(
        `SELECT count(*)::int AS n, count(DISTINCT card_code)::int AS codes, count(DISTINCT member_no)::int AS members,
                bool_and(expired_time = (SELECT m.end_time FROM card.member_card_code m WHERE m.crm_id = e.crm_id AND m.card_code = e.card_code)) AS at_end
           FROM card.member_card_expired e WHERE crm_id = $1 AND card_id = $2`,
        [crm, card],
      );
      expect(rec).toEqual({ n: 2000, codes: 2000, members: 20, at_end: true });
      expect((await cardDetail(m0, card, code0)).body.data).toMatchObject({ code_status: 4, expired_time: `${day} 23:59:59` });
      expectError(await redeem(m0, card, code0), 422, 42203, /expired/);
    });

    it('rolls a redemption back to expired when the code ended meanwhile, with one expired row', async () => {
      const card = await createCard({ date_type: 2, start_day_count: 0, expire_day_count: 1 });
      const m = uid('m');
      const [code] = await claim(card, m);
      const redeemId = uid('rd');
      expect((await redeem(m, card, code, redeemId)).body).toMatchObject({ code: 0 });
      await s.setClock(2 * DAY);
      const rev = await s.post(`${member()}/redeem_reverse`, { redeem_id: redeemId });
      expect(rev.status).toBe(200);
      expect(rev.body.data).toMatchObject({ redeem_id: redeemId, rollback_status: 1 });
      expect((await codeRows(card, code)).map((r) => r.code_status)).toEqual([4]);
      expect((await cardDetail(m, card, code)).body.data).toMatchObject({ code_status: 4, redeem_time: null });
      const expiredRows = () => s.sql(`SELECT member_no, card_id FROM card.member_card_expired WHERE crm_id = $1 AND card_code = $2`, [crm, code]);
      expect(await expiredRows()).toEqual([{ member_no: m, card_id: card }]);
      const again = await s.post(`${member()}/redeem_reverse`, { redeem_id: redeemId });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(rev.body);
      expect(await expiredRows()).toHaveLength(1);
      expectError(await redeem(m, card, code), 422, 42203, /expired/);
    });
  });
});
