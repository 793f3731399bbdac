import { EntityManager } from 'typeorm';
import { WebhookEventType, WebhookSource } from '@app/domain';

/**
 * The webhook outbox of card-service and points-service (`<source>.webhook_outbox`, the
 * schema is named as the source): each change writes its webhook events in its own
 * transaction; the service's forwarder (worker role) hands them to webhook-service.
 */
export interface WebhookOutboxEvent {
  crm_id: string;
  type: WebhookEventType;
  member_no: string | null;
  occurred_at: Date;
  data: Record<string, unknown>;
}

/** The webhook outbox table of a source. */
export const webhookOutboxTable = (source: WebhookSource) => `${source}.webhook_outbox`;

/** Writes webhook events in the caller's transaction, in the given order, in one statement. */
export async function writeWebhookEvents(em: EntityManager, source: WebhookSource, events: WebhookOutboxEvent[]): Promise<void> {
  if (!events.length) return;
  await em.query(
    `INSERT INTO ${webhookOutboxTable(source)} (crm_id, type, member_no, occurred_at, data)
     SELECT crm_id, type, member_no, occurred_at, data::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[]) WITH ORDINALITY AS t(crm_id, type, member_no, occurred_at, data, ord)
      ORDER BY ord`,
    [
      events.map((e) => e.crm_id),
      events.map((e) => e.type),
      events.map((e) => e.member_no),
      events.map((e) => e.occurred_at),
      events.map((e) => JSON.stringify(e.data)),
    ],
  );
}
