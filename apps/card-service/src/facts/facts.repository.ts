import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CardEventKind, CardFact } from '@app/domain';
import { FactKey, FactSource } from './facts.cursor';
import { toCardFact } from '../outbox/outbox.repository';

/** A fact and its key within its source (what the next page starts after). */
export interface KeyedFact {
  key: FactKey;
  fact: CardFact;
}

type Row = Record<string, any>;

/**
 * One statement per source table. Each pages by the table's primary key (crm_id, ...):
 * the index gives the rows in order from the cursor on, so a page reads about `limit`
 * rows however deep it is (no OFFSET). The facts of one row come out of a LATERAL
 * VALUES list in a fixed order (`ord`), and the keyset condition is written so that
 * only the key column of the table bounds the index scan: `k >= last AND (k > last OR
 * (rest) > (last rest))`. Titles are the cards' current ones (card.card_info).
 *
 * $1 crm_id, $2 limit; with a cursor, the last key from $3 on.
 */
const SQL: Record<FactSource, { first: string; after: string }> = {
  // A claim's receipt names the codes of each card it gave (a claim is all or nothing; refused claims leave no receipt).
  receive: keyset(
    `SELECT r.received_id, e.card_id, k.ord, k.kind, r.member_no, e.n::int AS count, r.out_str AS channel,
            k.occurred_at, r.received_time AS day_of, r.received_id AS ref, c.title
       FROM card.member_receive r
      CROSS JOIN LATERAL jsonb_each_text(r.card_info) AS e(card_id, n)
      CROSS JOIN LATERAL (VALUES (0, '${CardEventKind.CLAIM}', r.received_time), (1, '${CardEventKind.CLAIM_REVERSE}', r.reversed_time)) AS k(ord, kind, occurred_at)
       JOIN card.card_info c ON c.crm_id = r.crm_id AND c.card_id = e.card_id
      WHERE r.crm_id = $1 AND (k.ord = 0 OR r.is_reversed = 1)`,
    `AND r.received_id >= $3 AND (r.received_id > $3 OR (e.card_id, k.ord) > ($4::text, $5::int))`,
    `ORDER BY r.received_id, e.card_id, k.ord LIMIT $2`,
  ),
  present: keyset(
    `SELECT p.present_id, k.ord, k.kind, p.card_id, k.member_no, 1 AS count, NULL AS channel,
            k.occurred_at, k.occurred_at AS day_of, p.present_id AS ref, c.title
       FROM card.member_present p
      CROSS JOIN LATERAL (VALUES (0, '${CardEventKind.GIFT}', p.from_member_no, p.present_time),
                                 (1, '${CardEventKind.GIFT_ACCEPT}', p.to_member_no, p.received_time),
                                 (2, '${CardEventKind.GIFT_RETURN}', p.from_member_no, p.go_back_time)) AS k(ord, kind, member_no, occurred_at)
       JOIN card.card_info c ON c.crm_id = p.crm_id AND c.card_id = p.card_id
      WHERE p.crm_id = $1 AND k.occurred_at IS NOT NULL`,
    `AND p.present_id >= $3 AND (p.present_id > $3 OR k.ord > $4::int)`,
    `ORDER BY p.present_id, k.ord LIMIT $2`,
  ),
  redeem: keyset(
    `SELECT r.redeem_id, k.ord, k.kind, r.card_id, r.member_no, 1 AS count, r.redeem_channel AS channel,
            k.occurred_at, r.redeem_time AS day_of, r.redeem_id AS ref, c.title
       FROM card.member_redeem r
      CROSS JOIN LATERAL (VALUES (0, '${CardEventKind.REDEEM}', r.redeem_time), (1, '${CardEventKind.REDEEM_REVERSE}', r.rollback_time)) AS k(ord, kind, occurred_at)
       JOIN card.card_info c ON c.crm_id = r.crm_id AND c.card_id = r.card_id
      WHERE r.crm_id = $1 AND (k.ord = 0 OR r.rollback_status = 1)`,
    `AND r.redeem_id >= $3 AND (r.redeem_id > $3 OR k.ord > $4::int)`,
    `ORDER BY r.redeem_id, k.ord LIMIT $2`,
  ),
  // One row per code expired (by the sweep, or by a redemption reversal that found the code ended), written at that moment.
  expired: keyset(
    `SELECT x.auto_id, '${CardEventKind.EXPIRE}' AS kind, x.card_id, x.member_no, 1 AS count, NULL AS channel,
            x.create_time AS occurred_at, x.create_time AS day_of, NULL AS ref, c.title
       FROM card.member_card_expired x
       JOIN card.card_info c ON c.crm_id = x.crm_id AND c.card_id = x.card_id
      WHERE x.crm_id = $1`,
    `AND x.auto_id > $3::bigint`,
    `ORDER BY x.auto_id LIMIT $2`,
  ),
  obsoleted: keyset(
    `SELECT o.auto_id, '${CardEventKind.VOID}' AS kind, o.card_id, o.member_no, 1 AS count, NULL AS channel,
            o.obsoleted_time AS occurred_at, o.obsoleted_time AS day_of, NULL AS ref, c.title
       FROM card.member_card_obsoleted o
       JOIN card.card_info c ON c.crm_id = o.crm_id AND c.card_id = o.card_id
      WHERE o.crm_id = $1`,
    `AND o.auto_id > $3::bigint`,
    `ORDER BY o.auto_id LIMIT $2`,
  ),
};

function keyset(select: string, after: string, order: string): { first: string; after: string } {
  return { first: `${select}\n${order}`, after: `${select}\n${after}\n${order}` };
}

const KEY_OF: Record<FactSource, (r: Row) => FactKey> = {
  receive: (r) => [r.received_id, r.card_id, r.ord],
  present: (r) => [r.present_id, r.ord],
  redeem: (r) => [r.redeem_id, r.ord],
  expired: (r) => [String(r.auto_id)],
  obsoleted: (r) => [String(r.auto_id)],
};

/** Reads card facts from card-service's own tables (the dashboard's rebuild), never from the outbox. */
@Injectable()
export class FactsRepository {
  constructor(private readonly db: DataSource) {}

  /** Up to `limit` facts of a tenant from one source, after `key` (null: from its first). */
  async read(source: FactSource, crmId: string, key: FactKey | null, limit: number): Promise<KeyedFact[]> {
    const sql = SQL[source];
    const rows: Row[] = await this.db.query(key ? sql.after : sql.first, key ? [crmId, limit, ...key] : [crmId, limit]);
    return rows.map((r) => ({
      key: KEY_OF[source](r),
      fact: toCardFact({ ...r, crm_id: crmId }),
    }));
  }
}
