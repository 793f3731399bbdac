import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `lane` in member_span and member_day_count: the apply lane (DASHBOARD_LANES, by member)
 * whose batches wrote the row. Each lane adds to its own rows, so batches of different
 * lanes never wait for each other's row locks on these tables (every batch moves spans of
 * the busiest cards and of every day across cards); a value is the sum over the key's
 * lanes (what every read and the rebuild's compare take). A row of one lane may be below
 * 0 after a rebuild wrote every count in lane 0; the sums are exact. Rows applied before
 * are lane 0.
 *
 * The counts (n, members) leave the keys (they were INCLUDEd for index-only reads): an
 * update that changes only a count can then stay on its page (HOT, the tables keep room
 * by fillfactor) instead of adding an entry to the key's index, in the writes every apply
 * batch does most; the reads fetch the few rows they need from the table.
 */
export class SpanLanes1733000000000 implements MigrationInterface {
  name = 'SpanLanes1733000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE dashboard.member_span ADD COLUMN lane smallint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE dashboard.member_span DROP CONSTRAINT member_span_pkey`);
    await q.query(`ALTER TABLE dashboard.member_span ADD CONSTRAINT member_span_pkey PRIMARY KEY (crm_id, kind, card_id, day, prev_day, lane)`);
    await q.query(`ALTER TABLE dashboard.member_day_count ADD COLUMN lane smallint NOT NULL DEFAULT 0`);
    await q.query(`ALTER TABLE dashboard.member_day_count DROP CONSTRAINT member_day_count_pkey`);
    await q.query(`ALTER TABLE dashboard.member_day_count ADD CONSTRAINT member_day_count_pkey PRIMARY KEY (crm_id, kind, card_id, day, lane)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [t, keys, value] of [
      ['member_span', 'crm_id, kind, card_id, day, prev_day', 'n'],
      ['member_day_count', 'crm_id, kind, card_id, day', 'members'],
    ]) {
      await q.query(`CREATE TEMP TABLE lanes_folded AS SELECT ${keys}, sum(${value})::int AS ${value} FROM dashboard.${t} GROUP BY ${keys}`);
      await q.query(`TRUNCATE dashboard.${t}`);
      await q.query(`ALTER TABLE dashboard.${t} DROP CONSTRAINT ${t}_pkey`);
      await q.query(`ALTER TABLE dashboard.${t} DROP COLUMN lane`);
      await q.query(`INSERT INTO dashboard.${t} (${keys}, ${value}) SELECT ${keys}, ${value} FROM lanes_folded`);
      await q.query(`ALTER TABLE dashboard.${t} ADD CONSTRAINT ${t}_pkey PRIMARY KEY (${keys}) INCLUDE (${value})`);
      await q.query(`DROP TABLE lanes_folded`);
    }
  }
}
