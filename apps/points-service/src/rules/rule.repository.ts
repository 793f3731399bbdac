import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ListRulesMsg, Page, RuleDto, RuleView } from '@app/domain';
import { fmtTime, num, numOrNull } from '@app/platform';

type Row = Record<string, any>;

/** $2 is the zone. */
const RULE_COLUMNS = `
  r.rule_id, r.crm_id, r.action_scene, r.name, r.mode, r.points, r.rate, r.rounding, r.daily_cap, r.total_cap, r.expire_days,
  r.freeze_hours, r.enabled, ${fmtTime('r.starts_at', '$2')} AS starts_at, ${fmtTime('r.ends_at', '$2')} AS ends_at,
  ${fmtTime('r.create_time', '$2')} AS create_time, ${fmtTime('r.update_time', '$2')} AS update_time`;

const toView = (r: Row): RuleView => ({
  ...(r as RuleView),
  rule_id: num(r.rule_id),
  points: numOrNull(r.points),
  rate: numOrNull(r.rate),
  daily_cap: numOrNull(r.daily_cap),
  total_cap: numOrNull(r.total_cap),
});

/** A rule as by_rule applies it: amounts as decimal text. */
export interface AppliedRule {
  rule_id: number;
  mode: string;
  points: string | null;
  rate: string | null;
  rounding: string;
  daily_cap: string | null;
  total_cap: string | null;
  expire_days: number | null;
  freeze_hours: number | null;
}

/** A rule's fields as given (create and update). */
export type RuleFields = Omit<RuleDto, 'ruleViolations'>;

/** The fields of a rule in column order; times are text in the tenant's zone ($tz). */
const ruleParams = (d: RuleFields) => [
  d.action_scene,
  d.name,
  d.mode,
  d.points === undefined ? null : String(d.points),
  d.rate === undefined ? null : String(d.rate),
  d.rounding ?? 'floor',
  d.daily_cap === undefined ? null : String(d.daily_cap),
  d.total_cap === undefined ? null : String(d.total_cap),
  d.expire_days ?? null,
  d.freeze_hours ?? null,
  d.starts_at ?? null,
  d.ends_at ?? null,
];

/** Every query on earning rules. */
@Injectable()
export class RuleRepository {
  constructor(private readonly db: DataSource) {}

  async insert(crmId: string, d: RuleFields, tz: string, now: Date): Promise<RuleView> {
    const [{ rule_id }] = await this.db.query(
      `INSERT INTO points.rule (crm_id, action_scene, name, mode, points, rate, rounding, daily_cap, total_cap, expire_days, freeze_hours,
                                starts_at, ends_at, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5::numeric, $6::numeric, $7, $8::numeric, $9::numeric, $10, $11,
               $12::timestamp AT TIME ZONE $14, $13::timestamp AT TIME ZONE $14, $15, $15)
       RETURNING rule_id`,
      [crmId, ...ruleParams(d), tz, now],
    );
    return (await this.find(crmId, num(rule_id), tz))!;
  }

  /** Replaces every field of a rule; false when the tenant has no such rule. */
  async update(crmId: string, ruleId: number, d: RuleFields, tz: string, now: Date): Promise<boolean> {
    const [, affected] = await this.db.query(
      `UPDATE points.rule SET action_scene = $3, name = $4, mode = $5, points = $6::numeric, rate = $7::numeric, rounding = $8,
              daily_cap = $9::numeric, total_cap = $10::numeric, expire_days = $11, freeze_hours = $12,
              starts_at = $13::timestamp AT TIME ZONE $15, ends_at = $14::timestamp AT TIME ZONE $15, update_time = $16
        WHERE crm_id = $1 AND rule_id = $2`,
      [crmId, ruleId, ...ruleParams(d), tz, now],
    );
    return affected > 0;
  }

  async disable(crmId: string, ruleId: number, now: Date): Promise<boolean> {
    const [, affected] = await this.db.query(`UPDATE points.rule SET enabled = false, update_time = $3 WHERE crm_id = $1 AND rule_id = $2`, [
      crmId,
      ruleId,
      now,
    ]);
    return affected > 0;
  }

