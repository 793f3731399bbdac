// Types only: ledger.sql.ts (and with it this file) is loaded by a unit spec that has no reflect-metadata for the domain's DTOs.
import type { WebhookEventType } from '@app/domain';

/**
 * The points.webhook_outbox rows of journal rows, written in the statement that writes
 * them (LEDGER_SQL.insertEvent, a batch of earns and spends, the expiry sweep): no extra
 * round trip. `ev` is a CTE of the journal rows written, with WEBHOOK_EVENT_COLUMNS.
 */

/**
 * The webhook type of each points journal row, by its event_type: earns, spends, their
 * reversals, the expiry sweep's rows, and a transfer's rows (the sender's `transfer_out`,
 * the receiver's `transfer_in` when accepted or made direct, the sender's `transfer_back`
 * when it went back).
 */
export const POINTS_EVENT_WEBHOOK = {
  produce: 'points.earned',
  consume: 'points.spent',
  reverse_produce: 'points.reversed',
  reverse_consume: 'points.reversed',
  expired: 'points.expired',
  transfer_out: 'points.transfer_sent',
  transfer_in: 'points.transfer_accepted',
  transfer_back: 'points.transfer_returned',
} as const satisfies Record<string, WebhookEventType>;

/** What a statement's journal CTE returns for its webhook events. */
export const WEBHOOK_EVENT_COLUMNS =
  'auto_id, crm_id, member_no, event_no, event_type, points, event_at, action_scene, store_code, origin_event_no, from_transfer_no, trans_type';

const types = Object.entries(POINTS_EVENT_WEBHOOK);

/**
 * INSERT of one webhook event per row of `ev` (in auto_id order), occurred_at `at`. data:
 * member_no, event_no, event_type, points (decimal text, 4 places), event_at (ISO 8601
 * instant), action_scene, store_code, origin_event_no, transfer_no, trans_type.
 */
export const webhookEventsOf = (ev: string, at: string): string =>
  `INSERT INTO points.webhook_outbox (crm_id, type, member_no, occurred_at, data)
         SELECT crm_id, CASE event_type ${types.map(([k, t]) => `WHEN '${k}' THEN '${t}'`).join(' ')} END, member_no, ${at},
                jsonb_build_object('member_no', member_no, 'event_no', event_no, 'event_type', event_type, 'points', points::numeric(18,4)::text,
                                   'event_at', to_char(event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'action_scene', action_scene,
                                   'store_code', store_code, 'origin_event_no', origin_event_no, 'transfer_no', from_transfer_no, 'trans_type', trans_type)
           FROM ${ev} WHERE event_type IN (${types.map(([k]) => `'${k}'`).join(', ')}) ORDER BY auto_id`;
