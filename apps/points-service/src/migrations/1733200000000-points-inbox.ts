import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * points.inbox: points events of producers that do not wait for them to be applied
 * (`points.enqueue`). A row is written and committed before the producer is answered, a
 * worker claims waiting rows in arrival order (FOR UPDATE SKIP LOCKED), applies them and
 * marks them done; done rows are deleted after POINTS_INBOX_KEEP_HOURS. One row per
 * (crm_id, kind, event_no): the same event queued twice is one row.
 */
export class PointsInbox1733200000000 implements MigrationInterface {
  name = 'PointsInbox1733200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE points.inbox (
        crm_id        varchar(32) NOT NULL,
        inbox_id      bigserial NOT NULL,
        kind          varchar(32) NOT NULL,
        event_no      varchar(64) NOT NULL,
        event         jsonb NOT NULL,
        payload_hash  varchar(64) NOT NULL,
        received_at   timestamptz NOT NULL,
        attempts      integer NOT NULL DEFAULT 0,
        next_at       timestamptz NOT NULL,
        last_error    text,
        done_at       timestamptz,
        outcome_code  integer,
        outcome_msg   text,
        PRIMARY KEY (crm_id, inbox_id),
        UNIQUE (crm_id, kind, event_no)
      )`);
    await q.query(`CREATE INDEX inbox_waiting ON points.inbox (inbox_id) WHERE done_at IS NULL`);
    await q.query(`CREATE INDEX inbox_done ON points.inbox (done_at) WHERE done_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE points.inbox`);
  }
}
