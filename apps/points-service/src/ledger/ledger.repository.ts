import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { HistoryMsg, Page, PointsEventView, PointsSummaryView } from '@app/domain';
import { fmtTime, num, numOrNull } from '@app/platform';
import { LEDGER_SQL, spendableLot } from './ledger.sql';

/** A journal row to write. Amounts are decimal text, never binary floating point. */
export interface NewEvent {
  crm_id: string;
  event_no: string;
  member_no: string;
  event_type: string;
  points: string;
  event_at: Date;
  expire_time: Date | null;
  unfreeze_time: Date | null;
  action_scene: string | null;
  store_code: string | null;
  cost_center: string | null;
  campaign_code: string | null;
  operator: string | null;
  event_desc: string | null;
  order_items: unknown;
  origin_event_no: string | null;
  /** The earning rule that gave the points (by_rule). */
  rule_id?: number | null;
  /** A transfer's trans_type, kept as given (transfer rows only). */
  trans_type?: string | null;
  payload_hash: string;
}

/** A transfer waiting for (or done with) its receiver. */
export interface TransferRow {
  transfer_no: string;
  from_user: string;
  to_user: string;
  points: string;
  out_event_id: number;
  status: 'pending' | 'accepted' | 'returned';
  create_time: Date;
  /** As the sender gave it (kept on the transfer_out row). */
  trans_type: string | null;
}

/** An event another one refers to (a reversal's origin), locked. Amounts as decimal text. */
export interface OriginEvent {
  auto_id: number;
  member_no: string;
  event_type: string;
  points: string;
  /** What is left to reverse: points - reversed_points. */
  open: string;
}

type Row = Record<string, any>;

/** $2 is the zone in every query that formats times. */
export const EVENT_COLUMNS = `
  e.auto_id, e.crm_id, e.member_no, e.event_no, e.origin_event_no, e.from_transfer_no, e.action_scene, e.event_type,
  e.reverse_status, e.points, e.store_code, e.cost_center, e.campaign_code, e.operator, e.event_desc, e.order_items, e.trans_type,
  CASE WHEN jsonb_typeof(e.order_items -> 'pay_amount') = 'number' THEN (e.order_items ->> 'pay_amount')::numeric END AS amount,
  ${fmtTime('e.event_at', '$2')} AS event_at, ${fmtTime('e.expire_time', '$2')} AS expire_time,
  ${fmtTime('e.unfreeze_time', '$2')} AS unfreeze_time, ${fmtTime('e.create_time', '$2')} AS create_time,
  ${fmtTime('e.update_time', '$2')} AS update_time`;

export const toEventView = (r: Row): PointsEventView => ({ ...(r as PointsEventView), auto_id: num(r.auto_id), points: num(r.points), amount: numOrNull(r.amount) });

/** Every query of the ledger. */
@Injectable()
export class LedgerRepository {
  constructor(private readonly db: DataSource) {}

  /** Creates the member's row if needed and locks it: every change of a member's points takes this lock first. */
  async lockMember(em: EntityManager, crmId: string, memberNo: string, now: Date): Promise<void> {
    await em.query(LEDGER_SQL.lockMember, [crmId, memberNo, now]);
  }

  async payloadHash(crmId: string, eventNo: string, em: EntityManager = this.db.manager): Promise<string | null> {
    const rows = await em.query(LEDGER_SQL.payloadHash, [crmId, eventNo]);
    return rows[0]?.payload_hash ?? null;
  }

  /** Writes the journal row; null when the event_no is recorded already (waits for a concurrent writer of it to finish). */
  async insertEvent(em: EntityManager, e: NewEvent, now: Date, fromTransferNo: string | null = null): Promise<number | null> {
    const rows = await em.query(
      LEDGER_SQL.insertEvent,
      [
        e.crm_id, e.event_no, e.member_no, e.event_type, e.points, e.event_at, e.expire_time, e.unfreeze_time, e.action_scene,
        e.store_code, e.cost_center, e.campaign_code, e.operator, e.event_desc, e.order_items === undefined || e.order_items === null ? null : JSON.stringify(e.order_items), e.payload_hash, now,
        e.origin_event_no, fromTransferNo, e.rule_id ?? null, e.trans_type ?? null,
      ],
    );
    return rows.length ? num(rows[0].auto_id) : null;
  }

