import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DeliveryView, Page, WebhookEventIn, WebhookEventType } from '@app/domain';
import { fmtTime, num } from '@app/platform';

type Row = Record<string, any>;

/** A delivery a worker took: what to send. */
export interface ClaimedDelivery {
  crm_id: string;
  delivery_id: number;
  webhook_id: string;
  event_id: string;
  type: WebhookEventType;
  occurred_at: Date;
  data: Record<string, unknown>;
  /** Attempts including this one. */
  attempts: number;
  first_attempt_at: Date;
}

/** How an attempt ended. */
export interface AttemptResult {
  crm_id: string;
  delivery_id: number;
  webhook_id: string;
  /** HTTP status, null when there was no answer. */
  status: number | null;
  error: string | null;
  /** delivered; retry (at next_at); failed (for good). */
  outcome: 'delivered' | 'retry' | 'failed';
  next_at: Date | null;
  /** When the attempt was taken (its last_attempt_at): a failure streak starts there, so it is not after the delivery's first_attempt_at. */
  attempted_at: Date;
}

/** $2 is the zone. */
const VIEW_COLUMNS = `
  d.delivery_id, d.webhook_id, d.event_id, ev.type, d.member_no, d.status, d.attempts, d.last_status, d.last_error,
  ${fmtTime('d.last_attempt_at', '$2')} AS last_attempt_time,
  CASE WHEN d.status = 'pending' THEN ${fmtTime('d.next_at', '$2')} END AS next_time,
  ${fmtTime('d.delivered_at', '$2')} AS delivered_time, ${fmtTime('d.create_time', '$2')} AS create_time`;

const toView = (r: Row): DeliveryView => ({ ...(r as DeliveryView), delivery_id: num(r.delivery_id) });

