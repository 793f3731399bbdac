import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The webhook schema: subscriptions (endpoint), the events the services handed over
 * (event, kept for replays), and one delivery row per event and subscription until it is
 * delivered or failed for good. Deliveries are claimed with SKIP LOCKED by every worker;
 * one member's deliveries to one endpoint go in the order the events came (event.seq).
 */
export class WebhookSchema1733400000000 implements MigrationInterface {
  name = 'WebhookSchema1733400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE SCHEMA IF NOT EXISTS webhook');
    await q.query(`
      CREATE TABLE webhook.endpoint (
        crm_id text NOT NULL,
        webhook_id text NOT NULL,
        url text NOT NULL,
        events text[] NOT NULL,
        description text NOT NULL DEFAULT '',
        secret text NOT NULL,
        -- After a rotation, deliveries are signed with both secrets until this passes.
        previous_secret text,
        previous_secret_until timestamptz,
        status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'disabled')),
        disabled_reason text,
        -- First failed attempt since the last delivered one (null: the last attempt was delivered).
        failing_since timestamptz,
        create_time timestamptz NOT NULL,
        update_time timestamptz NOT NULL,
        PRIMARY KEY (crm_id, webhook_id)
      )`);
    await q.query(`
      CREATE TABLE webhook.event (
        crm_id text NOT NULL,
        event_id text NOT NULL,
        seq bigserial NOT NULL,
        type text NOT NULL,
        member_no text,
        occurred_at timestamptz NOT NULL,
        data jsonb NOT NULL,
        received_at timestamptz NOT NULL,
        PRIMARY KEY (crm_id, event_id)
      )`);
    await q.query('CREATE INDEX event_replay ON webhook.event (crm_id, occurred_at)');
    await q.query('CREATE INDEX event_purge ON webhook.event (received_at)');
    await q.query(`
      CREATE TABLE webhook.delivery (
        crm_id text NOT NULL,
        delivery_id bigserial NOT NULL,
        webhook_id text NOT NULL,
        event_id text NOT NULL,
        seq bigint NOT NULL,
        member_no text,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts int NOT NULL DEFAULT 0,
        -- Pending: when it may be tried (a worker that takes it moves this on by its lease).
        next_at timestamptz NOT NULL,
        first_attempt_at timestamptz,
        last_attempt_at timestamptz,
        last_status int,
        last_error text,
        delivered_at timestamptz,
        create_time timestamptz NOT NULL,
        PRIMARY KEY (crm_id, delivery_id),
        FOREIGN KEY (crm_id, webhook_id) REFERENCES webhook.endpoint (crm_id, webhook_id) ON DELETE CASCADE,
        FOREIGN KEY (crm_id, event_id) REFERENCES webhook.event (crm_id, event_id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX delivery_due ON webhook.delivery (next_at) WHERE status = 'pending'`);
    await q.query(`CREATE INDEX delivery_member_order ON webhook.delivery (crm_id, webhook_id, member_no, seq) WHERE status = 'pending'`);
    await q.query('CREATE INDEX delivery_list ON webhook.delivery (crm_id, webhook_id, delivery_id DESC)');
    await q.query('CREATE INDEX delivery_event ON webhook.delivery (crm_id, event_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE webhook.delivery');
    await q.query('DROP TABLE webhook.event');
    await q.query('DROP TABLE webhook.endpoint');
  }
}
