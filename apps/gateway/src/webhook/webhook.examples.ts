/** Answer examples for the OpenAPI document: subscriptions, deliveries, and the payload of each event type. */
import { WebhookEventType } from '@app/domain';

const envelope = (msg: string, data?: unknown) => ({ schema: { example: data === undefined ? { code: 0, msg } : { code: 0, msg, data } } });

const webhook = {
  webhook_id: 'wh_3k9x0c2m7qa81bd4',
  crm_id: '10080',
  url: 'https://crm.example.com/hooks/loyalty',
  events: ['coupon.claimed', 'coupon.redeemed', 'points.earned'],
  description: 'order system',
  status: 'enabled',
  disabled_reason: null,
  failing_since: null,
  create_time: '2026-12-05 10:00:00',
  update_time: '2026-12-05 10:00:00',
};
const delivery = {
  delivery_id: 1042,
  webhook_id: webhook.webhook_id,
  event_id: 'card-88121',
  type: 'coupon.claimed',
  member_no: 'ec_18165fd7455_JGhyfyLmX',
  status: 'pending',
  attempts: 2,
  last_status: 500,
  last_error: 'HTTP 500: upstream down',
  last_attempt_time: '2026-12-05 10:00:05',
  next_time: '2026-12-05 10:05:05',
  delivered_time: null,
  create_time: '2026-12-05 10:00:00',
};

/**
 * What an endpoint receives: POST, JSON, with the Standard Webhooks headers `webhook-id`
 * (the event id: the same on every attempt and replay), `webhook-timestamp` (Unix seconds
 * of the attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of id.timestamp.body>`,
 * one per secret, space-separated during a rotation). Answer 2xx within 10 s.
 */
export const WEBHOOK_PAYLOAD_EXAMPLE = {
  id: 'card-88121',
  type: 'coupon.claimed' as WebhookEventType,
  timestamp: '2026-12-05T02:00:00.000Z',
  crm_id: '10080',
  data: {
    card_id: '4d0f8e3c2a1b4c5d9e8f7a6b5c4d3e2f',
    title: '满100减20',
    member_no: 'ec_18165fd7455_JGhyfyLmX',
    count: 1,
    channel: 'mini_program',
    received_id: 'rcv_20261205_0001',
    codes: ['8812345678901'],
  },
};

export const WebhookExamples = {
  created: envelope('webhook created: keep the secret, it is not shown again', { ...webhook, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
  rotated: envelope('secret rotated: deliveries carry a signature with each secret for 24 hours', {
    ...webhook,
    secret: 'whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD',
  }),
  one: envelope('ok', webhook),
  list: envelope('ok', [webhook]),
  deleted: envelope('webhook deleted with its deliveries', { webhook_id: webhook.webhook_id, deleted: true }),
  deliveries: envelope('ok', { total: 1, result: [delivery] }),
  retried: envelope('delivery queued again', { ...delivery, attempts: 0, next_time: '2026-12-05 10:06:00' }),
  replayed: envelope('12 event(s) queued for delivery again', { replayed: 12 }),
};