  /** An earn: a new lot, and the member's total. A debt the member owes is paid from it first. */
  async addLot(em: EntityManager, e: NewEvent, now: Date): Promise<void> {
    const [{ paid }] = await em.query(
      LEDGER_SQL.debtPaid,
      [e.crm_id, e.member_no, e.points],
    );
    await em.query(
      LEDGER_SQL.insertLot,
      [e.crm_id, e.member_no, e.event_no, e.points, e.expire_time, e.unfreeze_time, now, paid],
    );
    await em.query(
      LEDGER_SQL.addTotal,
      [e.crm_id, e.member_no, e.points, now, paid],
    );
  }

  /** Points the member can spend at `now` (unfrozen, unexpired lots, less any debt), and whether that covers `points`. */
  async spendable(em: EntityManager, crmId: string, memberNo: string, now: Date, points: string): Promise<{ available: string; enough: boolean }> {
    const [row] = await em.query(
      LEDGER_SQL.spendable,
      [crmId, memberNo, now, points],
    );
    return { available: row.available, enough: row.enough };
  }

  /**
   * Takes up to `points` from the member's spendable lots, soonest expiry first (lots that
   * never expire last), recording each lot taken from under `eventId`. `exact`: it must
   * be all of it (the caller has checked).
   */
  private async takeFifo(em: EntityManager, crmId: string, memberNo: string, eventId: number, points: string, now: Date, exact: boolean): Promise<Array<{ n: string; expire_time: Date | null }>> {
    const rows: Array<{ n: string; expire_time: Date | null }> = await em.query(
      LEDGER_SQL.takeFifo,
      [crmId, memberNo, now, points, eventId],
    );
    if (!exact) return rows;
    const [{ ok }] = await em.query(LEDGER_SQL.takenAll, [points, rows.map((r) => r.n)]);
    if (!ok) throw new Error(`event ${eventId}: took ${rows.map((r) => r.n).join('+')} for ${points}`);
    return rows;
  }

  /**
   * A transfer: takes `points` from the sender's spendable lots (soonest expiry first) and
   * gives the receiver one lot per piece, with the expiry of the lot it came from. The
   * sender's used points and the receiver's total grow; a debt of the receiver is paid
   * from what arrives. Both members' locks are held by the caller.
   */
  async transfer(em: EntityManager, crmId: string, from: string, to: string, outId: number, inEventNo: string, points: string, now: Date): Promise<void> {
    const pieces = await this.takeFifo(em, crmId, from, outId, points, now, true);
    await em.query(LEDGER_SQL.addUsed, [crmId, from, points, now]);
    await this.receiveLots(em, crmId, to, inEventNo, pieces, points, now);
  }

  /** Adds to a member's used points (a negative amount as "-x" takes off). */
  async addUsed(em: EntityManager, crmId: string, memberNo: string, points: string, now: Date): Promise<void> {
    await em.query(LEDGER_SQL.addUsed, [crmId, memberNo, points, now]);
  }

  /** Holds a transfer's points: taken from the sender's spendable lots (soonest expiry first) and counted as used until returned. */
  async holdTransfer(em: EntityManager, crmId: string, from: string, outId: number, points: string, now: Date): Promise<void> {
    await this.takeFifo(em, crmId, from, outId, points, now, true);
    await em.query(LEDGER_SQL.addUsed, [crmId, from, points, now]);
  }

