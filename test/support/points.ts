import { PointsSummaryView } from '@app/domain';
import { uid } from './expect';
import { Suite } from './suite';

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** Asia/Shanghai has no daylight saving time: local time is UTC + 8 hours all year. */
export const SHANGHAI = 8 * HOUR;
export const TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
/** A JSON number with at most 4 decimal places. */
const FOUR_PLACES = /^-?\d+(\.\d{1,4})?$/;

/** 'YYYY-MM-DD HH:mm:ss' of an instant in Shanghai, computed without the app's libraries. */
export const shanghaiText = (ms: number): string => new Date(ms + SHANGHAI).toISOString().slice(0, 19).replace('T', ' ');
/** The instant of a Shanghai 'YYYY-MM-DD HH:mm:ss'. */
export const shanghaiMs = (text: string): number => Date.parse(`${text.replace(' ', 'T')}+08:00`);

/** The summary as the API answers it. */
export type Summary = PointsSummaryView;

/**
 * What every points e2e file shares: one suite (gateway + points-service, the services'
 * clock under the test's control, reset after each test), keys for the tenants, and the
 * helpers that earn, spend and read a member's summary with its identity checked.
 *
 * Call `pointsSuite` at the top of a file's describe: it registers the hooks. The helpers
 * read the suite when called, so they can be destructured at once; `s` and the keys are
 * set once the suite has started (read them from the kit in the file's own `beforeAll`).
 */
export class PointsKit {
  s!: Suite;
  adminKey = '';
  clientKey = '';
  histAdminKey = '';
  readonly crm = 'crm_points';
  /** A tenant of its own for history, so that unfiltered listings are exactly known. */
  readonly histCrm = 'crm_points_hist';
  readonly otherCrm = 'crm_points_other';

  readonly base = (crmId = this.crm) => `/api/crm/points/${crmId}`;

  readonly produce = (memberNo: string, points: unknown, extra: Record<string, unknown> = {}, key: string | null = this.adminKey, crmId = this.crm) =>
    this.s.post(`${this.base(crmId)}/produce/direct`, { event_no: uid('earn'), member_no: memberNo, event_type: 'order', points, ...extra }, key);
  readonly consume = (memberNo: string, points: unknown, extra: Record<string, unknown> = {}, key: string | null = this.adminKey, crmId = this.crm) =>
    this.s.post(`${this.base(crmId)}/consume/direct`, { event_no: uid('spend'), member_no: memberNo, points, ...extra }, key);

  /** An earn that must succeed; answers the journal row. */
  readonly earn = async (memberNo: string, points: number, extra: Record<string, unknown> = {}): Promise<Record<string, any>> => {
    const res = await this.produce(memberNo, points, extra);
    expect(res.body).toMatchObject({ code: 0, data: { event_type: 'produce', member_no: memberNo, points } });
    expect(res.status).toBe(200);
    return res.body.data;
  };

  /** A spend that must succeed; answers the journal row. */
  readonly spend = async (memberNo: string, points: number, extra: Record<string, unknown> = {}): Promise<Record<string, any>> => {
    const res = await this.consume(memberNo, points, extra);
    expect(res.body).toMatchObject({ code: 0, data: { event_type: 'consume', member_no: memberNo, points } });
    expect(res.status).toBe(200);
    return res.body.data;
  };

  /** Exact units of 0.0001 of an answered amount, which must have at most 4 decimal places. */
  readonly units = (v: number): number => {
    expect(typeof v).toBe('number');
    expect(String(v)).toMatch(FOUR_PLACES);
    return Math.round(v * 10_000);
  };

  /** The member's summary now (admin key unless told), with every amount checked: at most 4 places, and the identity. */
  readonly summary = async (memberNo: string, key: string = this.adminKey, crmId = this.crm): Promise<Summary> => {
    const res = await this.s.get<Summary>(`${this.base(crmId)}/summary?member_no=${encodeURIComponent(memberNo)}`, key);
    expect(res.body).toMatchObject({ code: 0, data: { crm_id: crmId, member_no: memberNo } });
    expect(res.status).toBe(200);
    const d = res.body.data!;
    const { units } = this;
    // total = active + freeze + expired + used, in exact units.
    expect(units(d.total_points)).toBe(units(d.active_points) + units(d.freeze_points) + units(d.expired_points) + units(d.used_points));
    // Points soon expiring are among the active ones (none when a debt makes the balance negative).
    expect(units(d.future_expired)).toBeLessThanOrEqual(Math.max(0, units(d.active_points)));
    return d;
  };

  readonly amounts = (d: Summary) => ({
    total_points: d.total_points,
    active_points: d.active_points,
    freeze_points: d.freeze_points,
    expired_points: d.expired_points,
    used_points: d.used_points,
    future_expired: d.future_expired,
  });

  readonly count = async (sql: string, params: unknown[]) => (await this.s.sql<{ n: number }>(sql, params))[0].n;
  readonly eventRows = (eventNo: string, crmId = this.crm) =>
    this.count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND event_no = $2`, [crmId, eventNo]);
  /** Everything written for a member: member row, journal rows, lots. */
  readonly writtenFor = async (memberNo: string, crmId = this.crm) => ({
    members: await this.count(`SELECT count(*)::int AS n FROM points.member WHERE crm_id = $1 AND member_no = $2`, [crmId, memberNo]),
    events: await this.count(`SELECT count(*)::int AS n FROM points.event WHERE crm_id = $1 AND member_no = $2`, [crmId, memberNo]),
    lots: await this.count(`SELECT count(*)::int AS n FROM points.lot WHERE crm_id = $1 AND member_no = $2`, [crmId, memberNo]),
  });
  /** Which lots (by the event_no that earned them) a spend took from, and how much of each. */
  readonly allocationsOf = (spendEventNo: string) =>
    this.s.sql<{ lot: string; points: string }>(
      `SELECT l.event_no AS lot, a.points::text AS points
         FROM points.allocation a
         JOIN points.event e ON e.crm_id = a.crm_id AND e.auto_id = a.event_id
         JOIN points.lot l ON l.crm_id = a.crm_id AND l.lot_id = a.lot_id
        WHERE a.crm_id = $1 AND e.event_no = $2
        ORDER BY l.event_no`,
      [this.crm, spendEventNo],
    );
  readonly lotsOf = (memberNo: string) =>
    this.s.sql<{ event_no: string; amount: string; remaining: string }>(
      `SELECT event_no, amount::text AS amount, remaining::text AS remaining FROM points.lot WHERE crm_id = $1 AND member_no = $2 ORDER BY lot_id`,
      [this.crm, memberNo],
    );
}

/** Boots the points suite for a file (hooks registered in the caller's describe) and answers its kit. */
export function pointsSuite(name: string): PointsKit {
  const kit = new PointsKit();
  const { crm, histCrm } = kit;

  beforeAll(async () => {
    kit.s = await Suite.start({ name, services: ['points-service'], controlClock: true, env: { EXPIRY_SWEEP_MS: '300' } });
    const issue = async (crmId: string, scope: string) => {
      const res = await kit.s.post(`/api/crm/keys/${crmId}`, { scope });
      expect(res.body).toMatchObject({ code: 0 });
      expect(res.status).toBe(200);
      return res.body.data.key as string;
    };
    kit.adminKey = await issue(crm, 'admin');
    kit.clientKey = await issue(crm, 'client');
    kit.histAdminKey = await issue(histCrm, 'admin');
  });
  afterEach(async () => {
    await kit.s.setClock(0);
  });
  afterAll(async () => {
    await kit.s?.stop();
  });
  return kit;
}
