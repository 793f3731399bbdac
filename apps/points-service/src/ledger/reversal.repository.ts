import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { num } from '@app/platform';
import { spendableLot } from './ledger.sql';

type Row = Record<string, any>;

/** An event another one refers to (a reversal's origin), locked. Amounts as decimal text. */
export interface OriginEvent {
  auto_id: number;
  member_no: string;
  event_type: string;
  points: string;
  /** What is left to reverse: points - reversed_points. */
  open: string;
}

/** How an earn's reversal goes: taken back from the earn's own lot, from other spendable lots, and what is left short (a debt). */
export interface TakeBackPlan {
  own: string;
  others: string;
  short: string;
  covered: boolean;
  available: string;
}

/** The queries of reversals: the origin, the take-back plan of an earn, and the marks they leave. */
@Injectable()
export class ReversalRepository {
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
   * How an earn's reversal of `points` would go, under the member's lock: `own` taken
   * back from the earn's lot (whatever its state), `others` from the member's other
   * spendable lots, `short` left over (a debt, only with allow_negative). `covered`:
   * no debt needed, counting what the member already owes.
   */
  async planTakeBack(em: EntityManager, crmId: string, memberNo: string, originEventNo: string, points: string, now: Date): Promise<TakeBackPlan> {
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

  /** Takes `points` back out of the earn's own lot (whatever its state), noted as taken by reversal `eventId`. */
  async takeFromOwnLot(em: EntityManager, crmId: string, memberNo: string, originEventNo: string, eventId: number, points: string): Promise<void> {
    await em.query(
      `WITH o AS (SELECT lot_id FROM points.lot WHERE crm_id = $1 AND member_no = $2 AND event_no = $3),
       u AS (UPDATE points.lot l SET remaining = l.remaining - $4::numeric FROM o WHERE l.crm_id = $1 AND l.lot_id = o.lot_id AND $4::numeric > 0 RETURNING l.lot_id)
       INSERT INTO points.allocation (crm_id, event_id, lot_id, points) SELECT $1, $5, lot_id, $4::numeric FROM u`,
      [crmId, memberNo, originEventNo, points, eventId],
    );
  }

  /** An earn reversed: the member's total goes down by `points`; what could not be taken back (`short`) is owed. */
  async takeOffTotal(em: EntityManager, crmId: string, memberNo: string, points: string, short: string, now: Date): Promise<void> {
    await em.query(
      `UPDATE points.member SET total_points = total_points - $3::numeric, debt_points = debt_points + $4::numeric, update_time = $5
        WHERE crm_id = $1 AND member_no = $2`,
      [crmId, memberNo, points, short, now],
    );
  }

  /** Counts `points` more of event `originId` as reversed: reverse_status 1 (in part) or 2 (wholly). */
  async markReversed(em: EntityManager, crmId: string, originId: number, points: string, now: Date): Promise<void> {
    await em.query(
      `UPDATE points.event SET reversed_points = reversed_points + $3::numeric,
              reverse_status = CASE WHEN reversed_points + $3::numeric = points THEN 2 ELSE 1 END, update_time = $4
        WHERE crm_id = $1 AND auto_id = $2`,
      [crmId, originId, points, now],
    );
  }
}
