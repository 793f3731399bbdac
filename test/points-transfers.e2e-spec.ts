import { Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';
import { HOUR, pointsSuite } from './support/points';

/**
 * The points ledger through real HTTP (gateway -> points-service) against real PostgreSQL and Redis.
 * Transfers held until accepted (one receiver, once; sent back by the sweep when not accepted in time) and direct
 * transfers (lots keep their expiry; idempotent by transfer_no; both ways at once; racing spends and reversals).
 */
describe('points: transfers', () => {
  const kit = pointsSuite('points_transfers');
  const { crm, base, consume, earn, spend, units, summary, amounts } = kit;
  let s: Suite;
  let adminKey: string;
  beforeAll(() => {
    ({ s, adminKey } = kit);
  });

  describe('transfer and accept', () => {
    const offer = (from: string, to: string, points: unknown, transferNo = uid('tp')) =>
      s.post(`${base()}/transfer`, { transfer_no: transferNo, from_user: from, to_user: to, points }, adminKey);
    const accept = (transferNo: string, memberNo: string) => s.post(`${base()}/accept`, { transfer_no: transferNo, member_no: memberNo }, adminKey);

    it('holds the points from the sender until the receiver accepts; one receiver, once', async () => {
      const a = uid('tp-a');
      const b = uid('tp-b');
      await earn(a, 10, { expire_days: 5 });
      await earn(a, 10);
      const transferNo = uid('tp');
      expect((await offer(a, b, 12, transferNo)).body).toMatchObject({ code: 0, data: { event_type: 'transfer_out', points: 12 } });
      // Held: gone from the sender's active points (counted as used), not yet the receiver's.
      expect(amounts(await summary(a))).toMatchObject({ total_points: 20, active_points: 8, used_points: 12 });
      expect(amounts(await summary(b))).toMatchObject({ total_points: 0 });
      expectError(await accept(transferNo, uid('stranger')), 404, 40411);
      const answers = await Promise.all(Array.from({ length: 5 }, () => accept(transferNo, b)));
      for (const r of answers) expect(r.body).toEqual(answers[0].body);
      expect(answers[0].body).toMatchObject({ code: 0, data: { event_type: 'transfer_in', member_no: b, points: 12, from_transfer_no: transferNo } });
      expect(amounts(await summary(b))).toMatchObject({ total_points: 12, active_points: 12, future_expired: 10 });
      expect(amounts(await summary(a))).toMatchObject({ active_points: 8, used_points: 12 });
    });

    it("sends a transfer not accepted in time back to the sender's lots, by the sweep, with the clock moved", async () => {
      const a = uid('tp-late-a');
      const b = uid('tp-late-b');
      await earn(a, 10, { expire_days: 60 });
      const late = uid('tp');
      const onTime = uid('tp');
      expect((await offer(a, b, 4, late)).body).toMatchObject({ code: 0 });
      expect((await offer(a, b, 3, onTime)).body).toMatchObject({ code: 0 });
      await s.setClock(23 * HOUR);
      expect((await accept(onTime, b)).body).toMatchObject({ code: 0 });
      await s.setClock(25 * HOUR);
      await s.eventually('the late transfer to go back', async () => {
        const [t] = await s.sql(`SELECT status FROM points.transfer WHERE crm_id = $1 AND transfer_no = $2`, [crm, late]);
        return t.status === 'returned' ? true : undefined;
      });
      expectError(await accept(late, b), 409, 40911);
      expect(amounts(await summary(a))).toMatchObject({ total_points: 10, active_points: 7, used_points: 3 });
      expect(amounts(await summary(b))).toMatchObject({ total_points: 3, active_points: 3 });
      const [back] = await s.sql(`SELECT event_type, points::text AS points FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crm, `back#${late}`]);
      expect(back).toEqual({ event_type: 'transfer_back', points: '4.0000' });
    });
  });

  describe('transfer/direct', () => {
    const transfer = (from: string, to: string, points: unknown, extra: Record<string, unknown> = {}) =>
      s.post(`${base()}/transfer/direct`, { transfer_no: uid('tr'), from_user: from, to_user: to, points, ...extra }, adminKey);
    const expiries = (memberNo: string) =>
      s.sql<{ remaining: string; expire_time: Date | null }>(
        `SELECT remaining::text AS remaining, expire_time FROM points.lot WHERE crm_id = $1 AND member_no = $2 ORDER BY lot_id`,
        [crm, memberNo],
      );

    it("moves spendable points at once; the receiver's lots keep the expiry of the lots they came from", async () => {
      const a = uid('tr-a');
      const b = uid('tr-b');
      await earn(a, 10, { expire_days: 30 });
      await earn(a, 10, { expire_days: 7 });
      await earn(a, 10);
      await earn(a, 5, { freeze_hours: 24 });
      const sent = await transfer(a, b, 15, { trans_type: 'by_poins' });
      expect(sent.body).toMatchObject({ code: 0, data: { event_type: 'transfer_out', member_no: a, points: 15, from_transfer_no: sent.body.data.event_no } });
      const source = await expiries(a);
      const got = await expiries(b);
      // The 7-day lot wholly, then 5 of the 30-day one; the frozen lot is not spendable.
      expect(got.map((l) => l.remaining)).toEqual(['10.0000', '5.0000']);
      expect(got.map((l) => l.expire_time)).toEqual([source[1].expire_time, source[0].expire_time]);
      expect(amounts(await summary(a))).toMatchObject({ total_points: 35, active_points: 15, freeze_points: 5, used_points: 15 });
      expect(amounts(await summary(b))).toMatchObject({ total_points: 15, active_points: 15, used_points: 0, future_expired: 10 });
      const inRow = await s.sql(`SELECT event_type, member_no, from_transfer_no FROM points.event WHERE crm_id = $1 AND event_no = $2`, [
        crm,
        `in#${sent.body.data.event_no}`,
      ]);
      expect(inRow).toEqual([{ event_type: 'transfer_in', member_no: b, from_transfer_no: sent.body.data.event_no }]);
    });

    it('is idempotent by transfer_no under concurrent copies, and refuses too much, itself and bad input with nothing changed', async () => {
      const a = uid('tr-idem-a');
      const b = uid('tr-idem-b');
      await earn(a, 20);
      const transferNo = uid('tr');
      const copies = await Promise.all(
        Array.from({ length: 15 }, () => s.post(`${base()}/transfer/direct`, { transfer_no: transferNo, from_user: a, to_user: b, points: 7 }, adminKey)),
      );
      for (const c of copies) expect(c.body).toEqual(copies[0].body);
      expect(copies[0].body).toMatchObject({ code: 0 });
      expect(amounts(await summary(b))).toMatchObject({ total_points: 7 });
      expectError(await s.post(`${base()}/transfer/direct`, { transfer_no: transferNo, from_user: a, to_user: b, points: 8 }, adminKey), 409, 40901);
      expectError(await transfer(a, b, 14), 409, 40908, /13 spendable/);
      expectInvalid(await transfer(a, a, 1), 'to_user');
      expectInvalid(await transfer(a, b, 0.00001), 'points');
      expect(amounts(await summary(a))).toMatchObject({ total_points: 20, active_points: 13, used_points: 7 });
    });

    it('lets transfers run both ways at once without losing or making a point', async () => {
      const a = uid('tr-x-a');
      const b = uid('tr-x-b');
      await earn(a, 100);
      await earn(b, 100);
      const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? transfer(a, b, 1.5) : transfer(b, a, 1.25))));
      for (const r of answers) expect(r.body).toMatchObject({ code: 0 });
      const sa = await summary(a);
      const sb = await summary(b);
      expect(units(sa.active_points) + units(sb.active_points)).toBe(200 * 10_000);
      expect(sa.active_points).toBe(100 - 20 * 1.5 + 20 * 1.25);
    });

    it('a spend racing a transfer and a reversal on the same member never leaves a lot below zero or the identity broken', async () => {
      const a = uid('tr-race-a');
      const b = uid('tr-race-b');
      const earned = await earn(a, 30);
      await earn(a, 30, { expire_days: 10 });
      const spent = await spend(a, 10);
      const answers = await Promise.all([
        ...Array.from({ length: 10 }, () => consume(a, 4)),
        ...Array.from({ length: 10 }, () => transfer(a, b, 3)),
        s.post(`${base()}/reverse/consume`, { event_no: uid('rev'), member_no: a, origin_event_no: spent.event_no }, adminKey),
        s.post(
          `${base()}/reverse/produce`,
          { event_no: uid('revp'), member_no: a, origin_event_no: earned.event_no, reverse_points: 5, allow_negative: false },
          adminKey,
        ),
      ]);
      for (const r of answers) expect([0, 40908]).toContain(r.body.code);
      const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND remaining < 0`, [crm]);
      expect(n).toBe(0);
      const sa = await summary(a);
      const sb = await summary(b);
      expect(sa.active_points).toBeGreaterThanOrEqual(0);
      expect(units(sb.total_points)).toBe(3 * 10_000 * answers.slice(10, 20).filter((r) => r.body.code === 0).length);
    });
  });
});
