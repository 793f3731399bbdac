import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CardEventKind, CodeStatus, MemberCodeView, Page, PoolCodeView, PresentView, ReceiveDetailItem, RedeemView } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { OUTBOX_COLUMNS } from '../outbox/outbox.repository';

/**
 * Columns of a member's code as the API answers them. $2 is the zone, $3 the clock's now:
 * a usable code past its end answers status 4 before the sweep has marked it.
 */
const CODE_COLUMNS = `
  m.auto_id, m.crm_id, m.received_id, m.card_id, m.member_no, m.card_code, m.out_str, m.receive_type, m.is_reversed,
  CASE WHEN m.is_reversed = 1 THEN ${CodeStatus.REVERSED}
       WHEN m.code_status = ${CodeStatus.USABLE} AND m.end_time < $3 THEN ${CodeStatus.EXPIRED}
       ELSE m.code_status END AS code_status,
  ${fmtTime('m.begin_time', '$2')} AS start_time, ${fmtTime('m.end_time', '$2')} AS end_time_s,
  ${fmtTime('m.received_time', '$2')} AS received_time, ${fmtTime('m.redeem_time', '$2')} AS redeem_time,
  ${fmtTime('m.present_time', '$2')} AS present_time, ${fmtTime('coalesce(m.expired_time, m.end_time)', '$2')} AS expired_time,
  ${fmtTime('m.obsoleted_time', '$2')} AS obsoleted_time,
  ${fmtTime('m.create_time', '$2')} AS create_time, ${fmtTime('m.update_time', '$2')} AS update_time`;

type Row = Record<string, any>;

function toCodeView(r: Row): MemberCodeView {
  return {
    auto_id: num(r.auto_id),
    crm_id: r.crm_id,
    instance_id: r.crm_id,
    received_id: r.received_id,
    card_id: r.card_id,
    member_no: r.member_no,
    card_code: r.card_code,
    start_time: r.start_time,
    end_time: r.end_time_s,
    out_str: r.out_str,
    code_status: r.code_status,
    received_time: r.received_time,
    redeem_time: r.redeem_time,
    present_time: r.present_time,
    expired_time: r.expired_time,
    obsoleted_time: r.obsoleted_time,
    receive_type: r.receive_type,
    is_reversed: r.is_reversed,
    create_time: r.create_time,
    update_time: r.update_time,
  };
}

const PRESENT_COLUMNS = `
  p.auto_id, p.crm_id, p.from_member_no, p.to_member_no, p.card_id, p.card_code, p.present_id, p.present_extra,
  ${fmtTime('p.present_time', '$2')} AS present_time, ${fmtTime('p.received_time', '$2')} AS received_time,
  ${fmtTime('p.go_back_time', '$2')} AS go_back_time, ${fmtTime('p.create_time', '$2')} AS create_time,
  ${fmtTime('p.update_time', '$2')} AS update_time`;

const toPresentView = (r: Row): PresentView => ({ ...(r as PresentView), auto_id: num(r.auto_id), instance_id: r.crm_id });

const REDEEM_COLUMNS = `
  r.auto_id, r.crm_id, r.redeem_id, r.card_id, r.member_no, r.card_code, r.redeem_channel, r.redeem_extra, r.rollback_status,
  ${fmtTime('r.redeem_time', '$2')} AS redeem_time, ${fmtTime('r.rollback_time', '$2')} AS rollback_time`;

const toRedeemView = (r: Row): RedeemView => ({ ...(r as RedeemView), auto_id: num(r.auto_id) });

/** A member's code row locked for a state change, with what its card says about it. */
export interface Holding {
  auto_id: number;
  crm_id: string;
  received_id: string;
  card_id: string;
  member_no: string;
  card_code: string;
  code_status: number;
  begin_time: Date;
  end_time: Date | null;
  out_str: string;
  discount: string | null;
  can_give_friend: boolean;
  use_limit: number;
  get_limit: number;
  weekdays: string | null;
  monthdays: string | null;
  day_begin_time: number | null;
  day_end_time: number | null;
}

const HOLDING_COLUMNS = `
  m.auto_id, m.crm_id, m.received_id, m.card_id, m.member_no, m.card_code, m.code_status, m.begin_time, m.end_time,
  m.out_str, m.discount, c.can_give_friend, c.use_limit, c.get_limit, c.weekdays, c.monthdays, c.day_begin_time, c.day_end_time`;

