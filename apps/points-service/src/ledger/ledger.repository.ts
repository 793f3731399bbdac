import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PointsEventView } from '@app/domain';
import { fmtTime, num, numOrNull } from '@app/platform';
import { LEDGER_SQL } from './ledger.sql';
import { WEBHOOK_EVENT_COLUMNS, webhookEventsOf } from './webhook-events.sql';

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

/** Points taken from one lot (by a spend or a transfer), with that lot's expiry. */
export interface Piece {
  n: string;
  expire_time: Date | null;
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

export const toEventView = (r: Row): PointsEventView => ({
  ...(r as PointsEventView),
  auto_id: num(r.auto_id),
  points: num(r.points),
  amount: numOrNull(r.amount),
});

/** The ledger's core: members' locks, the journal's rows, lots taken and given back, and the expiry sweep. */
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
    const rows = await em.query(LEDGER_SQL.insertEvent, [
      e.crm_id,
      e.event_no,
      e.member_no,
      e.event_type,
      e.points,
      e.event_at,
      e.expire_time,
      e.unfreeze_time,
      e.action_scene,
      e.store_code,
      e.cost_center,
      e.campaign_code,
      e.operator,
      e.event_desc,
      e.order_items === undefined || e.order_items === null ? null : JSON.stringify(e.order_items),
      e.payload_hash,
      now,
      e.origin_event_no,
      fromTransferNo,
      e.rule_id ?? null,
      e.trans_type ?? null,
    ]);
    return rows.length ? num(rows[0].auto_id) : null;
  }

  async event(crmId: string, eventNo: string, tz: string, em: EntityManager = this.db.manager): Promise<PointsEventView | null> {
    const rows: Row[] = await em.query(`SELECT ${EVENT_COLUMNS} FROM points.event e WHERE e.crm_id = $1 AND e.event_no = $3`, [crmId, tz, eventNo]);
    return rows.length ? toEventView(rows[0]) : null;
  }

  /** An earn: a new lot, and the member's total. A debt the member owes is paid from it first. */
  async addLot(em: EntityManager, e: NewEvent, now: Date): Promise<void> {
    const [{ paid }] = await em.query(LEDGER_SQL.debtPaid, [e.crm_id, e.member_no, e.points]);
    await em.query(LEDGER_SQL.insertLot, [e.crm_id, e.member_no, e.event_no, e.points, e.expire_time, e.unfreeze_time, now, paid]);
    await em.query(LEDGER_SQL.addTotal, [e.crm_id, e.member_no, e.points, now, paid]);
  }

  /** Points the member can spend at `now` (unfrozen, unexpired lots, less any debt), and whether that covers `points`. */
  async spendable(em: EntityManager, crmId: string, memberNo: string, now: Date, points: string): Promise<{ available: string; enough: boolean }> {
    const [row] = await em.query(LEDGER_SQL.spendable, [crmId, memberNo, now, points]);
    return { available: row.available, enough: row.enough };
  }

  /**
   * Takes up to `points` from the member's spendable lots, soonest expiry first (lots that
   * never expire last), recording each lot taken from under `eventId`. `exact`: it must
   * be all of it (the caller has checked).
   */
  async takeFifo(em: EntityManager, crmId: string, memberNo: string, eventId: number, points: string, now: Date, exact: boolean): Promise<Piece[]> {
    const rows: Array<{ n: string; expire_time: Date | null }> = await em.query(LEDGER_SQL.takeFifo, [crmId, memberNo, now, points, eventId]);
    if (!exact) return rows;
    const [{ ok }] = await em.query(LEDGER_SQL.takenAll, [points, rows.map((r) => r.n)]);
    if (!ok) throw new Error(`event ${eventId}: took ${rows.map((r) => r.n).join('+')} for ${points}`);
    return rows;
  }

  /** Adds to a member's used points (a negative amount as "-x" takes off). */
  async addUsed(em: EntityManager, crmId: string, memberNo: string, points: string, now: Date): Promise<void> {
    await em.query(LEDGER_SQL.addUsed, [crmId, memberNo, points, now]);
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

  /**
   * Expiry sweep: lots past their expiry with points left get one `expired` history row
   * each (event_no `exp#<lot_id>`) and its webhook event, in a batch; lots another worker
   * holds are skipped.
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
         RETURNING l.crm_id, l.lot_id, l.member_no, l.event_no, l.remaining, l.expire_time),
       ev AS (
         INSERT INTO points.event (crm_id, event_no, member_no, event_type, points, event_at, origin_event_no, payload_hash, create_time, update_time)
         SELECT crm_id, 'exp#' || lot_id, member_no, 'expired', remaining, expire_time, event_no, '', $1, $1 FROM marked
         ON CONFLICT (crm_id, event_no) DO NOTHING RETURNING ${WEBHOOK_EVENT_COLUMNS}),
       hook AS (${webhookEventsOf('ev', '$1')} RETURNING 1)
       SELECT 1 FROM ev`,
      [now, limit],
    );
    return rows.length;
  }
}
