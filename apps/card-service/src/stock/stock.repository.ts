import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { GenerateStatus, GenerateView, RejectReason, StockStatusView, WebhookEventType } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { WEBHOOK_OUTBOX_COLUMNS } from '../outbox/webhook-outbox.sql';

/** A stock job record as the worker sees it (locked for the length of a batch). */
export interface GenerateRecord {
  crm_id: string;
  card_id: string;
  generate_id: string;
  generate_type: number;
  card_num: number;
  source_file: string | null;
  payload_hash: string;
  status: GenerateStatus;
  generated: number;
  rejected: number;
  rejected_reasons: Partial<Record<RejectReason, number>>;
  rejected_samples: Array<{ code: string; reason: RejectReason }>;
  lines_done: number;
  is_generated: boolean;
}

export interface NewGenerate {
  crm_id: string;
  card_id: string;
  generate_id: string;
  generate_type: number;
  card_num: number;
  source_file: string | null;
  payload_hash: string;
}

export interface BatchOutcome {
  inserted: number;
  rejected: number;
  rejected_reasons: Partial<Record<RejectReason, number>>;
  rejected_samples: Array<{ code: string; reason: RejectReason }>;
  lines: number;
}

const RECORD_COLUMNS = `crm_id, card_id, generate_id, generate_type, card_num, source_file, payload_hash, status,
  generated, rejected, rejected_reasons, rejected_samples, lines_done, is_generated`;

function toRecord(r: Record<string, any>): GenerateRecord {
  return {
    ...r,
    card_num: num(r.card_num),
    generated: num(r.generated),
    rejected: num(r.rejected),
    lines_done: num(r.lines_done),
  } as GenerateRecord;
}

function toStatusView(r: Record<string, any>): StockStatusView {
  const cardNum = num(r.card_num);
  const generated = num(r.generated);
  const rejected = num(r.rejected);
  const progress = r.is_generated ? 1 : cardNum === 0 ? 0 : Math.min(1, (generated + rejected) / cardNum);
  return {
    auto_id: num(r.auto_id),
    crm_id: r.crm_id,
    card_id: r.card_id,
    quantity: cardNum,
    generate_id: r.generate_id,
    generate_type: r.generate_type,
    is_generated: r.is_generated,
    create_time: r.create_time_s,
    update_time: r.update_time_s,
    status: r.status,
    generated,
    rejected,
    rejected_reasons: r.rejected_reasons,
    rejected_samples: r.rejected_samples,
    progress: Math.round(progress * 10000) / 10000,
    error: r.error,
  };
}

/**
 * What add/stock answered when it created the job: the record before any code was made.
 * A repeated request gets this same answer, however far the job has come since
 * (progress is what stock/status is for).
 */
export function originalGenerateView(s: StockStatusView): GenerateView {
  const { auto_id, crm_id, card_id, quantity, generate_id, generate_type, create_time } = s;
  return { auto_id, crm_id, card_id, quantity, generate_id, generate_type, is_generated: false, create_time, update_time: create_time };
}

/** Every query on stock jobs and the code pool. */
@Injectable()
export class StockRepository {
  constructor(private readonly db: DataSource) {}

  /** Inserts a job record; false when one with this generate_id already exists (the caller compares payloads). */
  async insertGenerate(em: EntityManager, g: NewGenerate): Promise<boolean> {
    const rows = await em.query(
      `INSERT INTO card.card_generate (crm_id, card_id, generate_id, generate_type, card_num, source_file, payload_hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (crm_id, generate_id) DO NOTHING RETURNING auto_id`,
      [g.crm_id, g.card_id, g.generate_id, g.generate_type, g.card_num, g.source_file, g.payload_hash],
    );
    return rows.length > 0;
  }

  async status(crmId: string, generateId: string, tz: string, em: EntityManager = this.db.manager): Promise<StockStatusView | null> {
    const rows = await em.query(
      `SELECT auto_id, ${RECORD_COLUMNS}, error, ${fmtTime('create_time', '$3')} AS create_time_s, ${fmtTime('update_time', '$3')} AS update_time_s
         FROM card.card_generate WHERE crm_id = $1 AND generate_id = $2`,
      [crmId, generateId, tz],
    );
    return rows.length ? toStatusView(rows[0]) : null;
  }

  async payloadHash(em: EntityManager, crmId: string, generateId: string): Promise<string | null> {
    const rows = await em.query(`SELECT payload_hash FROM card.card_generate WHERE crm_id = $1 AND generate_id = $2`, [crmId, generateId]);
    return rows[0]?.payload_hash ?? null;
  }

