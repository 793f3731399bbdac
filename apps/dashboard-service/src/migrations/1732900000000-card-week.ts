import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `card_week`: per tenant, week (its Monday) and card, the net claims and redemptions of
 * card_day summed over the week. card_top reads a range's whole weeks here and only the
 * days before and after them from card_day: a 90-day range reads about 13 rows per card
 * instead of 90. The counters are not indexed and the pages keep room (fillfactor), so
 * the upserts of every apply batch can stay on their page (HOT). Filled here from the
 * card_day rows applied before.
 *
 * card_day_top (card_day's counters INCLUDEd for card_top's index-only reads) goes: the
 * days around the weeks are few, read through the primary key, and without it an update
 * of card_day's counters can stay on its page too.
 */
export class CardWeek1732900000000 implements MigrationInterface {
  name = 'CardWeek1732900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE dashboard.card_week (
        crm_id      varchar(32) NOT NULL,
        week        date NOT NULL,
        card_id     varchar(64) NOT NULL,
        claim_num   integer NOT NULL DEFAULT 0,
        redeem_num  integer NOT NULL DEFAULT 0,
        PRIMARY KEY (crm_id, week, card_id)
      ) WITH (fillfactor = 80)`);
    await q.query(`
      INSERT INTO dashboard.card_week (crm_id, week, card_id, claim_num, redeem_num)
      SELECT crm_id, date_trunc('week', day::timestamp)::date, card_id, sum(claim_num), sum(redeem_num)
        FROM dashboard.card_day
       GROUP BY 1, 2, 3
      HAVING sum(claim_num) <> 0 OR sum(redeem_num) <> 0`);
    await q.query(`DROP INDEX dashboard.card_day_top`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX card_day_top ON dashboard.card_day (crm_id, day) INCLUDE (card_id, claim_num, redeem_num)`);
    await q.query(`DROP TABLE dashboard.card_week`);
  }
}
