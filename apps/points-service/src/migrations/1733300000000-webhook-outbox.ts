import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook events of points changes (contract: libs/domain/src/contracts/webhooks.ts),
 * written in the statement that writes each journal row (LEDGER_SQL.insertEvent, a batch
 * of earns and spends, the expiry sweep). The forwarder (WebhookForwarder) sends them to
 * webhook-service in id order and deletes them once it answered. id is the event's id
 * (`points-<id>`); its index alone is the forwarder's.
 */
export class PointsWebhookOutbox1733300000000 implements MigrationInterface {
  name = 'PointsWebhookOutbox1733300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE points.webhook_outbox_id_seq`);
    await q.query(`
      CREATE TABLE points.webhook_outbox (
        crm_id       varchar(32) NOT NULL,
        id           bigint NOT NULL DEFAULT nextval('points.webhook_outbox_id_seq'),
        type         varchar(40) NOT NULL,
        member_no    varchar(64),
        occurred_at  timestamptz NOT NULL,
        data         jsonb NOT NULL,
        PRIMARY KEY (crm_id, id)
      )`);
    await q.query(`ALTER SEQUENCE points.webhook_outbox_id_seq OWNED BY points.webhook_outbox.id`);
    await q.query(`CREATE INDEX webhook_outbox_order ON points.webhook_outbox (id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE points.webhook_outbox`);
  }
}
