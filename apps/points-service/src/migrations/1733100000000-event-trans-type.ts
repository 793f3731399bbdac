import { MigrationInterface, QueryRunner } from 'typeorm';

/** A transfer's trans_type (the spec's `by_poins`), kept on its journal rows as the sender gave it. */
export class EventTransType1733100000000 implements MigrationInterface {
  name = 'EventTransType1733100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE points.event ADD COLUMN trans_type varchar(32)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE points.event DROP COLUMN trans_type`);
  }
}
