import { Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';
import { DAY, shanghaiText, shanghaiMs, Summary, pointsSuite } from './support/points';

/**
 * The points ledger through real HTTP (gateway -> points-service) against real PostgreSQL and Redis.
 * Spends never take a point twice under concurrent spends, event_no makes every write idempotent under concurrent copies,
 * lots are spent soonest-expiring first, amounts are exact to 4 places, a random sequence of events leaves summaries the
 * journal explains, and bad input is refused naming the field with nothing written.
 */
describe('points: spending, idempotency by event_no, exact decimals, the journal explaining every summary, validation', () => {
  const kit = pointsSuite('points_spending');
  const { crm, base, produce, consume, earn, spend, units, summary, amounts, count, eventRows, writtenFor, allocationsOf, lotsOf } = kit;
  let s: Suite;
  let adminKey: string;
  beforeAll(() => {
    ({ s, adminKey } = kit);
  });

  describe('spending', () => {
    it('never spends a point twice: 100 concurrent spends of 10 from 500, exactly 50 succeed', async () => {
      const m = uid('race');
      await earn(m, 500);
      const answers = await Promise.all(Array.from({ length: 100 }, () => consume(m, 10)));
      const won = answers.filter((a) => a.body.code === 0);
      const lost = answers.filter((a) => a.body.code !== 0);
      expect(won).toHaveLength(50);
      expect(lost).toHaveLength(50);
      for (const a of won) {
        expect(a.status).toBe(200);
        expect(a.body.data).toMatchObject({ event_type: 'consume', member_no: m, points: 10 });
      }
      for (const a of lost) expectError(a, 409, 40908);
      expect(new Set(won.map((a) => a.body.data.event_no)).size).toBe(50);

      expect(amounts(await summary(m))).toEqual({
        total_points: 500,
        active_points: 0,
        freeze_points: 0,
        expired_points: 0,
        used_points: 500,
        future_expired: 0,
      });
      const [alloc] = await s.sql<{ total: string; n: number }>(
        `SELECT coalesce(sum(a.points), 0)::text AS total, count(*)::int AS n
           FROM points.allocation a JOIN points.lot l ON l.crm_id = a.crm_id AND l.lot_id = a.lot_id
          WHERE l.crm_id = $1 AND l.member_no = $2`,
        [crm, m],
      );
      expect(alloc).toEqual({ total: '500.0000', n: 50 });
      const [lots] = await s.sql<{ n: number; low: string }>(
        `SELECT count(*)::int AS n, min(remaining)::text AS low FROM points.lot WHERE crm_id = $1 AND member_no = $2`,
        [crm, m],
      );
      expect(lots).toEqual({ n: 1, low: '0.0000' });
      expect(await count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND member_no = $2 AND event_type = 'consume'`, [crm, m])).toBe(50);
      // Nothing left: one more spend is refused.
      expectError(await consume(m, 0.0001), 409, 40908);
    });

    it('changes nothing when a spend is refused', async () => {
      const m = uid('short');
      await earn(m, 5);
      const before = await summary(m);
      const lotsBefore = await lotsOf(m);
      const refusedNo = uid('spend');
      const refused = await consume(m, 10, { event_no: refusedNo });
      expectError(refused, 409, 40908, /\b5\b/);
      expect(refused.body).not.toHaveProperty('data');
      expect(await eventRows(refusedNo)).toBe(0);
      expect(await summary(m)).toEqual(before);
      expect(await lotsOf(m)).toEqual(lotsBefore);
      expect(await writtenFor(m)).toEqual({ members: 1, events: 1, lots: 1 });
    });

    /** What the summary answers for a member without events (api-notes: zeros and detail_id null). */
    const unknownSummary = (memberNo: string): Summary => ({
      detail_id: null,
      crm_id: crm,
      member_no: memberNo,
      total_points: 0,
      freeze_points: 0,
      expired_points: 0,
      active_points: 0,
      used_points: 0,
      future_expired: 0,
      create_time: null,
      update_time: null,
    });

    it('leaves a member never seen unknown after a refused spend (40908 records nothing)', async () => {
      const stranger = uid('stranger');
      expect(await summary(stranger)).toEqual(unknownSummary(stranger));
      const eventNo = uid('spend');
      expectError(await consume(stranger, 1, { event_no: eventNo }), 409, 40908);
      expect(await eventRows(eventNo)).toBe(0);
      expect(await summary(stranger)).toEqual(unknownSummary(stranger));
      expect(await writtenFor(stranger)).toEqual({ members: 0, events: 0, lots: 0 });
    });

    it('leaves a member never seen unknown after a refused reuse of an event_no (40901)', async () => {
      const owner = uid('owner');
      const taken = await earn(owner, 3);
      const stranger = uid('stranger');
      expectError(await produce(stranger, 3, { event_no: taken.event_no }), 409, 40901);
      expectError(await consume(stranger, 3, { event_no: taken.event_no }), 409, 40901);
      expect(await eventRows(taken.event_no)).toBe(1);
      expect(await summary(stranger)).toEqual(unknownSummary(stranger));
      expect(await writtenFor(stranger)).toEqual({ members: 0, events: 0, lots: 0 });
    });

    it('decides earns and spends arriving together (in batches) as if one at a time: every spend covered, no point made or lost, refusals leave nothing', async () => {
      const members = Array.from({ length: 5 }, () => uid('mix'));
      const strangers = Array.from({ length: 5 }, () => uid('nobody'));
      // All at once: per member 20 earns of 5 and 20 spends of 3, interleaved; strangers only spend.
      const sent = members.flatMap((m) =>
        Array.from({ length: 20 }, () => [
          { m, kind: 'earn' as const, no: '', req: produce(m, 5) },
          ((no) => ({ m, kind: 'spend' as const, no, req: consume(m, 3, { event_no: no }) }))(uid('spend')),
        ]).flat(),
      );
      const strangerSpends = strangers.map((m) => consume(m, 1));
      const answers = await Promise.all(sent.map(async (x) => ({ ...x, res: await x.req })));
      for (const res of await Promise.all(strangerSpends)) expectError(res, 409, 40908);
      for (const m of strangers) expect(await writtenFor(m)).toEqual({ members: 0, events: 0, lots: 0 });

      for (const m of members) {
        const mine = answers.filter((a) => a.m === m);
        for (const a of mine.filter((x) => x.kind === 'earn')) expect(a.res.body).toMatchObject({ code: 0, data: { event_type: 'produce', points: 5 } });
        const won = mine.filter((a) => a.kind === 'spend' && a.res.body.code === 0);
        const lost = mine.filter((a) => a.kind === 'spend' && a.res.body.code !== 0);
        for (const a of lost) expectError(a.res, 409, 40908);
        expect(won.length + lost.length).toBe(20);
        expect(amounts(await summary(m))).toEqual({
          total_points: 100,
          active_points: 100 - 3 * won.length,
          freeze_points: 0,
          expired_points: 0,
          used_points: 3 * won.length,
          future_expired: 0,
        });
        for (const a of won) {
          expect(a.res.body.data.event_no).toBe(a.no);
          const alloc = await allocationsOf(a.no);
          expect(alloc.reduce((t, x) => t + Number(x.points), 0)).toBe(3);
        }
        for (const a of lost) expect(await eventRows(a.no)).toBe(0);
        const lots = await lotsOf(m);
        expect(lots).toHaveLength(20);
        for (const l of lots) {
          expect(Number(l.remaining)).toBeGreaterThanOrEqual(0);
          expect(Number(l.remaining)).toBeLessThanOrEqual(Number(l.amount));
        }
        expect(lots.reduce((t, l) => t + Number(l.remaining), 0)).toBe(100 - 3 * won.length);
        expect(await writtenFor(m)).toEqual({ members: 1, events: 20 + won.length, lots: 20 });
      }
    });

    it('spends the soonest-expiring lots first and lots that never expire last', async () => {
      const m = uid('fifo');
      const a = await earn(m, 10, { expire_days: 30 });
      const b = await earn(m, 10, { expire_days: 7 });
      const c = await earn(m, 10);
      const d = await earn(m, 10, { expire_days: 90 });
      expect(c.expire_time).toBeNull();
      for (const [row, days] of [
        [a, 30],
        [b, 7],
        [d, 90],
      ] as const) {
        expect(row.expire_time).toBe(shanghaiText(shanghaiMs(row.event_at) + days * DAY));
      }
      expect(amounts(await summary(m))).toEqual({
        total_points: 40,
        active_points: 40,
        freeze_points: 0,
        expired_points: 0,
        used_points: 0,
        future_expired: 10,
      });

      const spent = await spend(m, 25);
      expect(await allocationsOf(spent.event_no)).toEqual(
        [
          { lot: a.event_no, points: '10.0000' },
          { lot: b.event_no, points: '10.0000' },
          { lot: d.event_no, points: '5.0000' },
        ].sort((x, y) => x.lot.localeCompare(y.lot)),
      );
      expect(await lotsOf(m)).toEqual([
        { event_no: a.event_no, amount: '10.0000', remaining: '0.0000' },
        { event_no: b.event_no, amount: '10.0000', remaining: '0.0000' },
        { event_no: c.event_no, amount: '10.0000', remaining: '10.0000' },
        { event_no: d.event_no, amount: '10.0000', remaining: '5.0000' },
      ]);
      expect(amounts(await summary(m))).toEqual({
        total_points: 40,
        active_points: 15,
        freeze_points: 0,
        expired_points: 0,
        used_points: 25,
        future_expired: 0,
      });

      // The next spend finishes D before touching C, which never expires.
      const next = await spend(m, 8);
      expect(await allocationsOf(next.event_no)).toEqual(
        [
          { lot: c.event_no, points: '3.0000' },
          { lot: d.event_no, points: '5.0000' },
        ].sort((x, y) => x.lot.localeCompare(y.lot)),
      );
    });

    it('keeps points exact to 4 decimal places', async () => {
      const m = uid('dec');
      for (let i = 0; i < 3; i++) await earn(m, 0.1);
      const spent = await spend(m, 0.3);
      expect(spent.points).toBe(0.3);
      const afterSpend = await summary(m);
      expect(afterSpend.active_points).toBe(0);
      expect(amounts(afterSpend)).toEqual({ total_points: 0.3, active_points: 0, freeze_points: 0, expired_points: 0, used_points: 0.3, future_expired: 0 });
      expectError(await consume(m, 0.0001), 409, 40908);

      // More than 4 places is refused, never rounded, and writes nothing.
      const tooFine = uid('earn');
      expectInvalid(await produce(m, 1.23456, { event_no: tooFine }), 'points');
      expectInvalid(await consume(m, 1.23456), 'points');
      expect(await eventRows(tooFine)).toBe(0);

      const tiny = await earn(m, 0.0001);
      expect(tiny.points).toBe(0.0001);
      const [lot] = await s.sql(`SELECT amount::text AS amount FROM points.lot WHERE crm_id = $1 AND event_no = $2`, [crm, tiny.event_no]);
      expect(lot).toEqual({ amount: '0.0001' });
      await earn(m, 12.3456);
      expect(amounts(await summary(m))).toEqual({
        total_points: 12.6457,
        active_points: 12.3457,
        freeze_points: 0,
        expired_points: 0,
        used_points: 0.3,
        future_expired: 0,
      });
      await spend(m, 12.3457);
      expect(amounts(await summary(m))).toEqual({
        total_points: 12.6457,
        active_points: 0,
        freeze_points: 0,
        expired_points: 0,
        used_points: 12.6457,
        future_expired: 0,
      });
      const [member] = await s.sql(`SELECT total_points::text AS total, used_points::text AS used FROM points.member WHERE crm_id = $1 AND member_no = $2`, [
        crm,
        m,
      ]);
      expect(member).toEqual({ total: '12.6457', used: '12.6457' });
    });
  });

  describe('idempotency by event_no', () => {
    it('answers 20 concurrent copies of an earn alike and records it once', async () => {
      const m = uid('dup');
      const body = { event_no: uid('earn'), member_no: m, event_type: 'order', points: 7.5, action_scene: 'order_pay', store_code: 'ec_mall', expire_days: 30 };
      const answers = await Promise.all(Array.from({ length: 20 }, () => s.post(`${base()}/produce/direct`, body, adminKey)));
      expect(answers[0].body).toMatchObject({ code: 0, data: { event_no: body.event_no, points: 7.5, event_type: 'produce' } });
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body).toEqual(answers[0].body);
      }
      expect(await eventRows(body.event_no)).toBe(1);
      expect(await count(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND event_no = $2`, [crm, body.event_no])).toBe(1);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 7.5, active_points: 7.5, used_points: 0 });

      // Later, the same request again: the original answer.
      const again = await s.post(`${base()}/produce/direct`, body, adminKey);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(answers[0].body);

      // Another payload under the used event_no: 40901, nothing written.
      expectError(await s.post(`${base()}/produce/direct`, { ...body, points: 8 }, adminKey), 409, 40901);
      expectError(await s.post(`${base()}/produce/direct`, { ...body, expire_days: 31 }, adminKey), 409, 40901);
      expectError(await s.post(`${base()}/produce/direct`, { ...body, member_no: uid('other') }, adminKey), 409, 40901);
      expectError(await s.post(`${base()}/consume/direct`, { event_no: body.event_no, member_no: m, points: 7.5 }, adminKey), 409, 40901);
      expect(await eventRows(body.event_no)).toBe(1);
      expect(amounts(await summary(m))).toMatchObject({ total_points: 7.5, active_points: 7.5, used_points: 0 });
    });

    it('answers 20 concurrent copies of a spend alike and spends once', async () => {
      const m = uid('dup');
      await earn(m, 10);
      const body = { event_no: uid('spend'), member_no: m, points: 2.5, action_scene: 'user_discount', campaign_code: '618' };
      const answers = await Promise.all(Array.from({ length: 20 }, () => s.post(`${base()}/consume/direct`, body, adminKey)));
      expect(answers[0].body).toMatchObject({ code: 0, data: { event_no: body.event_no, points: 2.5, event_type: 'consume', campaign_code: '618' } });
      for (const a of answers) {
        expect(a.status).toBe(200);
        expect(a.body).toEqual(answers[0].body);
      }
      expect(await eventRows(body.event_no)).toBe(1);
      expect(await allocationsOf(body.event_no)).toHaveLength(1);
      expect(amounts(await summary(m))).toEqual({
        total_points: 10,
        active_points: 7.5,
        freeze_points: 0,
        expired_points: 0,
        used_points: 2.5,
        future_expired: 0,
      });

      // Repeated after the balance changed: still the original answer, and no second spend.
      await spend(m, 7.5);
      const again = await s.post(`${base()}/consume/direct`, body, adminKey);
      expect(again.status).toBe(200);
      expect(again.body).toEqual(answers[0].body);
      expectError(await s.post(`${base()}/consume/direct`, { ...body, points: 3 }, adminKey), 409, 40901);
      expectError(await s.post(`${base()}/consume/direct`, { ...body, campaign_code: '1111' }, adminKey), 409, 40901);
      expectError(await s.post(`${base()}/produce/direct`, { ...body, event_type: 'order' }, adminKey), 409, 40901);
      expect(await eventRows(body.event_no)).toBe(1);
      expect(amounts(await summary(m))).toEqual({
        total_points: 10,
        active_points: 0,
        freeze_points: 0,
        expired_points: 0,
        used_points: 10,
        future_expired: 0,
      });
    });

    it('lets exactly one of concurrent earns with one event_no for different members win; the rest are 40901', async () => {
      const eventNo = uid('earn');
      const members = Array.from({ length: 8 }, () => uid('claimant'));
      const answers = await Promise.all(
        members.map((m) => s.post(`${base()}/produce/direct`, { event_no: eventNo, member_no: m, event_type: 'order', points: 3 }, adminKey)),
      );
      const won = answers.filter((a) => a.body.code === 0);
      expect(won).toHaveLength(1);
      for (const a of answers.filter((x) => x.body.code !== 0)) expectError(a, 409, 40901);
      const winner = won[0].body.data.member_no as string;
      expect(await s.sql(`SELECT member_no FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crm, eventNo])).toEqual([{ member_no: winner }]);
      expect(await s.sql(`SELECT member_no FROM points.lot WHERE crm_id = $1 AND event_no = $2`, [crm, eventNo])).toEqual([{ member_no: winner }]);
      for (const m of members) expect((await summary(m)).total_points).toBe(m === winner ? 3 : 0);
    });
  });

  describe('property: the journal explains every summary', () => {
    it('after a random sequence of events on a few members, totals and used points recomputed from the journal equal the summaries', async () => {
      // A small seeded generator, so a failure can be replayed.
      let seed = 20261126;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
      const amount = () => Math.round((0.0001 + rand() * 20) * 10_000) / 10_000;
      const members = Array.from({ length: 4 }, () => uid('prop'));
      const earns: Array<{ m: string; no: string }> = [];
      const spends: Array<{ m: string; no: string }> = [];
      for (let i = 0; i < 160; i++) {
        const m = pick(members);
        const r = rand();
        if (r < 0.35) {
          const res = await produce(m, amount(), rand() < 0.5 ? { expire_days: 1 + Math.floor(rand() * 60) } : rand() < 0.3 ? { freeze_hours: 1 } : {});
          if (res.body.code === 0) earns.push({ m, no: res.body.data.event_no });
        } else if (r < 0.6) {
          const res = await consume(m, amount());
          if (res.body.code === 0) spends.push({ m, no: res.body.data.event_no });
        } else if (r < 0.7 && spends.length) {
          const sp = pick(spends);
          await s.post(
            `${base()}/reverse/consume`,
            { event_no: uid('prev'), member_no: sp.m, origin_event_no: sp.no, reverse_points: rand() < 0.5 ? undefined : amount() },
            adminKey,
          );
        } else if (r < 0.8 && earns.length) {
          const e = pick(earns);
          await s.post(
            `${base()}/reverse/produce`,
            {
              event_no: uid('prevp'),
              member_no: e.m,
              origin_event_no: e.no,
              allow_negative: rand() < 0.3,
              reverse_points: rand() < 0.5 ? undefined : amount(),
            },
            adminKey,
          );
        } else if (r < 0.9) {
          const to = pick(members.filter((x) => x !== m));
          await s.post(`${base()}/transfer/direct`, { transfer_no: uid('ptr'), from_user: m, to_user: to, points: amount() }, adminKey);
        } else {
          const to = pick(members.filter((x) => x !== m));
          const no = uid('ptp');
          const offered = await s.post(`${base()}/transfer`, { transfer_no: no, from_user: m, to_user: to, points: amount() }, adminKey);
          if (offered.body.code === 0 && rand() < 0.7) await s.post(`${base()}/accept`, { transfer_no: no, member_no: to }, adminKey);
        }
      }
      for (const m of members) {
        const d = await summary(m);
        const [j] = await s.sql(
          `SELECT coalesce(sum(points) FILTER (WHERE event_type IN ('produce', 'transfer_in')), 0)
                - coalesce(sum(points) FILTER (WHERE event_type = 'reverse_produce'), 0) AS total,
                  coalesce(sum(points) FILTER (WHERE event_type IN ('consume', 'transfer_out')), 0)
                - coalesce(sum(points) FILTER (WHERE event_type IN ('reverse_consume', 'transfer_back')), 0) AS used
             FROM points.event WHERE crm_id = $1 AND member_no = $2`,
          [crm, m],
        );
        expect(units(d.total_points)).toBe(Math.round(Number(j.total) * 10_000));
        expect(units(d.used_points)).toBe(Math.round(Number(j.used) * 10_000));
      }
      const [{ n }] = await s.sql(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND (remaining < 0 OR remaining > amount)`, [crm]);
      expect(n).toBe(0);
    });
  });

  describe('validation', () => {
    const valid = () => ({ event_no: uid('v'), member_no: uid('valid'), event_type: 'order', points: 10 });

    it.each([
      ['event_no', 'missing', (b: Record<string, unknown>) => delete b.event_no],
      ['member_no', 'missing', (b: Record<string, unknown>) => delete b.member_no],
      ['points', 'missing', (b: Record<string, unknown>) => delete b.points],
      ['points', 'zero', (b: Record<string, unknown>) => (b.points = 0)],
      ['points', 'negative', (b: Record<string, unknown>) => (b.points = -5)],
      ['points', 'text', (b: Record<string, unknown>) => (b.points = '10')],
      ['event_type', 'missing on an earn', (b: Record<string, unknown>) => delete b.event_type],
    ])('refuses %s %s with 400 naming it, writing nothing', async (field, _how, change) => {
      for (const kind of ['produce', 'consume'] as const) {
        if (field === 'event_type' && kind === 'consume') continue;
        const body: Record<string, unknown> = valid();
        change(body);
        const res = await s.post(`${base()}/${kind}/direct`, body, adminKey);
        expectInvalid(res, field);
        const memberNo = (body.member_no as string | undefined) ?? '';
        if (memberNo) expect(await writtenFor(memberNo)).toEqual({ members: 0, events: 0, lots: 0 });
        if (body.event_no) expect(await eventRows(body.event_no as string)).toBe(0);
      }
    });

    it('refuses a summary without member_no', async () => {
      expectInvalid(await s.get(`${base()}/summary`, adminKey), 'member_no');
    });
  });
});
