import { Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';
import { pointsSuite } from './support/points';

/**
 * The points ledger through real HTTP (gateway -> points-service) against real PostgreSQL and Redis.
 * Reversing an earn (its own lot first, then the others, allow_negative) and a spend (back to the lots it came from),
 * never more than the original under concurrent partial reversals, idempotent by event_no.
 */
describe('points: reversals', () => {
  const kit = pointsSuite('points_reversals');
  const { crm, base, consume, earn, spend, summary, amounts, allocationsOf, lotsOf } = kit;
  let s: Suite;
  let adminKey: string;
  beforeAll(() => {
    ({ s, adminKey } = kit);
  });

  describe('reversing an earn', () => {
    const reverseEarn = (memberNo: string, origin: string, extra: Record<string, unknown> = {}) =>
      s.post(`${base()}/reverse/produce`, { event_no: uid('revp'), member_no: memberNo, origin_event_no: origin, allow_negative: false, ...extra }, adminKey);

    it("takes the points back from the earn's own lot first, in part and then the rest", async () => {
      const m = uid('m-revp');
      const kept = await earn(m, 10);
      const target = await earn(m, 10, { expire_days: 30 });
      const part = await reverseEarn(m, target.event_no, { reverse_points: 4 });
      expect(part.body).toMatchObject({ code: 0, data: { event_type: 'reverse_produce', origin_event_no: target.event_no, points: 4 } });
      expect((await lotsOf(m)).map((l) => [l.event_no, l.remaining])).toEqual([
        [kept.event_no, '10.0000'],
        [target.event_no, '6.0000'],
      ]);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 16, active_points: 16, used_points: 0 });
      expect((await reverseEarn(m, target.event_no)).body).toMatchObject({ code: 0, data: { points: 6 } });
      expect(amounts(await summary(m))).toMatchObject({ total_points: 10, active_points: 10 });
      expectError(await reverseEarn(m, target.event_no), 409, 40909, /reversed wholly/);
    });

    it('takes what was spent of it from the other lots; when those fall short, refuses without allow_negative and goes negative with it', async () => {
      const m = uid('m-revp-neg');
      const target = await earn(m, 10);
      await spend(m, 8); // 2 left in the earn's lot
      const other = await earn(m, 3);
      // 10 to give back: 2 from its lot, 3 from the other, 5 short.
      const before = await lotsOf(m);
      expectError(await reverseEarn(m, target.event_no), 409, 40908, /allow_negative/);
      expect(await lotsOf(m)).toEqual(before);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 13, active_points: 5, used_points: 8 });
      const neg = await reverseEarn(m, target.event_no, { allow_negative: true });
      expect(neg.body).toMatchObject({ code: 0, data: { points: 10 } });
      expect((await lotsOf(m)).map((l) => [l.event_no, l.remaining])).toEqual([
        [target.event_no, '0.0000'],
        [other.event_no, '0.0000'],
      ]);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 3, active_points: -5, used_points: 8 });
      expectError(await consume(m, 1), 409, 40908);
      // A later earn pays the debt first.
      await earn(m, 7);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 10, active_points: 2, used_points: 8 });
      expect((await consume(m, 2)).body).toMatchObject({ code: 0 });
      expectError(await consume(m, 0.0001), 409, 40908);
    });

    it('never takes back more than the earn, however many partial reversals arrive at once', async () => {
      const m = uid('m-revp-race');
      const target = await earn(m, 10);
      await earn(m, 100);
      const answers = await Promise.all(Array.from({ length: 8 }, () => reverseEarn(m, target.event_no, { reverse_points: 3 })));
      expect(answers.filter((a) => a.body.code === 0)).toHaveLength(3);
      expect(answers.filter((a) => a.body.code === 40909)).toHaveLength(5);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 101, active_points: 101 });
      expect((await lotsOf(m))[0].remaining).toBe('1.0000');
    });

    it('refuses an event that is not an earn of this member', async () => {
      const m = uid('m-revp-bad');
      const earned = await earn(m, 5);
      const spent = await spend(m, 1);
      expectError(await reverseEarn(m, spent.event_no), 404, 40409);
      expectError(await reverseEarn(uid('other'), earned.event_no), 404, 40409);
      expectInvalid(
        await s.post(`${base()}/reverse/produce`, { event_no: uid('revp'), member_no: m, origin_event_no: earned.event_no }, adminKey),
        'allow_negative',
      );
      expect(amounts(await summary(m))).toMatchObject({ total_points: 5, active_points: 4, used_points: 1 });
    });
  });

  describe('reversing a spend', () => {
    const reverse = (memberNo: string, origin: string, extra: Record<string, unknown> = {}) =>
      s.post(`${base()}/reverse/consume`, { event_no: uid('rev'), member_no: memberNo, origin_event_no: origin, ...extra }, adminKey);

    it('gives the points back to the lots they came from, latest expiry first, with their own expiry', async () => {
      const m = uid('m-rev');
      const soon = await earn(m, 10, { expire_days: 7 });
      const late = await earn(m, 10, { expire_days: 30 });
      const spent = await spend(m, 15);
      // The spend took the lot expiring soonest wholly, then 5 of the other.
      expect(await allocationsOf(spent.event_no)).toEqual(
        [
          { lot: soon.event_no, points: '10.0000' },
          { lot: late.event_no, points: '5.0000' },
        ].sort((a, b) => (a.lot < b.lot ? -1 : 1)),
      );
      const part = await reverse(m, spent.event_no, { reverse_points: 4 });
      expect(part.body).toMatchObject({ code: 0, data: { event_type: 'reverse_consume', origin_event_no: spent.event_no, points: 4 } });
      expect((await lotsOf(m)).map((l) => l.remaining)).toEqual(['0.0000', '9.0000']);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 20, active_points: 9, used_points: 11 });
      // The rest: 1 more to the later lot, then 10 to the soonest one, which keeps its 7-day expiry.
      const rest = await reverse(m, spent.event_no);
      expect(rest.body).toMatchObject({ code: 0, data: { points: 11 } });
      expect((await lotsOf(m)).map((l) => l.remaining)).toEqual(['10.0000', '10.0000']);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 20, active_points: 20, used_points: 0, future_expired: 10 });
      const [origin] = await s.sql(`SELECT reverse_status, reversed_points::text AS reversed FROM points.event WHERE crm_id = $1 AND event_no = $2`, [
        crm,
        spent.event_no,
      ]);
      expect(origin).toEqual({ reverse_status: 2, reversed: '15.0000' });
      expectError(await reverse(m, spent.event_no), 409, 40909, /reversed wholly/);
    });

    it('never gives back more than the spend, however many partial reversals arrive at once', async () => {
      const m = uid('m-rev-race');
      await earn(m, 50);
      const spent = await spend(m, 20);
      const answers = await Promise.all(Array.from({ length: 10 }, () => reverse(m, spent.event_no, { reverse_points: 3 })));
      const codes = answers.map((a) => a.body.code).sort();
      expect(codes.filter((c) => c === 0)).toHaveLength(6);
      expect(codes.filter((c) => c === 40909)).toHaveLength(4);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 50, active_points: 48, used_points: 2 });
      expectError(await reverse(m, spent.event_no, { reverse_points: 3 }), 409, 40909, /has 2 left to reverse, 3 asked/);
      expect((await reverse(m, spent.event_no, { reverse_points: 2 })).body).toMatchObject({ code: 0 });
      expect(amounts(await summary(m))).toMatchObject({ active_points: 50, used_points: 0 });
    });

    it('is idempotent by event_no, and refuses what is not a spend of that member', async () => {
      const m = uid('m-rev-idem');
      const earned = await earn(m, 10);
      const spent = await spend(m, 6);
      const eventNo = uid('rev');
      const copies = await Promise.all(
        Array.from({ length: 10 }, () =>
          s.post(`${base()}/reverse/consume`, { event_no: eventNo, member_no: m, origin_event_no: spent.event_no, reverse_points: 1 }, adminKey),
        ),
      );
      for (const c of copies) expect(c.body).toEqual(copies[0].body);
      expect(copies[0].body).toMatchObject({ code: 0 });
      expect(amounts(await summary(m))).toMatchObject({ active_points: 5, used_points: 5 });
      expectError(
        await s.post(`${base()}/reverse/consume`, { event_no: eventNo, member_no: m, origin_event_no: spent.event_no, reverse_points: 2 }, adminKey),
        409,
        40901,
      );
      expectError(await reverse(m, earned.event_no), 404, 40409);
      expectError(await reverse(uid('someone-else'), spent.event_no), 404, 40409);
      expectError(await reverse(m, 'no-such-event'), 404, 40409);
      expectInvalid(await reverse(m, spent.event_no, { reverse_points: 1.23456 }), 'reverse_points');
      expect(amounts(await summary(m))).toMatchObject({ active_points: 5, used_points: 5 });
    });
  });
});
