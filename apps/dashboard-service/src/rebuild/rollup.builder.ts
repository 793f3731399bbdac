import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { ALL_CARDS, CARD_DAY_COUNTERS, CARD_EVENT_EFFECTS, CardFact, NO_DAY, NO_NEXT_DAY } from '@app/domain';
import { num } from '@app/platform';
import { RollupRepository } from '../rollup/rollup.repository';
import { dayOfSql, weekOfSql } from '../rollup/dashboard-reads.sql';

/** One rollup table as the rebuild compares it: its key (after crm_id) and its values. */
interface TableSpec {
  name: string;
  keys: string[];
  values: string[];
  /** Rows whose values are all 0 count as absent (on both sides); false: every row counts. */
  zeroIsAbsent: boolean;
  /** Live rows carry the apply lane that wrote them (`lane`): a key's value is the sum over its lanes; a replace writes lane 0. */
  laned?: boolean;
}

/** The rollup tables a rebuild builds, compares and replaces (applied_event is left alone). */
const TABLES: TableSpec[] = [
  { name: 'card_day', keys: ['day', 'card_id'], values: [...CARD_DAY_COUNTERS], zeroIsAbsent: true },
  { name: 'card_week', keys: ['week', 'card_id'], values: ['claim_num', 'redeem_num'], zeroIsAbsent: true },
  { name: 'tenant_day', keys: ['day'], values: [...CARD_DAY_COUNTERS], zeroIsAbsent: true },
  { name: 'channel_day', keys: ['kind', 'card_id', 'day', 'channel'], values: ['num'], zeroIsAbsent: true },
  { name: 'channel_day_all', keys: ['kind', 'day', 'channel'], values: ['num'], zeroIsAbsent: true },
  { name: 'member_day', keys: ['kind', 'card_id', 'member_no', 'day'], values: ['num'], zeroIsAbsent: true },
  { name: 'member_all_day', keys: ['kind', 'member_no', 'day'], values: ['num'], zeroIsAbsent: true },
  { name: 'member_span', keys: ['kind', 'card_id', 'day', 'prev_day'], values: ['n'], zeroIsAbsent: true, laned: true },
  { name: 'member_day_count', keys: ['kind', 'card_id', 'day'], values: ['members'], zeroIsAbsent: true, laned: true },
  { name: 'card', keys: ['card_id'], values: ['title', 'title_at'], zeroIsAbsent: false },
];

/** Differences listed per rebuild at most (all are counted). */
export const MAX_LISTED_DIFFERENCES = 1_000;

export interface TableComparison {
  table: string;
  /** Rows present on either side (rows at 0 left out). */
  compared: number;
  differing: number;
}

/** One row that differs: its key, and its values live and rebuilt (null: absent on that side). */
export interface RowDifference {
  table: string;
  key: Record<string, unknown>;
  live: Record<string, unknown> | null;
  rebuilt: Record<string, unknown> | null;
}

export interface BuildReport {
  crm_id: string;
  /** Facts staged for the tenant (rebuild_event rows). */
  facts: number;
  tables: TableComparison[];
  /** The first MAX_LISTED_DIFFERENCES differences, by table then key. */
  differences: RowDifference[];
  /** Whether the live rows were replaced by the rebuilt ones. */
  applied: boolean;
}

type Row = Record<string, any>;

const shadow = (t: string) => `pg_temp.rb_${t}`;
const nonZero = (t: TableSpec, alias: string) => (t.zeroIsAbsent ? `(${t.values.map((v) => `${alias}.${v} <> 0`).join(' OR ')})` : 'true');

/**
 * The rollups of a set of events, set-based: from a tenant's rows of the staging table
 * `dashboard.rebuild_event` it computes, into temporary shadow tables, the same rows the
 * incremental path (RollupService) produces for those events: the same effect per kind
 * (CARD_EVENT_EFFECTS) and the same day expression (dayOfSql), the tenant-wide tables
 * as sums over cards, member_span from lag() over each member's active days (per card,
 * and across cards as ALL_CARDS). It then compares them with the tenant's live rows in
 * both directions (rows whose values are all 0 count as absent on both sides) and, when
 * asked, replaces the live rows with them in the same transaction (the tenant's rollup
 * lock held exclusive, so no apply batch of the tenant runs meanwhile).
 */
