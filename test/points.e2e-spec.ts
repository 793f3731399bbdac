import Bull from 'bull';
import { PointsEventKind, PointsSummaryView, Queue } from '@app/domain';
import { PointsClient } from '@app/platform';
import { Suite } from './support/suite';
import { expectError, expectInvalid, uid } from './support/expect';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Asia/Shanghai has no daylight saving time: local time is UTC + 8 hours all year. */
const SHANGHAI = 8 * HOUR;
const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
/** A JSON number with at most 4 decimal places. */
const FOUR_PLACES = /^-?\d+(\.\d{1,4})?$/;

/** 'YYYY-MM-DD HH:mm:ss' of an instant in Shanghai, computed without the app's libraries. */
const shanghaiText = (ms: number): string => new Date(ms + SHANGHAI).toISOString().slice(0, 19).replace('T', ' ');
/** The instant of a Shanghai 'YYYY-MM-DD HH:mm:ss'. */
const shanghaiMs = (text: string): number => Date.parse(`${text.replace(' ', 'T')}+08:00`);

/** The summary as the API answers it. */
type Summary = PointsSummaryView;

/**
 * The points ledger through real HTTP (gateway -> points-service) against real PostgreSQL
 * and Redis: no double spend under concurrent spends, idempotency by event_no under
 * concurrent duplicates, spends from the soonest-expiring lots first, exact decimals,
 * freezing and expiry moved by the services' clock (no sweep: the summary is computed at
 * the moment asked), event_at, history filters and paging, validation and client keys.
 */