/** Every query on events and deliveries. */
@Injectable()
export class DeliveryRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Records the events new to us, of tenants that have a subscription (others' are not
   * kept), and a pending delivery for each enabled subscription of its type; one statement.
   */
  async ingest(events: WebhookEventIn[], now: Date): Promise<{ accepted: number; deliveries: number }> {
    const col = <K extends keyof WebhookEventIn>(k: K) => events.map((e) => e[k]);
    const [row] = await this.db.query(
      `WITH given AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[])
                  WITH ORDINALITY AS g (crm_id, event_id, type, member_no, occurred_at, data, n)
          WHERE EXISTS (SELECT 1 FROM webhook.endpoint e WHERE e.crm_id = g.crm_id)
          ORDER BY n),
       ev AS (
         INSERT INTO webhook.event (crm_id, event_id, type, member_no, occurred_at, data, received_at)
         SELECT crm_id, event_id, type, member_no, occurred_at, data, $7 FROM given ORDER BY n
         ON CONFLICT (crm_id, event_id) DO NOTHING
         RETURNING crm_id, event_id, seq, type, member_no),
       d AS (
         INSERT INTO webhook.delivery (crm_id, webhook_id, event_id, seq, member_no, next_at, create_time)
         SELECT ev.crm_id, e.webhook_id, ev.event_id, ev.seq, ev.member_no, $7, $7
           FROM ev JOIN webhook.endpoint e ON e.crm_id = ev.crm_id AND e.status = 'enabled' AND ev.type = ANY (e.events)
         RETURNING 1)
       SELECT (SELECT count(*) FROM ev)::int AS accepted, (SELECT count(*) FROM d)::int AS deliveries`,
      [col('crm_id'), col('event_id'), col('type'), col('member_no'), col('occurred_at'), events.map((e) => JSON.stringify(e.data)), now],
    );
    return { accepted: row.accepted, deliveries: row.deliveries };
  }

  /**
   * Takes up to `limit` deliveries that are due, of enabled subscriptions, each the
   * earliest pending one of its member at its subscription (order per member), and leases
   * them until `leaseUntil` (a worker that dies lets them come back then). SKIP LOCKED: workers
   * take disjoint deliveries; a member's later delivery is not due while an earlier one is pending.
   */
  async claim(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
    // TypeORM answers an UPDATE with [rows, affected], RETURNING or not.
    const [rows]: [Row[], number] = await this.db.query(
      `WITH due AS (
         SELECT d.crm_id, d.delivery_id
           FROM webhook.delivery d
           JOIN webhook.endpoint e ON e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id AND e.status = 'enabled'
          WHERE d.status = 'pending' AND d.next_at <= $1
            AND (d.member_no IS NULL OR NOT EXISTS (
                  SELECT 1 FROM webhook.delivery p
                   WHERE p.crm_id = d.crm_id AND p.webhook_id = d.webhook_id AND p.member_no = d.member_no
                     AND p.status = 'pending' AND p.seq < d.seq))
          ORDER BY d.next_at
          LIMIT $3
          FOR UPDATE OF d SKIP LOCKED)
       UPDATE webhook.delivery d
          SET next_at = $2, attempts = d.attempts + 1, first_attempt_at = COALESCE(d.first_attempt_at, $1), last_attempt_at = $1
         FROM due, webhook.event ev
        WHERE d.crm_id = due.crm_id AND d.delivery_id = due.delivery_id AND ev.crm_id = d.crm_id AND ev.event_id = d.event_id
       RETURNING d.crm_id, d.delivery_id, d.webhook_id, d.event_id, ev.type, ev.occurred_at, ev.data, d.attempts, d.first_attempt_at`,
      [now, leaseUntil, limit],
    );
    return rows.map((r) => ({ ...(r as ClaimedDelivery), delivery_id: num(r.delivery_id) }));
  }

  /**
   * Writes how the attempts ended and keeps each endpoint's failure streak: a delivered
   * attempt clears it, a failed one starts it (at the attempt's start) if none runs. One transaction.
   */
  async finish(em: EntityManager, results: AttemptResult[], now: Date): Promise<void> {
    if (!results.length) return;
    const col = <K extends keyof AttemptResult>(k: K) => results.map((r) => r[k]);
    await em.query(
      `UPDATE webhook.delivery d
          SET status = CASE r.outcome WHEN 'retry' THEN 'pending' ELSE r.outcome END,
              next_at = COALESCE(r.next_at, d.next_at), last_status = r.status, last_error = r.error,
              delivered_at = CASE WHEN r.outcome = 'delivered' THEN $7::timestamptz END
         FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::timestamptz[]) AS r (crm_id, delivery_id, status, error, outcome, next_at)
        WHERE d.crm_id = r.crm_id AND d.delivery_id = r.delivery_id`,
      [col('crm_id'), col('delivery_id'), col('status'), col('error'), col('outcome'), col('next_at'), now],
    );
    const delivered = results.filter((r) => r.outcome === 'delivered');
    const failed = results.filter((r) => r.outcome !== 'delivered');
    if (delivered.length) {
      await em.query(
        `UPDATE webhook.endpoint e SET failing_since = NULL
           FROM unnest($1::text[], $2::text[]) AS k (crm_id, webhook_id)
          WHERE e.crm_id = k.crm_id AND e.webhook_id = k.webhook_id AND e.failing_since IS NOT NULL`,
        [delivered.map((r) => r.crm_id), delivered.map((r) => r.webhook_id)],
      );
    }
    if (failed.length) {
      await em.query(
        `UPDATE webhook.endpoint e SET failing_since = k.since
           FROM (SELECT crm_id, webhook_id, min(at) AS since FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u (crm_id, webhook_id, at) GROUP BY 1, 2) k
          WHERE e.crm_id = k.crm_id AND e.webhook_id = k.webhook_id AND e.failing_since IS NULL`,
        [failed.map((r) => r.crm_id), failed.map((r) => r.webhook_id), failed.map((r) => r.attempted_at)],
      );
    }
  }

  /** The failure streak of an endpoint (null: none), read in the transaction that may disable it. */
  async failingSince(em: EntityManager, crmId: string, webhookId: string): Promise<Date | null> {
    const [row] = await em.query('SELECT failing_since FROM webhook.endpoint WHERE crm_id = $1 AND webhook_id = $2 FOR UPDATE', [crmId, webhookId]);
    return row?.failing_since ?? null;
  }

  async disable(em: EntityManager, crmId: string, webhookId: string, reason: string, now: Date): Promise<void> {
    await em.query(
      `UPDATE webhook.endpoint SET status = 'disabled', disabled_reason = $3, update_time = $4 WHERE crm_id = $1 AND webhook_id = $2 AND status = 'enabled'`,
      [crmId, webhookId, reason, now],
    );
  }

  /** A subscription's deliveries, newest first. */
  async list(crmId: string, webhookId: string, status: string | undefined, page: number, size: number, tz: string): Promise<Page<DeliveryView>> {
    const where = `d.crm_id = $1 AND d.webhook_id = $3 AND ($4::text IS NULL OR d.status = $4)`;
    // $2 (the zone) is unused by the count: typed, so PostgreSQL accepts the parameter.
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM webhook.delivery d WHERE $2::text IS NOT NULL AND ${where}`, [
      crmId,
      tz,
      webhookId,
      status ?? null,
    ]);
    const rows: Row[] = await this.db.query(
      `SELECT ${VIEW_COLUMNS} FROM webhook.delivery d JOIN webhook.event ev ON ev.crm_id = d.crm_id AND ev.event_id = d.event_id
        WHERE ${where} ORDER BY d.delivery_id DESC LIMIT $5 OFFSET $6`,
      [crmId, tz, webhookId, status ?? null, size, (page - 1) * size],
    );
    return { total, result: rows.map(toView) };
  }

  async find(crmId: string, webhookId: string, deliveryId: number, tz: string): Promise<DeliveryView | null> {
    const [row] = await this.db.query(
      `SELECT ${VIEW_COLUMNS} FROM webhook.delivery d JOIN webhook.event ev ON ev.crm_id = d.crm_id AND ev.event_id = d.event_id
        WHERE d.crm_id = $1 AND d.webhook_id = $3 AND d.delivery_id = $4`,
      [crmId, tz, webhookId, deliveryId],
    );
    return row ? toView(row) : null;
  }

  /** Due now again, with a whole schedule of attempts ahead (whatever its state); false when there is no such delivery. */
  async retry(crmId: string, webhookId: string, deliveryId: number, now: Date): Promise<boolean> {
    const [, affected] = await this.db.query(
      `UPDATE webhook.delivery SET status = 'pending', attempts = 0, first_attempt_at = NULL, next_at = $4, delivered_at = NULL
        WHERE crm_id = $1 AND webhook_id = $2 AND delivery_id = $3`,
      [crmId, webhookId, deliveryId, now],
    );
    return affected > 0;
  }

  /** A new delivery for each kept event of the range of the subscription's types. */
  async replay(crmId: string, webhookId: string, from: string, to: string, tz: string, now: Date): Promise<number> {
    // TypeORM answers an INSERT with its rows only (no count): the statement counts them.
    const [{ count }] = await this.db.query(
      `WITH made AS (
         INSERT INTO webhook.delivery (crm_id, webhook_id, event_id, seq, member_no, next_at, create_time)
         SELECT ev.crm_id, e.webhook_id, ev.event_id, ev.seq, ev.member_no, $6, $6
           FROM webhook.endpoint e
           JOIN webhook.event ev ON ev.crm_id = e.crm_id AND ev.type = ANY (e.events)
          WHERE e.crm_id = $1 AND e.webhook_id = $2
            AND ev.occurred_at >= $3::timestamp AT TIME ZONE $5 AND ev.occurred_at < ($4::timestamp + interval '1 second') AT TIME ZONE $5
          ORDER BY ev.seq
         RETURNING 1)
       SELECT count(*)::int AS count FROM made`,
      [crmId, webhookId, from, to, tz, now],
    );
    return count;
  }

  /** Deletes up to `limit` events received before `before` (their deliveries go with them): answers how many. */
  async purge(before: Date, limit: number): Promise<number> {
    const [, count] = await this.db.query(
      `DELETE FROM webhook.event ev USING (
         SELECT crm_id, event_id FROM webhook.event WHERE received_at < $1 ORDER BY received_at LIMIT $2) old
        WHERE ev.crm_id = old.crm_id AND ev.event_id = old.event_id
          AND NOT EXISTS (SELECT 1 FROM webhook.delivery d WHERE d.crm_id = ev.crm_id AND d.event_id = ev.event_id AND d.status = 'pending')`,
      [before, limit],
    );
    return count;
  }

  /**
   * Pending deliveries, and how long the most overdue one a worker may take has waited (the
   * metrics): one of an enabled subscription, not held behind its member's earlier delivery,
   * the same test as claim(), so the age grows only when workers fall behind.
   */
  async backlog(now: Date): Promise<{ pending: number; oldestDueSeconds: number }> {
    const [row] = await this.db.query(
      `SELECT (SELECT count(*)::int FROM webhook.delivery WHERE status = 'pending') AS pending,
              COALESCE((SELECT EXTRACT(EPOCH FROM $1 - min(d.next_at))
                          FROM webhook.delivery d
                          JOIN webhook.endpoint e ON e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id AND e.status = 'enabled'
                         WHERE d.status = 'pending' AND d.next_at <= $1
                           AND (d.member_no IS NULL OR NOT EXISTS (
                                 SELECT 1 FROM webhook.delivery p
                                  WHERE p.crm_id = d.crm_id AND p.webhook_id = d.webhook_id AND p.member_no = d.member_no
                                    AND p.status = 'pending' AND p.seq < d.seq))), 0)::float8 AS oldest`,
      [now],
    );
    return { pending: row.pending, oldestDueSeconds: Math.max(0, row.oldest) };
  }
}