  async find(crmId: string, ruleId: number, tz: string): Promise<RuleView | null> {
    const rows: Row[] = await this.db.query(`SELECT ${RULE_COLUMNS} FROM points.rule r WHERE r.crm_id = $1 AND r.rule_id = $3`, [crmId, tz, ruleId]);
    return rows.length ? toView(rows[0]) : null;
  }

  async list(m: ListRulesMsg, tz: string): Promise<Page<RuleView>> {
    const all = m.include_disabled === true || m.include_disabled === 'true';
    const filter = `r.crm_id = $1 AND ($3::text IS NULL OR r.action_scene = $3) AND ($4 OR r.enabled)`;
    const params = [m.crm_id, tz, m.action_scene ?? null, all];
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM points.rule r WHERE ${filter} AND $2::text IS NOT NULL`, params);
    const size = m.page_size ?? 20;
    const rows: Row[] = await this.db.query(`SELECT ${RULE_COLUMNS} FROM points.rule r WHERE ${filter} ORDER BY r.rule_id DESC LIMIT $5 OFFSET $6`, [
      ...params,
      size,
      ((m.page_id ?? 1) - 1) * size,
    ]);
    return { total, result: rows.map(toView) };
  }

  /** The rule by_rule applies at `at`: `ruleId` if given, else the newest enabled rule of the scene active then. */
  async applicable(em: EntityManager, crmId: string, scene: string, ruleId: number | undefined, at: Date): Promise<AppliedRule | null> {
    const rows: Row[] = await em.query(
      `SELECT rule_id, mode, trim_scale(points)::text AS points, trim_scale(rate)::text AS rate, rounding,
              trim_scale(daily_cap)::text AS daily_cap, trim_scale(total_cap)::text AS total_cap, expire_days, freeze_hours
         FROM points.rule
        WHERE crm_id = $1 AND action_scene = $2 AND enabled AND ($3::bigint IS NULL OR rule_id = $3)
          AND (starts_at IS NULL OR starts_at <= $4) AND (ends_at IS NULL OR ends_at > $4)
        ORDER BY rule_id DESC LIMIT 1`,
      [crmId, scene, ruleId ?? null, at],
    );
    return rows.length ? { ...(rows[0] as AppliedRule), rule_id: num(rows[0].rule_id) } : null;
  }

  /**
   * The points a rule gives: `override` if given, else fixed points or pay_amount x rate
   * rounded to whole points; then held within the member's daily (tenant-zone day of
   * `at`) and total caps for this rule. Exact, in PostgreSQL numeric.
   */
  async award(
    em: EntityManager,
    crmId: string,
    memberNo: string,
    rule: AppliedRule,
    payAmount: string | null,
    override: string | null,
    at: Date,
    tz: string,
  ): Promise<string> {
    const [{ n }] = await em.query(
      `WITH base AS (
         SELECT CASE WHEN $3::numeric IS NOT NULL THEN $3::numeric
                     WHEN $4 = 'fixed' THEN $5::numeric
                     WHEN $7 = 'ceil' THEN ceil($6::numeric * $8::numeric)
                     WHEN $7 = 'round' THEN round($6::numeric * $8::numeric)
                     ELSE floor($6::numeric * $8::numeric) END AS pts),
       earned AS (
         SELECT coalesce(sum(points - reversed_points) FILTER (
                  WHERE event_at >= (date_trunc('day', $11::timestamptz AT TIME ZONE $12) AT TIME ZONE $12)
                    AND event_at < ((date_trunc('day', $11::timestamptz AT TIME ZONE $12) + interval '1 day') AT TIME ZONE $12)), 0) AS today,
                coalesce(sum(points - reversed_points), 0) AS ever
           FROM points.event WHERE crm_id = $1 AND member_no = $2 AND rule_id = $13 AND event_type = 'produce')
       SELECT trim_scale(GREATEST(LEAST(base.pts,
                coalesce($9::numeric - earned.today, base.pts),
                coalesce($10::numeric - earned.ever, base.pts)), 0))::text AS n
         FROM base, earned`,
      [crmId, memberNo, override, rule.mode, rule.points, payAmount, rule.rounding, rule.rate, rule.daily_cap, rule.total_cap, at, tz, rule.rule_id],
    );
    return n;
  }
}
