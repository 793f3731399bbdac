import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CardEventKind, ClaimedCodeView } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { OUTBOX_COLUMNS } from '../outbox/outbox.repository';
import { WEBHOOK_OUTBOX_COLUMNS, webhookDataSql, webhookTypeSql } from '../outbox/webhook-outbox.sql';

type Row = Record<string, any>;

/** A claim as the batch writes it. */
export interface Receipt {
  crm_id: string;
  received_id: string;
  member_no: string;
  out_str: string;
  card_info: Record<string, number>;
  payload_hash: string;
}

/** What a claim needs to know of a card, read under its row lock. */
export interface ClaimCard {
  crm_id: string;
  card_id: string;
  removed: boolean;
  date_type: number;
  begin_time: number | null;
  end_time: number | null;
  start_day_count: number | null;
  expire_day_count: number | null;
  get_limit: number;
  discount: string | null;
  /** Codes in the pool: slots claim_slot .. next_slot - 1. */
  claim_slot: number;
  next_slot: number;
}

/** One code to hand out: pool slot -> member. */
export interface Grant {
  crm_id: string;
  card_id: string;
  slot: number;
  member_no: string;
  received_id: string;
  begin: Date;
  end: Date | null;
  discount: string | null;
  out_str: string;
}

export interface IssuedCode extends ClaimedCodeView {
  received_id: string;
  crm_id: string;
}

const key = (...parts: string[]) => parts.join('\u0000');

/**
 * The statements of a claim batch. Each takes every claim of the batch at once (arrays
 * through unnest), and locks in one global order, so batches never deadlock each other:
 * receipts by (crm_id, received_id), then cards by (crm_id, card_id).
 */
@Injectable()
export class ClaimRepository {
  /** Inserts the receipts; answers the keys of those inserted (the others exist: replays). Waits for a concurrent insert of the same id to settle. */
  async insertReceipts(em: EntityManager, receipts: Receipt[], now: Date): Promise<Set<string>> {
    const sorted = [...receipts].sort((a, b) => (key(a.crm_id, a.received_id) < key(b.crm_id, b.received_id) ? -1 : 1));
    const rows: Array<{ crm_id: string; received_id: string }> = await em.query(
      `INSERT INTO card.member_receive (crm_id, received_id, member_no, out_str, card_info, payload_hash, received_time, create_time, update_time)
       SELECT t.crm_id, t.received_id, t.member_no, t.out_str, t.card_info::jsonb, t.payload_hash, $7, $7, $7
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
              AS t(crm_id, received_id, member_no, out_str, card_info, payload_hash, ord)
        ORDER BY t.ord
       ON CONFLICT (crm_id, received_id) DO NOTHING RETURNING crm_id, received_id`,
      [
        sorted.map((r) => r.crm_id),
        sorted.map((r) => r.received_id),
        sorted.map((r) => r.member_no),
        sorted.map((r) => r.out_str),
        sorted.map((r) => JSON.stringify(r.card_info)),
        sorted.map((r) => r.payload_hash),
        now,
      ],
    );
    return new Set(rows.map((r) => key(r.crm_id, r.received_id)));
  }

  async deleteReceipts(em: EntityManager, receipts: Array<{ crm_id: string; received_id: string }>): Promise<void> {
    if (!receipts.length) return;
    await em.query(
      `DELETE FROM card.member_receive r USING unnest($1::text[], $2::text[]) AS t(crm_id, received_id)
        WHERE r.crm_id = t.crm_id AND r.received_id = t.received_id`,
      [receipts.map((r) => r.crm_id), receipts.map((r) => r.received_id)],
    );
  }

