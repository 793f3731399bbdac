/** Bull queue names and the payload each job carries. */
export const Queue = {
  CARD_STOCK: 'card-stock',
  CARD_EXPIRY: 'card-expiry',
  POINTS_EXPIRY: 'points-expiry',
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