const toHolding = (r: Row): Holding => ({ ...(r as Holding), auto_id: num(r.auto_id) });

/** A live holding: not reversed and not given away (at most one per code). */
const LIVE = `m.is_reversed = 0 AND m.code_status <> ${CodeStatus.GIVEN}`;

/** Every query on what members hold, gift and redeem (single rows; claims in batches are ClaimRepository's). */
@Injectable()
export class MemberRepository {
  constructor(private readonly db: DataSource) {}

  // ---------- reads ----------

  async codesOfReceipt(crmId: string, receivedId: string, tz: string, now: Date): Promise<ReceiveDetailItem[]> {
    const rows: Row[] = await this.db.query(
      `SELECT ${CODE_COLUMNS},
              cc.slot AS pool_slot, cc.card_code_status AS pool_status, cc.member_no AS pool_member_no,
              ${fmtTime('cc.create_time', '$2')} AS pool_create_time, ${fmtTime('cc.update_time', '$2')} AS pool_update_time
         FROM card.member_card_code m
         LEFT JOIN card.card_code cc ON cc.crm_id = m.crm_id AND cc.card_id = m.card_id AND cc.card_code = m.card_code
        WHERE m.crm_id = $1 AND m.received_id = $4 AND m.receive_type = 0
        ORDER BY m.auto_id`,
      [crmId, tz, now, receivedId],
    );
    return rows.map((r) => ({
      card_code: {
        auto_id: num(r.pool_slot),
        crm_id: r.crm_id,
        card_code: r.card_code,
        card_id: r.card_id,
        member_no: r.pool_member_no,
        card_code_status: num(r.pool_status),
        // The original kept a card's claimable codes pre-loaded in Redis (1 = taken from there).
        // Here the claim pool is the card's slots in card.card_code: 1 when the code has its
        // slot there (every claimed code came out of it), 0 when no pool row holds it.
        card_code_preuse_status: r.pool_slot === null ? 0 : 1,
        create_time: r.pool_create_time,
        update_time: r.pool_update_time,
      } satisfies PoolCodeView,
      card_info: toCodeView(r),
    }));
  }

  async listCodes(crmId: string, memberNo: string, status: number | undefined, page: number, size: number, tz: string, now: Date): Promise<Page<MemberCodeView>> {
    const where = [`m.crm_id = $1`, `m.member_no = $4`, status === CodeStatus.REVERSED ? `m.is_reversed = 1` : `m.is_reversed = 0`];
    // Reads answer what a code is now: a usable code past its end is expired before the sweep marks it.
    if (status === CodeStatus.USABLE) where.push(`m.code_status = ${CodeStatus.USABLE} AND (m.end_time IS NULL OR m.end_time >= $3)`);
    else if (status === CodeStatus.EXPIRED) where.push(`(m.code_status = ${CodeStatus.EXPIRED} OR (m.code_status = ${CodeStatus.USABLE} AND m.end_time < $3))`);
    else if (status !== undefined && status !== CodeStatus.REVERSED) where.push(`m.code_status = ${Number(status)}`);
    const filter = where.join(' AND ');
    const [{ total }] = await this.db.query(
      `SELECT count(*)::int AS total FROM card.member_card_code m WHERE ${filter} AND $2::text IS NOT NULL AND $3::timestamptz IS NOT NULL`,
      [crmId, tz, now, memberNo],
    );
    const rows: Row[] = await this.db.query(
      `SELECT ${CODE_COLUMNS} FROM card.member_card_code m WHERE ${filter} ORDER BY m.auto_id DESC LIMIT $5 OFFSET $6`,
      [crmId, tz, now, memberNo, size, (page - 1) * size],
    );
    return { total, result: rows.map(toCodeView) };
  }

  /** One code of a member: the row of that claim (or gift) when received_id is given, else the member's latest row of it. */
  async findCode(crmId: string, memberNo: string, cardId: string, cardCode: string, receivedId: string | undefined, tz: string, now: Date): Promise<MemberCodeView | null> {
    const rows: Row[] = await this.db.query(
      `SELECT ${CODE_COLUMNS} FROM card.member_card_code m
        WHERE m.crm_id = $1 AND m.member_no = $4 AND m.card_id = $5 AND m.card_code = $6 AND ($7::text IS NULL OR m.received_id = $7)
        ORDER BY (${LIVE}) DESC, m.auto_id DESC LIMIT 1`,
      [crmId, tz, now, memberNo, cardId, cardCode, receivedId ?? null],
    );
    return rows.length ? toCodeView(rows[0]) : null;
  }

