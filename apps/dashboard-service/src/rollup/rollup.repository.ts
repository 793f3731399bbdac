import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ALL_CARDS, CARD_DAY_COUNTERS, chainKey, NO_NEXT_DAY, MemberChain, MemberDayAfter, MemberKind, MemberSpanDelta, RollupDeltas } from '@app/domain';
import { num } from '@app/platform';
import { dayOfSql, READ_SQL, weekOfSql } from './dashboard-reads.sql';

/*
 * Over 300 lines on purpose: every write of the apply path to the rollup tables (one
 * transaction per batch and lane); the reads are in dashboard-reads.sql.ts.
 */

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

export interface MemberOfKind {
  kind: MemberKind;
  member_no: string;
}

type Row = Record<string, any>;

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
    const rows: Row[] = await em.query(`SELECT i, ${dayOfSql('i::timestamptz', '$2')}::text AS day FROM unnest($1::text[]) AS i`, [
      [...new Set(instants)],
      zone,
    ]);
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

  /**
   * Adds the batch's member_day deltas, then its member_all_day deltas (rows of each in key
   * order), and answers every row's new num with the delta that made it: member_day rows
   * with their card, member_all_day rows with card_id ALL_CARDS.
   */
  async addMemberDays(em: EntityManager, crmId: string, d: RollupDeltas): Promise<MemberDayAfter[]> {
    const out: MemberDayAfter[] = [];
    if (d.memberDays.length) {
      const r = d.memberDays;
      const rows: Row[] = await em.query(
        `INSERT INTO dashboard.member_day AS t (crm_id, kind, card_id, member_no, day, num)
         SELECT $1, d.kind, d.card_id, d.member_no, d.day, d.num
           FROM unnest($2::text[], $3::text[], $4::text[], $5::date[], $6::int[]) AS d(kind, card_id, member_no, day, num)
         ON CONFLICT (crm_id, kind, card_id, member_no, day) DO UPDATE SET num = t.num + EXCLUDED.num
         RETURNING t.kind, t.card_id, t.member_no, t.day::text AS day, t.num`,
        [crmId, r.map((x) => x.kind), r.map((x) => x.card_id), r.map((x) => x.member_no), r.map((x) => x.day), r.map((x) => x.num)],
      );
      const delta = new Map(r.map((x) => [`${x.kind}\u0000${x.card_id}\u0000${x.member_no}\u0000${x.day}`, x.num]));
      for (const x of rows) {
        out.push({
          kind: x.kind,
          card_id: x.card_id,
          member_no: x.member_no,
          day: x.day,
          num: Number(x.num),
          delta: delta.get(`${x.kind}\u0000${x.card_id}\u0000${x.member_no}\u0000${x.day}`) ?? 0,
        });
      }
    }
    if (d.memberAllDays.length) {
      const r = d.memberAllDays;
      const rows: Row[] = await em.query(
        `INSERT INTO dashboard.member_all_day AS t (crm_id, kind, member_no, day, num)
         SELECT $1, d.kind, d.member_no, d.day, d.num
           FROM unnest($2::text[], $3::text[], $4::date[], $5::int[]) AS d(kind, member_no, day, num)
         ON CONFLICT (crm_id, kind, member_no, day) DO UPDATE SET num = t.num + EXCLUDED.num
         RETURNING t.kind, t.member_no, t.day::text AS day, t.num`,
        [crmId, r.map((x) => x.kind), r.map((x) => x.member_no), r.map((x) => x.day), r.map((x) => x.num)],
      );
      const delta = new Map(r.map((x) => [`${x.kind}\u0000${x.member_no}\u0000${x.day}`, x.num]));
      for (const x of rows) {
        out.push({
          kind: x.kind,
          card_id: ALL_CARDS,
          member_no: x.member_no,
          day: x.day,
          num: Number(x.num),
          delta: delta.get(`${x.kind}\u0000${x.member_no}\u0000${x.day}`) ?? 0,
        });
      }
    }
    return out;
  }

  /**
   * The active days (num > 0, sorted) of these chains, keyed by chainKey, in one
   * statement: a chain of ALL_CARDS from member_all_day, a card's from member_day (a
   * range of its primary key: kind, card, member).
   */
  async activeDays(em: EntityManager, crmId: string, chains: MemberChain[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    if (!chains.length) return out;
    const all = chains.filter((c) => c.card_id === ALL_CARDS);
    const cards = chains.filter((c) => c.card_id !== ALL_CARDS);
    const rows: Row[] = await em.query(
      `SELECT t.kind, $4::text AS card_id, t.member_no, t.day::text AS day
         FROM unnest($2::text[], $3::text[]) AS m(kind, member_no)
         JOIN dashboard.member_all_day t ON t.crm_id = $1 AND t.kind = m.kind AND t.member_no = m.member_no
        WHERE t.num > 0
       UNION ALL
       SELECT t.kind, t.card_id, t.member_no, t.day::text AS day
         FROM unnest($5::text[], $6::text[], $7::text[]) AS m(kind, card_id, member_no)
         JOIN dashboard.member_day t ON t.crm_id = $1 AND t.kind = m.kind AND t.card_id = m.card_id AND t.member_no = m.member_no
        WHERE t.num > 0
        ORDER BY day`,
      [
        crmId,
        all.map((c) => c.kind),
        all.map((c) => c.member_no),
        ALL_CARDS,
        cards.map((c) => c.kind),
        cards.map((c) => c.card_id),
        cards.map((c) => c.member_no),
      ],
    );
    for (const r of rows) {
      const key = chainKey(r as MemberChain);
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push(r.day);
    }
    return out;
  }

  /** Adds member_span deltas to the rows of apply lane `lane` (rows in key order): n = n + delta; member_day_count with them. */
  async addMemberSpans(em: EntityManager, crmId: string, lane: number, rows: MemberSpanDelta[]): Promise<void> {
    if (!rows.length) return;
    // member_day_count moves by what the day's spans moved (a member moving from one prev_day to another moves it by 0).
    await em.query(
      `WITH d AS (
         SELECT * FROM unnest($2::text[], $3::text[], $4::date[], $5::date[], $6::int[]) AS d(kind, card_id, day, prev_day, n)),
       spans AS (
         INSERT INTO dashboard.member_span AS t (crm_id, kind, card_id, day, prev_day, lane, n)
         SELECT $1, d.kind, d.card_id, d.day, d.prev_day, $7, d.n FROM d
         ON CONFLICT (crm_id, kind, card_id, day, prev_day, lane) DO UPDATE SET n = t.n + EXCLUDED.n
         RETURNING 1)
       INSERT INTO dashboard.member_day_count AS t (crm_id, kind, card_id, day, lane, members)
       SELECT $1, d.kind, d.card_id, d.day, $7, sum(d.n) FROM d
        GROUP BY d.kind, d.card_id, d.day ORDER BY d.kind, d.card_id COLLATE "C", d.day
       ON CONFLICT (crm_id, kind, card_id, day, lane) DO UPDATE SET members = t.members + EXCLUDED.members`,
      [crmId, rows.map((r) => r.kind), rows.map((r) => r.card_id), rows.map((r) => r.day), rows.map((r) => r.prev_day), rows.map((r) => r.n), lane],
    );
  }

  /**
   * Adds a batch's tenant-wide deltas (channel_day_all, then tenant_day; rows in key
   * order). Every batch of the tenant writes these rows: the last statements of the batch,
   * so those row locks are held only until the commit that follows.
   */
  async addTenantDeltas(em: EntityManager, crmId: string, d: RollupDeltas): Promise<void> {
    if (d.channelAllDays.length) {
      const r = d.channelAllDays;
      await em.query(
        `INSERT INTO dashboard.channel_day_all AS t (crm_id, kind, day, channel, num)
         SELECT $1, d.kind, d.day, d.channel, d.num
           FROM unnest($2::text[], $3::date[], $4::text[], $5::int[]) AS d(kind, day, channel, num)
         ON CONFLICT (crm_id, kind, day, channel) DO UPDATE SET num = t.num + EXCLUDED.num`,
        [crmId, r.map((x) => x.kind), r.map((x) => x.day), r.map((x) => x.channel), r.map((x) => x.num)],
      );
    }
    if (d.tenantDays.length) {
      const cols = CARD_DAY_COUNTERS;
      await em.query(
        `INSERT INTO dashboard.tenant_day AS t (crm_id, day, ${cols.join(', ')})
         SELECT $1, d.day, ${cols.map((c) => `d.${c}`).join(', ')}
           FROM unnest($2::date[], ${cols.map((_c, i) => `$${i + 3}::int[]`).join(', ')}) AS d(day, ${cols.join(', ')})
         ON CONFLICT (crm_id, day) DO UPDATE SET ${cols.map((c) => `${c} = t.${c} + EXCLUDED.${c}`).join(', ')}`,
        [crmId, d.tenantDays.map((r) => r.day), ...cols.map((c) => d.tenantDays.map((r) => r[c]))],
      );
    }
  }

  /**
   * Adds a batch's per-card deltas to the rollups (card, card_day, card_week, channel_day):
   * one upsert per table, rows in key order. A title is written only when it is newer than the
   * one kept (read first, without a lock), so a batch locks no card row it does not change.
   */
  async addDeltas(em: EntityManager, crmId: string, d: RollupDeltas): Promise<void> {
    if (d.titles.length) {
      await em.query(
        `INSERT INTO dashboard.card AS c (crm_id, card_id, title, title_at)
         SELECT $1::text, t.card_id, t.title, t.title_at FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS t(card_id, title, title_at)
          WHERE NOT EXISTS (
                SELECT 1 FROM dashboard.card o
                 WHERE o.crm_id = $1::text AND o.card_id = t.card_id
                   AND (o.title_at > t.title_at OR (o.title_at = t.title_at AND o.title = t.title)))
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
      // card_week: the same claims and redemptions summed per week (card_top's whole weeks).
      await em.query(
        `INSERT INTO dashboard.card_week AS t (crm_id, week, card_id, claim_num, redeem_num)
         SELECT $1, ${weekOfSql('d.day')}, d.card_id, sum(d.claim_num), sum(d.redeem_num)
           FROM unnest($2::date[], $3::text[], $4::int[], $5::int[]) AS d(day, card_id, claim_num, redeem_num)
          GROUP BY 2, 3
         HAVING sum(d.claim_num) <> 0 OR sum(d.redeem_num) <> 0
          ORDER BY 2, 3
         ON CONFLICT (crm_id, week, card_id) DO UPDATE SET claim_num = t.claim_num + EXCLUDED.claim_num, redeem_num = t.redeem_num + EXCLUDED.redeem_num`,
        [crmId, d.cardDays.map((r) => r.day), d.cardDays.map((r) => r.card_id), d.cardDays.map((r) => r.claim_num), d.cardDays.map((r) => r.redeem_num)],
      );
    }
    if (d.channelDays.length) {
      const r = d.channelDays;
      await em.query(
        `INSERT INTO dashboard.channel_day AS t (crm_id, kind, card_id, day, channel, num)
         SELECT $1, d.kind, d.card_id, d.day, d.channel, d.num
           FROM unnest($2::text[], $3::text[], $4::date[], $5::text[], $6::int[]) AS d(kind, card_id, day, channel, num)
         ON CONFLICT (crm_id, kind, card_id, day, channel) DO UPDATE SET num = t.num + EXCLUDED.num`,
        [crmId, r.map((x) => x.kind), r.map((x) => x.card_id), r.map((x) => x.day), r.map((x) => x.channel), r.map((x) => x.num)],
      );
    }
  }

  /**
   * card_trend's counts, in one statement (one round trip, one connection): claims,
   * redemptions and gifts per day of the range (days without a row are left out: the
   * card's card_day rows, or tenant_day), and distinct members per kind (memberCounts).
   */
  async trendCounts(q: RangeQuery): Promise<{ days: DayCounts[]; members: MemberCount[] }> {
    const rows: Row[] = await this.db.query(READ_SQL.trend(!!q.card_id), [q.crm_id, q.start, q.end, q.card_id ?? ALL_CARDS, NO_NEXT_DAY]);
    return {
      days: rows.filter((r) => r.kind === 'day').map((r) => ({ day: r.day, claim: num(r.a), redeem: num(r.b), present: num(r.c) })),
      members: rows.filter((r) => r.kind !== 'day').map((r) => ({ kind: r.kind, day: r.day ?? null, members: num(r.a) })),
    };
  }

  /**
   * Net claims per channel and redemptions per channel over the range (the card's
   * channel_day rows, or channel_day_all); channels at 0 or below are left out. Largest
   * first, ties by name.
   */
  async channelCounts(q: RangeQuery): Promise<ChannelCount[]> {
    const rows: Row[] = await this.db.query(READ_SQL.channelCounts(!!q.card_id), this.params(q));
    return rows.map((r) => ({ kind: r.kind, channel: r.channel, num: num(r.num) }));
  }

  /** The `limit` cards with the most claims, and with the most redemptions, over the range (none at 0), with their latest titles. */
  async top(q: RangeQuery, limit: number): Promise<TopRow[]> {
    const rows: Row[] = await this.db.query(READ_SQL.top, [q.crm_id, q.start, q.end, limit]);
    if (!rows.length) return [];
    const titles: Row[] = await this.db.query(READ_SQL.titles, [q.crm_id, [...new Set(rows.map((r) => r.card_id as string))]]);
    const title = new Map(titles.map((t) => [t.card_id as string, t.title as string]));
    return rows.map((r) => ({
      list: r.list,
      card_id: r.card_id,
      title: title.get(r.card_id) ?? '',
      receive_num: num(r.receive_num),
      redeem_num: num(r.redeem_num),
    }));
  }

  private params(q: RangeQuery): unknown[] {
    return q.card_id ? [q.crm_id, q.start, q.end, q.card_id] : [q.crm_id, q.start, q.end];
  }
}