  /**
   * The receiver's side of a transfer: one lot per piece, with the expiry of the lot it
   * came from; a debt of the receiver is paid from them first; the total grows.
   */
  async receiveLots(em: EntityManager, crmId: string, to: string, inEventNo: string, pieces: Array<{ n: string; expire_time: Date | null }>, points: string, now: Date): Promise<void> {
    const [{ paid }] = await em.query(
      `WITH d AS (SELECT debt_points FROM points.member WHERE crm_id = $1 AND member_no = $2),
       p AS (SELECT t.n, t.ord, sum(t.n) OVER (ORDER BY t.ord) AS upto
               FROM unnest($3::numeric[]) WITH ORDINALITY AS t(n, ord)),
       pay AS (SELECT p.ord, LEAST(p.n, GREATEST(d.debt_points - (p.upto - p.n), 0)) AS paid FROM p, d),
       lots AS (
         INSERT INTO points.lot (crm_id, member_no, event_no, amount, remaining, expire_time, create_time)
         SELECT $1, $2, $5, p.n, p.n - pay.paid, (($4::timestamptz[])[p.ord::int]), $6 FROM p JOIN pay USING (ord) RETURNING 1)
       SELECT coalesce(sum(paid), 0)::text AS paid FROM pay`,
      [crmId, to, pieces.map((p) => p.n), pieces.map((p) => p.expire_time), inEventNo, now],
    );
    await em.query(
      `UPDATE points.member SET total_points = total_points + $3::numeric, debt_points = debt_points - $5::numeric, update_time = $4
        WHERE crm_id = $1 AND member_no = $2`,
      [crmId, to, points, now, paid],
    );
  }

  /** What a held transfer took, piece by piece, with the expiry of each lot (soonest first). */
  async heldPieces(em: EntityManager, crmId: string, outId: number): Promise<Array<{ n: string; expire_time: Date | null }>> {
    return em.query(
      `SELECT (a.points - a.returned)::text AS n, l.expire_time
         FROM points.allocation a JOIN points.lot l ON l.crm_id = a.crm_id AND l.lot_id = a.lot_id
        WHERE a.crm_id = $1 AND a.event_id = $2 AND a.points > a.returned
        ORDER BY l.expire_time ASC NULLS LAST, a.lot_id`,
      [crmId, outId],
    );
  }

  async findTransfer(crmId: string, transferNo: string, em: EntityManager = this.db.manager, lock = false): Promise<TransferRow | null> {
    const rows: Row[] = await em.query(
      `SELECT t.transfer_no, t.from_user, t.to_user, t.points::text AS points, t.out_event_id, t.status, t.create_time, e.trans_type
         FROM points.transfer t JOIN points.event e ON e.crm_id = t.crm_id AND e.auto_id = t.out_event_id
        WHERE t.crm_id = $1 AND t.transfer_no = $2 ${lock ? 'FOR UPDATE OF t' : ''}`,
      [crmId, transferNo],
    );
    return rows.length ? { ...(rows[0] as TransferRow), out_event_id: num(rows[0].out_event_id) } : null;
  }

  async insertTransfer(em: EntityManager, crmId: string, t: { transfer_no: string; from_user: string; to_user: string; points: string; out_event_id: number }, now: Date): Promise<void> {
    await em.query(
      `INSERT INTO points.transfer (crm_id, transfer_no, from_user, to_user, points, out_event_id, create_time) VALUES ($1, $2, $3, $4, $5::numeric, $6, $7)`,
      [crmId, t.transfer_no, t.from_user, t.to_user, t.points, t.out_event_id, now],
    );
  }

  async closeTransfer(em: EntityManager, crmId: string, transferNo: string, status: 'accepted' | 'returned', now: Date): Promise<void> {
    await em.query(
      `UPDATE points.transfer SET status = $3, ${status === 'accepted' ? 'accept_time' : 'return_time'} = $4 WHERE crm_id = $1 AND transfer_no = $2`,
      [crmId, transferNo, status, now],
    );
  }

  /** Pending transfers made before `before` (for the return sweep). */
  async dueTransfers(before: Date, limit: number): Promise<Array<{ crm_id: string; transfer_no: string }>> {
    return this.db.query(
      `SELECT crm_id, transfer_no FROM points.transfer WHERE status = 'pending' AND create_time < $1 ORDER BY create_time LIMIT $2`,
      [before, limit],
    );
  }