@Injectable()
export class RollupBuilder {
  constructor(
    private readonly db: DataSource,
    private readonly rollups: RollupRepository,
  ) {}

  /** Drops the tenant's staged facts. */
  async clearStaged(crmId: string): Promise<void> {
    await this.db.query(`DELETE FROM dashboard.rebuild_event WHERE crm_id = $1`, [crmId]);
  }

  /** Stages one page of facts (one array insert). */
  async stage(crmId: string, facts: CardFact[]): Promise<void> {
    if (!facts.length) return;
    const col = <K extends keyof CardFact>(k: K) => facts.map((f) => f[k]);
    await this.db.query(
      `INSERT INTO dashboard.rebuild_event (crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of)
       SELECT $1, f.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], $9::timestamptz[])
         AS f(kind, card_id, title, member_no, count, channel, occurred_at, day_of)`,
      [crmId, col('kind'), col('card_id'), col('title'), col('member_no'), col('count'), col('channel'), col('occurred_at'), col('day_of')],
    );
  }

  /** Builds the tenant's rollups from its staged facts, compares them with the live ones, and with `apply` replaces the live ones. */
  async build(crmId: string, zone: string, apply: boolean): Promise<BuildReport> {
    // Compare only: one snapshot for every table. Apply: read committed, so the replace sees the batches committed before the lock.
    return this.db.transaction(apply ? 'READ COMMITTED' : 'REPEATABLE READ', async (em) => {
      await em.query(`SET LOCAL work_mem = '512MB'`);
      const [{ facts, unknown }] = await em.query(
        `SELECT count(*) AS facts, count(*) FILTER (WHERE NOT kind = ANY($2::text[])) AS unknown FROM dashboard.rebuild_event WHERE crm_id = $1`,
        [crmId, CARD_EVENT_EFFECTS.map((e) => e.kind)],
      );
      if (num(unknown) > 0) throw new Error(`${num(unknown)} staged fact(s) of ${crmId} have an unknown kind`);
      await this.buildShadows(em, crmId, zone);
      if (apply) await this.rollups.lockTenant(em, crmId, 'exclusive');
      await em.query(`CREATE TEMP TABLE rb_diff (tbl text, ord int, key jsonb, live jsonb, rebuilt jsonb) ON COMMIT DROP`);
      const tables: TableComparison[] = [];
      for (const [i, t] of TABLES.entries()) tables.push(await this.compare(em, crmId, t, i));
      const diffs: Row[] = await em.query(`SELECT tbl, key, live, rebuilt FROM rb_diff ORDER BY ord, key LIMIT ${MAX_LISTED_DIFFERENCES}`);
      if (apply) for (const t of TABLES) await this.replace(em, crmId, t);
      return {
        crm_id: crmId,
        facts: num(facts),
        tables,
        differences: diffs.map((d) => ({ table: d.tbl, key: d.key, live: d.live, rebuilt: d.rebuilt })),
        applied: apply,
      };
    });
  }

