/**
 * The dashboard's reads as bench:dashboard runs them for its floor: text for text the
 * statements of apps/dashboard-service/src/rollup/dashboard-reads.sql.ts (RollupRepository's
 * trendCounts, channelCounts, top and its titles); dashboard-reads.sql.spec.ts fails when
 * they drift apart. Sent as the apps' driver sends them (TypeORM over node-postgres:
 * unnamed statements with parameters).
 */
const SQL = {
  // card_trend: one statement (RollupRepository.trendCounts). $4: the card, or '' (ALL_CARDS) for every card; $5: NO_NEXT_DAY.
  trend: (withCard) =>
    (withCard
      ? `SELECT 'day' AS kind, day::text AS day, claim_num AS a, redeem_num AS b, present_num AS c
           FROM dashboard.card_day
          WHERE crm_id = $1 AND card_id = $4 AND day BETWEEN $2::date AND $3::date`
      : `SELECT 'day' AS kind, day::text AS day, claim_num AS a, redeem_num AS b, present_num AS c
           FROM dashboard.tenant_day
          WHERE crm_id = $1 AND day BETWEEN $2::date AND $3::date`) +
    `
       UNION ALL
       SELECT kind, day::text AS day, sum(members) AS a, NULL::bigint AS b, NULL::bigint AS c FROM dashboard.member_day_count
        WHERE crm_id = $1 AND kind IN ('claim', 'redeem', 'present') AND card_id = $4 AND day BETWEEN $2::date AND $3::date AND day < $5::date
        GROUP BY kind, day
       UNION ALL
       SELECT k.kind, NULL,
              CASE WHEN l.latest IS NULL THEN 0
                   WHEN l.latest - $3::date <= $3::date - $2::date + 1
                   THEN coalesce((SELECT sum(n) FROM dashboard.member_span
                                   WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = $5::date AND prev_day >= $2::date), 0)
                      - coalesce((SELECT sum((SELECT sum(n) FROM dashboard.member_span
               WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = g.day::date AND prev_day < $2::date)) FROM generate_series($3::date + 1, l.latest, interval '1 day') AS g(day)), 0)
                   ELSE coalesce((SELECT sum((SELECT sum(n) FROM dashboard.member_span
               WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = g.day::date AND prev_day < $2::date)) FROM generate_series($2::date, LEAST($3::date, $5::date - 1), interval '1 day') AS g(day)), 0)
              END,
              NULL, NULL
         FROM unnest(ARRAY['claim', 'redeem', 'present']) AS k(kind)
        CROSS JOIN LATERAL (SELECT max(prev_day) AS latest FROM dashboard.member_span
                             WHERE crm_id = $1 AND kind = k.kind AND card_id = $4 AND day = $5::date) AS l`,
  channelCounts: (withCard) => `SELECT kind, channel, sum(num) AS num
         FROM dashboard.${withCard ? 'channel_day' : 'channel_day_all'}
        WHERE crm_id = $1 AND kind IN ('claim', 'redeem') ${withCard ? 'AND card_id = $4' : ''} AND day BETWEEN $2::date AND $3::date
        GROUP BY kind, channel
       HAVING sum(num) > 0
        ORDER BY kind, sum(num) DESC, channel COLLATE "C"`,
  top: `WITH t AS (
         SELECT card_id, sum(claim_num) AS receive_num, sum(redeem_num) AS redeem_num
           FROM (SELECT card_id, claim_num, redeem_num FROM dashboard.card_week
                  WHERE crm_id = $1 AND week >= (date_trunc('week', ($2::date + 6)::timestamp)::date) AND week < GREATEST(date_trunc('week', ($3::date + 1)::timestamp)::date, (date_trunc('week', ($2::date + 6)::timestamp)::date))
                 UNION ALL
                 SELECT card_id, claim_num, redeem_num FROM dashboard.card_day
                  WHERE crm_id = $1 AND day >= $2::date AND day < LEAST($3::date + 1, (date_trunc('week', ($2::date + 6)::timestamp)::date))
                 UNION ALL
                 SELECT card_id, claim_num, redeem_num FROM dashboard.card_day
                  WHERE crm_id = $1 AND day >= GREATEST(date_trunc('week', ($3::date + 1)::timestamp)::date, (date_trunc('week', ($2::date + 6)::timestamp)::date)) AND day <= $3::date) AS x
          GROUP BY card_id
       )
       (SELECT 'receive' AS list, card_id, receive_num, redeem_num FROM t WHERE receive_num > 0 ORDER BY receive_num DESC, card_id COLLATE "C" LIMIT $4)
       UNION ALL
       (SELECT 'redeem' AS list, card_id, receive_num, redeem_num FROM t WHERE redeem_num > 0 ORDER BY redeem_num DESC, card_id COLLATE "C" LIMIT $4)`,
  titles: `SELECT card_id, title FROM dashboard.card WHERE crm_id = $1 AND card_id = ANY($2::text[])`,
};

module.exports = { SQL };
