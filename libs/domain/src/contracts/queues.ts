/** Bull queue names and the payload each job carries. */
export const Queue = {
  CARD_STOCK: 'card-stock',
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