describe('points ledger', () => {
  let s: Suite;
  const crm = 'crm_points';
  /** A tenant of its own for history, so that unfiltered listings are exactly known. */
  const histCrm = 'crm_points_hist';
  const otherCrm = 'crm_points_other';
  const base = (crmId = crm) => `/api/crm/points/${crmId}`;
  let adminKey: string;
  let clientKey: string;
  let histAdminKey: string;

  beforeAll(async () => {
    s = await Suite.start({ name: 'points', services: ['points-service'], controlClock: true, env: { EXPIRY_SWEEP_MS: '300' } });
    const issue = async (crmId: string, scope: string) => {
      const res = await s.post(`/api/crm/keys/${crmId}`, { scope });
      expect(res.body).toMatchObject({ code: 0 });
      expect(res.status).toBe(200);
      return res.body.data.key as string;
    };
    adminKey = await issue(crm, 'admin');
    clientKey = await issue(crm, 'client');
    histAdminKey = await issue(histCrm, 'admin');
  });
  afterEach(async () => {
    await s.setClock(0);
  });
  afterAll(async () => {
    await s?.stop();
  });

  const produce = (memberNo: string, points: unknown, extra: Record<string, unknown> = {}, key: string | null = adminKey, crmId = crm) =>
    s.post(`${base(crmId)}/produce/direct`, { event_no: uid('earn'), member_no: memberNo, event_type: 'order', points, ...extra }, key);
  const consume = (memberNo: string, points: unknown, extra: Record<string, unknown> = {}, key: string | null = adminKey, crmId = crm) =>
    s.post(`${base(crmId)}/consume/direct`, { event_no: uid('spend'), member_no: memberNo, points, ...extra }, key);

  /** An earn that must succeed; answers the journal row. */
  async function earn(memberNo: string, points: number, extra: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const res = await produce(memberNo, points, extra);
    expect(res.body).toMatchObject({ code: 0, data: { event_type: 'produce', member_no: memberNo, points } });
    expect(res.status).toBe(200);
    return res.body.data;
  }

  /** A spend that must succeed; answers the journal row. */
  async function spend(memberNo: string, points: number, extra: Record<string, unknown> = {}): Promise<Record<string, any>> {
    const res = await consume(memberNo, points, extra);
    expect(res.body).toMatchObject({ code: 0, data: { event_type: 'consume', member_no: memberNo, points } });
    expect(res.status).toBe(200);
    return res.body.data;
  }

  /** Exact units of 0.0001 of an answered amount, which must have at most 4 decimal places. */
  function units(v: number): number {
    expect(typeof v).toBe('number');
    expect(String(v)).toMatch(FOUR_PLACES);
    return Math.round(v * 10_000);
  }

  /** The member's summary now (admin key unless told), with every amount checked: at most 4 places, and the identity. */
  async function summary(memberNo: string, key: string = adminKey, crmId = crm): Promise<Summary> {
    const res = await s.get<Summary>(`${base(crmId)}/summary?member_no=${encodeURIComponent(memberNo)}`, key);
    expect(res.body).toMatchObject({ code: 0, data: { crm_id: crmId, member_no: memberNo } });
    expect(res.status).toBe(200);
    const d = res.body.data!;
    // total = active + freeze + expired + used, in exact units.
    expect(units(d.total_points)).toBe(units(d.active_points) + units(d.freeze_points) + units(d.expired_points) + units(d.used_points));
    // Points soon expiring are among the active ones (none when a debt makes the balance negative).
    expect(units(d.future_expired)).toBeLessThanOrEqual(Math.max(0, units(d.active_points)));
    return d;
  }

  const amounts = (d: Summary) => ({
    total_points: d.total_points,
    active_points: d.active_points,
    freeze_points: d.freeze_points,
    expired_points: d.expired_points,
    used_points: d.used_points,
    future_expired: d.future_expired,
  });

  const count = async (sql: string, params: unknown[]) => (await s.sql<{ n: number }>(sql, params))[0].n;
  const eventRows = (eventNo: string, crmId = crm) =>
    count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crmId, eventNo]);
  /** Everything written for a member: member row, journal rows, lots. */
  const writtenFor = async (memberNo: string, crmId = crm) => ({
    members: await count(`SELECT count(*)::int AS n FROM points.member WHERE crm_id = $1 AND member_no = $2`, [crmId, memberNo]),
    events: await count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND member_no = $2`, [crmId, memberNo]),
    lots: await count(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND member_no = $2`, [crmId, memberNo]),
  });
  /** Which lots (by the event_no that earned them) a spend took from, and how much of each. */
  const allocationsOf = (spendEventNo: string) =>
    s.sql<{ lot: string; points: string }>(
      `SELECT l.event_no AS lot, a.points::text AS points
         FROM points.allocation a
         JOIN points.event e ON e.crm_id = a.crm_id AND e.auto_id = a.event_id
         JOIN points.lot l ON l.crm_id = a.crm_id AND l.lot_id = a.lot_id
        WHERE a.crm_id = $1 AND e.event_no = $2
        ORDER BY l.event_no`,
      [crm, spendEventNo],
    );
  const lotsOf = (memberNo: string) =>
    s.sql<{ event_no: string; amount: string; remaining: string }>(
      `SELECT event_no, amount::text AS amount, remaining::text AS remaining FROM points.lot WHERE crm_id = $1 AND member_no = $2 ORDER BY lot_id`,
      [crm, memberNo],
    );

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

  describe('internal producers', () => {
    let client: PointsClient;
    beforeAll(() => {
      client = new PointsClient({ redisUrl: s.redisUrl });
    });
    afterAll(() => client.close());

    it('reach the same handlers over the transport (answered) and the points-events queue (durable), applied once per event_no', async () => {
      const m = uid('m-prod');
      const sent = await client.produceDirect(crm, { event_no: uid('tx'), member_no: m, event_type: 'order', points: 5 });
      expect(sent).toMatchObject({ code: 0, data: { event_type: 'produce', points: 5 } });
      const refused = await client.consumeDirect(crm, { event_no: uid('tx'), member_no: m, points: 50 });
      expect(refused).toMatchObject({ code: 40908 });

      const queued = uid('q');
      await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: queued, member_no: m, event_type: 'order', points: 7 });
      await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: queued, member_no: m, event_type: 'order', points: 7 });
      await s.eventually('the queued earn', async () => ((await summary(m)).total_points === 12 ? true : undefined));
      // The same event sent again over the transport: the original answer, nothing new.
      const again = await client.produceDirect(crm, { event_no: queued, member_no: m, event_type: 'order', points: 7 });
      expect(again).toMatchObject({ code: 0, data: { event_no: queued, points: 7 } });
      expect(await eventRows(queued)).toBe(1);
      await client.enqueue(PointsEventKind.CONSUME_DIRECT, crm, { event_no: uid('q'), member_no: m, points: 2 });
      await s.eventually('the queued spend', async () => ((await summary(m)).used_points === 2 ? true : undefined));
      expect(amounts(await summary(m))).toMatchObject({ total_points: 12, active_points: 10, used_points: 2 });
    });

    it('discards an invalid queued event at once, writing nothing', async () => {
      const m = uid('m-prod-bad');
      const bad = uid('q');
      await client.enqueue(PointsEventKind.PRODUCE_DIRECT, crm, { event_no: bad, member_no: m, event_type: 'order', points: 1.23456 });
      const queue = new Bull(Queue.POINTS_EVENTS, s.redisUrl, { prefix: 'loyalty' });
      try {
        const job = await s.eventually('the bad job to fail', async () => {
          const j = await queue.getJob(`${crm}.${PointsEventKind.PRODUCE_DIRECT}.${bad}`);
          return j && (await j.isFailed()) ? j : undefined;
        });
        expect(job.attemptsMade).toBe(1);
        expect(job.failedReason).toMatch(/points/);
      } finally {
        await queue.close();
      }
      expect(await writtenFor(m)).toEqual({ members: 0, events: 0, lots: 0 });
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
