import { WEBHOOK_EVENT_COLUMNS, webhookEventsOf } from './webhook-events.sql';

/**
 * The ledger's statements that bench/points.js measures as its floor: the repositories run
 * exactly these, and ledger.sql.spec.ts checks that the bench's copies (bench/sql/points-floor.js)
 * are the same text, so the floor never silently measures other work.
 */

/**
 * A lot that can be spent at the moment `$now`: unfrozen, unexpired, with points left.
 * `l` is the lot's alias ('' for none). The one definition of "spendable".
 */
export const spendableLot = (l: string, now: string): string => {
  const c = l ? `${l}.` : '';
  return `${c}remaining > 0 AND (${c}unfreeze_time IS NULL OR ${c}unfreeze_time <= ${now}) AND (${c}expire_time IS NULL OR ${c}expire_time > ${now})`;
};

export const LEDGER_SQL = {
  /** Creates the member's row if needed and locks it. $1 crm_id, $2 member_no, $3 now. */
  lockMember: `INSERT INTO points.member (crm_id, member_no, create_time, update_time) VALUES ($1, $2, $3, $3)
       ON CONFLICT (crm_id, member_no) DO UPDATE SET update_time = points.member.update_time`,
  payloadHash: `SELECT payload_hash FROM points.event WHERE crm_id = $1 AND event_no = $2`,
  /** $3 now, $4 the points asked. */
  spendable: `SELECT trim_scale(coalesce(sum(l.remaining), 0) - m.debt_points)::text AS available,
              coalesce(sum(l.remaining), 0) - m.debt_points >= $4::numeric AS enough
         FROM points.member m
         LEFT JOIN points.lot l ON l.crm_id = m.crm_id AND l.member_no = m.member_no AND ${spendableLot('l', '$3')}
        WHERE m.crm_id = $1 AND m.member_no = $2
        GROUP BY m.debt_points`,
  /** The journal row and, in the same statement, its webhook event (points.webhook_outbox). */
  insertEvent: `WITH ev AS (
       INSERT INTO points.event (crm_id, event_no, member_no, event_type, points, event_at, expire_time, unfreeze_time, action_scene,
                                 store_code, cost_center, campaign_code, operator, event_desc, order_items, payload_hash, create_time, update_time,
                                 origin_event_no, from_transfer_no, rule_id, trans_type)
       VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19, $20, $21)
       ON CONFLICT (crm_id, event_no) DO NOTHING RETURNING ${WEBHOOK_EVENT_COLUMNS}),
     hook AS (${webhookEventsOf('ev', '$17')} RETURNING 1)
     SELECT auto_id FROM ev`,
  debtPaid: `SELECT LEAST(debt_points, $3::numeric)::text AS paid FROM points.member WHERE crm_id = $1 AND member_no = $2`,
  insertLot: `INSERT INTO points.lot (crm_id, member_no, event_no, amount, remaining, expire_time, unfreeze_time, create_time)
       VALUES ($1, $2, $3, $4::numeric, $4::numeric - $8::numeric, $5, $6, $7)`,
  addTotal: `UPDATE points.member SET total_points = total_points + $3::numeric, debt_points = debt_points - $5::numeric, update_time = $4
        WHERE crm_id = $1 AND member_no = $2`,
  /** Takes up to $4 points from the spendable lots at $3, soonest expiry first, noting each lot under event $5. */
  takeFifo: `WITH spendable AS (
         SELECT lot_id, remaining, sum(remaining) OVER (ORDER BY expire_time ASC NULLS LAST, lot_id) AS upto
           FROM points.lot
          WHERE crm_id = $1 AND member_no = $2 AND ${spendableLot('', '$3')}),
       take AS (
         SELECT lot_id, LEAST(remaining, $4::numeric - (upto - remaining)) AS n FROM spendable WHERE upto - remaining < $4::numeric),
       taken AS (
         UPDATE points.lot l SET remaining = l.remaining - take.n FROM take WHERE l.crm_id = $1 AND l.lot_id = take.lot_id
         RETURNING l.lot_id, take.n, l.expire_time),
       noted AS (INSERT INTO points.allocation (crm_id, event_id, lot_id, points) SELECT $1, $5, lot_id, n FROM taken)
       SELECT n::text AS n, expire_time FROM taken ORDER BY expire_time ASC NULLS LAST, lot_id`,
  takenAll: `SELECT coalesce(sum(x), 0) = $1::numeric AS ok FROM unnest($2::numeric[]) AS x`,
  addUsed: `UPDATE points.member SET used_points = used_points + $3::numeric, update_time = $4 WHERE crm_id = $1 AND member_no = $2`,
} as const;