  async find(crmId: string, generateId: string): Promise<GenerateRecord | null> {
    const rows = await this.db.query(`SELECT ${RECORD_COLUMNS} FROM card.card_generate WHERE crm_id = $1 AND generate_id = $2`, [crmId, generateId]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Locks the record for one batch, so two workers never fill the same job at once. */
  async lockGenerate(em: EntityManager, crmId: string, generateId: string): Promise<GenerateRecord | null> {
    const rows = await em.query(`SELECT ${RECORD_COLUMNS} FROM card.card_generate WHERE crm_id = $1 AND generate_id = $2 FOR UPDATE`, [crmId, generateId]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  /** Locks the card row: slots are handed out in order under this lock. */
  async lockCard(em: EntityManager, crmId: string, cardId: string): Promise<{ next_slot: number; removed: boolean; generate_type: number } | null> {
    const rows = await em.query(`SELECT next_slot, removed, generate_type FROM card.card_info WHERE crm_id = $1 AND card_id = $2 FOR UPDATE`, [crmId, cardId]);
    return rows.length ? { next_slot: num(rows[0].next_slot), removed: rows[0].removed, generate_type: rows[0].generate_type } : null;
  }

  async addToTotal(em: EntityManager, crmId: string, cardId: string, delta: number): Promise<void> {
    await em.query(`UPDATE card.card_info SET total_quantity = total_quantity + $3, update_time = now() WHERE crm_id = $1 AND card_id = $2`, [
      crmId,
      cardId,
      delta,
    ]);
  }

  /** Writes codes with consecutive slots from `firstSlot` by COPY (the fastest path into PostgreSQL). */
  async copyCodes(client: PoolClient, crmId: string, cardId: string, generateId: string, firstSlot: number, codes: string[]): Promise<void> {
    const prefix = `${crmId}\t${cardId}\t`;
    const suffix = `\t${generateId}\n`;
    const chunk = 2_000;
    function* lines() {
      for (let i = 0; i < codes.length; i += chunk) {
        let text = '';
        const end = Math.min(codes.length, i + chunk);
        for (let j = i; j < end; j++) text += prefix + (firstSlot + j) + '\t' + codes[j] + suffix;
        yield text;
      }
    }
    const copy = client.query(copyFrom(`COPY card.card_code (crm_id, card_id, slot, card_code, generate_id) FROM STDIN`));
    await pipeline(Readable.from(lines()), copy);
  }

  /** Inserts codes with consecutive slots from `firstSlot` (imports: small batches, checked first). */
  async insertCodes(em: EntityManager, crmId: string, cardId: string, generateId: string, firstSlot: number, codes: string[]): Promise<void> {
    if (!codes.length) return;
    await em.query(
      `INSERT INTO card.card_code (crm_id, card_id, slot, card_code, generate_id)
       SELECT $1, $2, $3 + t.ord - 1, t.code, $4 FROM unnest($5::text[]) WITH ORDINALITY AS t(code, ord)`,
      [crmId, cardId, firstSlot, generateId, codes],
    );
  }

  /** Which of these codes the tenant already has, and under which job. */
  async existingCodes(em: EntityManager, crmId: string, codes: string[]): Promise<Map<string, string>> {
    if (!codes.length) return new Map();
    const rows: Array<{ card_code: string; generate_id: string }> = await em.query(
      `SELECT card_code, generate_id FROM card.card_code WHERE crm_id = $1 AND card_code = ANY($2::text[])`,
      [crmId, codes],
    );
    return new Map(rows.map((r) => [r.card_code, r.generate_id]));
  }

  /** Records one batch on the job and the card, in the batch's transaction. */
  async recordBatch(em: EntityManager, g: GenerateRecord, out: BatchOutcome): Promise<void> {
    await em.query(
      `UPDATE card.card_generate
          SET generated = generated + $3, rejected = rejected + $4, rejected_reasons = $5, rejected_samples = $6,
              lines_done = lines_done + $7, status = 'running', update_time = now()
        WHERE crm_id = $1 AND generate_id = $2`,
      [g.crm_id, g.generate_id, out.inserted, out.rejected, JSON.stringify(out.rejected_reasons), JSON.stringify(out.rejected_samples), out.lines],
    );
    if (out.inserted > 0) {
      await em.query(
        `UPDATE card.card_info SET next_slot = next_slot + $3, generated_count = generated_count + $3, update_time = now()
          WHERE crm_id = $1 AND card_id = $2`,
        [g.crm_id, g.card_id, out.inserted],
      );
    }
  }

  /**
   * Closes a job. What it did not make (an import with fewer usable codes than asked, a
   * failed job) is taken off the card's total, so total = codes that exist or will.
   */
  async finish(em: EntityManager, crmId: string, generateId: string, status: GenerateStatus, at: Date, error: string | null = null): Promise<void> {
    const rows: Array<{ card_id: string; shortfall: string }> = await em.query(
      `WITH f AS (
         UPDATE card.card_generate SET is_generated = true, status = $3, error = $4, update_time = now()
          WHERE crm_id = $1 AND generate_id = $2 AND NOT is_generated
         RETURNING crm_id, card_id, generate_id, generate_type, status, card_num, generated, rejected, error, card_num - generated AS shortfall),
       hook AS (
         INSERT INTO card.webhook_outbox (${WEBHOOK_OUTBOX_COLUMNS})
         SELECT f.crm_id, '${WebhookEventType.CARD_STOCK_GENERATED}', NULL, $5,
                jsonb_build_object('card_id', f.card_id, 'title', c.title, 'generate_id', f.generate_id, 'generate_type', f.generate_type,
                                   'status', f.status, 'card_num', f.card_num, 'count', f.generated, 'rejected', f.rejected, 'error', f.error)
           FROM f JOIN card.card_info c ON c.crm_id = f.crm_id AND c.card_id = f.card_id
         RETURNING 1)
       SELECT card_id, shortfall FROM f`,
      [crmId, generateId, status, error, at],
    );
    const row = rows[0];
    if (row && num(row.shortfall) !== 0) await this.addToTotal(em, crmId, row.card_id, -num(row.shortfall));
  }

  /** Jobs not finished that were created before `olderThan`: the recovery sweep queues them again. */
  async unfinished(
    olderThan: Date,
    limit: number,
    after: { create_time: Date; crm_id: string; generate_id: string } | null,
  ): Promise<Array<{ create_time: Date; crm_id: string; generate_id: string }>> {
    return this.db.query(
      `SELECT create_time, crm_id, generate_id FROM card.card_generate
        WHERE NOT is_generated AND create_time < $1 AND ($3::timestamptz IS NULL OR (create_time, crm_id, generate_id) > ($3, $4, $5))
        ORDER BY create_time, crm_id, generate_id LIMIT $2`,
      [olderThan, limit, after?.create_time ?? null, after?.crm_id ?? null, after?.generate_id ?? null],
    );
  }
}
