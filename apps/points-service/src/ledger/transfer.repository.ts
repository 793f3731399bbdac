import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { num } from '@app/platform';
import { Piece } from './ledger.repository';

type Row = Record<string, any>;

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

/** The queries of transfers between members: held transfers, and the receiver's lots. */
@Injectable()
export class TransferRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * The receiver's side of a transfer: one lot per piece, with the expiry of the lot it
   * came from; a debt of the receiver is paid from them first; the total grows.
   */
  async receiveLots(em: EntityManager, crmId: string, to: string, inEventNo: string, pieces: Piece[], points: string, now: Date): Promise<void> {
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
  async heldPieces(em: EntityManager, crmId: string, outId: number): Promise<Piece[]> {
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

  async insertTransfer(
    em: EntityManager,
    crmId: string,
    t: { transfer_no: string; from_user: string; to_user: string; points: string; out_event_id: number },
    now: Date,
  ): Promise<void> {
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
    return this.db.query(`SELECT crm_id, transfer_no FROM points.transfer WHERE status = 'pending' AND create_time < $1 ORDER BY create_time LIMIT $2`, [
      before,
      limit,
    ]);
  }
}
