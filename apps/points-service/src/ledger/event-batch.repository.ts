import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { PointsEventView } from '@app/domain';
import { BatchPlan, LockedMember } from './batch-plan';
import { EVENT_COLUMNS, NewEvent, toEventView } from './ledger.repository';
import { spendableLot } from './ledger.sql';
import { webhookEventsOf } from './webhook-events.sql';

type Row = Record<string, any>;

/** A journal row read back, with the payload it was recorded for. */
export interface StoredEvent {
  view: PointsEventView;
  payload_hash: string;
}

/**
 * An event_no of the batch was recorded meanwhile by a transaction of another member (the
 * same event_no sent for two members at once): the batch rolls back and runs again, and
 * then finds it recorded.
 */
export class EventNoTaken extends Error {}

const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(v));

/** The statements of a batch of earns and spends: a handful per batch, whatever its size. */
@Injectable()
export class EventBatchRepository {
  /**
   * Creates the members' rows where needed and locks them, in the order given (sorted by
   * the caller, as every transaction of the ledger locks members): each member's debt,
   * and which rows this statement created.
   */
  async lockMembers(em: EntityManager, crmId: string, memberNos: string[], now: Date): Promise<Map<string, { debt: string; created: boolean }>> {
    const rows: Row[] = await em.query(
      `INSERT INTO points.member (crm_id, member_no, create_time, update_time)
       SELECT $1, t.member_no, $3, $3 FROM unnest($2::text[]) WITH ORDINALITY AS t(member_no, ord) ORDER BY t.ord
       ON CONFLICT (crm_id, member_no) DO UPDATE SET update_time = points.member.update_time
       RETURNING member_no, debt_points::text AS debt, (xmax = 0) AS created`,
      [crmId, memberNos, now],
    );
    return new Map(rows.map((r) => [r.member_no, { debt: r.debt, created: r.created }]));
  }

  /**
   * What the batch reads under the members' locks, in one statement: the journal rows
   * recorded under these event_nos already (committed before the locks were taken), and
   * the spendable lots at `now` of `spenders`, soonest expiry first (never-expiring
   * last), then by lot_id.
   */
  async read(
    em: EntityManager,
    crmId: string,
    tz: string,
    eventNos: string[],
    spenders: string[],
    now: Date,
  ): Promise<{ recorded: Map<string, StoredEvent>; lots: Map<string, LockedMember['lots']> }> {
    const [row]: Row[] = await em.query(
      `SELECT (SELECT coalesce(json_agg(r), '[]') FROM (
                 SELECT ${EVENT_COLUMNS}, e.payload_hash FROM points.event e WHERE e.crm_id = $1 AND e.event_no = ANY($3::text[])) r) AS recorded,
              (SELECT coalesce(json_agg(l ORDER BY l.member_no, l.expire_time ASC NULLS LAST, l.lot_id), '[]') FROM (
                 SELECT member_no, lot_id, remaining::text AS remaining, expire_time FROM points.lot
                  WHERE crm_id = $1 AND member_no = ANY($4::text[]) AND ${spendableLot('', '$5')}) l) AS lots
        WHERE $2::text IS NOT NULL`,
      [crmId, tz, eventNos, spenders, now],
    );
    const recorded = new Map<string, StoredEvent>(
      (row.recorded as Row[]).map(({ payload_hash, ...view }) => [view.event_no, { view: toEventView(view), payload_hash }]),
    );
    const lots = new Map<string, LockedMember['lots']>();
    for (const r of row.lots as Row[]) {
      const list = lots.get(r.member_no) ?? lots.set(r.member_no, []).get(r.member_no)!;
      list.push({ lot_id: String(r.lot_id), remaining: r.remaining, expire_time: r.expire_time === null ? null : new Date(r.expire_time) });
    }
    return { recorded, lots };
  }