  /**
   * Expiry sweep: lots past their expiry with points left get one `expired` history row
   * each (event_no `exp#<lot_id>`), in a batch; lots another worker holds are skipped.
   * The points stay in the lot (the summary counts them as expired by time already).
   */
  async expireDue(now: Date, limit: number): Promise<number> {
    const rows = await this.db.query(
      `WITH due AS (
         SELECT crm_id, lot_id FROM points.lot
          WHERE expired_at IS NULL AND remaining > 0 AND expire_time IS NOT NULL AND expire_time <= $1
          ORDER BY expire_time LIMIT $2 FOR UPDATE SKIP LOCKED),
       marked AS (
         UPDATE points.lot l SET expired_at = $1 FROM due WHERE l.crm_id = due.crm_id AND l.lot_id = due.lot_id
         RETURNING l.crm_id, l.lot_id, l.member_no, l.event_no, l.remaining, l.expire_time)
       INSERT INTO points.event (crm_id, event_no, member_no, event_type, points, event_at, origin_event_no, payload_hash, create_time, update_time)
       SELECT crm_id, 'exp#' || lot_id, member_no, 'expired', remaining, expire_time, event_no, '', $1, $1 FROM marked
       ON CONFLICT (crm_id, event_no) DO NOTHING RETURNING 1`,
      [now, limit],
    );
    return rows.length;
  }

  /**
   * How an earn's reversal of `points` would go, under the member's lock: `own` taken
   * back from the earn's lot (whatever its state), `others` from the member's other
   * spendable lots, `short` left over (a debt, only with allow_negative). `covered`:
   * no debt needed, counting what the member already owes.
   */
  async planTakeBack(em: EntityManager, crmId: string, memberNo: string, originEventNo: string, points: string, now: Date): Promise<{ own: string; others: string; short: string; covered: boolean; available: string }> {
    const [row] = await em.query(
      `WITH s AS (
         SELECT coalesce(sum(l.remaining) FILTER (WHERE l.event_no = $3), 0) AS own_lot,
                coalesce(sum(l.remaining) FILTER (WHERE l.event_no <> $3 AND ${spendableLot('l', '$5')}), 0) AS other_lots,
                (SELECT debt_points FROM points.member WHERE crm_id = $1 AND member_no = $2) AS debt
           FROM points.lot l WHERE l.crm_id = $1 AND l.member_no = $2 AND l.remaining > 0),
       p AS (SELECT LEAST(own_lot, $4::numeric) AS own, $4::numeric - LEAST(own_lot, $4::numeric) AS need, other_lots, debt FROM s)
       SELECT own::text AS own, LEAST(need, other_lots)::text AS others, (need - LEAST(need, other_lots))::text AS short,
              need <= other_lots - debt AS covered, trim_scale(own + other_lots - debt)::text AS available
         FROM p`,
      [crmId, memberNo, originEventNo, points, now],
    );
    return row;
  }

  /** Carries out a planned take-back (see planTakeBack) for reversal `eventId` of `origin`. */
  async takeBack(
    em: EntityManager,
    crmId: string,
    memberNo: string,
    origin: OriginEvent & { event_no: string },
    eventId: number,
    points: string,
    plan: { own: string; others: string; short: string },
    now: Date,
  ): Promise<void> {
    await em.query(
      `WITH o AS (SELECT lot_id FROM points.lot WHERE crm_id = $1 AND member_no = $2 AND event_no = $3),
       u AS (UPDATE points.lot l SET remaining = l.remaining - $4::numeric FROM o WHERE l.crm_id = $1 AND l.lot_id = o.lot_id AND $4::numeric > 0 RETURNING l.lot_id)
       INSERT INTO points.allocation (crm_id, event_id, lot_id, points) SELECT $1, $5, lot_id, $4::numeric FROM u`,
      [crmId, memberNo, origin.event_no, plan.own, eventId],
    );
    await this.takeFifo(em, crmId, memberNo, eventId, plan.others, now, true);
    await em.query(
      `UPDATE points.member SET total_points = total_points - $3::numeric, debt_points = debt_points + $4::numeric, update_time = $5
        WHERE crm_id = $1 AND member_no = $2`,
      [crmId, memberNo, points, plan.short, now],
    );
    await this.markReversed(em, crmId, origin.auto_id, points, now);
  }

  private async markReversed(em: EntityManager, crmId: string, originId: number, points: string, now: Date): Promise<void> {
    await em.query(
      `UPDATE points.event SET reversed_points = reversed_points + $3::numeric,
              reverse_status = CASE WHEN reversed_points + $3::numeric = points THEN 2 ELSE 1 END, update_time = $4
        WHERE crm_id = $1 AND auto_id = $2`,
      [crmId, originId, points, now],
    );
  }