  /** The shadow tables (temporary, dropped at commit), one statement each. */
  private async buildShadows(em: EntityManager, crmId: string, zone: string): Promise<void> {
    const fx = CARD_EVENT_EFFECTS;
    // The effect of each kind, as a join: kind -> counter, also, sign, channel kind, member kind (parameters from $n on).
    const effects = (n: number) =>
      `unnest($${n}::text[], $${n + 1}::text[], $${n + 2}::text[], $${n + 3}::int[], $${n + 4}::text[], $${n + 5}::text[]) AS fx(kind, counter, also, sign, ch_kind, m_kind)`;
    const fxParams = [
      fx.map((e) => e.kind),
      fx.map((e) => e.counter),
      fx.map((e) => e.also ?? null),
      fx.map((e) => e.sign),
      fx.map((e) => e.channel ?? null),
      fx.map((e) => e.member ?? null),
    ];
    const day = dayOfSql('e.day_of', '$2');
    // Codes per event kind, day, card and channel: one pass over the facts, small; card_day and channel_day come from it.
    await em.query(
      `CREATE TEMP TABLE rb_kind_day ON COMMIT DROP AS
       SELECT e.kind, ${day} AS day, e.card_id, coalesce(e.channel, '') AS channel, sum(e.count)::bigint AS codes
         FROM dashboard.rebuild_event e WHERE e.crm_id = $1 GROUP BY 1, 2, 3, 4`,
      [crmId, zone],
    );
    const byKind = `rb_kind_day k JOIN ${effects(1)} ON fx.kind = k.kind`;
    const counters = CARD_DAY_COUNTERS.map(
      (c) =>
        `(coalesce(sum(fx.sign * k.codes) FILTER (WHERE fx.counter = '${c}'), 0) + coalesce(sum(k.codes) FILTER (WHERE fx.also = '${c}'), 0))::int AS ${c}`,
    );
    await em.query(`CREATE TEMP TABLE rb_card_day ON COMMIT DROP AS SELECT k.day, k.card_id, ${counters.join(', ')} FROM ${byKind} GROUP BY 1, 2`, fxParams);
    await em.query(
      `CREATE TEMP TABLE rb_card_week ON COMMIT DROP AS
       SELECT ${weekOfSql('day')} AS week, card_id, sum(claim_num)::int AS claim_num, sum(redeem_num)::int AS redeem_num FROM rb_card_day GROUP BY 1, 2`,
    );
    await em.query(
      `CREATE TEMP TABLE rb_tenant_day ON COMMIT DROP AS
       SELECT day, ${CARD_DAY_COUNTERS.map((c) => `sum(${c})::int AS ${c}`).join(', ')} FROM rb_card_day GROUP BY 1`,
    );
    await em.query(
      `CREATE TEMP TABLE rb_channel_day ON COMMIT DROP AS
       SELECT fx.ch_kind AS kind, k.card_id, k.day, k.channel, sum(fx.sign * k.codes)::int AS num
         FROM ${byKind} WHERE fx.ch_kind IS NOT NULL GROUP BY 1, 2, 3, 4`,
      fxParams,
    );
    await em.query(
      `CREATE TEMP TABLE rb_channel_day_all ON COMMIT DROP AS
       SELECT kind, day, channel, sum(num)::int AS num FROM rb_channel_day GROUP BY 1, 2, 3`,
    );
    await em.query(
      `CREATE TEMP TABLE rb_member_day ON COMMIT DROP AS
       SELECT fx.m_kind AS kind, e.card_id, e.member_no, ${day} AS day, sum(fx.sign * e.count)::int AS num
         FROM dashboard.rebuild_event e JOIN ${effects(3)} ON fx.kind = e.kind
        WHERE e.crm_id = $1 AND fx.m_kind IS NOT NULL GROUP BY 1, 2, 3, 4`,
      [crmId, zone, ...fxParams],
    );
    await em.query(
      `CREATE TEMP TABLE rb_member_all_day ON COMMIT DROP AS
       SELECT kind, member_no, day, sum(num)::int AS num FROM rb_member_day GROUP BY 1, 2, 3`,
    );
    // Each member's active days in order, across cards (ALL_CARDS) and per card (member_no first and in "C" order: only the partitions matter, and this sorts about 3x faster):
    // every day with the one before it (the first with NO_DAY), and the last with NO_NEXT_DAY after it (spanPairs).
    await em.query(
      `CREATE TEMP TABLE rb_member_span ON COMMIT DROP AS
       SELECT a.kind, a.card_id, p.day, p.prev_day, count(*)::int AS n
         FROM (SELECT kind, $2::text AS card_id, day,
                      lag(day, 1, $1::date) OVER w AS prev_day, lead(day) OVER w IS NULL AS last
                 FROM rb_member_all_day WHERE num > 0
               WINDOW w AS (PARTITION BY member_no COLLATE "C", kind ORDER BY day)
               UNION ALL
               SELECT kind, card_id::text, day,
                      lag(day, 1, $1::date) OVER w AS prev_day, lead(day) OVER w IS NULL AS last
                 FROM rb_member_day WHERE num > 0
               WINDOW w AS (PARTITION BY member_no COLLATE "C", kind, card_id COLLATE "C" ORDER BY day)) AS a
        CROSS JOIN LATERAL (VALUES (a.day, a.prev_day), (CASE WHEN a.last THEN $3::date END, a.day)) AS p(day, prev_day)
        WHERE p.day IS NOT NULL
        GROUP BY 1, 2, 3, 4`,
      [NO_DAY, ALL_CARDS, NO_NEXT_DAY],
    );
    await em.query(
      `CREATE TEMP TABLE rb_member_day_count ON COMMIT DROP AS
       SELECT kind, card_id, day, sum(n)::int AS members FROM rb_member_span GROUP BY 1, 2, 3`,
    );
    // The latest title by occurred_at; a tie goes to the later staged (live: the later applied).
    await em.query(
      `CREATE TEMP TABLE rb_card ON COMMIT DROP AS
       WITH latest AS (SELECT card_id, max(occurred_at) AS at FROM dashboard.rebuild_event WHERE crm_id = $1 GROUP BY card_id)
       SELECT DISTINCT ON (e.card_id) e.card_id, e.title, e.occurred_at AS title_at
         FROM dashboard.rebuild_event e JOIN latest ON e.card_id = latest.card_id AND e.occurred_at = latest.at
        WHERE e.crm_id = $1
        ORDER BY e.card_id, e.seq DESC`,
      [crmId],
    );
    for (const t of TABLES) await em.query(`ANALYZE ${shadow(t.name)}`);
    await em.query(`DROP TABLE rb_kind_day`);
  }

