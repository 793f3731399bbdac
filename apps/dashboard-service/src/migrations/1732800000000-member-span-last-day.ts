import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * member_span chains end with a pair (NO_NEXT_DAY '9999-12-31', last active day), per
 * kind and scope (spanPairs): its rows count the members by their last active day, so a
 * range ending at the latest days counts its distinct members from a handful of rows
 * (RollupRepository.trendCounts). This adds those rows, and the member_day_count row of
 * NO_NEXT_DAY (the scope's members ever), for the chains already applied: the last
 * active day of each member from member_all_day (across cards, scope '') and member_day
 * (per card), as RollupBuilder computes them; scopes that have such rows already are left
 * alone.
 *
 * Apply batches of an older build must not run meanwhile (it writes chains without the
 * closing pair): stop the dashboard workers for the upgrade, or run
 * `npm run dashboard:rebuild -- --crm-id X --apply` per tenant after it.
 */
export class MemberSpanLastDay1732800000000 implements MigrationInterface {
  name = 'MemberSpanLastDay1732800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      INSERT INTO dashboard.member_span (crm_id, kind, card_id, day, prev_day, n)
      SELECT crm_id, kind, card_id, DATE '9999-12-31', last, count(*)::int
        FROM (SELECT crm_id, kind, ''::text AS card_id, member_no, max(day) AS last
                FROM dashboard.member_all_day WHERE num > 0 GROUP BY crm_id, kind, member_no
              UNION ALL
              SELECT crm_id, kind, card_id, member_no, max(day) AS last
                FROM dashboard.member_day WHERE num > 0 GROUP BY crm_id, kind, card_id, member_no) AS m
       WHERE NOT EXISTS (SELECT 1 FROM dashboard.member_span s
                          WHERE s.crm_id = m.crm_id AND s.kind = m.kind AND s.card_id = m.card_id AND s.day = DATE '9999-12-31')
       GROUP BY crm_id, kind, card_id, last`);
    await q.query(`
      INSERT INTO dashboard.member_day_count (crm_id, kind, card_id, day, members)
      SELECT crm_id, kind, card_id, day, sum(n)::int FROM dashboard.member_span s
       WHERE day = DATE '9999-12-31'
         AND NOT EXISTS (SELECT 1 FROM dashboard.member_day_count c
                          WHERE c.crm_id = s.crm_id AND c.kind = s.kind AND c.card_id = s.card_id AND c.day = DATE '9999-12-31')
       GROUP BY crm_id, kind, card_id, day`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM dashboard.member_day_count WHERE day = DATE '9999-12-31'`);
    await q.query(`DELETE FROM dashboard.member_span WHERE day = DATE '9999-12-31'`);
  }
}