  /**
   * Writes a planned batch in one statement: the journal rows of `events` (the recorded
   * ones) and their webhook events (points.webhook_outbox), the new lots, what the spends
   * took from existing lots and from which lots,
   * the members' counters; and drops the member rows `drop` (created by this batch, with
   * nothing recorded). Answers the journal rows written, formatted in `tz`. Throws
   * EventNoTaken when an event_no was recorded meanwhile (by another member's transaction).
   */
  async write(
    em: EntityManager,
    crmId: string,
    tz: string,
    now: Date,
    events: NewEvent[],
    plan: BatchPlan,
    drop: string[],
  ): Promise<Map<string, PointsEventView>> {
    const col = <K extends keyof NewEvent>(k: K) => events.map((e) => e[k]);
    const rows: Row[] = await em.query(
      `WITH ev AS (
         INSERT INTO points.event AS e (crm_id, event_no, member_no, event_type, points, event_at, expire_time, unfreeze_time, action_scene, store_code,
                                        cost_center, campaign_code, operator, event_desc, order_items, payload_hash, create_time, update_time)
         SELECT $1, t.event_no, t.member_no, t.event_type, t.points, t.event_at, t.expire_time, t.unfreeze_time, t.action_scene, t.store_code,
                t.cost_center, t.campaign_code, t.operator, t.event_desc, t.order_items::jsonb, t.payload_hash, $3, $3
           FROM unnest($4::text[], $5::text[], $6::text[], $7::numeric[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[],
                       $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[])
                WITH ORDINALITY AS t(event_no, member_no, event_type, points, event_at, expire_time, unfreeze_time, action_scene, store_code,
                                     cost_center, campaign_code, operator, event_desc, order_items, payload_hash, ord)
          ORDER BY t.ord
         ON CONFLICT (crm_id, event_no) DO NOTHING
         RETURNING ${EVENT_COLUMNS}, e.event_at AS event_instant),
       hook AS (${webhookEventsOf(
         `(SELECT auto_id, crm_id, member_no, event_no, event_type, points, event_instant AS event_at, action_scene, store_code,
                                           origin_event_no, from_transfer_no, trans_type FROM ev) AS evh`,
         '$3',
       )} RETURNING 1),
       nl AS (
         INSERT INTO points.lot (crm_id, member_no, event_no, amount, remaining, expire_time, unfreeze_time, create_time)
         SELECT $1, t.member_no, t.event_no, t.amount, t.remaining, t.expire_time, t.unfreeze_time, $3
           FROM unnest($19::text[], $20::text[], $21::numeric[], $22::numeric[], $23::timestamptz[], $24::timestamptz[])
                WITH ORDINALITY AS t(event_no, member_no, amount, remaining, expire_time, unfreeze_time, ord)
          ORDER BY t.ord
         RETURNING lot_id, event_no),
       tk AS (
         UPDATE points.lot l SET remaining = l.remaining - t.n FROM unnest($25::bigint[], $26::numeric[]) AS t(lot_id, n)
          WHERE l.crm_id = $1 AND l.lot_id = t.lot_id
         RETURNING 1),
       al AS (
         INSERT INTO points.allocation (crm_id, event_id, lot_id, points)
         SELECT $1, ev.auto_id, coalesce(t.lot_id, nl.lot_id), t.n
           FROM unnest($27::text[], $28::bigint[], $29::text[], $30::numeric[]) AS t(event_no, lot_id, lot_event_no, n)
           JOIN ev ON ev.event_no = t.event_no
           LEFT JOIN nl ON nl.event_no = t.lot_event_no
         RETURNING 1),
       mb AS (
         UPDATE points.member m SET total_points = m.total_points + t.total, used_points = m.used_points + t.used,
                debt_points = m.debt_points - t.paid, update_time = $3
           FROM unnest($31::text[], $32::numeric[], $33::numeric[], $34::numeric[]) AS t(member_no, total, used, paid)
          WHERE m.crm_id = $1 AND m.member_no = t.member_no
         RETURNING 1),
       dr AS (DELETE FROM points.member m WHERE m.crm_id = $1 AND m.member_no = ANY($35::text[]) RETURNING 1)
       SELECT ev.*, (SELECT count(*) FROM nl)::int AS n_lots, (SELECT count(*) FROM hook)::int AS n_hooks, (SELECT count(*) FROM tk)::int AS n_taken,
              (SELECT count(*) FROM al)::int AS n_allocs, (SELECT count(*) FROM mb)::int AS n_members, (SELECT count(*) FROM dr)::int AS n_dropped
         FROM ev`,
      [
        crmId,
        tz,
        now,
        col('event_no'),
        col('member_no'),
        col('event_type'),
        col('points'),
        col('event_at'),
        col('expire_time'),
        col('unfreeze_time'),
        col('action_scene'),
        col('store_code'),
        col('cost_center'),
        col('campaign_code'),
        col('operator'),
        col('event_desc'),
        events.map((e) => json(e.order_items)),
        col('payload_hash'),
        plan.newLots.map((l) => l.event_no),
        plan.newLots.map((l) => l.member_no),
        plan.newLots.map((l) => l.amount),
        plan.newLots.map((l) => l.remaining),
        plan.newLots.map((l) => l.expire_time),
        plan.newLots.map((l) => l.unfreeze_time),
        plan.taken.map((t) => t.lot_id),
        plan.taken.map((t) => t.points),
        plan.allocations.map((a) => a.event_no),
        plan.allocations.map((a) => a.lot_id),
        plan.allocations.map((a) => a.lot_event_no),
        plan.allocations.map((a) => a.points),
        plan.members.map((m) => m.member_no),
        plan.members.map((m) => m.total),
        plan.members.map((m) => m.used),
        plan.members.map((m) => m.paid),
        drop,
      ],
    );
    const written = rows.length;
    if (written < events.length) throw new EventNoTaken(`${events.length - written} event_no(s) of the batch were recorded meanwhile`);
    const counts = rows[0] ?? { n_lots: 0, n_taken: 0, n_allocs: 0, n_members: 0, n_dropped: 0, n_hooks: 0 };
    const expected = {
      events: events.length,
      n_lots: plan.newLots.length,
      n_taken: plan.taken.length,
      n_allocs: plan.allocations.length,
      n_members: plan.members.length,
      n_dropped: drop.length,
      n_hooks: events.length,
    };
    const got = {
      events: written,
      n_lots: counts.n_lots,
      n_taken: counts.n_taken,
      n_allocs: counts.n_allocs,
      n_members: counts.n_members,
      n_dropped: counts.n_dropped,
      n_hooks: counts.n_hooks,
    };
    if (events.length && JSON.stringify(expected) !== JSON.stringify(got)) {
      throw new Error(`points batch wrote ${JSON.stringify(got)}, planned ${JSON.stringify(expected)}`);
    }
    return new Map(
      rows.map((r) => {
        const { n_lots, n_taken, n_allocs, n_members, n_dropped, n_hooks, event_instant, ...view } = r;
        return [r.event_no, toEventView(view)];
      }),
    );
  }
}
