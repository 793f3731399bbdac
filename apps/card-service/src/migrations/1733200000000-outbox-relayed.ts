import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Outbox rows stay until the dashboard has them: the relay marks a row relayed (when, and
 * the id of the `card-events` job that carries it) instead of deleting it, and the recheck
 * deletes it once that job completed, or clears the mark when Redis lost the job so it is
 * relayed again. `outbox_waiting` is the relay's index (rows not relayed, oldest first);
 * `outbox_relay` (event_id) now serves the recheck's pages of relayed rows.
 */
export class OutboxRelayed1733200000000 implements MigrationInterface {
  name = 'OutboxRelayed1733200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE card.outbox ADD COLUMN relayed_at timestamptz, ADD COLUMN job_id varchar(128)`);
    await q.query(`CREATE INDEX outbox_waiting ON card.outbox (event_id) WHERE relayed_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX card.outbox_waiting`);
    await q.query(`ALTER TABLE card.outbox DROP COLUMN relayed_at, DROP COLUMN job_id`);
  }
}