  /** The event a reversal names, locked; null when the tenant has none by that number. */
  async lockOrigin(em: EntityManager, crmId: string, eventNo: string): Promise<OriginEvent | null> {
    const rows: Row[] = await em.query(
      `SELECT auto_id, member_no, event_type, trim_scale(points)::text AS points, trim_scale(points - reversed_points)::text AS open
         FROM points.event WHERE crm_id = $1 AND event_no = $2 FOR UPDATE`,
      [crmId, eventNo],
    );
    return rows.length ? { ...(rows[0] as OriginEvent), auto_id: num(rows[0].auto_id) } : null;
  }

  /** Whether `a` <= `b`, both decimal text (compared by PostgreSQL, exactly). */
  async atMost(em: EntityManager, a: string, b: string): Promise<boolean> {
    const [{ ok }] = await em.query(`SELECT $1::numeric <= $2::numeric AS ok`, [a, b]);
    return ok;
  }

  /**
   * A spend reversed (in part): gives `points` back to the lots the spend took them from,
   * which keep their own expiry; the lots expiring latest first (the reverse of the
   * order they were taken in). Marks the spend reversed and takes the points off the
   * member's used points.
   */
  async giveBack(em: EntityManager, crmId: string, memberNo: string, origin: OriginEvent, points: string, now: Date): Promise<void> {
    await this.returnAllocations(em, crmId, origin.auto_id, points);
    await this.markReversed(em, crmId, origin.auto_id, points, now);
    await em.query(`UPDATE points.member SET used_points = used_points - $3::numeric, update_time = $4 WHERE crm_id = $1 AND member_no = $2`, [
      crmId, memberNo, points, now,
    ]);
  }

  /** Gives `points` back to the lots event `eventId` took them from, the lots expiring latest first. */
  async returnAllocations(em: EntityManager, crmId: string, eventId: number, points: string): Promise<void> {
    const rows: Array<{ n: string }> = await em.query(
      `WITH alloc AS (
         SELECT a.lot_id, a.points - a.returned AS open,
                sum(a.points - a.returned) OVER (ORDER BY l.expire_time DESC NULLS FIRST, a.lot_id DESC) AS upto
           FROM points.allocation a JOIN points.lot l ON l.crm_id = a.crm_id AND l.lot_id = a.lot_id
          WHERE a.crm_id = $1 AND a.event_id = $2 AND a.points > a.returned),
       give AS (SELECT lot_id, LEAST(open, $3::numeric - (upto - open)) AS n FROM alloc WHERE upto - open < $3::numeric),
       lots AS (UPDATE points.lot l SET remaining = l.remaining + give.n FROM give WHERE l.crm_id = $1 AND l.lot_id = give.lot_id RETURNING 1)
       UPDATE points.allocation a SET returned = a.returned + give.n FROM give
        WHERE a.crm_id = $1 AND a.event_id = $2 AND a.lot_id = give.lot_id
       RETURNING give.n::text AS n`,
      [crmId, eventId, points],
    );
    const given: string[] = (Array.isArray(rows[0]) ? (rows[0] as unknown as Array<{ n: string }>) : rows).map((r) => r.n);
    const [{ ok }] = await em.query(LEDGER_SQL.takenAll, [points, given]);
    if (!ok) throw new Error(`giving back event ${eventId}: ${given.join('+')} for ${points}`);
  }

  async event(crmId: string, eventNo: string, tz: string, em: EntityManager = this.db.manager): Promise<PointsEventView | null> {
    const rows: Row[] = await em.query(`SELECT ${EVENT_COLUMNS} FROM points.event e WHERE e.crm_id = $1 AND e.event_no = $3`, [crmId, tz, eventNo]);
    return rows.length ? toEventView(rows[0]) : null;
  }

