import { CARD_EVENT_WEBHOOK, CardEventKind } from '@app/domain';

/**
 * SQL pieces that write card.webhook_outbox rows in the statement that writes the change's
 * card.outbox rows (claim batches, sweeps, OutboxRepository.add): no extra round trip.
 */

/** The webhook outbox's columns in insert order. */
export const WEBHOOK_OUTBOX_COLUMNS = 'crm_id, type, member_no, occurred_at, data';

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** The webhook type (`coupon.claimed`, ...) of a card event kind given as an SQL expression. */
export function webhookTypeSql(kind: string): string {
  const arms = Object.entries(CARD_EVENT_WEBHOOK).map(([k, w]) => `WHEN ${quote(k)} THEN ${quote(w.type)}`);
  return `(CASE ${kind} ${arms.join(' ')} END)`;
}

/** The caller's id of a card event as `{received_id | present_id | redeem_id: ref}` ({} for sweeps and voids). */
function refSql(kind: string, ref: string): string {
  const byField = new Map<string, string[]>();
  for (const [k, w] of Object.entries(CARD_EVENT_WEBHOOK)) if (w.ref) byField.set(w.ref, [...(byField.get(w.ref) ?? []), k]);
  const arms = [...byField].map(([field, kinds]) => `WHEN ${kind} IN (${kinds.map(quote).join(', ')}) THEN jsonb_build_object(${quote(field)}, ${ref})`);
  return `(CASE ${arms.join(' ')} ELSE '{}'::jsonb END)`;
}

/**
 * A card event's `data` as an SQL expression over the columns of its outbox row:
 * card_id, title, member_no, count, channel, the caller's id by name (received_id,
 * present_id, redeem_id), and `extra` (a jsonb expression: the codes, the operator).
 */
export function webhookDataSql(c: {
  kind: string;
  card_id: string;
  title: string;
  member_no: string;
  count: string;
  channel: string;
  ref: string;
  extra?: string;
}): string {
  return (
    `(jsonb_build_object('card_id', ${c.card_id}, 'title', ${c.title}, 'member_no', ${c.member_no}, 'count', ${c.count}, 'channel', ${c.channel})` +
    ` || ${refSql(c.kind, c.ref)} || ${c.extra ?? `'{}'::jsonb`})`
  );
}

/** Kinds that concern one code (their data has `card_code`); the others (claims, their reversals, expiry) carry `codes`. */
export const SINGLE_CODE_KINDS: readonly CardEventKind[] = [
  CardEventKind.GIFT,
  CardEventKind.GIFT_ACCEPT,
  CardEventKind.GIFT_RETURN,
  CardEventKind.REDEEM,
  CardEventKind.REDEEM_REVERSE,
  CardEventKind.VOID,
];
