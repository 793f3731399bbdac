import { MigrationInterface, QueryRunner } from 'typeorm';

/** The points schema; its tables come with the points features. */
export class PointsSchema1732400000000 implements MigrationInterface {
  name = 'PointsSchema1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE SCHEMA IF NOT EXISTS points');
  }

  async down(): Promise<void> {
    /* the schema itself stays */
  }
}