  /** A member's points at `now`, from the lots (by their times) and the member's counters. */
  async summary(crmId: string, memberNo: string, now: Date, tz: string): Promise<PointsSummaryView> {
    const rows: Row[] = await this.db.query(
      `WITH sums AS (
         SELECT m.detail_id, m.total_points, m.used_points, m.debt_points, m.create_time, m.update_time,
                coalesce(sum(l.remaining) FILTER (WHERE ${spendableLot('l', '$3')}), 0) AS spendable,
                coalesce(sum(l.remaining) FILTER (WHERE (l.expire_time IS NULL OR l.expire_time > $3) AND l.unfreeze_time > $3), 0) AS frozen,
                coalesce(sum(l.remaining) FILTER (WHERE l.expire_time <= $3), 0) AS expired,
                coalesce(sum(l.remaining) FILTER (WHERE l.expire_time > $3 AND l.expire_time <= $3 + interval '7 days'
                                                   AND (l.unfreeze_time IS NULL OR l.unfreeze_time <= $3)), 0) AS soon
           FROM points.member m
           LEFT JOIN points.lot l ON l.crm_id = m.crm_id AND l.member_no = m.member_no AND l.remaining > 0
          WHERE m.crm_id = $1 AND m.member_no = $4
          GROUP BY m.crm_id, m.member_no, m.detail_id)
       -- A debt (an earn reversed with allow_negative after its points were spent) is owed from the active points.
       SELECT detail_id, total_points::text AS total_points, used_points::text AS used_points, frozen::text AS frozen, expired::text AS expired,
              (spendable - debt_points)::text AS active, LEAST(soon, GREATEST(spendable - debt_points, 0))::text AS soon,
              ${fmtTime('create_time', '$2')} AS create_time, ${fmtTime('update_time', '$2')} AS update_time
         FROM sums`,
      [crmId, tz, now, memberNo],
    );
    const r = rows[0];
    return {
      detail_id: r ? num(r.detail_id) : null,
      crm_id: crmId,
      member_no: memberNo,
      total_points: num(r?.total_points),
      freeze_points: num(r?.frozen),
      expired_points: num(r?.expired),
      active_points: num(r?.active),
      used_points: num(r?.used_points),
      future_expired: num(r?.soon),
      create_time: r?.create_time ?? null,
      update_time: r?.update_time ?? null,
    };
  }

  /** The journal, newest first, by the spec's filters; times in the tenant's zone. */
  async history(m: HistoryMsg, tz: string, now: Date): Promise<Page<PointsEventView>> {
    const where = ['e.crm_id = $1'];
    const params: unknown[] = [m.crm_id, tz];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (m.member_no !== undefined) add('e.member_no = ?', m.member_no);
    if (m.search_type === 'transfer') add('e.event_type = ?', 'transfer_out');
    else if (m.search_type === 'accept') {
      // Points received by accepting a transfer: receipts of transfer/direct have no transfer row.
      add(`e.event_type = ? AND EXISTS (SELECT 1 FROM points.transfer t WHERE t.crm_id = e.crm_id AND t.transfer_no = e.from_transfer_no)`, 'transfer_in');
    } else if (m.search_type === 'freeze') {
      // Earns still frozen at the moment asked (as the summary's freeze_points: not unfrozen, not expired, not wholly reversed).
      params.push(now);
      const at = `$${params.length}`;
      where.push(`e.event_type = 'produce' AND e.reverse_status <> 2 AND e.unfreeze_time > ${at} AND (e.expire_time IS NULL OR e.expire_time > ${at})`);
    } else if (m.search_type !== undefined) add('e.event_type = ?', m.search_type);
    if (m.action_scene !== undefined) add('e.action_scene = ?', m.action_scene);
    if (m.campaign_code !== undefined) add('e.campaign_code = ?', m.campaign_code);
    if (m.store_code !== undefined) add('e.store_code = ?', m.store_code);
    if (m.cost_center !== undefined) add('e.cost_center = ?', m.cost_center);
    if (m.start_time !== undefined) add('e.event_at >= (?::timestamp AT TIME ZONE $2)', m.start_time);
    if (m.end_time !== undefined) add('e.event_at < (?::timestamp AT TIME ZONE $2)', m.end_time);
    const filter = where.join(' AND ');
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM points.event e WHERE ${filter} AND $2::text IS NOT NULL`, params);
    const size = m.page_size ?? 20;
    const rows: Row[] = await this.db.query(
      `SELECT ${EVENT_COLUMNS} FROM points.event e WHERE ${filter} ORDER BY e.auto_id DESC LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, size, ((m.page_id ?? 1) - 1) * size],
    );
    return { total, result: rows.map(toEventView) };
  }
}
