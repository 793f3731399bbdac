import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { RedeemView } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { Holding } from './code.repository';

type Row = Record<string, any>;

const REDEEM_COLUMNS = `
  r.auto_id, r.crm_id, r.redeem_id, r.card_id, r.member_no, r.card_code, r.redeem_channel, r.redeem_extra, r.rollback_status,
  ${fmtTime('r.redeem_time', '$2')} AS redeem_time, ${fmtTime('r.rollback_time', '$2')} AS rollback_time`;

const toRedeemView = (r: Row): RedeemView => ({ ...(r as RedeemView), auto_id: num(r.auto_id) });

/** Redemptions of codes and their reversals. The transaction, when one is taken, comes first. */
@Injectable()
export class RedeemRepository {
  async redeemRecord(em: EntityManager, crmId: string, redeemId: string, tz: string): Promise<RedeemView | null> {
    const rows: Row[] = await em.query(`SELECT ${REDEEM_COLUMNS} FROM card.member_redeem r WHERE r.crm_id = $1 AND r.redeem_id = $3`, [crmId, tz, redeemId]);
    return rows.length ? toRedeemView(rows[0]) : null;
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

  async insertRedeem(
    em: EntityManager,
    r: { crm_id: string; redeem_id: string; h: Holding; channel: string; extra: string; hash: string; now: Date },
  ): Promise<boolean> {
    const rows = await em.query(
      `INSERT INTO card.member_redeem (crm_id, redeem_id, card_id, member_no, card_code, holder_id, redeem_channel, redeem_extra, payload_hash, redeem_time, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10) ON CONFLICT (crm_id, redeem_id) DO NOTHING RETURNING auto_id`,
      [r.crm_id, r.redeem_id, r.h.card_id, r.h.member_no, r.h.card_code, r.h.auto_id, r.channel, r.extra, r.hash, r.now],
    );
    return rows.length > 0;
  }

  async rollBackRedeem(em: EntityManager, crmId: string, redeemId: string, now: Date): Promise<void> {
    await em.query(`UPDATE card.member_redeem SET rollback_status = 1, rollback_time = $3, update_time = $3 WHERE crm_id = $1 AND redeem_id = $2`, [
      crmId,
      redeemId,
      now,
    ]);
  }

  /** What a redeem_id was first used with (idempotency). */
  async payloadHash(em: EntityManager, crmId: string, id: string): Promise<string | null> {
    const rows: Row[] = await em.query(`SELECT payload_hash FROM card.member_redeem WHERE crm_id = $1 AND redeem_id = $2`, [crmId, id]);
    return rows[0]?.payload_hash ?? null;
  }
}
