import { MigrationInterface, QueryRunner } from 'typeorm';

/** The dashboard schema; its tables come with the dashboard features. */
export class DashboardSchema1732400000000 implements MigrationInterface {
  name = 'DashboardSchema1732400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE SCHEMA IF NOT EXISTS dashboard');
  }

  async down(): Promise<void> {
    /* the schema itself stays */
  }
}