  async codeById(em: EntityManager, crmId: string, autoId: number, tz: string, now: Date): Promise<MemberCodeView> {
    const rows: Row[] = await em.query(`SELECT ${CODE_COLUMNS} FROM card.member_card_code m WHERE m.crm_id = $1 AND m.auto_id = $4`, [crmId, tz, now, autoId]);
    return toCodeView(rows[0]);
  }

  async present(crmId: string, presentId: string, tz: string, em: EntityManager = this.db.manager): Promise<PresentView | null> {
    const rows: Row[] = await em.query(`SELECT ${PRESENT_COLUMNS} FROM card.member_present p WHERE p.crm_id = $1 AND p.present_id = $3`, [crmId, tz, presentId]);
    return rows.length ? toPresentView(rows[0]) : null;
  }

  async listPresents(crmId: string, memberNo: string | undefined, received: number | undefined, page: number, size: number, tz: string): Promise<Page<PresentView>> {
    const where = [`p.crm_id = $1`, `($3::text IS NULL OR p.from_member_no = $3)`];
    if (received === 1) where.push(`p.received_time IS NOT NULL`);
    if (received === 0) where.push(`p.received_time IS NULL`);
    const filter = where.join(' AND ');
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM card.member_present p WHERE ${filter} AND $2::text IS NOT NULL`, [crmId, tz, memberNo ?? null]);
    const rows: Row[] = await this.db.query(
      `SELECT ${PRESENT_COLUMNS} FROM card.member_present p WHERE ${filter} ORDER BY p.auto_id DESC LIMIT $4 OFFSET $5`,
      [crmId, tz, memberNo ?? null, size, (page - 1) * size],
    );
    return { total, result: rows.map(toPresentView) };
  }

  async redeemRecord(crmId: string, redeemId: string, tz: string, em: EntityManager = this.db.manager): Promise<RedeemView | null> {
    const rows: Row[] = await em.query(`SELECT ${REDEEM_COLUMNS} FROM card.member_redeem r WHERE r.crm_id = $1 AND r.redeem_id = $3`, [crmId, tz, redeemId]);
    return rows.length ? toRedeemView(rows[0]) : null;
  }

  async payloadHashOf(table: 'member_present' | 'member_redeem' | 'member_receive', key: 'present_id' | 'redeem_id' | 'received_id', crmId: string, id: string): Promise<string | null> {
    const rows = await this.db.query(`SELECT payload_hash FROM card.${table} WHERE crm_id = $1 AND ${key} = $2`, [crmId, id]);
    return rows[0]?.payload_hash ?? null;
  }

  // ---------- locks ----------

  /** The member's live row of a code, locked, with its card's rules; null when the member holds no such code. */
  async lockHolding(em: EntityManager, crmId: string, memberNo: string, cardId: string, cardCode: string): Promise<Holding | null> {
    const rows: Row[] = await em.query(
      `SELECT ${HOLDING_COLUMNS} FROM card.member_card_code m JOIN card.card_info c ON c.crm_id = m.crm_id AND c.card_id = m.card_id
        WHERE m.crm_id = $1 AND m.card_code = $2 AND ${LIVE} AND m.member_no = $3 AND m.card_id = $4
        FOR UPDATE OF m`,
      [crmId, cardCode, memberNo, cardId],
    );
    return rows.length ? toHolding(rows[0]) : null;
  }

  async lockHoldingById(em: EntityManager, crmId: string, autoId: number): Promise<Holding> {
    const rows: Row[] = await em.query(
      `SELECT ${HOLDING_COLUMNS} FROM card.member_card_code m JOIN card.card_info c ON c.crm_id = m.crm_id AND c.card_id = m.card_id
        WHERE m.crm_id = $1 AND m.auto_id = $2 FOR UPDATE OF m`,
      [crmId, autoId],
    );
    return toHolding(rows[0]);
  }

  /** The holdings of a claim, locked, in a stable order. */
  async lockReceiptCodes(em: EntityManager, crmId: string, receivedId: string): Promise<Array<{ auto_id: number; card_id: string; card_code: string; member_no: string; code_status: number }>> {
    const rows: Row[] = await em.query(
      `SELECT auto_id, card_id, card_code, member_no, code_status FROM card.member_card_code
        WHERE crm_id = $1 AND received_id = $2 AND receive_type = 0 AND is_reversed = 0 ORDER BY auto_id FOR UPDATE`,
      [crmId, receivedId],
    );
    return rows.map((r) => ({ ...(r as any), auto_id: num(r.auto_id) }));
  }

  /** A claim's receipt, locked: who claimed, through which channel (out_str) and when. */
  async lockReceipt(em: EntityManager, crmId: string, receivedId: string): Promise<{ member_no: string; out_str: string; received_time: Date; is_reversed: number } | null> {
    const rows: Row[] = await em.query(
      `SELECT member_no, out_str, received_time, is_reversed FROM card.member_receive WHERE crm_id = $1 AND received_id = $2 FOR UPDATE`,
      [crmId, receivedId],
    );
    return (rows[0] as { member_no: string; out_str: string; received_time: Date; is_reversed: number }) ?? null;
  }

  async lockPresent(em: EntityManager, crmId: string, presentId: string): Promise<{ from_member_no: string; to_member_no: string | null; from_holder_id: number; present_time: Date; received_time: Date | null; go_back_time: Date | null } | null> {
    const rows: Row[] = await em.query(
      `SELECT from_member_no, to_member_no, from_holder_id, present_time, received_time, go_back_time FROM card.member_present
        WHERE crm_id = $1 AND present_id = $2 FOR UPDATE`,
      [crmId, presentId],
    );
    return rows.length ? ({ ...rows[0], from_holder_id: num(rows[0].from_holder_id) } as any) : null;
  }

  /** A redemption, locked, with its channel and time (a reversal counts against them). */
  async lockRedeem(
    em: EntityManager,
    crmId: string,
    redeemId: string,
  ): Promise<{ holder_id: number; card_id: string; member_no: string; redeem_channel: string; redeem_time: Date; rollback_status: number } | null> {
    const rows: Row[] = await em.query(
      `SELECT holder_id, card_id, member_no, redeem_channel, redeem_time, rollback_status FROM card.member_redeem WHERE crm_id = $1 AND redeem_id = $2 FOR UPDATE`,
      [crmId, redeemId],
    );
    return rows.length ? ({ ...rows[0], holder_id: num(rows[0].holder_id) } as any) : null;
  }

  /** Locks a card row (claims and reversals of it take turns on this lock). */
  async lockCard(em: EntityManager, crmId: string, cardId: string): Promise<{ next_slot: number; get_limit: number } | null> {
    const rows: Row[] = await em.query(`SELECT next_slot, get_limit FROM card.card_info WHERE crm_id = $1 AND card_id = $2 FOR UPDATE`, [crmId, cardId]);
    return rows.length ? { next_slot: num(rows[0].next_slot), get_limit: rows[0].get_limit } : null;
  }

  async memberRecord(em: EntityManager, crmId: string, cardId: string, memberNo: string, lock = false): Promise<{ received_sum: number; used_sum: number }> {
    const rows: Row[] = await em.query(
      `SELECT received_sum, used_sum FROM card.member_card_record WHERE crm_id = $1 AND card_id = $2 AND member_no = $3 ${lock ? 'FOR UPDATE' : ''}`,
      [crmId, cardId, memberNo],
    );
    return rows.length ? { received_sum: rows[0].received_sum, used_sum: rows[0].used_sum } : { received_sum: 0, used_sum: 0 };
  }

  // ---------- writes ----------

  /**
   * Moves a holding to `status` and sets the given time columns (null clears one);
   * `expired` stamps expired_time with the code's own end.
   */
  async setStatus(
    em: EntityManager,
    crmId: string,
    autoId: number,
    status: number,
    now: Date,
    times: Partial<Record<'redeem_time' | 'present_time' | 'obsoleted_time', Date | null>> & { expired?: boolean } = {},
  ): Promise<void> {
    const sets = ['code_status = $3', 'update_time = $4'];
    const params: unknown[] = [crmId, autoId, status, now];
    for (const column of ['redeem_time', 'present_time', 'obsoleted_time'] as const) {
      if (times[column] === undefined) continue;
      params.push(times[column]);
      sets.push(`${column} = $${params.length}`);
    }
    if (times.expired) sets.push('expired_time = end_time');
    await em.query(`UPDATE card.member_card_code SET ${sets.join(', ')} WHERE crm_id = $1 AND auto_id = $2`, params);
  }

  /** Adds to a member's counts of a card (a negative delta gives back). */
  async addToRecord(em: EntityManager, crmId: string, cardId: string, memberNo: string, received: number, used: number, now: Date): Promise<void> {
    await em.query(
      `INSERT INTO card.member_card_record (crm_id, card_id, member_no, received_sum, used_sum, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (crm_id, card_id, member_no) DO UPDATE
         SET received_sum = card.member_card_record.received_sum + $4, used_sum = card.member_card_record.used_sum + $5, update_time = $6`,
      [crmId, cardId, memberNo, received, used, now],
    );
  }

  async insertPresent(em: EntityManager, p: { crm_id: string; present_id: string; h: Holding; extra: string; hash: string; now: Date }): Promise<boolean> {
    const rows = await em.query(
      `INSERT INTO card.member_present (crm_id, present_id, card_id, card_code, from_member_no, from_holder_id, present_extra, payload_hash, present_time, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9) ON CONFLICT (crm_id, present_id) DO NOTHING RETURNING auto_id`,
      [p.crm_id, p.present_id, p.h.card_id, p.h.card_code, p.h.member_no, p.h.auto_id, p.extra, p.hash, p.now],
    );
    return rows.length > 0;
  }

  async acceptPresent(em: EntityManager, crmId: string, presentId: string, toMember: string, now: Date): Promise<void> {
    await em.query(`UPDATE card.member_present SET to_member_no = $3, received_time = $4, update_time = $4 WHERE crm_id = $1 AND present_id = $2`, [crmId, presentId, toMember, now]);
  }

  /** The friend's row of an accepted gift: a new holding of the same code and validity (received_id = present_id). */
  async insertGiftHolding(em: EntityManager, h: Holding, presentId: string, toMember: string, now: Date): Promise<number> {
    const rows: Row[] = await em.query(
      `INSERT INTO card.member_card_code (crm_id, received_id, card_id, member_no, card_code, begin_time, end_time, discount, out_str,
                                          code_status, received_time, receive_type, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${CodeStatus.USABLE}, $10, 1, $10, $10) RETURNING auto_id`,
      [h.crm_id, presentId, h.card_id, toMember, h.card_code, h.begin_time, h.end_time, h.discount, h.out_str, now],
    );
    await em.query(`UPDATE card.card_code SET member_no = $4, update_time = $5 WHERE crm_id = $1 AND card_id = $2 AND card_code = $3`, [h.crm_id, h.card_id, h.card_code, toMember, now]);
    return num(rows[0].auto_id);
  }

  async insertRedeem(em: EntityManager, r: { crm_id: string; redeem_id: string; h: Holding; channel: string; extra: string; hash: string; now: Date }): Promise<boolean> {
    const rows = await em.query(
      `INSERT INTO card.member_redeem (crm_id, redeem_id, card_id, member_no, card_code, holder_id, redeem_channel, redeem_extra, payload_hash, redeem_time, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10) ON CONFLICT (crm_id, redeem_id) DO NOTHING RETURNING auto_id`,
      [r.crm_id, r.redeem_id, r.h.card_id, r.h.member_no, r.h.card_code, r.h.auto_id, r.channel, r.extra, r.hash, r.now],
    );
    return rows.length > 0;
  }

  async rollBackRedeem(em: EntityManager, crmId: string, redeemId: string, now: Date): Promise<void> {
    await em.query(`UPDATE card.member_redeem SET rollback_status = 1, rollback_time = $3, update_time = $3 WHERE crm_id = $1 AND redeem_id = $2`, [crmId, redeemId, now]);
  }

  async recordExpired(em: EntityManager, h: Holding, now: Date): Promise<void> {
    await em.query(
      `INSERT INTO card.member_card_expired (crm_id, received_id, member_no, card_id, card_code, expired_time, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [h.crm_id, h.received_id, h.member_no, h.card_id, h.card_code, h.end_time, now],
    );
  }

  async recordObsoleted(em: EntityManager, h: Holding, operator: string, now: Date): Promise<void> {
    await em.query(
      `INSERT INTO card.member_card_obsoleted (crm_id, received_id, member_no, card_id, card_code, obsoleted_time, operator, create_time) VALUES ($1, $2, $3, $4, $5, $6, $7, $6)`,
      [h.crm_id, h.received_id, h.member_no, h.card_id, h.card_code, now, operator],
    );
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
    await em.query(`UPDATE card.member_card_code SET is_reversed = 1, update_time = $3 WHERE crm_id = $1 AND received_id = $2 AND receive_type = 0`, [crmId, receivedId, now]);
    await em.query(`UPDATE card.member_receive SET is_reversed = 1, reversed_time = $3, update_time = $3 WHERE crm_id = $1 AND received_id = $2`, [crmId, receivedId, now]);
  }

  // ---------- sweeps ----------

  /**
   * Marks up to `limit` usable codes past their end as expired; rows another worker holds
   * are skipped. In the same statement: one `expire` card event per (member, card) of the
   * batch, count = its codes (occurred_at = day_of = now, no channel, no ref).
   */
  async expireDue(now: Date, limit: number): Promise<number> {
    const rows = await this.db.query(
      `WITH due AS (
         SELECT crm_id, auto_id FROM card.member_card_code
          WHERE code_status = ${CodeStatus.USABLE} AND is_reversed = 0 AND end_time IS NOT NULL AND end_time < $1
          ORDER BY end_time LIMIT $2 FOR UPDATE SKIP LOCKED),
       done AS (
         UPDATE card.member_card_code m SET code_status = ${CodeStatus.EXPIRED}, expired_time = m.end_time, update_time = $1
           FROM due WHERE m.crm_id = due.crm_id AND m.auto_id = due.auto_id
         RETURNING m.crm_id, m.received_id, m.member_no, m.card_id, m.card_code, m.end_time),
       events AS (
         INSERT INTO card.outbox (${OUTBOX_COLUMNS})
         SELECT d.crm_id, $3, d.card_id, c.title, d.member_no, count(*)::int, NULL, $1, $1, NULL
           FROM done d JOIN card.card_info c ON c.crm_id = d.crm_id AND c.card_id = d.card_id
          GROUP BY d.crm_id, d.card_id, d.member_no, c.title
          ORDER BY d.crm_id, d.card_id, d.member_no
         RETURNING 1)
       INSERT INTO card.member_card_expired (crm_id, received_id, member_no, card_id, card_code, expired_time, create_time)
       SELECT crm_id, received_id, member_no, card_id, card_code, end_time, $1 FROM done RETURNING 1`,
      [now, limit, CardEventKind.EXPIRE],
    );
    return rows.length;
  }

  /**
   * Sends up to `limit` gifts made before `before` and not accepted back to their givers.
   * In the same statement: one `gift_return` card event per gift (member_no = the giver,
   * ref = present_id, occurred_at = day_of = now).
   */
  async returnDueGifts(now: Date, before: Date, limit: number): Promise<number> {
    const rows = await this.db.query(
      `WITH due AS (
         SELECT crm_id, present_id FROM card.member_present
          WHERE received_time IS NULL AND go_back_time IS NULL AND present_time < $2
          ORDER BY present_time LIMIT $3 FOR UPDATE SKIP LOCKED),
       back AS (
         UPDATE card.member_present p SET go_back_time = $1, update_time = $1
           FROM due WHERE p.crm_id = due.crm_id AND p.present_id = due.present_id
         RETURNING p.crm_id, p.from_holder_id, p.present_id, p.card_id, p.from_member_no, p.present_time),
       given_back AS (
         UPDATE card.member_card_code m SET code_status = ${CodeStatus.USABLE}, update_time = $1
           FROM back WHERE m.crm_id = back.crm_id AND m.auto_id = back.from_holder_id AND m.code_status = ${CodeStatus.GIFTING}
         RETURNING 1),
       events AS (
         INSERT INTO card.outbox (${OUTBOX_COLUMNS})
         SELECT b.crm_id, $4, b.card_id, c.title, b.from_member_no, 1, NULL, $1, $1, b.present_id
           FROM back b JOIN card.card_info c ON c.crm_id = b.crm_id AND c.card_id = b.card_id
          ORDER BY b.present_time
         RETURNING 1)
       SELECT count(*)::int AS n FROM back`,
      [now, before, limit, CardEventKind.GIFT_RETURN],
    );
    return rows[0].n;
  }
}
