import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CardEventKind, CodeStatus, MemberCodeView, Page, PoolCodeView, ReceiveDetailItem } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { OUTBOX_COLUMNS } from '../outbox/outbox.repository';
import { WEBHOOK_OUTBOX_COLUMNS, webhookDataSql, webhookTypeSql } from '../outbox/webhook-outbox.sql';

type Row = Record<string, any>;

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

/**
 * What members hold: their codes (reads, locks, status changes, expiry) and their counts
 * per card. Every method that takes part in a transaction takes it as its first argument.
 */
@Injectable()
export class CodeRepository {
  constructor(private readonly db: DataSource) {}

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

  async listCodes(
    crmId: string,
    memberNo: string,
    status: number | undefined,
    page: number,
    size: number,
    tz: string,
    now: Date,
  ): Promise<Page<MemberCodeView>> {
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
    const rows: Row[] = await this.db.query(`SELECT ${CODE_COLUMNS} FROM card.member_card_code m WHERE ${filter} ORDER BY m.auto_id DESC LIMIT $5 OFFSET $6`, [
      crmId,
      tz,
      now,
      memberNo,
      size,
      (page - 1) * size,
    ]);
    return { total, result: rows.map(toCodeView) };
  }

  /** One code of a member: the row of that claim (or gift) when received_id is given, else the member's latest row of it. */
  async findCode(
    crmId: string,
    memberNo: string,
    cardId: string,
    cardCode: string,
    receivedId: string | undefined,
    tz: string,
    now: Date,
  ): Promise<MemberCodeView | null> {
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
       expired AS (
         SELECT d.crm_id, d.card_id, d.member_no, c.title, count(*)::int AS n, array_agg(d.card_code ORDER BY d.card_code) AS codes
           FROM done d JOIN card.card_info c ON c.crm_id = d.crm_id AND c.card_id = d.card_id
          GROUP BY d.crm_id, d.card_id, d.member_no, c.title),
       events AS (
         INSERT INTO card.outbox (${OUTBOX_COLUMNS})
         SELECT crm_id, $3, card_id, title, member_no, n, NULL, $1, $1, NULL FROM expired ORDER BY crm_id, card_id, member_no
         RETURNING 1),
       hooks AS (
         INSERT INTO card.webhook_outbox (${WEBHOOK_OUTBOX_COLUMNS})
         SELECT crm_id, ${webhookTypeSql(`'${CardEventKind.EXPIRE}'`)}, member_no, $1,
                ${webhookDataSql({ kind: `'${CardEventKind.EXPIRE}'`, card_id: 'card_id', title: 'title', member_no: 'member_no', count: 'n', channel: 'NULL', ref: 'NULL', extra: `jsonb_build_object('codes', to_jsonb(codes))` })}
           FROM expired ORDER BY crm_id, card_id, member_no
         RETURNING 1)
       INSERT INTO card.member_card_expired (crm_id, received_id, member_no, card_id, card_code, expired_time, create_time)
       SELECT crm_id, received_id, member_no, card_id, card_code, end_time, $1 FROM done RETURNING 1`,
      [now, limit, CardEventKind.EXPIRE],
    );
    return rows.length;
  }
}
