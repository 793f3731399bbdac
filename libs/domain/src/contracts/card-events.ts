import { createHash } from 'node:crypto';

/**
 * Card events: what card-service tells the dashboard about each state change of member
 * codes. card-service writes one outbox row (card.outbox) per event in the same
 * transaction as the change; a relay moves them to the durable `card-events` Bull queue,
 * many events of one tenant per job (CardEventBatch); dashboard-service applies each
 * event once, by (crm_id, event_id), to its own rollups.
 */
export const CardEventKind = {
  /** A member claimed `count` codes of a card (one event per card of a claim); channel = out_str. */
  CLAIM: 'claim',
  /** A claim reversed: its codes of this card went back. Counts against the claim's day (`day_of`), channel and member. */
  CLAIM_REVERSE: 'claim_reverse',
  /** A member gave a code to a friend (present). */
  GIFT: 'gift',
  /** A friend accepted a gift (member_no = the friend). */
  GIFT_ACCEPT: 'gift_accept',
  /** A gift not accepted in time went back to the giver. */
  GIFT_RETURN: 'gift_return',
  /** A member redeemed a code; channel = redeem_channel. */
  REDEEM: 'redeem',
  /** A redemption reversed. Counts against the redemption's day (`day_of`), channel and member. */
  REDEEM_REVERSE: 'redeem_reverse',
  /** Codes of a member passed their end (the sweep). */
  EXPIRE: 'expire',
  /** A code was voided (obsolete). */
  VOID: 'void',
} as const;
export type CardEventKind = (typeof CardEventKind)[keyof typeof CardEventKind];

/** One event of a `card-events` job (CardEventBatch). */
export interface CardEvent {
  crm_id: string;
  /** The outbox row's id: unique per tenant, increasing in commit-ish order (not a strict order: apply must not depend on it). */
  event_id: string;
  kind: CardEventKind;
  card_id: string;
  /** The card's title when the event happened (the dashboard's top lists show it). */
  title: string;
  member_no: string;
  /** Codes concerned (at least 1). */
  count: number;
  /** out_str of a claim, redeem_channel of a redemption (also on their reversals); null otherwise. */
  channel: string | null;
  /** When the change happened (ISO 8601 instant). */
  occurred_at: string;
  /** The instant whose day (in the tenant's zone) the event counts on: occurred_at, or for a reversal the original claim's or redemption's. */
  day_of: string;
  /** The caller's id of the change: received_id, present_id, redeem_id; null for sweeps. */
  ref: string | null;
}

/** Events one `card-events` job carries at most (the relay's batches; the dashboard refuses larger ones). */
export const CARD_EVENTS_PER_JOB = 500;

/**
 * One job of the `card-events` queue: events of one tenant (every event's crm_id is the
 * batch's), 1 to CARD_EVENTS_PER_JOB of them, in event_id order as the relay sends them
 * (the dashboard does not depend on that order).
 */
export interface CardEventBatch {
  crm_id: string;
  events: CardEvent[];
}

/**
 * The job id of a batch: `<crm_id>.<first event_id>-<last event_id>.<digest of every
 * event_id>` (12 hex). The same rows sent again (a relay that crashed before its commit)
 * regroup into the same ids, which Bull ignores while the first job is still queued; a
 * different set of rows never shares an id, even with the same first and last (a re-sent
 * pass may group rows differently), so no job is dropped for another's.
 *
 * The job id is not what makes delivery exactly-once: a batch may come again under
 * another id (regrouped, or re-added after the first completed and was removed), and
 * batches may overlap. The dashboard applies each event once by (crm_id, event_id), so
 * every event counts once however often it is delivered.
 */
export function cardEventBatchJobId(batch: CardEventBatch): string {
  const ids = batch.events.map((e) => e.event_id);
  const digest = createHash('sha1').update(ids.join(',')).digest('hex').slice(0, 12);
  return `${batch.crm_id}.${ids[0]}-${ids[ids.length - 1]}.${digest}`;
}

/**
 * The relay's grouping: events by tenant, in the order given (the relay's, event_id
 * order) within each tenant, cut into jobs of at most `max` events. Tenants come in the
 * order of their first event.
 */
export function cardEventBatches(events: readonly CardEvent[], max = CARD_EVENTS_PER_JOB): CardEventBatch[] {
  if (max < 1) throw new Error(`cardEventBatches: max must be at least 1 (${max})`);
  const byTenant = new Map<string, CardEvent[]>();
  for (const e of events) {
    const list = byTenant.get(e.crm_id);
    if (list) list.push(e);
    else byTenant.set(e.crm_id, [e]);
  }
  const out: CardEventBatch[] = [];
  for (const [crm_id, list] of byTenant) {
    for (let i = 0; i < list.length; i += max) out.push({ crm_id, events: list.slice(i, i + max) });
  }
  return out;
}

/**
 * One event as card-service's own tables tell it now (for the dashboard's rebuild): the
 * same fields as the CardEvent it wrote to the outbox, without the outbox id. A reversed
 * claim is two facts (the claim and its reversal, both counting on the claim's day), and
 * so is a reversed redemption.
 */
export type CardFact = Omit<CardEvent, 'event_id'>;

/** `card.event_facts`: a page of a tenant's card facts; pass the answer's cursor back for the next page (null: done). */
export interface CardFactsMsg {
  crm_id: string;
  /** Opaque; absent for the first page. */
  cursor?: string;
  /** Facts per page, at most 10,000 (default 5,000). */
  limit?: number;
}

export interface CardFactsPage {
  facts: CardFact[];
  cursor: string | null;
}
