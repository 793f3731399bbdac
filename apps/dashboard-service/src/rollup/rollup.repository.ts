import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CARD_DAY_COUNTERS, MemberAllDayDelta, MemberKind, MemberSpanDelta, RollupDeltas } from '@app/domain';
import { num } from '@app/platform';

/** A range of days (YYYY-MM-DD, both included) of one tenant, optionally one card. */
export interface RangeQuery {
  crm_id: string;
  start: string;
  end: string;
  card_id?: string;
}

export interface DayCounts {
  day: string;
  claim: number;
  redeem: number;
  present: number;
}

/** Distinct members per kind: per day, and over the whole range (day null). */
export interface MemberCount {
  kind: 'claim' | 'redeem' | 'present';
  day: string | null;
  members: number;
}

export interface ChannelCount {
  kind: 'claim' | 'redeem';
  channel: string;
  num: number;
}

export interface TopRow {
  list: 'receive' | 'redeem';
  card_id: string;
  title: string;
  receive_num: number;
  redeem_num: number;
}

/** A member_all_day row after a batch's upsert: its new num and the delta that made it. */
export interface MemberAllDayAfter extends MemberAllDayDelta {
  delta: number;
}

export interface MemberOfKind {
  kind: MemberKind;
  member_no: string;
}

type Row = Record<string, any>;

/**
 * The day (a `date`) an instant counts on in the zone given as a parameter: the one
 * expression of both the incremental path (daysOf) and the rebuild (RollupBuilder).
 */
export const dayOfSql = (col: string, tzParam: string): string => `(${col} AT TIME ZONE ${tzParam})::date`;

/**
 * The tenant's rollup lock: every apply batch holds it shared, a rebuild that replaces
 * the tenant's rows holds it exclusive, so neither sees the other half done.
 */
export const tenantLockKey = (crmId: string): string => `dashboard.rollups|${crmId}`;

