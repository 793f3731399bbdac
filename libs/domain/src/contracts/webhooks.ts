/**
 * Webhooks: merchants' own systems hear every coupon and points change.
 *
 * card-service and points-service write a webhook event into their own outbox in the
 * transaction of the change; a forwarder in each service's worker sends the rows to
 * webhook-service (`webhook.ingest`, request/response) and deletes them once it answered:
 * webhook-service commits the events and one delivery row per matching subscription before
 * it answers. Its workers deliver from PostgreSQL (SKIP LOCKED), signed per the Standard
 * Webhooks spec, in order per member and endpoint, retried with backoff for about a day.
 */
export const WebhookEventType = {
  CARD_CREATED: 'card.created',
  CARD_STOCK_GENERATED: 'card.stock_generated',
  COUPON_CLAIMED: 'coupon.claimed',
  COUPON_CLAIM_REVERSED: 'coupon.claim_reversed',
  COUPON_GIFTED: 'coupon.gifted',
  COUPON_GIFT_ACCEPTED: 'coupon.gift_accepted',
  COUPON_GIFT_RETURNED: 'coupon.gift_returned',
  COUPON_REDEEMED: 'coupon.redeemed',
  COUPON_REDEEM_REVERSED: 'coupon.redeem_reversed',
  COUPON_EXPIRED: 'coupon.expired',
  COUPON_VOIDED: 'coupon.voided',
  POINTS_EARNED: 'points.earned',
  POINTS_SPENT: 'points.spent',
  POINTS_REVERSED: 'points.reversed',
  POINTS_EXPIRED: 'points.expired',
  POINTS_TRANSFER_SENT: 'points.transfer_sent',
  POINTS_TRANSFER_ACCEPTED: 'points.transfer_accepted',
  POINTS_TRANSFER_RETURNED: 'points.transfer_returned',
} as const;
export type WebhookEventType = (typeof WebhookEventType)[keyof typeof WebhookEventType];
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = Object.values(WebhookEventType);

/** Where an event was recorded: the service whose outbox held it. */
export type WebhookSource = 'card' | 'points';

/** One event as a service's forwarder hands it to webhook-service. */
export interface WebhookEventIn {
  crm_id: string;
  /**
   * Stable id of the event, unique within the tenant: `<source>-<outbox row id>`. It is the
   * `webhook-id` of every delivery of the event (retries and replays), so a receiver can
   * drop duplicates by it.
   */
  event_id: string;
  type: WebhookEventType;
  /** The member the event is about (deliveries to one endpoint keep this member's order); null for card events. */
  member_no: string | null;
  /** When the change happened (ISO 8601 instant). */
  occurred_at: string;
  /**
   * The event's fields (documented per type in the API docs, `/docs`, Webhooks) as the JSON
   * text of an object, as the outbox holds it: webhook-service checks it and stores the text
   * as it is, so nothing on the way parses, copies and serializes the object again.
   */
  data_json: string;
}

/** Events one `webhook.ingest` request carries at most. */
export const WEBHOOK_EVENTS_PER_INGEST = 500;

/**
 * `webhook.ingest`: events of one service's outbox, oldest first; answered once committed.
 * One array per field of WebhookEventIn, event i being element i of each: what the ingest
 * statement takes, and checking six arrays costs webhook-service a fraction of checking
 * 500 objects (17 against 41 us per event; most of its CPU during a sale). Made by
 * webhookIngestMsg.
 */
export interface WebhookIngestMsg {
  source: WebhookSource;
  crm_id: string[];
  event_id: string[];
  type: WebhookEventType[];
  member_no: Array<string | null>;
  occurred_at: string[];
  data_json: string[];
}

/** The per-event fields of `webhook.ingest`, one array each. */
export const WEBHOOK_INGEST_FIELDS = ['crm_id', 'event_id', 'type', 'member_no', 'occurred_at', 'data_json'] as const satisfies ReadonlyArray<
  keyof WebhookEventIn
>;

/** The `webhook.ingest` message of these events. */
export function webhookIngestMsg(source: WebhookSource, events: WebhookEventIn[]): WebhookIngestMsg {
  return {
    source,
    crm_id: events.map((e) => e.crm_id),
    event_id: events.map((e) => e.event_id),
    type: events.map((e) => e.type),
    member_no: events.map((e) => e.member_no),
    occurred_at: events.map((e) => e.occurred_at),
    data_json: events.map((e) => e.data_json),
  };
}

/** The events a `webhook.ingest` message carries, in order. */
export function webhookIngestEvents(m: WebhookIngestMsg): WebhookEventIn[] {
  return m.event_id.map((event_id, i) => ({
    crm_id: m.crm_id[i],
    event_id,
    type: m.type[i],
    member_no: m.member_no[i],
    occurred_at: m.occurred_at[i],
    data_json: m.data_json[i],
  }));
}
export interface WebhookIngestReply {
  /** Events new to webhook-service (the rest it had already: a forwarder that sent again). */
  accepted: number;
  /** Delivery rows made for them. */
  deliveries: number;
}

/** The body POSTed to an endpoint (Standard Webhooks: type, timestamp, data; plus our id and tenant). */
export interface WebhookPayload {
  id: string;
  type: WebhookEventType;
  timestamp: string;
  crm_id: string;
  data: Record<string, unknown>;
}