  /**
   * Both directions at once (full join on the key): counts first (values compared as
   * tuples, absent = nulls), then, only when some differ, the first of them as JSON into rb_diff.
   */
  private async compare(em: EntityManager, crmId: string, t: TableSpec, ord: number): Promise<TableComparison> {
    const cols = [...t.keys, ...t.values].join(', ');
    const live = t.laned
      ? `SELECT ${t.keys.join(', ')}, ${t.values.map((v) => `sum(${v})::int AS ${v}`).join(', ')} FROM dashboard.${t.name} WHERE crm_id = $1
          GROUP BY ${t.keys.join(', ')} HAVING ${t.values.map((v) => `sum(${v}) <> 0`).join(' OR ')}`
      : `SELECT ${cols} FROM dashboard.${t.name} l WHERE l.crm_id = $1 AND ${nonZero(t, 'l')}`;
    const joined = `(${live}) AS l
       FULL JOIN (SELECT ${cols} FROM ${shadow(t.name)} r WHERE ${nonZero(t, 'r')}) AS r ON ${t.keys.map((k) => `l.${k} = r.${k}`).join(' AND ')}`;
    const differs = `(${t.values.map((v) => `l.${v}`).join(', ')}, l.${t.keys[0]} IS NULL) IS DISTINCT FROM (${t.values.map((v) => `r.${v}`).join(', ')}, r.${t.keys[0]} IS NULL)`;
    const [row] = await em.query(`SELECT count(*) AS compared, count(*) FILTER (WHERE ${differs}) AS differing FROM ${joined}`, [crmId]);
    const differing = num(row.differing);
    if (differing) {
      const obj = (alias: string, names: string[]) => `jsonb_build_object(${names.map((n) => `'${n}', ${alias}.${n}`).join(', ')})`;
      await em.query(
        `INSERT INTO rb_diff (tbl, ord, key, live, rebuilt)
         SELECT $2, $3, jsonb_build_object(${t.keys.map((k) => `'${k}', coalesce(l.${k}, r.${k})`).join(', ')}),
                CASE WHEN l.${t.keys[0]} IS NULL THEN NULL ELSE ${obj('l', t.values)} END,
                CASE WHEN r.${t.keys[0]} IS NULL THEN NULL ELSE ${obj('r', t.values)} END
           FROM ${joined}
          WHERE ${differs}
          ORDER BY ${t.keys.map((k) => `coalesce(l.${k}, r.${k})`).join(', ')}
          LIMIT ${MAX_LISTED_DIFFERENCES}`,
        [crmId, t.name, ord],
      );
    }
    return { table: t.name, compared: num(row.compared), differing };
  }

  /** The tenant's live rows of one table replaced by the rebuilt ones (rows at 0 left out). */
  private async replace(em: EntityManager, crmId: string, t: TableSpec): Promise<void> {
    const cols = [...t.keys, ...t.values].join(', ');
    await em.query(`DELETE FROM dashboard.${t.name} WHERE crm_id = $1`, [crmId]);
    await em.query(`INSERT INTO dashboard.${t.name} (crm_id, ${cols}) SELECT $1, ${cols} FROM ${shadow(t.name)} r WHERE ${nonZero(t, 'r')}`, [crmId]);
  }
}