  /** Locks the cards, in key order. */
  async lockCards(em: EntityManager, cards: Array<{ crm_id: string; card_id: string }>): Promise<Map<string, ClaimCard>> {
    const rows: Array<Record<string, any>> = await em.query(
      `SELECT c.crm_id, c.card_id, c.removed, c.date_type, c.begin_time, c.end_time, c.start_day_count, c.expire_day_count,
              c.get_limit, c.discount, c.claim_slot, c.next_slot
         FROM card.card_info c JOIN unnest($1::text[], $2::text[]) AS t(crm_id, card_id) ON c.crm_id = t.crm_id AND c.card_id = t.card_id
        ORDER BY c.crm_id, c.card_id FOR UPDATE OF c`,
      [cards.map((c) => c.crm_id), cards.map((c) => c.card_id)],
    );
    return new Map(
      rows.map((r) => [
        key(r.crm_id, r.card_id),
        {
          ...(r as ClaimCard),
          begin_time: r.begin_time === null ? null : num(r.begin_time),
          end_time: r.end_time === null ? null : num(r.end_time),
          claim_slot: num(r.claim_slot),
          next_slot: num(r.next_slot),
        },
      ]),
    );
  }

  /** How many codes of each card these members have claimed (read under the cards' locks, which every writer of the count holds). */
  async receivedSums(em: EntityManager, pairs: Array<{ crm_id: string; card_id: string; member_no: string }>): Promise<Map<string, number>> {
    if (!pairs.length) return new Map();
    const rows: Array<{ crm_id: string; card_id: string; member_no: string; received_sum: number }> = await em.query(
      `SELECT r.crm_id, r.card_id, r.member_no, r.received_sum
         FROM card.member_card_record r JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(crm_id, card_id, member_no)
           ON r.crm_id = t.crm_id AND r.card_id = t.card_id AND r.member_no = t.member_no`,
      [pairs.map((p) => p.crm_id), pairs.map((p) => p.card_id), pairs.map((p) => p.member_no)],
    );
    return new Map(rows.map((r) => [key(r.crm_id, r.card_id, r.member_no), r.received_sum]));
  }

