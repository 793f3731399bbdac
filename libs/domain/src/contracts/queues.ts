/** Bull queue names and the payload each job carries. */
export const Queue = {
  CARD_STOCK: 'card-stock',
  CARD_EXPIRY: 'card-expiry',
  POINTS_EXPIRY: 'points-expiry',
  POINTS_EVENTS: 'points-events',
  /** Card events from card-service's outbox to the dashboard (see card-events.ts). */
  CARD_EVENTS: 'card-events',
} as const;

/** Repeatable jobs of the `points-expiry` queue. */
export const PointsExpiryJob = {
  /** Lots past their expiry get an `expired` history row. */
  EXPIRE_LOTS: 'expire-lots',
  /** Transfers not accepted in time go back to the sender. */
  RETURN_TRANSFERS: 'return-transfers',
} as const;

/** Repeatable jobs of the `card-expiry` queue (no payload: each pages through what is due). */
export const CardExpiryJob = {
  /** Codes past their end become expired (status 4). */
  EXPIRE_CODES: 'expire-codes',
  /** Gifts not accepted in time go back to the giver. */
  RETURN_GIFTS: 'return-gifts',
} as const;

export const CardStockJob = {
  GENERATE: 'generate',
  RECOVER: 'recover',
} as const;

/** A `card-stock` job: fill the stock of one generate record (system codes or a file import). */
export interface CardStockPayload {
  crm_id: string;
  generate_id: string;
}

export function cardStockJobId(p: CardStockPayload): string {
  return `${p.crm_id}.${p.generate_id}`;
}

/**
 * The durable `points-events` queue, for producers that do not wait for an answer. Each
 * job carries one points event as the matching route takes it (with crm_id); it reaches
 * the same handler, with the same idempotency by event_no, as a request over the transport.
 */
export const PointsEventKind = {
  PRODUCE_DIRECT: 'produce_direct',
  PRODUCE_BY_RULE: 'produce_by_rule',
  CONSUME_DIRECT: 'consume_direct',
  REVERSE_PRODUCE: 'reverse_produce',
  REVERSE_CONSUME: 'reverse_consume',
  TRANSFER_DIRECT: 'transfer_direct',
} as const;
export type PointsEventKind = (typeof PointsEventKind)[keyof typeof PointsEventKind];

export interface PointsEventJobData {
  kind: PointsEventKind;
  /** The event, as the route of that kind takes it, plus crm_id. */
  event: Record<string, unknown> & { crm_id: string };
}

/** One job per event: a producer that sends the same event twice queues it once (while the first is kept). */
export const pointsEventJobId = (d: PointsEventJobData): string => `${d.event.crm_id}.${d.kind}.${String(d.event.event_no ?? d.event.transfer_no)}`;
