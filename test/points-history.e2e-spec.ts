import { PointsEventKind } from '@app/domain';
import { PointsClient } from '@app/platform';
import { Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';
import { HOUR, DAY, TIME, shanghaiText, shanghaiMs, pointsSuite } from './support/points';

/**
 * The points ledger through real HTTP (gateway -> points-service) against real PostgreSQL and Redis.
 * History filters and paging, earning rules and produce/by_rule, internal producers over the transport and the
 * durable queue, and what a client key may do.
 */
describe('points: history, earning rules, producers and access', () => {
  const kit = pointsSuite('points_history');
  const { crm, histCrm, otherCrm, base, produce, consume, earn, summary, amounts, eventRows, writtenFor } = kit;
  let s: Suite;
  let adminKey: string;
  let clientKey: string;
  let histAdminKey: string;
  beforeAll(() => {
    ({ s, adminKey, clientKey, histAdminKey } = kit);
  });

  describe('history', () => {
    const hist = (body: Record<string, unknown>, key: string = histAdminKey) => s.post(`${base(histCrm)}/history`, body, key);
    /** The event_nos a history query lists, checking the envelope and the total. */
    async function listed(body: Record<string, unknown>, total?: number): Promise<string[]> {
      const res = await hist(body);
      expect(res.body).toMatchObject({ code: 0 });
      expect(res.status).toBe(200);
      if (total !== undefined) expect(res.body.data.total).toBe(total);
      return res.body.data.items.map((i: { event_no: string }) => i.event_no);
    }

    it('filters by type, member, scene, campaign, store (and stroe_code), cost center and time, newest first, in pages', async () => {
      const m1 = uid('hist');
      const m2 = uid('hist');
      const post = async (kind: 'produce' | 'consume', body: Record<string, unknown>) => {
        const res = await s.post(`${base(histCrm)}/${kind}/direct`, body, histAdminKey);
        expect(res.body).toMatchObject({ code: 0 });
        return res.body.data as Record<string, any>;
      };
      // In the order written, which is also the order of event_at.
      const p1 = await post('produce', {
        event_no: uid('p1'),
        member_no: m1,
        event_type: 'order',
        points: 30,
        event_at: '2022-06-01 10:00:00',
        action_scene: 'order_pay',
        store_code: 'ec_mall',
        cost_center: 'cc1',
      });
      const p2 = await post('produce', {
        event_no: uid('p2'),
        member_no: m1,
        event_type: 'event',
        points: 5,
        event_at: '2022-06-10 10:00:00',
        action_scene: 'user_login',
        store_code: 'ec_mini',
      });
      const c1 = await post('consume', {
        event_no: uid('c1'),
        member_no: m1,
        points: 10,
        event_at: '2022-06-20 10:00:00',
        action_scene: 'user_discount',
        campaign_code: '618',
        store_code: 'ec_mall',
      });
      const p3 = await post('produce', {
        event_no: uid('p3'),
        member_no: m1,
        event_type: 'order',
        points: 20,
        event_at: '2022-07-01 12:00:00',
        action_scene: 'order_pay',
        store_code: 'ec_mall',
      });
      const c2 = await post('consume', {
        event_no: uid('c2'),
        member_no: m1,
        points: 4,
        event_at: '2022-07-05 10:00:00',
        action_scene: 'user_discount',
        campaign_code: '1111',
        store_code: 'ec_mini',
      });
      const q1 = await post('produce', {
        event_no: uid('q1'),
        member_no: m2,
        event_type: 'order',
        points: 8,
        event_at: '2022-07-10 09:00:00',
        action_scene: 'order_pay',
        store_code: 'ec_mall',
      });
      const [P1, P2, C1, P3, C2, Q1] = [p1, p2, c1, p3, c2, q1].map((r) => r.event_no as string);

      expect(await listed({}, 6)).toEqual([Q1, C2, P3, C1, P2, P1]);
      expect(await listed({ member_no: m1 }, 5)).toEqual([C2, P3, C1, P2, P1]);
      expect(await listed({ member_no: m2 }, 1)).toEqual([Q1]);
      expect(await listed({ search_type: 'produce', member_no: m1 }, 3)).toEqual([P3, P2, P1]);
      expect(await listed({ search_type: 'consume' }, 2)).toEqual([C2, C1]);
      expect(await listed({ action_scene: 'order_pay' }, 3)).toEqual([Q1, P3, P1]);
      expect(await listed({ action_scene: 'user_discount', member_no: m1 }, 2)).toEqual([C2, C1]);
      expect(await listed({ campaign_code: '618' }, 1)).toEqual([C1]);
      expect(await listed({ store_code: 'ec_mall' }, 4)).toEqual([Q1, P3, C1, P1]);
      expect(await listed({ stroe_code: 'ec_mall' }, 4)).toEqual([Q1, P3, C1, P1]);
      expect(await listed({ stroe_code: 'ec_mini', member_no: m1 }, 2)).toEqual([C2, P2]);
      expect(await listed({ cost_center: 'cc1' }, 1)).toEqual([P1]);
      expect(await listed({ store_code: 'nowhere' }, 0)).toEqual([]);
      // start_time inclusive, end_time exclusive, both in Shanghai time.
      expect(await listed({ start_time: '2022-06-10 10:00:00', end_time: '2022-07-01 12:00:00' }, 2)).toEqual([C1, P2]);
      expect(await listed({ start_time: '2022-06-10 10:00:01', end_time: '2022-07-01 12:00:01' }, 2)).toEqual([P3, C1]);
      expect(await listed({ start_time: '2022-07-05 10:00:00' }, 2)).toEqual([Q1, C2]);
      expect(await listed({ end_time: '2022-06-10 10:00:00' }, 1)).toEqual([P1]);
      expect(
        await listed({ search_type: 'produce', store_code: 'ec_mall', member_no: m1, start_time: '2022-06-01 00:00:00', end_time: '2022-07-02 00:00:00' }, 2),
      ).toEqual([P3, P1]);

      // The items are the journal rows.
      const [item] = (await hist({ campaign_code: '618' })).body.data.items;
      expect(item).toMatchObject({
        crm_id: histCrm,
        member_no: m1,
        event_no: C1,
        event_type: 'consume',
        points: 10,
        action_scene: 'user_discount',
        campaign_code: '618',
        store_code: 'ec_mall',
        expire_time: null,
        unfreeze_time: null,
        create_time: expect.stringMatching(TIME),
        update_time: expect.stringMatching(TIME),
      });
      expect(item).toEqual(c1);

      // Paging: the total stays, each page has the next items.
      expect(await listed({ member_no: m1, page_size: 2 }, 5)).toEqual([C2, P3]);
      expect(await listed({ member_no: m1, page_size: 2, page_id: 1 }, 5)).toEqual([C2, P3]);
      expect(await listed({ member_no: m1, page_size: 2, page_id: 2 }, 5)).toEqual([C1, P2]);
      expect(await listed({ member_no: m1, page_size: 2, page_id: 3 }, 5)).toEqual([P1]);
      expect(await listed({ member_no: m1, page_size: 2, page_id: 4 }, 5)).toEqual([]);
      expect(await listed({ member_no: m1, page_size: 4, page_id: 2 }, 5)).toEqual([P1]);

      expectInvalid(await hist({ search_type: 'refund' }), 'search_type');
      expectInvalid(await hist({ start_time: '2022-02-30 00:00:00' }), 'start_time');
      expectInvalid(await hist({ page_size: 0 }), 'page_size');
    });
  });

  describe('earning rules and produce/by_rule', () => {
    const ruleCrm = 'crm_points_rules';
    const rulesBase = `/api/crm/points/${ruleCrm}`;
    const byRule = (memberNo: string, body: Record<string, unknown>) =>
      s.post(`${rulesBase}/produce/by_rule`, { event_no: uid('br'), member_no: memberNo, event_type: 'order', ...body });
    async function createRule(body: Record<string, unknown>): Promise<number> {
      const res = await s.post(`${rulesBase}/rules`, { name: 'rule', ...body });
      expect(res.body).toMatchObject({ code: 0, data: { enabled: true } });
      return res.body.data.rule_id;
    }

    it("gives points per amount paid with the rule's rounding, expiry and caps; points overrides the amount only", async () => {
      const scene = uid('pay');
      const ruleId = await createRule({
        action_scene: scene,
        mode: 'per_amount',
        rate: 1.5,
        rounding: 'floor',
        daily_cap: 100,
        total_cap: 120,
        expire_days: 30,
        freeze_hours: 2,
      });
      const m = uid('m-rule');
      const first = await byRule(m, { action_scene: scene, order_items: { order_sn: 'A', pay_amount: 33.3, item_list: [] } });
      // 33.3 x 1.5 = 49.95, floored.
      expect(first.body).toMatchObject({ code: 0, data: { points: 49, action_scene: scene } });
      const at = shanghaiMs(first.body.data.event_at);
      expect(first.body.data.expire_time).toBe(shanghaiText(at + 30 * DAY));
      expect(first.body.data.unfreeze_time).toBe(shanghaiText(at + 2 * HOUR));
      // The daily cap holds the second one to 51; then nothing is left today.
      expect((await byRule(m, { action_scene: scene, order_items: { pay_amount: 100 } })).body).toMatchObject({ code: 0, data: { points: 51 } });
      expectError(await byRule(m, { action_scene: scene, order_items: { pay_amount: 10 } }), 409, 40910);
      // The next day: only 20 left under the total cap, even for an overriding points value.
      await s.setClock(DAY);
      expect((await byRule(m, { action_scene: scene, points: 50 })).body).toMatchObject({ code: 0, data: { points: 20 } });
      expectError(await byRule(m, { action_scene: scene, points: 1 }), 409, 40910);
      const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND member_no = $2 AND rule_id = $3`, [ruleCrm, m, ruleId]);
      expect(n).toBe(3);
      expect(amounts(await summary(m, s.rootKey, ruleCrm))).toMatchObject({ total_points: 120 });
    });

    it('uses rule_id when given, else the newest active rule of the scene; refuses without one and after disabling', async () => {
      const scene = uid('login');
      const older = await createRule({ action_scene: scene, mode: 'fixed', points: 5 });
      const newer = await createRule({ action_scene: scene, mode: 'fixed', points: 8 });
      const m = uid('m-rule-pick');
      expect((await byRule(m, { action_scene: scene, event_type: 'event' })).body).toMatchObject({ code: 0, data: { points: 8 } });
      expect((await byRule(m, { action_scene: scene, rule_id: older })).body).toMatchObject({ code: 0, data: { points: 5 } });
      expectError(await byRule(m, { action_scene: uid('no-scene') }), 404, 40410);
      expect((await s.post(`${rulesBase}/rules/disable`, { rule_id: newer })).body).toMatchObject({ code: 0, data: { enabled: false } });
      expect((await byRule(m, { action_scene: scene })).body).toMatchObject({ code: 0, data: { points: 5 } });
      expectError(await byRule(m, { action_scene: scene, rule_id: newer }), 404, 40410);
      // Update replaces the rule: a window in the future makes it inactive now.
      const upd = await s.post(`${rulesBase}/rules/update`, {
        rule_id: older,
        name: 'later',
        action_scene: scene,
        mode: 'fixed',
        points: 6,
        starts_at: '2099-01-01 00:00:00',
      });
      expect(upd.body).toMatchObject({ code: 0, data: { points: 6, starts_at: '2099-01-01 00:00:00' } });
      expectError(await byRule(m, { action_scene: scene }), 404, 40410);
      const listed = await s.get(`${rulesBase}/rules?action_scene=${scene}&include_disabled=true`);
      expect(listed.body.data.total).toBe(2);
      expectError(await s.post(`${rulesBase}/rules/update`, { rule_id: 999999, name: 'x', action_scene: scene, mode: 'fixed', points: 1 }), 404, 40410);
    });

    it('refuses rules and by_rule calls that make no sense, naming the field', async () => {
      expectInvalid(await s.post(`${rulesBase}/rules`, { name: 'r', action_scene: 'x', mode: 'fixed' }), 'points');
      expectInvalid(await s.post(`${rulesBase}/rules`, { name: 'r', action_scene: 'x', mode: 'per_amount' }), 'rate');
      expectInvalid(await s.post(`${rulesBase}/rules`, { name: 'r', action_scene: 'x', mode: 'weekly', points: 1 }), 'mode');
      expectInvalid(
        await s.post(`${rulesBase}/rules`, {
          name: 'r',
          action_scene: 'x',
          mode: 'fixed',
          points: 1,
          starts_at: '2022-06-02 00:00:00',
          ends_at: '2022-06-01 00:00:00',
        }),
        'ends_at',
      );
      const scene = uid('amount');
      await createRule({ action_scene: scene, mode: 'per_amount', rate: 1 });
      const m = uid('m-rule-bad');
      expectInvalid(await byRule(m, { action_scene: scene }), 'order_items.pay_amount');
      expectInvalid(await byRule(m, { action_scene: scene, order_items: { pay_amount: 1.234 } }), 'order_items.pay_amount');
      expect((await byRule(m, { action_scene: scene, order_info: { pay_amount: 2.5 } })).body).toMatchObject({ code: 0, data: { points: 2 } });
    });
  });

  describe('internal producers', () => {
    let client: PointsClient;
    beforeAll(() => {
      client = new PointsClient({ redisUrl: s.redisUrl });
    });
    afterAll(() => client.close());

    it('reach the same handlers over the transport (answered) and the inbox (durable), applied once per event_no', async () => {
      const m = uid('m-prod');
      const sent = await client.produceDirect(crm, { event_no: uid('tx'), member_no: m, event_type: 'order', points: 5 });
      expect(sent).toMatchObject({ code: 0, data: { event_type: 'produce', points: 5 } });
      const refused = await client.consumeDirect(crm, { event_no: uid('tx'), member_no: m, points: 50 });
      expect(refused).toMatchObject({ code: 40908 });

      const queued = uid('q');
      const first = await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: queued, member_no: m, event_type: 'order', points: 7 });
      expect(first).toMatchObject({ code: 0, data: { kind: 'produce_direct', event_no: queued, duplicate: false } });
      // Acknowledged: PostgreSQL has it.
      expect(await s.sql(`SELECT kind, event_no FROM points.inbox WHERE crm_id = $1 AND event_no = $2`, [crm, queued])).toEqual([
        { kind: 'produce_direct', event_no: queued },
      ]);
      const second = await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: queued, member_no: m, event_type: 'order', points: 7 });
      expect(second).toMatchObject({ code: 0, data: { event_no: queued, duplicate: true } });
      // The same event_no with another payload is a conflict at once.
      const other = await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: queued, member_no: m, event_type: 'order', points: 8 });
      expect(other).toMatchObject({ code: 40901 });
      await s.eventually('the queued earn', async () => ((await summary(m)).total_points === 12 ? true : undefined));
      // The same event sent again over the transport: the original answer, nothing new.
      const again = await client.produceDirect(crm, { event_no: queued, member_no: m, event_type: 'order', points: 7 });
      expect(again).toMatchObject({ code: 0, data: { event_no: queued, points: 7 } });
      expect(await eventRows(queued)).toBe(1);
      await client.enqueue(PointsEventKind.CONSUME_DIRECT, crm, { event_no: uid('q'), member_no: m, points: 2 });
      await s.eventually('the queued spend', async () => ((await summary(m)).used_points === 2 ? true : undefined));
      expect(amounts(await summary(m))).toMatchObject({ total_points: 12, active_points: 10, used_points: 2 });
      // Applied rows are marked done with the answer.
      const [row] = await s.sql(`SELECT outcome_code, done_at FROM points.inbox WHERE crm_id = $1 AND event_no = $2`, [crm, queued]);
      expect(row.outcome_code).toBe(0);
      expect(row.done_at).not.toBeNull();
    });

    it('refuses an invalid event at once (400 naming the field), writing nothing', async () => {
      const m = uid('m-prod-bad');
      const bad = uid('q');
      const answer = await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: bad, member_no: m, event_type: 'order', points: 1.23456 });
      expect(answer).toMatchObject({ code: 40001, errors: [expect.objectContaining({ field: 'event.points' })] });
      const unknown = await client.enqueue('nope' as PointsEventKind, crm, { event_no: bad, member_no: m, points: 1 });
      expect(unknown).toMatchObject({ code: 40001, errors: [expect.objectContaining({ field: 'kind' })] });
      expect(await s.sql(`SELECT 1 FROM points.inbox WHERE crm_id = $1 AND event_no = $2`, [crm, bad])).toEqual([]);
      expect(await writtenFor(m)).toEqual({ members: 0, events: 0, lots: 0 });
    });
  });

  describe('access', () => {
    it('lets a client key read summary and history but neither earn nor spend', async () => {
      const m = uid('client');
      await earn(m, 10, { store_code: 'ec_client' });
      const sum = await summary(m, clientKey);
      expect(amounts(sum)).toMatchObject({ total_points: 10, active_points: 10 });
      const history = await s.post(`${base()}/history`, { member_no: m }, clientKey);
      expect(history.status).toBe(200);
      expect(history.body).toMatchObject({ code: 0, data: { total: 1, items: [{ member_no: m, points: 10, store_code: 'ec_client' }] } });

      const earnNo = uid('earn');
      const spendNo = uid('spend');
      expectError(await produce(m, 5, { event_no: earnNo }, clientKey), 403, 40301);
      expectError(await consume(m, 5, { event_no: spendNo }, clientKey), 403, 40301);
      expect(await eventRows(earnNo)).toBe(0);
      expect(await eventRows(spendNo)).toBe(0);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 10, active_points: 10, used_points: 0 });

      // Not another tenant's, and not without a key.
      expectError(await s.get(`${base(otherCrm)}/summary?member_no=${m}`, clientKey), 403, 40301);
      expectError(await s.post(`${base(otherCrm)}/history`, {}, clientKey), 403, 40301);
      expectError(await produce(m, 5, {}, adminKey, otherCrm), 403, 40301);
      expectError(await s.get(`${base()}/summary?member_no=${m}`, null), 401, 40101);
    });
  });
});