  /**
   * Writes a batch's grants in one statement: moves each card's claim pointer past the
   * slots handed out, adds to the members' claimed counts, marks the pool slots issued,
   * writes the members' rows in grant order and one `claim` card event per (claim, card)
   * to the outbox (count = that card's codes in that claim, channel = out_str, ref =
   * received_id, occurred_at = day_of = now). Answers the codes given.
   */
  async issue(
    em: EntityManager,
    grants: Grant[],
    perCard: Array<{ crm_id: string; card_id: string; n: number }>,
    perMember: Array<{ crm_id: string; card_id: string; member_no: string; n: number }>,
    now: Date,
    tz: string,
  ): Promise<IssuedCode[]> {
    if (!grants.length) return [];
    const members = [...perMember].sort((a, b) => (key(a.crm_id, a.card_id, a.member_no) < key(b.crm_id, b.card_id, b.member_no) ? -1 : 1));
    const rows: Array<Record<string, any>> = await em.query(
      `WITH want AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::numeric[], $9::text[])
                  WITH ORDINALITY AS w(crm_id, card_id, slot, member_no, received_id, begin_time, end_time, discount, out_str, ord)),
       advanced AS (
         UPDATE card.card_info c SET claim_slot = c.claim_slot + t.n, received_count = c.received_count + t.n, update_time = $10
           FROM unnest($12::text[], $13::text[], $14::int[]) AS t(crm_id, card_id, n)
          WHERE c.crm_id = t.crm_id AND c.card_id = t.card_id
         RETURNING 1),
       counted AS (
         INSERT INTO card.member_card_record (crm_id, card_id, member_no, received_sum, create_time, update_time)
         SELECT t.crm_id, t.card_id, t.member_no, t.n, $10, $10
           FROM unnest($15::text[], $16::text[], $17::text[], $18::int[]) WITH ORDINALITY AS t(crm_id, card_id, member_no, n, ord) ORDER BY t.ord
         ON CONFLICT (crm_id, card_id, member_no) DO UPDATE
           SET received_sum = card.member_card_record.received_sum + EXCLUDED.received_sum, update_time = EXCLUDED.update_time
         RETURNING 1),
       taken AS (
         UPDATE card.card_code cc SET card_code_status = 1, member_no = w.member_no, update_time = $10
           FROM want w WHERE cc.crm_id = w.crm_id AND cc.card_id = w.card_id AND cc.slot = w.slot
         RETURNING cc.crm_id, cc.card_id, cc.slot, cc.card_code),
       claimed AS (
         SELECT w.crm_id, w.received_id, w.card_id, w.member_no, w.out_str, c.title, count(*)::int AS n,
                array_agg(t.card_code ORDER BY w.ord) AS codes, min(w.ord) AS ord
           FROM taken t JOIN want w ON w.crm_id = t.crm_id AND w.card_id = t.card_id AND w.slot = t.slot
           JOIN card.card_info c ON c.crm_id = w.crm_id AND c.card_id = w.card_id
          GROUP BY w.crm_id, w.received_id, w.card_id, w.member_no, w.out_str, c.title),
       events AS (
         INSERT INTO card.outbox (${OUTBOX_COLUMNS})
         SELECT crm_id, $19, card_id, title, member_no, n, out_str, $10, $10, received_id FROM claimed ORDER BY ord
         RETURNING 1),
       hooks AS (
         INSERT INTO card.webhook_outbox (${WEBHOOK_OUTBOX_COLUMNS})
         SELECT crm_id, ${webhookTypeSql(`'${CardEventKind.CLAIM}'`)}, member_no, $10,
                ${webhookDataSql({ kind: `'${CardEventKind.CLAIM}'`, card_id: 'card_id', title: 'title', member_no: 'member_no', count: 'n', channel: 'out_str', ref: 'received_id', extra: `jsonb_build_object('codes', to_jsonb(codes))` })}
           FROM claimed ORDER BY ord
         RETURNING 1)
       INSERT INTO card.member_card_code (crm_id, received_id, card_id, member_no, card_code, begin_time, end_time, discount, out_str,
                                          code_status, received_time, receive_type, create_time, update_time)
       SELECT w.crm_id, w.received_id, w.card_id, w.member_no, t.card_code, w.begin_time, w.end_time, w.discount, w.out_str, 1, $10, 0, $10, $10
         FROM taken t JOIN want w ON w.crm_id = t.crm_id AND w.card_id = t.card_id AND w.slot = t.slot
        ORDER BY w.ord
       RETURNING auto_id, crm_id, received_id, card_id, card_code, ${fmtTime('begin_time', '$11')} AS start_time, ${fmtTime('end_time', '$11')} AS end_time`,
      [
        grants.map((g) => g.crm_id),
        grants.map((g) => g.card_id),
        grants.map((g) => g.slot),
        grants.map((g) => g.member_no),
        grants.map((g) => g.received_id),
        grants.map((g) => g.begin),
        grants.map((g) => g.end),
        grants.map((g) => g.discount),
        grants.map((g) => g.out_str),
        now,
        tz,
        perCard.map((c) => c.crm_id),
        perCard.map((c) => c.card_id),
        perCard.map((c) => c.n),
        members.map((m) => m.crm_id),
        members.map((m) => m.card_id),
        members.map((m) => m.member_no),
        members.map((m) => m.n),
        CardEventKind.CLAIM,
      ],
    );
    // Every slot below next_slot holds a code; anything else is a broken pool, and nothing of this batch may commit.
    if (rows.length !== grants.length) throw new Error(`claim batch: ${grants.length} codes granted but ${rows.length} found in the pool`);
    rows.sort((a, b) => num(a.auto_id) - num(b.auto_id));
    return rows.map((r) => ({
      crm_id: r.crm_id,
      received_id: r.received_id,
      card_id: r.card_id,
      card_code: r.card_code,
      start_time: r.start_time,
      end_time: r.end_time,
    }));
  }

