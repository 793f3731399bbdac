import { Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';
import { HOUR, DAY, TIME, shanghaiText, shanghaiMs, pointsSuite } from './support/points';

/**
 * The points ledger through real HTTP (gateway -> points-service) against real PostgreSQL and Redis.
 * Freezing and expiry moved by the services' clock (no sleeping), event_at in Shanghai time, the expiry sweep writing
 * one expired row per lot, and two workers sweeping at once.
 */
describe('points: time and sweeps', () => {
  const kit = pointsSuite('points_time');
  const { crm, base, produce, consume, earn, spend, summary, amounts, count, eventRows, allocationsOf, lotsOf } = kit;
  let s: Suite;
  let adminKey: string;
  beforeAll(() => {
    ({ s, adminKey } = kit);
  });

  describe('time', () => {
    it('keeps frozen points out of reach until freeze_hours have passed', async () => {
      const m = uid('frozen');
      const row = await earn(m, 10, { freeze_hours: 48 });
      expect(row.event_at).toMatch(TIME);
      expect(row.unfreeze_time).toBe(shanghaiText(shanghaiMs(row.event_at) + 48 * HOUR));
      expect(row.expire_time).toBeNull();
      expect(amounts(await summary(m))).toEqual({
        total_points: 10,
        active_points: 0,
        freeze_points: 10,
        expired_points: 0,
        used_points: 0,
        future_expired: 0,
      });
      expectError(await consume(m, 5), 409, 40908);

      await s.setClock(47 * HOUR);
      expect(amounts(await summary(m))).toMatchObject({ active_points: 0, freeze_points: 10 });
      expectError(await consume(m, 5), 409, 40908);

      await s.setClock(49 * HOUR);
      expect(amounts(await summary(m))).toEqual({
        total_points: 10,
        active_points: 10,
        freeze_points: 0,
        expired_points: 0,
        used_points: 0,
        future_expired: 0,
      });
      await spend(m, 5);
      expect(amounts(await summary(m))).toEqual({ total_points: 10, active_points: 5, freeze_points: 0, expired_points: 0, used_points: 5, future_expired: 0 });
    });

    it('expires points after expire_days without a sweep; future_expired counts the next 7 days', async () => {
      const m = uid('expiry');
      const soon = await earn(m, 10, { expire_days: 3 });
      const never = await earn(m, 10);
      expect(soon.expire_time).toBe(shanghaiText(shanghaiMs(soon.event_at) + 3 * DAY));
      expect(never.expire_time).toBeNull();
      expect(amounts(await summary(m))).toEqual({
        total_points: 20,
        active_points: 20,
        freeze_points: 0,
        expired_points: 0,
        used_points: 0,
        future_expired: 10,
      });

      await s.setClock(4 * DAY);
      expect(amounts(await summary(m))).toEqual({
        total_points: 20,
        active_points: 10,
        freeze_points: 0,
        expired_points: 10,
        used_points: 0,
        future_expired: 0,
      });
      expectError(await consume(m, 15), 409, 40908);
      const spent = await spend(m, 10);
      expect(await allocationsOf(spent.event_no)).toEqual([{ lot: never.event_no, points: '10.0000' }]);
      expect(await lotsOf(m)).toEqual([
        { event_no: soon.event_no, amount: '10.0000', remaining: '10.0000' },
        { event_no: never.event_no, amount: '10.0000', remaining: '0.0000' },
      ]);
      expect(amounts(await summary(m))).toEqual({
        total_points: 20,
        active_points: 0,
        freeze_points: 0,
        expired_points: 10,
        used_points: 10,
        future_expired: 0,
      });
    });

    it('counts expire_days and freeze_hours from event_at in Shanghai time; a date that does not exist is 400', async () => {
      const m = uid('at');
      const row = await earn(m, 10, { event_at: '2022-06-15 18:00:00', expire_days: 180, freeze_hours: 48 });
      expect(row).toMatchObject({ event_at: '2022-06-15 18:00:00', expire_time: '2022-12-12 18:00:00', unfreeze_time: '2022-06-17 18:00:00' });
      const [stored] = await s.sql(`SELECT expire_time, unfreeze_time FROM points.lot WHERE crm_id = $1 AND event_no = $2`, [crm, row.event_no]);
      expect((stored.expire_time as Date).toISOString()).toBe('2022-12-12T10:00:00.000Z');
      expect((stored.unfreeze_time as Date).toISOString()).toBe('2022-06-17T10:00:00.000Z');
      // Long expired by now.
      expect(amounts(await summary(m))).toEqual({
        total_points: 10,
        active_points: 0,
        freeze_points: 0,
        expired_points: 10,
        used_points: 0,
        future_expired: 0,
      });

      for (const bad of ['2022-02-30 10:00:00', '2022-13-01 10:00:00', '2022-06-15 18:61:00', '2022/06/15 18:00:00', '2022-06-15']) {
        const eventNo = uid('earn');
        expectInvalid(await produce(m, 10, { event_no: eventNo, event_at: bad }), 'event_at');
        expectInvalid(await consume(m, 1, { event_no: eventNo, event_at: bad }), 'event_at');
        expect(await eventRows(eventNo)).toBe(0);
      }
      // Only the earn (the expiry sweep may have added its `expired` row for the long-expired lot).
      expect(await count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND member_no = $2 AND event_type <> 'expired'`, [crm, m])).toBe(1);
    });
  });

  describe('the expiry sweep', () => {
    it('writes one expired history row per lot past its expiry, once, and the summary is right before and after', async () => {
      const m = uid('m-sweep');
      await earn(m, 10, { expire_days: 2 });
      await earn(m, 5, { expire_days: 2 });
      await earn(m, 7);
      await spend(m, 3);
      await s.setClock(3 * DAY);
      const seen = amounts(await summary(m));
      expect(seen).toMatchObject({ total_points: 22, expired_points: 12, active_points: 7, used_points: 3 });
      await s.eventually('the expired rows', async () => {
        const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND member_no = $2 AND event_type = 'expired'`, [crm, m]);
        return n === 2 ? true : undefined;
      });
      const rows = await s.sql(
        `SELECT points::text AS points FROM points.event WHERE crm_id = $1 AND member_no = $2 AND event_type = 'expired' ORDER BY points`,
        [crm, m],
      );
      // The spend of 3 took from the first lot (soonest expiry, then oldest): 7 and 5 were left to expire.
      expect(rows.map((r) => r.points)).toEqual(['5.0000', '7.0000']);
      expect(amounts(await summary(m))).toEqual(seen);
      const hist = await s.post(`${base()}/history`, { member_no: m, search_type: 'expired' }, adminKey);
      expect(hist.body.data.total).toBe(2);
    });
  });

  describe('sweeps on two workers', () => {
    it('write exactly one expired row per lot when two workers sweep at once', async () => {
      s.spawn('points-service', { ROLE: 'worker', EXPIRY_BATCH_SIZE: '25' });
      await s.waitForInstances('points-service', 2);
      const members = Array.from({ length: 20 }, () => uid('m-2w'));
      // 300 lots that expire in a day, written straight into the ledger's tables (the API path is tested above).
      for (const m of members) {
        await s.sql(`INSERT INTO points.member (crm_id, member_no, total_points) VALUES ($1, $2, 15) ON CONFLICT DO NOTHING`, [crm, m]);
        await s.sql(
          `INSERT INTO points.lot (crm_id, member_no, event_no, amount, remaining, expire_time)
           SELECT $1, $2::text, $2::text || '-' || g, 1, 1, now() + interval '1 day' FROM generate_series(1, 15) g`,
          [crm, m],
        );
      }
      await s.setClock(2 * DAY);
      await s.eventually('every lot to have its expired row', async () => {
        const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND member_no = ANY($2) AND expired_at IS NULL`, [
          crm,
          members,
        ]);
        return n === 0 ? true : undefined;
      });
      const [{ rows, distinct }] = await s.sql(
        `SELECT count(*)::int AS rows, count(DISTINCT event_no)::int AS distinct FROM points.event WHERE crm_id = $1 AND member_no = ANY($2) AND event_type = 'expired'`,
        [crm, members],
      );
      expect(rows).toBe(300);
      expect(distinct).toBe(300);
      for (const m of members.slice(0, 3)) expect(amounts(await summary(m))).toMatchObject({ total_points: 15, expired_points: 15, active_points: 0 });
    });
  });
});
