import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CardEvent, CardEventKind, CardFact } from '@app/domain';
import { SINGLE_CODE_KINDS, WEBHOOK_OUTBOX_COLUMNS, webhookDataSql, webhookTypeSql } from './webhook-outbox.sql';

/**
 * One card event as a use case writes it, in the transaction of its change. The outbox
 * gives it its event_id and takes the card's title from card_info in the same statement.
 */
export interface OutboxEvent {
  crm_id: string;
  kind: CardEventKind;
  card_id: string;
  member_no: string;
  count: number;
  channel: string | null;
  occurred_at: Date;
  day_of: Date;
  ref: string | null;
  /** The codes concerned, for the webhook event (`card_code` when the kind concerns one code, else `codes`). */
  codes: string[];
  /** More fields of the webhook event's data (e.g. the operator of a void). */
  webhook?: Record<string, unknown>;
}

/** The outbox's columns in insert order, for the statements that write events along with their change (claim batches, sweeps). */
export const OUTBOX_COLUMNS = 'crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of, ref';

type Row = Record<string, any>;

/** An outbox row handed to the `card-events` queue, and the job that carries it. */
export interface RelayedRow {
  crm_id: string;
  event_id: string;
  job_id: string;
}

/** A row with the outbox's columns (an outbox row, or a fact read from card-service's tables) as a CardFact. */
export const toCardFact = (r: Row): CardFact => ({
  crm_id: r.crm_id,
  kind: r.kind,
  card_id: r.card_id,
  title: r.title,
  member_no: r.member_no,
  count: r.count,
  channel: r.channel,
  occurred_at: (r.occurred_at as Date).toISOString(),
  day_of: (r.day_of as Date).toISOString(),
  ref: r.ref,
});

const toCardEvent = (r: Row): CardEvent => ({ ...toCardFact(r), event_id: String(r.event_id) });

/** The card.outbox table: events written with their change, and the relay's and the recheck's queries. */
@Injectable()
export class OutboxRepository {
  /**
   * Writes events in the caller's transaction, in the given order, in one statement
   * however many: each event's card.outbox row and its card.webhook_outbox row.
   */
  async add(em: EntityManager, events: OutboxEvent[]): Promise<void> {
    if (!events.length) return;
    const rows: Array<{ n: number; w: number }> = await em.query(
      `WITH t AS (
         SELECT t.*, c.title
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[], $10::text[])
                WITH ORDINALITY AS t(crm_id, kind, card_id, member_no, count, channel, occurred_at, day_of, ref, extra, ord)
           JOIN card.card_info c ON c.crm_id = t.crm_id AND c.card_id = t.card_id),
       o AS (
         INSERT INTO card.outbox (${OUTBOX_COLUMNS})
         SELECT crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of, ref FROM t ORDER BY ord
         RETURNING 1),
       w AS (
         INSERT INTO card.webhook_outbox (${WEBHOOK_OUTBOX_COLUMNS})
         SELECT crm_id, ${webhookTypeSql('kind')}, member_no, occurred_at,
                ${webhookDataSql({ kind: 'kind', card_id: 'card_id', title: 'title', member_no: 'member_no', count: 'count', channel: 'channel', ref: 'ref', extra: 'extra::jsonb' })}
           FROM t ORDER BY ord
         RETURNING 1)
       SELECT (SELECT count(*) FROM o)::int AS n, (SELECT count(*) FROM w)::int AS w`,
      [
        events.map((e) => e.crm_id),
        events.map((e) => e.kind),
        events.map((e) => e.card_id),
        events.map((e) => e.member_no),
        events.map((e) => e.count),
        events.map((e) => e.channel),
        events.map((e) => e.occurred_at),
        events.map((e) => e.day_of),
        events.map((e) => e.ref),
        events.map((e) => JSON.stringify({ ...(SINGLE_CODE_KINDS.includes(e.kind) ? { card_code: e.codes[0] ?? null } : { codes: e.codes }), ...e.webhook })),
      ],
    );
    // Cards are never deleted (removed is a flag): a missing one is a bug, and the change must not commit without its events.
    const [{ n, w }] = rows;
    if (n !== events.length || w !== events.length)
      throw new Error(`outbox: ${events.length} events but ${n} written (${w} webhook events; a card is missing)`);
  }

  /** The oldest `limit` rows not yet relayed, all tenants together, in event_id order (the relay's jobs keep it), locked; rows another relay holds are skipped. */
  async take(em: EntityManager, limit: number): Promise<CardEvent[]> {
    const rows: Row[] = await em.query(
      `SELECT crm_id, event_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of, ref
         FROM card.outbox WHERE relayed_at IS NULL ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map(toCardEvent);
  }

  /** Marks taken rows relayed (locked by the caller's take), each with the id of the job that carries it. */
  async markRelayed(em: EntityManager, rows: RelayedRow[], at: Date): Promise<void> {
    if (!rows.length) return;
    await em.query(
      `UPDATE card.outbox o SET relayed_at = $4, job_id = t.job_id
         FROM unnest($1::text[], $2::bigint[], $3::text[]) AS t(crm_id, event_id, job_id)
        WHERE o.crm_id = t.crm_id AND o.event_id = t.event_id`,
      [rows.map((r) => r.crm_id), rows.map((r) => r.event_id), rows.map((r) => r.job_id), at],
    );
  }

  /** Relayed rows after `afterEventId`, in event_id order, locked; rows another worker holds are skipped (the recheck's pages). */
  async takeRelayed(em: EntityManager, afterEventId: string, limit: number): Promise<RelayedRow[]> {
    const rows: Row[] = await em.query(
      `SELECT crm_id, event_id, job_id FROM card.outbox
        WHERE relayed_at IS NOT NULL AND event_id > $1 ORDER BY event_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [afterEventId, limit],
    );
    return rows.map((r) => ({ crm_id: r.crm_id, event_id: String(r.event_id), job_id: r.job_id }));
  }

  /** Deletes rows whose job completed (locked by the caller). */
  async remove(em: EntityManager, events: Array<Pick<CardEvent, 'crm_id' | 'event_id'>>): Promise<void> {
    if (!events.length) return;
    await em.query(
      `DELETE FROM card.outbox o USING unnest($1::text[], $2::bigint[]) AS t(crm_id, event_id)
        WHERE o.crm_id = t.crm_id AND o.event_id = t.event_id`,
      [events.map((e) => e.crm_id), events.map((e) => e.event_id)],
    );
  }

  /** Clears the relayed mark of rows whose job Redis lost (locked by the caller): the relay takes them again. */
  async unmark(em: EntityManager, events: Array<Pick<CardEvent, 'crm_id' | 'event_id'>>): Promise<void> {
    if (!events.length) return;
    await em.query(
      `UPDATE card.outbox o SET relayed_at = NULL, job_id = NULL FROM unnest($1::text[], $2::bigint[]) AS t(crm_id, event_id)
        WHERE o.crm_id = t.crm_id AND o.event_id = t.event_id`,
      [events.map((e) => e.crm_id), events.map((e) => e.event_id)],
    );
  }
}
