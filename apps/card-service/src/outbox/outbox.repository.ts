import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { CardEvent, CardEventKind, CardFact } from '@app/domain';

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
}

/** The outbox's columns in insert order, for the statements that write events along with their change (claim batches, sweeps). */
export const OUTBOX_COLUMNS = 'crm_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of, ref';

type Row = Record<string, any>;

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

/** The card.outbox table: events written with their change, and the relay's queries. */
@Injectable()
export class OutboxRepository {
  /** Writes events in the caller's transaction, in the given order (one statement however many). */
  async add(em: EntityManager, events: OutboxEvent[]): Promise<void> {
    if (!events.length) return;
    const rows: Row[] = await em.query(
      `INSERT INTO card.outbox (${OUTBOX_COLUMNS})
       SELECT t.crm_id, t.kind, t.card_id, c.title, t.member_no, t.count, t.channel, t.occurred_at, t.day_of, t.ref
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::timestamptz[], $8::timestamptz[], $9::text[])
              WITH ORDINALITY AS t(crm_id, kind, card_id, member_no, count, channel, occurred_at, day_of, ref, ord)
         JOIN card.card_info c ON c.crm_id = t.crm_id AND c.card_id = t.card_id
        ORDER BY t.ord
       RETURNING 1`,
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
      ],
    );
    // Cards are never deleted (removed is a flag): a missing one is a bug, and the change must not commit without its events.
    if (rows.length !== events.length) throw new Error(`outbox: ${events.length} events but ${rows.length} written (a card is missing)`);
  }

  /** The oldest `limit` rows, all tenants together, in event_id order (the relay's jobs keep it), locked; rows another relay holds are skipped. */
  async take(em: EntityManager, limit: number): Promise<CardEvent[]> {
    const rows: Row[] = await em.query(
      `SELECT crm_id, event_id, kind, card_id, title, member_no, count, channel, occurred_at, day_of, ref
         FROM card.outbox ORDER BY event_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    return rows.map(toCardEvent);
  }

  /** Deletes relayed rows (locked by the caller's take). */
  async remove(em: EntityManager, events: Array<Pick<CardEvent, 'crm_id' | 'event_id'>>): Promise<void> {
    if (!events.length) return;
    await em.query(
      `DELETE FROM card.outbox o USING unnest($1::text[], $2::bigint[]) AS t(crm_id, event_id)
        WHERE o.crm_id = t.crm_id AND o.event_id = t.event_id`,
      [events.map((e) => e.crm_id), events.map((e) => e.event_id)],
    );
  }
}
