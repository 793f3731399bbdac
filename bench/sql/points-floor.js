/**
 * The floor of bench:points: one earn or spend in a transaction of its own, the way
 * points-service records a single event (EventRecorder.record with LedgerRepository's
 * lockMember, payloadHash, spendable, insertEvent, addLot, takeFifo and the member's used
 * points). Text for text the statements of apps/points-service/src/ledger/ledger.sql.ts:
 * apps/points-service/src/ledger/ledger.sql.spec.ts fails when they drift apart.
 */
const SQL = {
  lockMember: `INSERT INTO points.member (crm_id, member_no, create_time, update_time) VALUES ($1, $2, $3, $3)
       ON CONFLICT (crm_id, member_no) DO UPDATE SET update_time = points.member.update_time`,
  payloadHash: `SELECT payload_hash FROM points.event WHERE crm_id = $1 AND event_no = $2`,
  spendable: `SELECT trim_scale(coalesce(sum(l.remaining), 0) - m.debt_points)::text AS available,
              coalesce(sum(l.remaining), 0) - m.debt_points >= $4::numeric AS enough
         FROM points.member m
         LEFT JOIN points.lot l ON l.crm_id = m.crm_id AND l.member_no = m.member_no AND l.remaining > 0
              AND (l.unfreeze_time IS NULL OR l.unfreeze_time <= $3) AND (l.expire_time IS NULL OR l.expire_time > $3)
        WHERE m.crm_id = $1 AND m.member_no = $2
        GROUP BY m.debt_points`,
  // The journal row and, in the same statement, its webhook event (points.webhook_outbox).
  insertEvent: `WITH ev AS (
       INSERT INTO points.event (crm_id, event_no, member_no, event_type, points, event_at, expire_time, unfreeze_time, action_scene,
                                 store_code, cost_center, campaign_code, operator, event_desc, order_items, payload_hash, create_time, update_time,
                                 origin_event_no, from_transfer_no, rule_id, trans_type)
       VALUES ($1, $2, $3, $4, $5::numeric, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17, $18, $19, $20, $21)
       ON CONFLICT (crm_id, event_no) DO NOTHING RETURNING auto_id, crm_id, member_no, event_no, event_type, points, event_at, action_scene, store_code, origin_event_no, from_transfer_no, trans_type),
     hook AS (INSERT INTO points.webhook_outbox (crm_id, type, member_no, occurred_at, data)
         SELECT crm_id, CASE event_type WHEN 'produce' THEN 'points.earned' WHEN 'consume' THEN 'points.spent' WHEN 'reverse_produce' THEN 'points.reversed' WHEN 'reverse_consume' THEN 'points.reversed' WHEN 'expired' THEN 'points.expired' WHEN 'transfer_out' THEN 'points.transfer_sent' WHEN 'transfer_in' THEN 'points.transfer_accepted' WHEN 'transfer_back' THEN 'points.transfer_returned' END, member_no, $17,
                jsonb_build_object('member_no', member_no, 'event_no', event_no, 'event_type', event_type, 'points', points::numeric(18,4)::text,
                                   'event_at', to_char(event_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'action_scene', action_scene,
                                   'store_code', store_code, 'origin_event_no', origin_event_no, 'transfer_no', from_transfer_no, 'trans_type', trans_type)
           FROM ev WHERE event_type IN ('produce', 'consume', 'reverse_produce', 'reverse_consume', 'expired', 'transfer_out', 'transfer_in', 'transfer_back') ORDER BY auto_id RETURNING 1)
     SELECT auto_id FROM ev`,
  debtPaid: `SELECT LEAST(debt_points, $3::numeric)::text AS paid FROM points.member WHERE crm_id = $1 AND member_no = $2`,
  insertLot: `INSERT INTO points.lot (crm_id, member_no, event_no, amount, remaining, expire_time, unfreeze_time, create_time)
       VALUES ($1, $2, $3, $4::numeric, $4::numeric - $8::numeric, $5, $6, $7)`,
  addTotal: `UPDATE points.member SET total_points = total_points + $3::numeric, debt_points = debt_points - $5::numeric, update_time = $4
        WHERE crm_id = $1 AND member_no = $2`,
  takeFifo: `WITH spendable AS (
         SELECT lot_id, remaining, sum(remaining) OVER (ORDER BY expire_time ASC NULLS LAST, lot_id) AS upto
           FROM points.lot
          WHERE crm_id = $1 AND member_no = $2 AND remaining > 0
            AND (unfreeze_time IS NULL OR unfreeze_time <= $3) AND (expire_time IS NULL OR expire_time > $3)),
       take AS (
         SELECT lot_id, LEAST(remaining, $4::numeric - (upto - remaining)) AS n FROM spendable WHERE upto - remaining < $4::numeric),
       taken AS (
         UPDATE points.lot l SET remaining = l.remaining - take.n FROM take WHERE l.crm_id = $1 AND l.lot_id = take.lot_id
         RETURNING l.lot_id, take.n, l.expire_time),
       noted AS (INSERT INTO points.allocation (crm_id, event_id, lot_id, points) SELECT $1, $5, lot_id, n FROM taken)
       SELECT n::text AS n, expire_time FROM taken ORDER BY expire_time ASC NULLS LAST, lot_id`,
  takenAll: `SELECT coalesce(sum(x), 0) = $1::numeric AS ok FROM unnest($2::numeric[]) AS x`,
  addUsed: `UPDATE points.member SET used_points = used_points + $3::numeric, update_time = $4 WHERE crm_id = $1 AND member_no = $2`,
};

module.exports = { SQL };
