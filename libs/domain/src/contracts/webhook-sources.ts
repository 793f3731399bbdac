import { CardEventKind } from './card-events';
import { WebhookEventType } from './webhooks';

/**
 * How card-service and points-service name what they write to their webhook outboxes
 * (card.webhook_outbox, points.webhook_outbox): the webhook type of each card event kind,
 * and the field of the event's `data` that carries the caller's id of the change (a
 * card event's `ref`). The data of every type is listed in docs/api-notes.md (Webhook events).
 */
export const CARD_EVENT_WEBHOOK: Readonly<Record<CardEventKind, { type: WebhookEventType; ref: 'received_id' | 'present_id' | 'redeem_id' | null }>> = {
  [CardEventKind.CLAIM]: { type: WebhookEventType.COUPON_CLAIMED, ref: 'received_id' },
  [CardEventKind.CLAIM_REVERSE]: { type: WebhookEventType.COUPON_CLAIM_REVERSED, ref: 'received_id' },
  [CardEventKind.GIFT]: { type: WebhookEventType.COUPON_GIFTED, ref: 'present_id' },
  [CardEventKind.GIFT_ACCEPT]: { type: WebhookEventType.COUPON_GIFT_ACCEPTED, ref: 'present_id' },
  [CardEventKind.GIFT_RETURN]: { type: WebhookEventType.COUPON_GIFT_RETURNED, ref: 'present_id' },
  [CardEventKind.REDEEM]: { type: WebhookEventType.COUPON_REDEEMED, ref: 'redeem_id' },
  [CardEventKind.REDEEM_REVERSE]: { type: WebhookEventType.COUPON_REDEEM_REVERSED, ref: 'redeem_id' },
  [CardEventKind.EXPIRE]: { type: WebhookEventType.COUPON_EXPIRED, ref: null },
  [CardEventKind.VOID]: { type: WebhookEventType.COUPON_VOIDED, ref: null },
};

/** The prefix of an outbox row's event_id: `card-<id>`, `points-<id>`. */
export const webhookEventId = (source: 'card' | 'points', id: string | number): string => `${source}-${id}`;
