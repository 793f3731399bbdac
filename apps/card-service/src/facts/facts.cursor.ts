/**
 * Where a page of card facts ended: the source table and the key of the last fact taken
 * from it. Opaque to callers: base64url of JSON `{ t: crm_id, s: source, k: key }`.
 *
 * A source's facts are ordered by the table's primary key (after crm_id), then by the
 * fact's place within the row (`ord`: a claim row gives its claim, then its reversal):
 *   receive   [received_id, card_id, ord]  claim (0), claim_reverse (1) per card of the claim
 *   present   [present_id, ord]            gift (0), gift_accept (1), gift_return (2)
 *   redeem    [redeem_id, ord]             redeem (0), redeem_reverse (1)
 *   expired   [auto_id]                    expire, one per code
 *   obsoleted [auto_id]                    void, one per code
 */
export const FACT_SOURCES = ['receive', 'present', 'redeem', 'expired', 'obsoleted'] as const;
export type FactSource = (typeof FACT_SOURCES)[number];

/** The key of a fact within its source (see above); ids of bigserial columns as decimal text. */
export type FactKey = Array<string | number>;

export interface FactsCursor {
  source: FactSource;
  /** The last fact taken from `source`; null: start at its first. */
  key: FactKey | null;
}

/** text: a caller's id or card id; id: a bigserial as decimal text; ord: a fact's place within its row, 0..n. */
type Part = 'text' | 'id' | { ord: number };

const KEY_SHAPES: Record<FactSource, Part[]> = {
  receive: ['text', 'text', { ord: 1 }],
  present: ['text', { ord: 2 }],
  redeem: ['text', { ord: 1 }],
  expired: ['id'],
  obsoleted: ['id'],
};

const fits = (part: Part, v: unknown): boolean => {
  if (part === 'text') return typeof v === 'string' && v.length >= 1 && v.length <= 64;
  if (part === 'id') return typeof v === 'string' && /^[0-9]{1,19}$/.test(v);
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= part.ord;
};

export function encodeFactsCursor(crmId: string, source: FactSource, key: FactKey): string {
  return Buffer.from(JSON.stringify({ t: crmId, s: source, k: key }), 'utf8').toString('base64url');
}

/** The cursor, or why it is not one this tenant was given. */
export function decodeFactsCursor(crmId: string, text: string): FactsCursor | { refused: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return { refused: 'cursor is not a cursor answered by card.event_facts' };
  }
  const c = raw as { t?: unknown; s?: unknown; k?: unknown };
  if (typeof raw !== 'object' || raw === null || !FACT_SOURCES.includes(c.s as FactSource) || !Array.isArray(c.k)) {
    return { refused: 'cursor is not a cursor answered by card.event_facts' };
  }
  const shape = KEY_SHAPES[c.s as FactSource];
  if (c.k.length !== shape.length || !shape.every((part, i) => fits(part, (c.k as unknown[])[i]))) {
    return { refused: 'cursor is not a cursor answered by card.event_facts' };
  }
  if (c.t !== crmId) return { refused: 'cursor was answered for another tenant' };
  return { source: c.s as FactSource, key: c.k as FactKey };
}