/** Every query of the dashboard's rollups (see the migration for the tables). */
@Injectable()
export class RollupRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Marks these events of one tenant applied; answers the ids that were not applied
   * before (a duplicate, also one committed meanwhile by another worker, is left out: its
   * insert waits for that transaction and then does nothing). Ids in key order, so two
   * workers take the same locks in the same order.
   */
  async markApplied(em: EntityManager, crmId: string, eventIds: string[]): Promise<Set<string>> {
    const rows: Row[] = await em.query(
      `INSERT INTO dashboard.applied_event (crm_id, event_id)
       SELECT $1, e FROM unnest($2::text[]) AS e
       ON CONFLICT (crm_id, event_id) DO NOTHING
       RETURNING event_id`,
      [crmId, eventIds],
    );
    return new Set(rows.map((r) => r.event_id as string));
  }

  /** The day (YYYY-MM-DD) each instant counts on in `zone`, by dayOfSql; one statement for a whole batch. */
  async daysOf(em: EntityManager, instants: string[], zone: string): Promise<Map<string, string>> {
    const rows: Row[] = await em.query(
      `SELECT i, ${dayOfSql('i::timestamptz', '$2')}::text AS day FROM unnest($1::text[]) AS i`,
      [[...new Set(instants)], zone],
    );
    return new Map(rows.map((r) => [r.i as string, r.day as string]));
  }

  /** Takes the tenant's rollup lock for this transaction: shared (an apply batch) or exclusive (a rebuild's replace). */
  async lockTenant(em: EntityManager, crmId: string, mode: 'shared' | 'exclusive'): Promise<void> {
    await em.query(`SELECT ${mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock'}(hashtextextended($1, 0))`, [tenantLockKey(crmId)]);
  }

  /**
   * Locks each (crm_id, kind, member_no) for this transaction, in one statement, in the
   * order of the lock keys: taken before any rollup row, so two batches never deadlock
   * and one never sees another's member chain half done (member_all_day, member_span).
   */
  async lockMembers(em: EntityManager, crmId: string, members: MemberOfKind[]): Promise<void> {
    if (!members.length) return;
    await em.query(
      `SELECT count(pg_advisory_xact_lock(k)) FROM (
         SELECT DISTINCT hashtextextended($1 || '|' || m.kind || '|' || m.member_no, 0) AS k
           FROM unnest($2::text[], $3::text[]) AS m(kind, member_no)
          ORDER BY 1
       ) AS keys`,
      [crmId, members.map((m) => m.kind), members.map((m) => m.member_no)],
    );
  }

  /** Adds the batch's member_all_day deltas (rows in key order) and answers each row's new num. */
  async addMemberAllDays(em: EntityManager, crmId: string, rows: MemberAllDayDelta[]): Promise<MemberAllDayAfter[]> {
    if (!rows.length) return [];
    const out: Row[] = await em.query(
      `INSERT INTO dashboard.member_all_day AS t (crm_id, kind, member_no, day, num)
       SELECT $1, d.kind, d.member_no, d.day, d.num
         FROM unnest($2::text[], $3::text[], $4::date[], $5::int[]) AS d(kind, member_no, day, num)
       ON CONFLICT (crm_id, kind, member_no, day) DO UPDATE SET num = t.num + EXCLUDED.num
       RETURNING t.kind, t.member_no, t.day::text AS day, t.num`,
      [crmId, rows.map((r) => r.kind), rows.map((r) => r.member_no), rows.map((r) => r.day), rows.map((r) => r.num)],
    );
    const delta = new Map(rows.map((r) => [`${r.kind}|${r.member_no}|${r.day}`, r.num]));
    return out.map((r) => ({ kind: r.kind, member_no: r.member_no, day: r.day, num: Number(r.num), delta: delta.get(`${r.kind}|${r.member_no}|${r.day}`) ?? 0 }));
  }

  /** The active days (num > 0, sorted) of these members per kind, across cards: key `kind|member_no`. */
  async activeDays(em: EntityManager, crmId: string, members: MemberOfKind[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!members.length) return out;
    const rows: Row[] = await em.query(
      `SELECT t.kind, t.member_no, t.day::text AS day
         FROM unnest($2::text[], $3::text[]) AS m(kind, member_no)
         JOIN dashboard.member_all_day t ON t.crm_id = $1 AND t.kind = m.kind AND t.member_no = m.member_no
        WHERE t.num > 0
        ORDER BY t.kind, t.member_no, t.day`,
      [crmId, members.map((m) => m.kind), members.map((m) => m.member_no)],
    );
    for (const r of rows) {
      const key = `${r.kind}|${r.member_no}`;
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push(r.day);
    }
    return out;
  }

  /** Adds member_span deltas (rows in key order): n = n + delta. */
  async addMemberSpans(em: EntityManager, crmId: string, rows: MemberSpanDelta[]): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `INSERT INTO dashboard.member_span AS t (crm_id, kind, day, prev_day, n)
       SELECT $1, d.kind, d.day, d.prev_day, d.n
         FROM unnest($2::text[], $3::date[], $4::date[], $5::int[]) AS d(kind, day, prev_day, n)
       ON CONFLICT (crm_id, kind, day, prev_day) DO UPDATE SET n = t.n + EXCLUDED.n`,
      [crmId, rows.map((r) => r.kind), rows.map((r) => r.day), rows.map((r) => r.prev_day), rows.map((r) => r.n)],
    );
  }

  /** Adds a batch's deltas to the rollups: one upsert per table, rows in key order. */
  async addDeltas(em: EntityManager, crmId: string, d: RollupDeltas): Promise<void> {
    if (d.titles.length) {
      await em.query(
        `INSERT INTO dashboard.card AS c (crm_id, card_id, title, title_at)
         SELECT $1, t.card_id, t.title, t.title_at FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS t(card_id, title, title_at)
         ON CONFLICT (crm_id, card_id) DO UPDATE SET title = EXCLUDED.title, title_at = EXCLUDED.title_at
         WHERE c.title_at <= EXCLUDED.title_at`,
        [crmId, d.titles.map((t) => t.card_id), d.titles.map((t) => t.title), d.titles.map((t) => t.title_at)],
      );
    }
    if (d.cardDays.length) {
      const cols = CARD_DAY_COUNTERS;
      await em.query(
        `INSERT INTO dashboard.card_day AS t (crm_id, day, card_id, ${cols.join(', ')})
         SELECT $1, d.day, d.card_id, ${cols.map((c) => `d.${c}`).join(', ')}
           FROM unnest($2::date[], $3::text[], ${cols.map((_c, i) => `$${i + 4}::int[]`).join(', ')}) AS d(day, card_id, ${cols.join(', ')})
         ON CONFLICT (crm_id, day, card_id) DO UPDATE SET ${cols.map((c) => `${c} = t.${c} + EXCLUDED.${c}`).join(', ')}`,
        [crmId, d.cardDays.map((r) => r.day), d.cardDays.map((r) => r.card_id), ...cols.map((c) => d.cardDays.map((r) => r[c]))],
      );
    }
    if (d.channelDays.length) {
      const r = d.channelDays;
      await em.query(
        `INSERT INTO dashboard.channel_day AS t (crm_id, kind, day, card_id, channel, num)
         SELECT $1, d.kind, d.day, d.card_id, d.channel, d.num
           FROM unnest($2::text[], $3::date[], $4::text[], $5::text[], $6::int[]) AS d(kind, day, card_id, channel, num)
         ON CONFLICT (crm_id, kind, day, card_id, channel) DO UPDATE SET num = t.num + EXCLUDED.num`,
        [crmId, r.map((x) => x.kind), r.map((x) => x.day), r.map((x) => x.card_id), r.map((x) => x.channel), r.map((x) => x.num)],
      );
    }
    if (d.memberDays.length) {
      const r = d.memberDays;
      await em.query(
        `INSERT INTO dashboard.member_day AS t (crm_id, kind, card_id, day, member_no, num)
         SELECT $1, d.kind, d.card_id, d.day, d.member_no, d.num
           FROM unnest($2::text[], $3::text[], $4::date[], $5::text[], $6::int[]) AS d(kind, card_id, day, member_no, num)
         ON CONFLICT (crm_id, kind, card_id, day, member_no) DO UPDATE SET num = t.num + EXCLUDED.num`,
        [crmId, r.map((x) => x.kind), r.map((x) => x.card_id), r.map((x) => x.day), r.map((x) => x.member_no), r.map((x) => x.num)],
      );
    }
  }

  /** Claims, redemptions and gifts per day of the range (days without a row are left out). */
  async dayCounts(q: RangeQuery): Promise<DayCounts[]> {
    const rows: Row[] = await this.db.query(
      `SELECT day::text AS day, sum(claim_num) AS claim, sum(redeem_num) AS redeem, sum(present_num) AS present
         FROM dashboard.card_day
        WHERE crm_id = $1 AND day BETWEEN $2::date AND $3::date ${q.card_id ? 'AND card_id = $4' : ''}
        GROUP BY day`,
      this.params(q),
    );
    return rows.map((r) => ({ day: r.day, claim: num(r.claim), redeem: num(r.redeem), present: num(r.present) }));
  }

  /**
   * Distinct members per kind and day, and over the range (one scan, grouping sets).
   * Without a card: from member_span (per day: every row of the day; over the range: the
   * rows whose previous active day is before the range, i.e. each member at its first
   * active day in it), at most days x days small rows. With a card: count(DISTINCT) over
   * the primary key's range of that card in member_day.
   */
  async memberCounts(q: RangeQuery): Promise<MemberCount[]> {
    const rows: Row[] = q.card_id
      ? await this.db.query(
          `SELECT kind, day::text AS day, count(DISTINCT member_no) AS members
             FROM dashboard.member_day
            WHERE crm_id = $1 AND kind IN ('claim', 'redeem', 'present') AND card_id = $4 AND day BETWEEN $2::date AND $3::date AND num > 0
            GROUP BY GROUPING SETS ((kind, day), (kind))`,
          this.params(q),
        )
      : await this.db.query(
          `SELECT kind, day::text AS day,
                  CASE WHEN grouping(day) = 1 THEN sum(n) FILTER (WHERE prev_day < $2::date) ELSE sum(n) END AS members
             FROM dashboard.member_span
            WHERE crm_id = $1 AND kind IN ('claim', 'redeem', 'present') AND day BETWEEN $2::date AND $3::date
            GROUP BY GROUPING SETS ((kind, day), (kind))`,
          this.params(q),
        );
    return rows.map((r) => ({ kind: r.kind, day: r.day ?? null, members: num(r.members) }));
  }

  /** Net claims per channel and redemptions per channel over the range; channels at 0 or below are left out. Largest first, ties by name. */
  async channelCounts(q: RangeQuery): Promise<ChannelCount[]> {
    const rows: Row[] = await this.db.query(
      `SELECT kind, channel, sum(num) AS num
         FROM dashboard.channel_day
        WHERE crm_id = $1 AND kind IN ('claim', 'redeem') AND day BETWEEN $2::date AND $3::date ${q.card_id ? 'AND card_id = $4' : ''}
        GROUP BY kind, channel
       HAVING sum(num) > 0
        ORDER BY kind, sum(num) DESC, channel COLLATE "C"`,
      this.params(q),
    );
    return rows.map((r) => ({ kind: r.kind, channel: r.channel, num: num(r.num) }));
  }

  /** The `limit` cards with the most claims, and with the most redemptions, over the range (none at 0), with their latest titles. */
  async top(q: RangeQuery, limit: number): Promise<TopRow[]> {
    const rows: Row[] = await this.db.query(
      `WITH t AS (
         SELECT card_id, sum(claim_num) AS receive_num, sum(redeem_num) AS redeem_num
           FROM dashboard.card_day
          WHERE crm_id = $1 AND day BETWEEN $2::date AND $3::date
          GROUP BY card_id
       )
       (SELECT 'receive' AS list, card_id, receive_num, redeem_num FROM t WHERE receive_num > 0 ORDER BY receive_num DESC, card_id COLLATE "C" LIMIT $4)
       UNION ALL
       (SELECT 'redeem' AS list, card_id, receive_num, redeem_num FROM t WHERE redeem_num > 0 ORDER BY redeem_num DESC, card_id COLLATE "C" LIMIT $4)`,
      [q.crm_id, q.start, q.end, limit],
    );
    if (!rows.length) return [];
    const titles: Row[] = await this.db.query(`SELECT card_id, title FROM dashboard.card WHERE crm_id = $1 AND card_id = ANY($2::text[])`, [
      q.crm_id,
      [...new Set(rows.map((r) => r.card_id as string))],
    ]);
    const title = new Map(titles.map((t) => [t.card_id as string, t.title as string]));
    return rows.map((r) => ({ list: r.list, card_id: r.card_id, title: title.get(r.card_id) ?? '', receive_num: num(r.receive_num), redeem_num: num(r.redeem_num) }));
  }

  private params(q: RangeQuery): unknown[] {
    return q.card_id ? [q.crm_id, q.start, q.end, q.card_id] : [q.crm_id, q.start, q.end];
  }
}