  /** The codes a claim gave, in the order it gave them (the answer a replay repeats). */
  async codesOf(em: EntityManager, crmId: string, receivedId: string, tz: string): Promise<ClaimedCodeView[]> {
    return em.query(
      `SELECT card_id, card_code, ${fmtTime('begin_time', '$3')} AS start_time, ${fmtTime('end_time', '$3')} AS end_time
         FROM card.member_card_code WHERE crm_id = $1 AND received_id = $2 AND receive_type = 0 ORDER BY auto_id`,
      [crmId, receivedId, tz],
    );
  }

  // ---------- reversal of a claim ----------

  /** A claim's receipt, locked: who claimed, through which channel (out_str) and when. */
  async lockReceipt(
    em: EntityManager,
    crmId: string,
    receivedId: string,
  ): Promise<{ member_no: string; out_str: string; received_time: Date; is_reversed: number } | null> {
    const rows: Row[] = await em.query(
      `SELECT member_no, out_str, received_time, is_reversed FROM card.member_receive WHERE crm_id = $1 AND received_id = $2 FOR UPDATE`,
      [crmId, receivedId],
    );
    return (rows[0] as { member_no: string; out_str: string; received_time: Date; is_reversed: number }) ?? null;
  }

  /** The holdings of a claim, locked, in a stable order. */
  async lockReceiptCodes(
    em: EntityManager,
    crmId: string,
    receivedId: string,
  ): Promise<Array<{ auto_id: number; card_id: string; card_code: string; member_no: string; code_status: number }>> {
    const rows: Row[] = await em.query(
      `SELECT auto_id, card_id, card_code, member_no, code_status FROM card.member_card_code
        WHERE crm_id = $1 AND received_id = $2 AND receive_type = 0 AND is_reversed = 0 ORDER BY auto_id FOR UPDATE`,
      [crmId, receivedId],
    );
    return rows.map((r) => ({ ...(r as any), auto_id: num(r.auto_id) }));
  }

  /**
   * Puts the codes of a reversed claim of one card back in its pool: they take the next
   * free slots at the tail (the card row must be locked by the caller).
   */
  async returnToPool(em: EntityManager, crmId: string, cardId: string, codes: string[], firstSlot: number, now: Date): Promise<void> {
    const [, moved] = await em.query(
      `UPDATE card.card_code cc SET slot = $3 + t.ord - 1, card_code_status = 0, member_no = NULL, update_time = $5
         FROM unnest($4::text[]) WITH ORDINALITY AS t(code, ord)
        WHERE cc.crm_id = $1 AND cc.card_id = $2 AND cc.card_code = t.code`,
      [crmId, cardId, firstSlot, codes, now],
    );
    if (moved !== codes.length) throw new Error(`returning ${codes.length} codes of card ${cardId} to the pool moved ${moved}`);
    await em.query(
      `UPDATE card.card_info SET next_slot = next_slot + $3, received_count = received_count - $3, update_time = $4 WHERE crm_id = $1 AND card_id = $2`,
      [crmId, cardId, codes.length, now],
    );
  }

  async markReversed(em: EntityManager, crmId: string, receivedId: string, now: Date): Promise<void> {
    await em.query(`UPDATE card.member_card_code SET is_reversed = 1, update_time = $3 WHERE crm_id = $1 AND received_id = $2 AND receive_type = 0`, [
      crmId,
      receivedId,
      now,
    ]);
    await em.query(`UPDATE card.member_receive SET is_reversed = 1, reversed_time = $3, update_time = $3 WHERE crm_id = $1 AND received_id = $2`, [
      crmId,
      receivedId,
      now,
    ]);
  }

  /** What a received_id was first used with (idempotency). */
  async payloadHash(em: EntityManager, crmId: string, id: string): Promise<string | null> {
    const rows: Row[] = await em.query(`SELECT payload_hash FROM card.member_receive WHERE crm_id = $1 AND received_id = $2`, [crmId, id]);
    return rows[0]?.payload_hash ?? null;
  }
}

export const claimKey = key;
