import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook events of card changes (contract: libs/domain/src/contracts/webhooks.ts), written
 * in the transaction of each change, mostly in the statement that writes its card.outbox
 * row. The forwarder (WebhookForwarder) sends them to webhook-service in id order and
 * deletes them once it answered. id is the event's id (`card-<id>`); its index alone is the
 * forwarder's (it takes the oldest rows of every tenant at once).
 */
export class WebhookOutbox1733300000000 implements MigrationInterface {
  name = 'WebhookOutbox1733300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE SEQUENCE card.webhook_outbox_id_seq`);
    await q.query(`
      CREATE TABLE card.webhook_outbox (
        crm_id       varchar(32) NOT NULL,
        id           bigint NOT NULL DEFAULT nextval('card.webhook_outbox_id_seq'),
        type         varchar(40) NOT NULL,
        member_no    varchar(64),
        occurred_at  timestamptz NOT NULL,
        data         jsonb NOT NULL,
        PRIMARY KEY (crm_id, id)
      )`);
    await q.query(`ALTER SEQUENCE card.webhook_outbox_id_seq OWNED BY card.webhook_outbox.id`);
    await q.query(`CREATE INDEX webhook_outbox_order ON card.webhook_outbox (id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE card.webhook_outbox`);
  }
}
