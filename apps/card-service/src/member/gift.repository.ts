import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { CardEventKind, CodeStatus, Page, PresentView } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { OUTBOX_COLUMNS } from '../outbox/outbox.repository';
import { WEBHOOK_OUTBOX_COLUMNS, webhookDataSql, webhookTypeSql } from '../outbox/webhook-outbox.sql';
import { Holding } from './code.repository';

type Row = Record<string, any>;

const PRESENT_COLUMNS = `
  p.auto_id, p.crm_id, p.from_member_no, p.to_member_no, p.card_id, p.card_code, p.present_id, p.present_extra,
  ${fmtTime('p.present_time', '$2')} AS present_time, ${fmtTime('p.received_time', '$2')} AS received_time,
  ${fmtTime('p.go_back_time', '$2')} AS go_back_time, ${fmtTime('p.create_time', '$2')} AS create_time,
  ${fmtTime('p.update_time', '$2')} AS update_time`;

const toPresentView = (r: Row): PresentView => ({ ...(r as PresentView), auto_id: num(r.auto_id), instance_id: r.crm_id });

/** Gifts of codes between members: records, locks, acceptance and the return sweep. The transaction, when one is taken, comes first. */
@Injectable()
export class GiftRepository {
  constructor(private readonly db: DataSource) {}

  async present(em: EntityManager, crmId: string, presentId: string, tz: string): Promise<PresentView | null> {
    const rows: Row[] = await em.query(`SELECT ${PRESENT_COLUMNS} FROM card.member_present p WHERE p.crm_id = $1 AND p.present_id = $3`, [
      crmId,
      tz,
      presentId,
    ]);
    return rows.length ? toPresentView(rows[0]) : null;
  }

  async listPresents(
    crmId: string,
    memberNo: string | undefined,
    received: number | undefined,
    page: number,
    size: number,
    tz: string,
  ): Promise<Page<PresentView>> {
    const where = [`p.crm_id = $1`, `($3::text IS NULL OR p.from_member_no = $3)`];
    if (received === 1) where.push(`p.received_time IS NOT NULL`);
    if (received === 0) where.push(`p.received_time IS NULL`);
    const filter = where.join(' AND ');
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM card.member_present p WHERE ${filter} AND $2::text IS NOT NULL`, [
      crmId,
      tz,
      memberNo ?? null,
    ]);
    const rows: Row[] = await this.db.query(`SELECT ${PRESENT_COLUMNS} FROM card.member_present p WHERE ${filter} ORDER BY p.auto_id DESC LIMIT $4 OFFSET $5`, [
      crmId,
      tz,
      memberNo ?? null,
      size,
      (page - 1) * size,
    ]);
    return { total, result: rows.map(toPresentView) };
  }

  async lockPresent(
    em: EntityManager,
    crmId: string,
    presentId: string,
  ): Promise<{
    from_member_no: string;
    to_member_no: string | null;
    from_holder_id: number;
    present_time: Date;
    received_time: Date | null;
    go_back_time: Date | null;
  } | null> {
    const rows: Row[] = await em.query(
      `SELECT from_member_no, to_member_no, from_holder_id, present_time, received_time, go_back_time FROM card.member_present
        WHERE crm_id = $1 AND present_id = $2 FOR UPDATE`,
      [crmId, presentId],
    );
    return rows.length ? ({ ...rows[0], from_holder_id: num(rows[0].from_holder_id) } as any) : null;
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
    await em.query(`UPDATE card.member_present SET to_member_no = $3, received_time = $4, update_time = $4 WHERE crm_id = $1 AND present_id = $2`, [
      crmId,
      presentId,
      toMember,
      now,
    ]);
  }

  /** The friend's row of an accepted gift: a new holding of the same code and validity (received_id = present_id). */
  async insertGiftHolding(em: EntityManager, h: Holding, presentId: string, toMember: string, now: Date): Promise<number> {
    const rows: Row[] = await em.query(
      `INSERT INTO card.member_card_code (crm_id, received_id, card_id, member_no, card_code, begin_time, end_time, discount, out_str,
                                          code_status, received_time, receive_type, create_time, update_time)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ${CodeStatus.USABLE}, $10, 1, $10, $10) RETURNING auto_id`,
      [h.crm_id, presentId, h.card_id, toMember, h.card_code, h.begin_time, h.end_time, h.discount, h.out_str, now],
    );
    await em.query(`UPDATE card.card_code SET member_no = $4, update_time = $5 WHERE crm_id = $1 AND card_id = $2 AND card_code = $3`, [
      h.crm_id,
      h.card_id,
      h.card_code,
      toMember,
      now,
    ]);
    return num(rows[0].auto_id);
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
         RETURNING p.crm_id, p.from_holder_id, p.present_id, p.card_id, p.card_code, p.from_member_no, p.present_time),
       given_back AS (
         UPDATE card.member_card_code m SET code_status = ${CodeStatus.USABLE}, update_time = $1
           FROM back WHERE m.crm_id = back.crm_id AND m.auto_id = back.from_holder_id AND m.code_status = ${CodeStatus.GIFTING}
         RETURNING 1),
       events AS (
         INSERT INTO card.outbox (${OUTBOX_COLUMNS})
         SELECT b.crm_id, $4, b.card_id, c.title, b.from_member_no, 1, NULL, $1, $1, b.present_id
           FROM back b JOIN card.card_info c ON c.crm_id = b.crm_id AND c.card_id = b.card_id
          ORDER BY b.present_time
         RETURNING 1),
       hooks AS (
         INSERT INTO card.webhook_outbox (${WEBHOOK_OUTBOX_COLUMNS})
         SELECT b.crm_id, ${webhookTypeSql(`'${CardEventKind.GIFT_RETURN}'`)}, b.from_member_no, $1,
                ${webhookDataSql({ kind: `'${CardEventKind.GIFT_RETURN}'`, card_id: 'b.card_id', title: 'c.title', member_no: 'b.from_member_no', count: '1', channel: 'NULL', ref: 'b.present_id', extra: `jsonb_build_object('card_code', b.card_code)` })}
           FROM back b JOIN card.card_info c ON c.crm_id = b.crm_id AND c.card_id = b.card_id
          ORDER BY b.present_time
         RETURNING 1)
       SELECT count(*)::int AS n FROM back`,
      [now, before, limit, CardEventKind.GIFT_RETURN],
    );
    return rows[0].n;
  }

  /** What a present_id was first used with (idempotency). */
  async payloadHash(em: EntityManager, crmId: string, id: string): Promise<string | null> {
    const rows: Row[] = await em.query(`SELECT payload_hash FROM card.member_present WHERE crm_id = $1 AND present_id = $2`, [crmId, id]);
    return rows[0]?.payload_hash ?? null;
  }
}
