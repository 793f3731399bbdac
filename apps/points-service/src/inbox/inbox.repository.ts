import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { PointsEventKind } from '@app/domain';

/** A claimed inbox row. */
export interface InboxRow {
  crm_id: string;
  inbox_id: string;
  kind: PointsEventKind;
  event_no: string;
  event: Record<string, unknown> & { crm_id: string };
  attempts: number;
}

/** What became of one applied row: its answer, or the error that leaves it for another attempt. */
export type InboxOutcome = { row: InboxRow; code: number; msg: string } | { row: InboxRow; error: string };

type Row = Record<string, any>;

/** The points.inbox table. */
@Injectable()
export class InboxRepository {
  constructor(private readonly db: DataSource) {}

  /** Writes an event (committed when this resolves); null when a row of the same (crm_id, kind, event_no) exists: then its payload hash. */
  async add(e: { crm_id: string; kind: PointsEventKind; event_no: string; event: object; payload_hash: string }, at: Date): Promise<{ hash: string } | null> {
    const rows: Row[] = await this.db.query(
      `INSERT INTO points.inbox (crm_id, kind, event_no, event, payload_hash, received_at, next_at)
       VALUES ($1, $2, $3, $4, $5, $6, $6)
       ON CONFLICT (crm_id, kind, event_no) DO NOTHING
       RETURNING inbox_id`,
      [e.crm_id, e.kind, e.event_no, JSON.stringify(e.event), e.payload_hash, at],
    );
    if (rows.length) return null;
    const [old]: Row[] = await this.db.query(`SELECT payload_hash FROM points.inbox WHERE crm_id = $1 AND kind = $2 AND event_no = $3`, [
      e.crm_id,
      e.kind,
      e.event_no,
    ]);
    // Purged between the two statements: the event was applied; the ledger answers a repeat by its event_no.
    return { hash: old ? (old.payload_hash as string) : e.payload_hash };
  }

  /** Up to `limit` waiting rows due at `now`, in arrival order, locked; rows another worker holds are skipped. */
  async claim(em: EntityManager, now: Date, limit: number): Promise<InboxRow[]> {
    const rows: Row[] = await em.query(
      `SELECT crm_id, inbox_id, kind, event_no, event, attempts FROM points.inbox
        WHERE done_at IS NULL AND next_at <= $1 ORDER BY inbox_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [now, limit],
    );
    return rows.map((r) => ({ ...r, inbox_id: String(r.inbox_id) }) as InboxRow);
  }

  /** Marks applied rows done with their answer (a refusal is an answer too). */
  async finish(em: EntityManager, done: Array<{ row: InboxRow; code: number; msg: string }>, at: Date): Promise<void> {
    if (!done.length) return;
    await em.query(
      `UPDATE points.inbox i SET done_at = $5, outcome_code = t.code, outcome_msg = t.msg, attempts = i.attempts + 1
         FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[]) AS t(crm_id, inbox_id, code, msg)
        WHERE i.crm_id = t.crm_id AND i.inbox_id = t.inbox_id`,
      [done.map((d) => d.row.crm_id), done.map((d) => d.row.inbox_id), done.map((d) => d.code), done.map((d) => d.msg), at],
    );
  }

  /** Leaves rows whose apply failed (the database, a bug) for another attempt at `next_at` each. */
  async retryLater(em: EntityManager, failed: Array<{ row: InboxRow; error: string; next_at: Date }>): Promise<void> {
    if (!failed.length) return;
    await em.query(
      `UPDATE points.inbox i SET attempts = i.attempts + 1, last_error = t.error, next_at = t.next_at
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[]) AS t(crm_id, inbox_id, error, next_at)
        WHERE i.crm_id = t.crm_id AND i.inbox_id = t.inbox_id`,
      [failed.map((f) => f.row.crm_id), failed.map((f) => f.row.inbox_id), failed.map((f) => f.error), failed.map((f) => f.next_at)],
    );
  }

  /** Deletes up to `limit` rows done before `before`; answers how many. */
  async purge(before: Date, limit: number): Promise<number> {
    // TypeORM answers a DELETE with [rows, affected count].
    const [, deleted] = await this.db.query<[unknown, number]>(
      `DELETE FROM points.inbox WHERE (crm_id, inbox_id) IN (
         SELECT crm_id, inbox_id FROM points.inbox WHERE done_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return deleted;
  }
}
