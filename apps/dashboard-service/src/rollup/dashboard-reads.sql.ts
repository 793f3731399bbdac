/**
 * The dashboard's reads, as RollupRepository runs them and bench/dashboard.js measures them
 * as its floor: dashboard-reads.sql.spec.ts checks that the bench's copies
 * (bench/sql/dashboard-reads.js) are the same text, so the floor never silently measures other work.
 */

/**
 * The day (a `date`) an instant counts on in the zone given as a parameter: the one
 * expression of both the incremental path (daysOf) and the rebuild (RollupBuilder).
 */
export const dayOfSql = (col: string, tzParam: string): string => `(${col} AT TIME ZONE ${tzParam})::date`;

/** The week (its Monday, a `date`) of a day: the card_week key, on the incremental path and in the rebuild alike. */
export const weekOfSql = (day: string): string => `date_trunc('week', (${day})::timestamp)::date`;

/**
 * The weeks of a range (days $2..$3) that lie wholly inside it, as [WEEKS_FROM, WEEKS_TO):
 * the first Monday on or after the start, up to the Monday after the last whole week (no
 * earlier than WEEKS_FROM, so a range within one week has none). card_top reads those
 * weeks from card_week and only the days before and after them from card_day.
 */
const WEEKS_FROM = `(${weekOfSql('$2::date + 6')})`;
const WEEKS_TO = `GREATEST(${weekOfSql('$3::date + 1')}, ${WEEKS_FROM})`;

/**
 * Distinct members per kind and day, and over the range (day null), as rows (kind, day, a):
 * from the scope's rows (the card, or ALL_CARDS; every lane's rows summed), read through
 * their primary keys. Per day: member_day_count, one row per kind and day. Over the
 * range, each member once, by the member_span pair that crosses the range's start
 * (prev_day before it), whichever way reads fewer rows:
 *
 * - from the start: the pairs of each day of the range with prev_day before the start
 *   (one index range per kind and day);
 * - from the end, when the latest active day is closer to the range's end than the
 *   range is long (a range ending today): the members whose last active day is on or
 *   after the start (the NO_NEXT_DAY rows, one index range per kind), less those whose
 *   pair jumps over the whole range (prev_day before the start, day after the end: one
 *   index range per kind and day after the end).
 *
 * Both count the same members, exactly; a few hundred small rows at most.
 */
/** The members active on `day` whose previous active day is before the range's start. */
const crossing = (day: string) => `(SELECT sum(n) FROM dashboard.member_span
               WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = ${day} AND prev_day < $2::date)`;
/** $1 crm_id, $2 start, $3 end, $4 the card or ALL_CARDS, $5 NO_NEXT_DAY. */
const MEMBER_COUNTS = `SELECT kind, day::text AS day, sum(members) AS a, NULL::bigint AS b, NULL::bigint AS c FROM dashboard.member_day_count
        WHERE crm_id = $1 AND kind IN ('claim', 'redeem', 'present') AND card_id = $4 AND day BETWEEN $2::date AND $3::date AND day < $5::date
        GROUP BY kind, day
       UNION ALL
       SELECT k.kind, NULL,
              CASE WHEN l.latest IS NULL THEN 0
                   WHEN l.latest - $3::date <= $3::date - $2::date + 1
                   THEN coalesce((SELECT sum(n) FROM dashboard.member_span
                                   WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = $5::date AND prev_day >= $2::date), 0)
                      - coalesce((SELECT sum(${crossing('g.day::date')}) FROM generate_series($3::date + 1, l.latest, interval '1 day') AS g(day)), 0)
                   ELSE coalesce((SELECT sum(${crossing('g.day::date')}) FROM generate_series($2::date, LEAST($3::date, $5::date - 1), interval '1 day') AS g(day)), 0)
              END,
              NULL, NULL
         FROM unnest(ARRAY['claim', 'redeem', 'present']) AS k(kind)
        CROSS JOIN LATERAL (SELECT max(prev_day) AS latest FROM dashboard.member_span
                             WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = $5::date) AS l`;

export const READ_SQL = {
  /**
   * card_trend's counts in one statement: claims, redemptions and gifts per day of the range
   * (the card's card_day rows, or tenant_day), then MEMBER_COUNTS. Parameters as MEMBER_COUNTS.
   */
  trend: (withCard: boolean): string =>
    (withCard
      ? `SELECT 'day' AS kind, day::text AS day, claim_num AS a, redeem_num AS b, present_num AS c
           FROM dashboard.card_day
          WHERE crm_id = $1 AND card_id = $4 AND day BETWEEN $2::date AND $3::date`
      : `SELECT 'day' AS kind, day::text AS day, claim_num AS a, redeem_num AS b, present_num AS c
           FROM dashboard.tenant_day
          WHERE crm_id = $1 AND day BETWEEN $2::date AND $3::date`) + `\n       UNION ALL\n       ${MEMBER_COUNTS}`,
  /** Net claims and redemptions per channel over days $2..$3 (of card $4, or every card). */
  channelCounts: (withCard: boolean): string => `SELECT kind, channel, sum(num) AS num
         FROM dashboard.${withCard ? 'channel_day' : 'channel_day_all'}
        WHERE crm_id = $1 AND kind IN ('claim', 'redeem') ${withCard ? 'AND card_id = $4' : ''} AND day BETWEEN $2::date AND $3::date
        GROUP BY kind, channel
       HAVING sum(num) > 0
        ORDER BY kind, sum(num) DESC, channel COLLATE "C"`,
  /**
   * The $4 cards with the most claims and with the most redemptions over days $2..$3: the
   * range's whole weeks from card_week, the days before and after them from card_day (90
   * days read about 13 rows per card, not 90).
   */
  top: `WITH t AS (
         SELECT card_id, sum(claim_num) AS receive_num, sum(redeem_num) AS redeem_num
           FROM (SELECT card_id, claim_num, redeem_num FROM dashboard.card_week
                  WHERE crm_id = $1 AND week >= ${WEEKS_FROM} AND week < ${WEEKS_TO}
                 UNION ALL
                 SELECT card_id, claim_num, redeem_num FROM dashboard.card_day
                  WHERE crm_id = $1 AND day >= $2::date AND day < LEAST($3::date + 1, ${WEEKS_FROM})
                 UNION ALL
                 SELECT card_id, claim_num, redeem_num FROM dashboard.card_day
                  WHERE crm_id = $1 AND day >= ${WEEKS_TO} AND day <= $3::date) AS x
          GROUP BY card_id
       )
       (SELECT 'receive' AS list, card_id, receive_num, redeem_num FROM t WHERE receive_num > 0 ORDER BY receive_num DESC, card_id COLLATE "C" LIMIT $4)
       UNION ALL
       (SELECT 'redeem' AS list, card_id, receive_num, redeem_num FROM t WHERE redeem_num > 0 ORDER BY redeem_num DESC, card_id COLLATE "C" LIMIT $4)`,
  /** The titles of cards $2. */
  titles: `SELECT card_id, title FROM dashboard.card WHERE crm_id = $1 AND card_id = ANY($2::text[])`,
};
