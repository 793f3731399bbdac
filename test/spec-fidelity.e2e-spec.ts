import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Answer, cardBody, Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Asia/Shanghai has no daylight saving time: local time is UTC + 8 hours all year. */
const SHANGHAI = 8 * HOUR;
/** 'YYYY-MM-DD HH:mm:ss' of an instant in Shanghai, computed without the app's libraries. */
const shanghaiText = (ms: number): string => new Date(ms + SHANGHAI).toISOString().slice(0, 19).replace('T', ' ');
const shanghaiMs = (text: string): number => Date.parse(`${text.replace(' ', 'T')}+08:00`);

/**
 * What a client integrating from the documents in shared/spec/ meets, item by item of the
 * spec-fidelity issue: client keys kept to the mini-program routes, every documented
 * history search_type, `mobile`, accept's table fields, the summary's second path,
 * by_rule's expire_days / freeze_hours, add/stock on imported-code cards, and
 * card_code_preuse_status. Real HTTP through the gateway to card-service and points-service.
 */
describe('spec fidelity', () => {
  let s: Suite;
  const crm = 'crm_spec';
  const otherCrm = 'crm_spec_other';
  const cardBase = `/api/crm/card/${crm}`;
  const member = `${cardBase}/member`;
  const points = (crmId = crm) => `/api/crm/points/${crmId}`;
  let adminKey: string;
  let clientKey: string;
  let otherClientKey: string;

  let files: Server;
  let filesUrl: string;

  beforeAll(async () => {
    files = createServer((req, res) => {
      if (req.url === '/seven.csv') res.end(Array.from({ length: 7 }, (_, i) => `MORE-${String(i).padStart(4, '0')}`).join('\n'));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => files.listen(0, '127.0.0.1', r));
    filesUrl = `http://127.0.0.1:${(files.address() as AddressInfo).port}`;

    s = await Suite.start({
      name: 'spec_fidelity',
      services: ['card-service', 'points-service'],
      controlClock: true,
      env: { EXPIRY_SWEEP_MS: '300', IMPORT_ALLOW_PRIVATE_HOSTS: 'true' },
    });
    const issue = async (crmId: string, scope: string) => {
      const res = await s.post(`/api/crm/keys/${crmId}`, { scope });
      expect(res.body).toMatchObject({ code: 0 });
      return res.body.data.key as string;
    };
    adminKey = await issue(crm, 'admin');
    clientKey = await issue(crm, 'client');
    otherClientKey = await issue(otherCrm, 'client');
  });
  afterEach(async () => {
    await s.setClock(0);
  });
  afterAll(async () => {
    await s?.stop();
    files?.closeAllConnections();
    await new Promise((r) => files?.close(r));
  });

  const count = async (sql: string, params: unknown[]) => (await s.sql<{ n: number }>(sql, params))[0].n;

  const earn = async (memberNo: string, amount: number, extra: Record<string, unknown> = {}, crmId = crm) => {
    const res = await s.post(
      `${points(crmId)}/produce/direct`,
      { event_no: uid('earn'), member_no: memberNo, event_type: 'order', points: amount, ...extra },
      crmId === crm ? adminKey : s.rootKey,
    );
    expect(res.body).toMatchObject({ code: 0 });
    return res.body.data as Record<string, any>;
  };
  const history = (body: Record<string, unknown>, key: string = adminKey) => s.post(`${points()}/history`, body, key);
  /** event_nos of a history answer, in its order. */
  const eventNos = (res: Answer) => {
    expect(res.body).toMatchObject({ code: 0 });
    return (res.body.data.items as Array<{ event_no: string }>).map((i) => i.event_no);
  };

  describe('1. client keys stay client keys', () => {
    it('refuses redeem, redeem_reverse, receive_reverse and obsolete to a client key with 403 40301 before looking at anything; the mini-program routes stay open', async () => {
      const card = await s.createStockedCard(crm);
      const m = uid('m');
      const friend = uid('friend');
      const receivedId = uid('rcv');
      // What a mini-program back end does, all with its client key.
      const claimed = await s.post(`${member}/receive`, { received_id: receivedId, member_no: m, out_str: 'mini', card_info: { [card]: 3 } }, clientKey);
      expect(claimed.body).toMatchObject({ code: 0 });
      const [kept, given, spare] = (claimed.body.data as Array<{ card_code: string }>).map((c) => c.card_code);
      expect((await s.get(`${member}/receive_detail?received_id=${receivedId}`, clientKey)).body).toMatchObject({ code: 0 });
      expect((await s.get(`${member}/card_list?member_no=${m}`, clientKey)).body).toMatchObject({ code: 0, data: { total: 3 } });
      expect((await s.get(`${member}/card_detail?member_no=${m}&card_id=${card}&card_code=${kept}`, clientKey)).body).toMatchObject({ code: 0 });
      const gift = await s.post(`${member}/present`, { member_no: m, card_id: card, card_code: given, presant_extra: 'for you' }, clientKey);
      expect(gift.body).toMatchObject({ code: 0 });
      const presentId = gift.body.data.present_id as string;
      expect((await s.get(`${member}/present_list?member_no=${m}`, clientKey)).body).toMatchObject({ code: 0, data: { total: 1 } });
      expect((await s.get(`${member}/present_detail?present_id=${presentId}`, clientKey)).body).toMatchObject({ code: 0 });
      expect((await s.post(`${member}/present_receive`, { present_id: presentId, member_no: friend }, clientKey)).body).toMatchObject({ code: 0 });
      expect((await s.get(`${points()}/summary?member_no=${m}`, clientKey)).body).toMatchObject({ code: 0 });
      expect((await history({ member_no: m }, clientKey)).body).toMatchObject({ code: 0 });

      // What a store or an operator does: 403, whether the member holds the code, does not, or the body is nonsense.
      const refused = [
        ['redeem', { member_no: m, card_id: card, card_code: kept, redeem_id: uid('rd'), redeem_channel: 'pos', redeem_extra: '' }],
        ['redeem', { member_no: m, card_id: card, card_code: 'NOT-A-CODE-OF-HIS', redeem_id: uid('rd'), redeem_channel: 'pos', redeem_extra: '' }],
        ['redeem', { nonsense: true }],
        ['redeem_reverse', { redeem_id: uid('rd') }],
        ['receive_reverse', { received_id: receivedId }],
        ['obsolete', { member_no: m, card_id: card, card_code: spare, operator: 'mini' }],
      ] as const;
      for (const [route, body] of refused) {
        const res = await s.post(`${member}/${route}`, body, clientKey);
        expectError(res, 403, 40301, /admin keys only/);
        expect(res.body.msg).not.toMatch(/hold|not found/);
      }
      // Nothing moved: no redemption, the claim stands, the spare code is usable.
      expect(await count(`SELECT count(*)::int AS n FROM card.member_redeem WHERE crm_id = $1 AND member_no = $2`, [crm, m])).toBe(0);
      expect(
        await count(`SELECT count(*)::int AS n FROM card.member_card_code WHERE crm_id = $1 AND member_no = $2 AND is_reversed = 0 AND code_status = 1`, [
          crm,
          m,
        ]),
      ).toBe(2);

      // The same calls with the admin key go through.
      const redeemId = uid('rd');
      expect(
        (
          await s.post(
            `${member}/redeem`,
            { member_no: m, card_id: card, card_code: kept, redeem_id: redeemId, redeem_channel: 'pos', redeem_extra: '' },
            adminKey,
          )
        ).body,
      ).toMatchObject({ code: 0 });
      expect((await s.post(`${member}/redeem_reverse`, { redeem_id: redeemId }, adminKey)).body).toMatchObject({ code: 0 });
      expect((await s.post(`${member}/obsolete`, { member_no: m, card_id: card, card_code: spare, operator: 'ops' }, adminKey)).body).toMatchObject({
        code: 0,
      });
    });
  });

  describe('2-3. history', () => {
    it('takes every search_type of the points document, each filtering to what its word means at the moment asked', async () => {
      const a = uid('hist-a');
      const b = uid('hist-b');
      const plain = await earn(a, 10);
      const frozen = await earn(a, 5, { freeze_hours: 48 });
      const spendNo = uid('spend');
      expect((await s.post(`${points()}/consume/direct`, { event_no: spendNo, member_no: a, points: 3 }, adminKey)).body).toMatchObject({ code: 0 });
      const held = uid('tp');
      const direct = uid('td');
      expect((await s.post(`${points()}/transfer`, { transfer_no: held, from_user: a, to_user: b, points: 2 }, adminKey)).body).toMatchObject({ code: 0 });
      expect((await s.post(`${points()}/transfer/direct`, { transfer_no: direct, from_user: a, to_user: b, points: 1 }, adminKey)).body).toMatchObject({
        code: 0,
      });
      expect((await s.post(`${points()}/accept`, { transfer_no: held, member_no: b }, adminKey)).body).toMatchObject({ code: 0 });
      // Earned after the spends, so that none of them takes from it: it is left to expire.
      const short = await earn(a, 2, { expire_days: 1 });

      const of = async (memberNo: string, searchType: string) => eventNos(await history({ member_no: memberNo, search_type: searchType }));
      expect(await of(a, 'produce')).toEqual([short.event_no, frozen.event_no, plain.event_no]);
      expect(await of(a, 'consume')).toEqual([spendNo]);
      expect(await of(a, 'transfer')).toEqual([direct, held]);
      expect(await of(a, 'transfer_out')).toEqual([direct, held]);
      // accept: received by accepting; the direct transfer's receipt is transfer_in only.
      expect(await of(b, 'accept')).toEqual([`in#${held}`]);
      expect(await of(b, 'transfer_in')).toEqual([`in#${held}`, `in#${direct}`]);
      expect(await of(a, 'freeze')).toEqual([frozen.event_no]);
      expect(await of(a, 'expired')).toEqual([]);

      // Two days later: the frozen earn has thawed, the short one has expired (the sweep writes its row).
      await s.setClock(2 * DAY);
      expect(await of(a, 'freeze')).toEqual([]);
      const expiredRows = await s.eventually('the expiry sweep', async () => {
        const rows = await of(a, 'expired');
        return rows.length ? rows : undefined;
      });
      expect(expiredRows).toHaveLength(1);
      const [row] = (await history({ member_no: a, search_type: 'expired' })).body.data.items;
      expect(row).toMatchObject({ event_type: 'expired', origin_event_no: short.event_no });

      expectInvalid(await history({ search_type: 'frozen' }), 'search_type');
    });

    it('never answers the tenant journal for mobile alone: 400 naming mobile, nothing read; beside member_no it does not widen the answer', async () => {
      const m = uid('mob');
      await earn(m, 4);
      await earn(uid('someone-else'), 4);
      expectInvalid(await history({ mobile: '18608011234' }), 'mobile');
      expectInvalid(await history({ mobile: '18608011234', action_scene: 'order' }, clientKey), 'mobile');
      const withMember = await history({ mobile: '18608011234', member_no: m });
      expect(withMember.body).toMatchObject({ code: 0, data: { total: 1, items: [{ member_no: m }] } });
    });

    it("carries amount: the order's pay_amount where the event had one, else null", async () => {
      const m = uid('amount');
      const paid = await earn(m, 10, { order_info: { order_sn: 'SN1', pay_amount: 100.5, item_list: [] } });
      expect(paid).toMatchObject({ amount: 100.5 });
      const bare = await earn(m, 1);
      expect(bare).toMatchObject({ amount: null });
      const items = (await history({ member_no: m })).body.data.items as Array<{ event_no: string; amount: number | null }>;
      expect(items.map((i) => [i.event_no, i.amount])).toEqual([
        [bare.event_no, null],
        [paid.event_no, 100.5],
      ]);
    });
  });

  describe('4. accept', () => {
    const offer = (from: string, to: string, amount: number, extra: Record<string, unknown> = {}) => {
      const transferNo = uid('tp');
      return s
        .post(`${points()}/transfer`, { transfer_no: transferNo, from_user: from, to_user: to, points: amount, trans_type: 'by_poins', ...extra }, adminKey)
        .then((res) => {
          expect(res.body).toMatchObject({ code: 0, data: { event_type: 'transfer_out', trans_type: 'by_poins' } });
          return transferNo;
        });
    };

    it("takes the document's table fields (from_user, to_user, trans_type, points) and keeps trans_type as answered", async () => {
      const a = uid('acc-a');
      const b = uid('acc-b');
      await earn(a, 20);
      const transferNo = await offer(a, b, 7.5);
      const res = await s.post(`${points()}/accept`, { transfer_no: transferNo, from_user: a, to_user: b, trans_type: 'by_poins', points: 7.5 }, adminKey);
      expect(res.body).toMatchObject({
        code: 0,
        data: { event_type: 'transfer_in', member_no: b, points: 7.5, trans_type: 'by_poins', from_transfer_no: transferNo },
      });
      // What the answers say is what is stored, on both journal rows.
      const rows = await s.sql(`SELECT event_no, trans_type FROM points.event WHERE crm_id = $1 AND from_transfer_no = $2 ORDER BY auto_id`, [crm, transferNo]);
      expect(rows).toEqual([
        { event_no: transferNo, trans_type: 'by_poins' },
        { event_no: `in#${transferNo}`, trans_type: 'by_poins' },
      ]);
      expect((await history({ member_no: b, search_type: 'accept' })).body.data.items[0]).toMatchObject({ trans_type: 'by_poins' });

      const directNo = uid('td');
      const direct = await s.post(`${points()}/transfer/direct`, { transfer_no: directNo, from_user: a, to_user: b, points: 1, trans_type: 'gift' }, adminKey);
      expect(direct.body).toMatchObject({ code: 0, data: { trans_type: 'gift' } });
      expect(await s.sql(`SELECT trans_type FROM points.event WHERE crm_id = $1 AND from_transfer_no = $2`, [crm, directNo])).toEqual([
        { trans_type: 'gift' },
        { trans_type: 'gift' },
      ]);
    });

    it("refuses an accept whose fields are not the transfer's, naming the field, and changes nothing", async () => {
      const a = uid('acc-a');
      const b = uid('acc-b');
      await earn(a, 20);
      const transferNo = await offer(a, b, 5);
      expectError(await s.post(`${points()}/accept`, { transfer_no: transferNo, to_user: b, points: 6 }, adminKey), 409, 40901, /points 5, not 6/);
      expectError(await s.post(`${points()}/accept`, { transfer_no: transferNo, to_user: b, from_user: uid('x') }, adminKey), 409, 40901, /from_user/);
      expectError(await s.post(`${points()}/accept`, { transfer_no: transferNo, to_user: b, trans_type: 'by_cash' }, adminKey), 409, 40901, /trans_type/);
      expectInvalid(await s.post(`${points()}/accept`, { transfer_no: transferNo, to_user: b, member_no: uid('x') }, adminKey), 'to_user');
      expectError(await s.post(`${points()}/accept`, { transfer_no: transferNo, to_user: uid('stranger') }, adminKey), 404, 40411);
      const [t] = await s.sql(`SELECT status FROM points.transfer WHERE crm_id = $1 AND transfer_no = $2`, [crm, transferNo]);
      expect(t.status).toBe('pending');
      expect(await count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crm, `in#${transferNo}`])).toBe(0);
      // The right fields, given as the document gives them, take it.
      expect((await s.post(`${points()}/accept`, { transfer_no: transferNo, from_user: a, to_user: b, points: 5 }, adminKey)).body).toMatchObject({ code: 0 });
    });
  });

  describe("5. the summary's second path", () => {
    it('answers GET /api/crm/mgr/app/points/summary for the tenant of the key, and 400 naming crm_id for the root key', async () => {
      const m = uid('sum');
      await earn(m, 12, { freeze_hours: 1 });
      await earn(m, 3, {}, otherCrm);
      const tenantRoute = await s.get(`${points()}/summary?member_no=${m}`, adminKey);
      expect(tenantRoute.body).toMatchObject({ code: 0, data: { crm_id: crm, total_points: 12, freeze_points: 12 } });
      for (const key of [clientKey, adminKey]) {
        const res = await s.get(`/api/crm/mgr/app/points/summary?member_no=${m}`, key);
        expect(res.status).toBe(200);
        expect(res.body).toEqual(tenantRoute.body);
      }
      // Another tenant's key reads its own tenant.
      expect((await s.get(`/api/crm/mgr/app/points/summary?member_no=${m}`, otherClientKey)).body).toMatchObject({
        code: 0,
        data: { crm_id: otherCrm, total_points: 3 },
      });
      expectInvalid(await s.get(`/api/crm/mgr/app/points/summary?member_no=${m}`), 'crm_id');
      expectInvalid(await s.get(`/api/crm/mgr/app/points/summary`, clientKey), 'member_no');
      expectError(await s.get(`/api/crm/mgr/app/points/summary?member_no=${m}`, null), 401, 40101);
    });
  });

  describe('6. produce/by_rule', () => {
    it("honours the request's expire_days and freeze_hours over the rule's, and names them when bad", async () => {
      const scene = uid('login');
      const rule = await s.post(
        `${points()}/rules`,
        { name: 'login', action_scene: scene, mode: 'fixed', points: 10, expire_days: 30, freeze_hours: 24 },
        adminKey,
      );
      expect(rule.body).toMatchObject({ code: 0 });
      const byRule = (extra: Record<string, unknown>) =>
        s.post(
          `${points()}/produce/by_rule`,
          {
            event_no: uid('br'),
            member_no: uid('m'),
            action_scene: scene,
            event_type: 'event',
            store_code: 'ec_mini',
            operator: 'mini',
            event_desc: 'login',
            ...extra,
          },
          adminKey,
        );

      const ruled = (await byRule({})).body.data;
      const at = shanghaiMs(ruled.event_at);
      expect(ruled).toMatchObject({ expire_time: shanghaiText(at + 30 * DAY), unfreeze_time: shanghaiText(at + 24 * HOUR) });

      const eventNo = uid('br');
      const asked = await byRule({ event_no: eventNo, event_at: '2026-06-15 18:00:00', expire_days: 180, freeze_hours: 0 });
      expect(asked.body).toMatchObject({
        code: 0,
        data: { points: 10, event_at: '2026-06-15 18:00:00', expire_time: '2026-12-12 18:00:00', unfreeze_time: null },
      });
      const onlyFreeze = await byRule({ event_at: '2026-06-15 18:00:00', freeze_hours: 48 });
      expect(onlyFreeze.body).toMatchObject({ code: 0, data: { expire_time: '2026-07-15 18:00:00', unfreeze_time: '2026-06-17 18:00:00' } });
      // The overrides are part of the event: the same event_no with another freeze is a conflict.
      expectError(
        await byRule({ event_no: eventNo, member_no: asked.body.data.member_no, event_at: '2026-06-15 18:00:00', expire_days: 180, freeze_hours: 5 }),
        409,
        40901,
      );
      expectInvalid(await byRule({ expire_days: 0 }), 'expire_days');
      expectInvalid(await byRule({ freeze_hours: 1.5 }), 'freeze_hours');
    });
  });

  describe('7. add/stock on an imported-code card', () => {
    it('says how to add stock, and takes a generate_file for such a card', async () => {
      const created = await s.post(
        `${cardBase}/create`,
        cardBody({
          date_type: 3,
          begin_time: null,
          end_time: null,
          weekdays: null,
          monthdays: null,
          day_begin_time: null,
          day_end_time: null,
          get_limit: 0,
          use_limit: 0,
          generate_type: 2,
          total_quantity: 0,
        }),
      );
      expect(created.body).toMatchObject({ code: 0 });
      const card = created.body.data.card_id as string;
      const plain = await s.post(`${cardBase}/add/stock`, { card_id: card, quantity: 5, generate_id: uid('gen') });
      expectError(plain, 422, 42201, /import_codes/);
      expect(plain.body.msg).toMatch(/generate_file/);

      const generateId = uid('gen');
      const body = { card_id: card, quantity: 5, generate_id: generateId, generate_file: `${filesUrl}/seven.csv` };
      const added = await s.post(`${cardBase}/add/stock`, body);
      expect(added.body).toMatchObject({ code: 0, data: { generate_id: generateId, quantity: 5, is_generated: false } });
      const status = await s.eventually('the file import', async () => {
        const st = await s.get(`${cardBase}/stock/status?generate_id=${generateId}`);
        return st.body.data?.is_generated ? st.body.data : undefined;
      });
      expect(status).toMatchObject({ status: 'done', generated: 5, rejected_reasons: { over_quantity: 2 } });
      expect((await s.get(`${cardBase}/detail?card_id=${card}`)).body).toMatchObject({ code: 0, data: { total_quantity: 5 } });
      expect(await s.sql(`SELECT card_code FROM card.card_code WHERE crm_id = $1 AND card_id = $2 ORDER BY slot`, [crm, card])).toEqual(
        ['MORE-0000', 'MORE-0001', 'MORE-0002', 'MORE-0003', 'MORE-0004'].map((card_code) => ({ card_code })),
      );
      // Idempotent by generate_id, file included.
      expect((await s.post(`${cardBase}/add/stock`, body)).body).toEqual(added.body);
      expectError(await s.post(`${cardBase}/add/stock`, { ...body, generate_file: `${filesUrl}/other.csv` }), 409, 40901);
      expectInvalid(await s.post(`${cardBase}/add/stock`, { ...body, generate_id: uid('gen'), generate_file: 'ftp://x/y' }), 'generate_file');

      // A card that makes its own codes takes no file.
      const own = await s.createStockedCard(crm);
      expectError(await s.post(`${cardBase}/add/stock`, { card_id: own, quantity: 5, generate_file: `${filesUrl}/seven.csv` }), 422, 42201, /generate_type 1/);
    });
  });

  describe('8. card_code_preuse_status', () => {
    it('is computed from the claim pool: 1 for a code that came out of it, 0 when no pool row holds the code', async () => {
      const card = await s.createStockedCard(crm, { total_quantity: 3 });
      const receivedId = uid('rcv');
      const claimed = await s.post(`${member}/receive`, { received_id: receivedId, member_no: uid('m'), out_str: 'mini', card_info: { [card]: 2 } });
      expect(claimed.body).toMatchObject({ code: 0 });
      const detail = async () => (await s.get(`${member}/receive_detail?received_id=${receivedId}`)).body.data as Array<{ card_code: Record<string, any> }>;
      const items = await detail();
      expect(items.map((i) => i.card_code.card_code_preuse_status)).toEqual([1, 1]);
      const slots = await s.sql(`SELECT slot::int AS slot FROM card.card_code WHERE crm_id = $1 AND card_id = $2 AND card_code = ANY($3) ORDER BY slot`, [
        crm,
        card,
        items.map((i) => i.card_code.card_code),
      ]);
      expect(items.map((i) => i.card_code.auto_id)).toEqual(slots.map((r) => r.slot));
      // Without its pool row (as for a code the pool never held) the status says so.
      await s.sql(`DELETE FROM card.card_code WHERE crm_id = $1 AND card_id = $2 AND card_code = $3`, [crm, card, items[0].card_code.card_code]);
      expect((await detail()).map((i) => i.card_code.card_code_preuse_status)).toEqual([0, 1]);
    });
  });
});
