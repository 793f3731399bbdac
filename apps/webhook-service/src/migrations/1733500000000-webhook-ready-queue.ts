import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Claims that cost what they take, not what waits. Before, a worker's claim walked every due
 * pending delivery in next_at order and asked of each whether an earlier one of its member
 * was still pending: a backlog (a member's later events behind one in flight or retrying)
 * was walked again by every claim. Now:
 * - a delivery is `ready` when it is its member's earliest pending one at its subscription
 *   (or has no member); only ready ones are in the claim's index (delivery_ready);
 * - member_queue counts each member's pending deliveries per subscription. Its row is the
 *   lock that orders the writers: ingest (adds, ready when the count was 0) and finishing
 *   (subtracts, makes the next one ready) both take it, so neither decides on what the other
 *   has not committed;
 * - a delivery carries its event's type, time and body, so taking it reads one table (the
 *   events stay for replays and de-duplication; purge deletes their deliveries itself).
 */
export class WebhookReadyQueue1733500000000 implements MigrationInterface {
  name = 'WebhookReadyQueue1733500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE webhook.delivery
        ADD COLUMN type text, ADD COLUMN occurred_at timestamptz, ADD COLUMN data jsonb,
        ADD COLUMN ready boolean NOT NULL DEFAULT false`);
    await q.query(`
      UPDATE webhook.delivery d SET type = ev.type, occurred_at = ev.occurred_at, data = ev.data
        FROM webhook.event ev WHERE ev.crm_id = d.crm_id AND ev.event_id = d.event_id`);
    await q.query('ALTER TABLE webhook.delivery ALTER COLUMN type SET NOT NULL, ALTER COLUMN occurred_at SET NOT NULL, ALTER COLUMN data SET NOT NULL');
    await q.query('ALTER TABLE webhook.delivery DROP CONSTRAINT delivery_crm_id_event_id_fkey');
    await q.query(`
      UPDATE webhook.delivery d SET ready = true
       WHERE d.status = 'pending'
         AND (d.member_no IS NULL OR NOT EXISTS (
               SELECT 1 FROM webhook.delivery p
                WHERE p.crm_id = d.crm_id AND p.webhook_id = d.webhook_id AND p.member_no = d.member_no
                  AND p.status = 'pending' AND p.seq < d.seq))`);
    await q.query(`
      CREATE TABLE webhook.member_queue (
        crm_id text NOT NULL,
        webhook_id text NOT NULL,
        member_no text NOT NULL,
        -- pending deliveries of the member at the subscription; the row goes when it reaches 0
        pending int NOT NULL CHECK (pending >= 0),
        PRIMARY KEY (crm_id, webhook_id, member_no),
        FOREIGN KEY (crm_id, webhook_id) REFERENCES webhook.endpoint (crm_id, webhook_id) ON DELETE CASCADE
      )`);
    await q.query(`
      INSERT INTO webhook.member_queue (crm_id, webhook_id, member_no, pending)
      SELECT crm_id, webhook_id, member_no, count(*) FROM webhook.delivery
       WHERE status = 'pending' AND member_no IS NOT NULL GROUP BY 1, 2, 3`);
    await q.query('DROP INDEX webhook.delivery_due');
    await q.query(`CREATE INDEX delivery_ready ON webhook.delivery (next_at) WHERE status = 'pending' AND ready`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX webhook.delivery_ready');
    await q.query(`CREATE INDEX delivery_due ON webhook.delivery (next_at) WHERE status = 'pending'`);
    await q.query('DROP TABLE webhook.member_queue');
    await q.query(`
      ALTER TABLE webhook.delivery ADD CONSTRAINT delivery_crm_id_event_id_fkey
        FOREIGN KEY (crm_id, event_id) REFERENCES webhook.event (crm_id, event_id) ON DELETE CASCADE`);
    await q.query('ALTER TABLE webhook.delivery DROP COLUMN ready, DROP COLUMN data, DROP COLUMN occurred_at, DROP COLUMN type');
  }
}
