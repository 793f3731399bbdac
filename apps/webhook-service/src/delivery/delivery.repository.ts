import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { DeliveryView, Page, WebhookEventType, WebhookIngestMsg } from '@app/domain';
import { fmtTime, num } from '@app/platform';
import { EndpointTarget } from '../endpoint/endpoint.repository';

type Row = Record<string, any>;

/** A delivery a worker took: what to send, and where. */
export interface ClaimedDelivery {
  crm_id: string;
  delivery_id: number;
  webhook_id: string;
  member_no: string | null;
  event_id: string;
  type: WebhookEventType;
  occurred_at: Date;
  data: Record<string, unknown>;
  /** Attempts including this one. */
  attempts: number;
  first_attempt_at: Date;
  target: EndpointTarget;
}

/** How an attempt ended. */
export interface AttemptResult {
  crm_id: string;
  delivery_id: number;
  webhook_id: string;
  member_no: string | null;
  /** HTTP status, null when there was no answer. */
  status: number | null;
  error: string | null;
  /** delivered; retry (at next_at); failed (for good). */
  outcome: 'delivered' | 'retry' | 'failed';
  next_at: Date | null;
  /** When the attempt was taken (its last_attempt_at): a failure streak starts there, so it is not after the delivery's first_attempt_at. */
  attempted_at: Date;
}

/** A member's queue at a subscription. */
interface QueueKey {
  crm_id: string;
  webhook_id: string;
  member_no: string;
}

/** $2 is the zone. */
const VIEW_COLUMNS = `
  d.delivery_id, d.webhook_id, d.event_id, d.type, d.member_no, d.status, d.attempts, d.last_status, d.last_error,
  ${fmtTime('d.last_attempt_at', '$2')} AS last_attempt_time,
  CASE WHEN d.status = 'pending' THEN ${fmtTime('d.next_at', '$2')} END AS next_time,
  ${fmtTime('d.delivered_at', '$2')} AS delivered_time, ${fmtTime('d.create_time', '$2')} AS create_time`;

const toView = (r: Row): DeliveryView => ({ ...(r as DeliveryView), delivery_id: num(r.delivery_id) });

/** An endpoint's key in maps of a batch's outcomes. */
export const endpointKey = (r: { crm_id: string; webhook_id: string }) => `${r.crm_id}\u0000${r.webhook_id}`;

const keyOf = (k: QueueKey) => `${k.crm_id}\u0000${k.webhook_id}\u0000${k.member_no}`;

/** The distinct keys (each statement that locks their rows orders them itself). */
const distinctKeys = (keys: QueueKey[]): QueueKey[] => [...new Map(keys.map((k) => [keyOf(k), k])).values()];

const keyArrays = (keys: QueueKey[]) => [keys.map((k) => k.crm_id), keys.map((k) => k.webhook_id), keys.map((k) => k.member_no)];

/**
 * New deliveries of `want` (a CTE of rows with crm_id, webhook_id, event_id, seq, member_no,
 * type, occurred_at, data), counted into their members' queues first: the upsert takes each
 * queue row's lock (in key order), so a delivery is ready exactly when its member had nothing
 * pending there and it is the member's earliest of the batch. `now` is the parameter of the time.
 *
 * The queues' counts reach the deliveries as one jsonb object keyed by queue
 * (`queue_counts`), not by a join of `ranked` with `queued`: the planner estimates a row or
 * two for these CTEs (it cannot see through unnest and the tenant filter) and joined them by
 * a nested loop, a key comparison per pair of rows, two thirds of an ingest of 500 events.
 * crm_id and webhook_id hold no '/', so the key is unambiguous.
 */
const insertDeliveries = (now: string) => `
       ranked AS (
         SELECT w.*, row_number() OVER (PARTITION BY w.crm_id, w.webhook_id, w.member_no ORDER BY w.seq) AS rank,
                count(*) OVER (PARTITION BY w.crm_id, w.webhook_id, w.member_no) AS n
           FROM want w),
       queued AS (
         INSERT INTO webhook.member_queue AS m (crm_id, webhook_id, member_no, pending)
         SELECT crm_id, webhook_id, member_no, n FROM ranked WHERE member_no IS NOT NULL AND rank = 1
          ORDER BY crm_id, webhook_id, member_no
         ON CONFLICT (crm_id, webhook_id, member_no) DO UPDATE SET pending = m.pending + excluded.pending
         RETURNING m.crm_id, m.webhook_id, m.member_no, m.pending),
       queue_counts AS MATERIALIZED (
         SELECT jsonb_object_agg(crm_id || '/' || webhook_id || '/' || member_no, pending) AS of FROM queued),
       made AS (
         INSERT INTO webhook.delivery (crm_id, webhook_id, event_id, seq, member_no, type, occurred_at, data, ready, next_at, create_time)
         SELECT r.crm_id, r.webhook_id, r.event_id, r.seq, r.member_no, r.type, r.occurred_at, r.data,
                r.member_no IS NULL OR (r.rank = 1 AND (p.of ->> (r.crm_id || '/' || r.webhook_id || '/' || r.member_no))::int = r.n), ${now}, ${now}
           FROM ranked r CROSS JOIN queue_counts p
          ORDER BY r.seq
         RETURNING 1)`;

/** Every query on events and deliveries. */
@Injectable()
export class DeliveryRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Records the events new to us, of tenants that have a subscription (others' are not
   * kept), and a pending delivery for each enabled subscription of its type; one statement.
   * `events`: one array per field, as `webhook.ingest` carries them.
   */
  async ingest(events: Omit<WebhookIngestMsg, 'source'>, now: Date): Promise<{ accepted: number; deliveries: number }> {
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
         RETURNING crm_id, event_id, seq, type, member_no, occurred_at, data),
       want AS (
         SELECT ev.crm_id, e.webhook_id, ev.event_id, ev.seq, ev.member_no, ev.type, ev.occurred_at, ev.data
           FROM ev JOIN webhook.endpoint e ON e.crm_id = ev.crm_id AND e.status = 'enabled' AND ev.type = ANY (e.events)),
       ${insertDeliveries('$7')}
       SELECT (SELECT count(*) FROM ev)::int AS accepted, (SELECT count(*) FROM made)::int AS deliveries`,
      [events.crm_id, events.event_id, events.type, events.member_no, events.occurred_at, events.data_json, now],
    );
    return { accepted: row.accepted, deliveries: row.deliveries };
  }

  /**
   * Takes up to `limit` ready deliveries that are due, of enabled subscriptions, and leases
   * them until `leaseUntil` (a worker that dies lets them come back then), with where to send
   * them. SKIP LOCKED: workers take disjoint deliveries. Ready is a member's earliest pending
   * delivery at its subscription, so the claim reads only what it may take.
   */
  async claim(now: Date, leaseUntil: Date, limit: number): Promise<ClaimedDelivery[]> {
    // TypeORM answers an UPDATE with [rows, affected], RETURNING or not.
    const [rows]: [Row[], number] = await this.db.query(
      `WITH due AS (
         SELECT d.crm_id, d.delivery_id
           FROM webhook.delivery d
          WHERE d.status = 'pending' AND d.ready AND d.next_at <= $1
            AND EXISTS (SELECT 1 FROM webhook.endpoint e WHERE e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id AND e.status = 'enabled')
          ORDER BY d.next_at
          LIMIT $3
          FOR UPDATE OF d SKIP LOCKED)
       UPDATE webhook.delivery d
          SET next_at = $2, attempts = d.attempts + 1, first_attempt_at = COALESCE(d.first_attempt_at, $1), last_attempt_at = $1
         FROM due, webhook.endpoint e
        WHERE d.crm_id = due.crm_id AND d.delivery_id = due.delivery_id AND e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id
       RETURNING d.crm_id, d.delivery_id, d.webhook_id, d.member_no, d.event_id, d.type, d.occurred_at, d.data, d.attempts, d.first_attempt_at,
                 e.url, e.secret, CASE WHEN e.previous_secret_until > $1 THEN e.previous_secret END AS previous_secret`,
      [now, leaseUntil, limit],
    );
    return rows.map((r) => ({
      crm_id: r.crm_id,
      delivery_id: num(r.delivery_id),
      webhook_id: r.webhook_id,
      member_no: r.member_no,
      event_id: r.event_id,
      type: r.type,
      occurred_at: r.occurred_at,
      data: r.data,
      attempts: r.attempts,
      first_attempt_at: r.first_attempt_at,
      target: { crm_id: r.crm_id, webhook_id: r.webhook_id, url: r.url, secrets: [r.secret, ...(r.previous_secret ? [r.previous_secret] : [])] },
    }));
  }

  /**
   * Writes how the attempts ended, in the caller's transaction: a delivery that is no longer
   * pending leaves its member's queue and makes the member's next one ready; each endpoint's
   * failure streak is kept (a delivered attempt clears it, a failed one starts it at the
   * attempt's start if none runs). An outcome for a delivery that is no longer pending (its
   * lease ran out and another attempt ended first) changes nothing. `results` in the order the attempts ended.
   */
  async finish(em: EntityManager, results: AttemptResult[], now: Date): Promise<void> {
    if (!results.length) return;
    const leaving = distinctKeys(results.filter((r) => r.outcome !== 'retry' && r.member_no !== null) as QueueKey[]);
    // The queue rows' locks first, in key order (ingest takes them in the same order), so
    // the next ready delivery is chosen from what ingest has committed.
    if (leaving.length) {
      await em.query(
        `SELECT 1 FROM webhook.member_queue m JOIN unnest($1::text[], $2::text[], $3::text[]) AS k (crm_id, webhook_id, member_no) USING (crm_id, webhook_id, member_no)
          ORDER BY m.crm_id, m.webhook_id, m.member_no FOR UPDATE OF m`,
        keyArrays(leaving),
      );
    }
    const col = <K extends keyof AttemptResult>(k: K) => results.map((r) => r[k]);
    const [left]: [Row[], number] = await em.query(
      `UPDATE webhook.delivery d
          SET status = CASE r.outcome WHEN 'retry' THEN 'pending' ELSE r.outcome END,
              next_at = COALESCE(r.next_at, d.next_at), last_status = r.status, last_error = r.error,
              delivered_at = CASE WHEN r.outcome = 'delivered' THEN $7::timestamptz END
         FROM unnest($1::text[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::timestamptz[]) AS r (crm_id, delivery_id, status, error, outcome, next_at)
        WHERE d.crm_id = r.crm_id AND d.delivery_id = r.delivery_id AND d.status = 'pending'
       RETURNING d.crm_id, d.webhook_id, d.member_no, d.status`,
      [col('crm_id'), col('delivery_id'), col('status'), col('error'), col('outcome'), col('next_at'), now],
    );
    const gone = left.filter((r) => r.status !== 'pending' && r.member_no !== null) as QueueKey[];
    if (gone.length) await this.leaveQueues(em, gone);
    // The streak is what follows an endpoint's last delivered attempt: failures before it in the batch do not count.
    const lastDelivered = new Map(results.flatMap((r, i) => (r.outcome === 'delivered' ? [[endpointKey(r), i] as const] : [])));
    const delivered = results.filter((r) => r.outcome === 'delivered');
    const failed = results.filter((r, i) => r.outcome !== 'delivered' && i > (lastDelivered.get(endpointKey(r)) ?? -1));
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

  /**
   * One delivery per key (with repeats) left pending: the queues count them off, the next
   * delivery of a queue still holding some becomes ready, an empty queue's row goes. The
   * caller holds the queue rows' locks.
   */
  private async leaveQueues(em: EntityManager, gone: QueueKey[]): Promise<void> {
    const [left]: [Row[], number] = await em.query(
      `UPDATE webhook.member_queue m SET pending = m.pending - g.n
         FROM (SELECT crm_id, webhook_id, member_no, count(*)::int AS n FROM unnest($1::text[], $2::text[], $3::text[]) AS u (crm_id, webhook_id, member_no) GROUP BY 1, 2, 3) g
        WHERE m.crm_id = g.crm_id AND m.webhook_id = g.webhook_id AND m.member_no = g.member_no
       RETURNING m.crm_id, m.webhook_id, m.member_no, m.pending`,
      keyArrays(gone),
    );
    const waiting = left.filter((r) => r.pending > 0) as QueueKey[];
    if (waiting.length) {
      await em.query(
        `UPDATE webhook.delivery d SET ready = true
           FROM unnest($1::text[], $2::text[], $3::text[]) AS k (crm_id, webhook_id, member_no)
          WHERE d.crm_id = k.crm_id
            AND d.delivery_id = (SELECT p.delivery_id FROM webhook.delivery p
                                  WHERE p.crm_id = k.crm_id AND p.webhook_id = k.webhook_id AND p.member_no = k.member_no AND p.status = 'pending'
                                  ORDER BY p.seq, p.delivery_id LIMIT 1)
            AND NOT d.ready`,
        keyArrays(waiting),
      );
    }
    if (waiting.length < left.length) {
      await em.query(
        `DELETE FROM webhook.member_queue m USING unnest($1::text[], $2::text[], $3::text[]) AS k (crm_id, webhook_id, member_no)
          WHERE m.crm_id = k.crm_id AND m.webhook_id = k.webhook_id AND m.member_no = k.member_no AND m.pending = 0`,
        keyArrays(left.filter((r) => r.pending === 0) as QueueKey[]),
      );
    }
  }

  /** The failure streak of an endpoint (null: none), read in the transaction that may disable it. */
  async failingSince(em: EntityManager, crmId: string, webhookId: string): Promise<Date | null> {
    const [row] = await em.query('SELECT failing_since FROM webhook.endpoint WHERE crm_id = $1 AND webhook_id = $2 FOR UPDATE', [crmId, webhookId]);
    return row?.failing_since ?? null;
  }

  /** False when it was disabled already. */
  async disable(em: EntityManager, crmId: string, webhookId: string, reason: string, now: Date): Promise<boolean> {
    const [, affected]: [unknown, number] = await em.query(
      `UPDATE webhook.endpoint SET status = 'disabled', disabled_reason = $3, update_time = $4 WHERE crm_id = $1 AND webhook_id = $2 AND status = 'enabled'`,
      [crmId, webhookId, reason, now],
    );
    return affected > 0;
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
      `SELECT ${VIEW_COLUMNS} FROM webhook.delivery d
        WHERE ${where} ORDER BY d.delivery_id DESC LIMIT $5 OFFSET $6`,
      [crmId, tz, webhookId, status ?? null, size, (page - 1) * size],
    );
    return { total, result: rows.map(toView) };
  }

  async find(crmId: string, webhookId: string, deliveryId: number, tz: string): Promise<DeliveryView | null> {
    const [row] = await this.db.query(
      `SELECT ${VIEW_COLUMNS} FROM webhook.delivery d
        WHERE d.crm_id = $1 AND d.webhook_id = $3 AND d.delivery_id = $4`,
      [crmId, tz, webhookId, deliveryId],
    );
    return row ? toView(row) : null;
  }

  /**
   * Due now again, with a whole schedule of attempts ahead (whatever its state); false when
   * there is no such delivery. One that had left pending joins its member's queue again: ready
   * when nothing else of the member is pending there, else after what is (in event order).
   */
  async retry(crmId: string, webhookId: string, deliveryId: number, now: Date): Promise<boolean> {
    return this.db.transaction(async (em) => {
      const [found] = await em.query('SELECT member_no FROM webhook.delivery WHERE crm_id = $1 AND webhook_id = $2 AND delivery_id = $3', [
        crmId,
        webhookId,
        deliveryId,
      ]);
      if (!found) return false;
      // The queue row's lock before the delivery's, as finish() takes them.
      if (found.member_no !== null) {
        await em.query(
          `INSERT INTO webhook.member_queue AS m (crm_id, webhook_id, member_no, pending) VALUES ($1, $2, $3, 0)
           ON CONFLICT (crm_id, webhook_id, member_no) DO UPDATE SET pending = m.pending`,
          [crmId, webhookId, found.member_no],
        );
      }
      const [[row]]: [Row[], number] = await em.query(
        `WITH was AS (SELECT status FROM webhook.delivery WHERE crm_id = $1 AND webhook_id = $2 AND delivery_id = $3 FOR UPDATE)
         UPDATE webhook.delivery d SET status = 'pending', attempts = 0, first_attempt_at = NULL, next_at = $4, delivered_at = NULL,
                ready = d.ready OR d.member_no IS NULL
           FROM was WHERE d.crm_id = $1 AND d.webhook_id = $2 AND d.delivery_id = $3
         RETURNING was.status AS was`,
        [crmId, webhookId, deliveryId, now],
      );
      if (!row) return false;
      if (row.was === 'pending' || found.member_no === null) return true;
      const [[queue]]: [Row[], number] = await em.query(
        `UPDATE webhook.member_queue SET pending = pending + 1 WHERE crm_id = $1 AND webhook_id = $2 AND member_no = $3 RETURNING pending`,
        [crmId, webhookId, found.member_no],
      );
      await em.query('UPDATE webhook.delivery SET ready = $3 WHERE crm_id = $1 AND delivery_id = $2', [crmId, deliveryId, queue.pending === 1]);
      return true;
    });
  }

  /** A new delivery for each kept event of the range of the subscription's types, queued behind its member's pending ones. */
  async replay(crmId: string, webhookId: string, from: string, to: string, tz: string, now: Date): Promise<number> {
    // TypeORM answers an INSERT with its rows only (no count): the statement counts them.
    const [{ count }] = await this.db.query(
      `WITH want AS (
         SELECT ev.crm_id, e.webhook_id, ev.event_id, ev.seq, ev.member_no, ev.type, ev.occurred_at, ev.data
           FROM webhook.endpoint e
           JOIN webhook.event ev ON ev.crm_id = e.crm_id AND ev.type = ANY (e.events)
          WHERE e.crm_id = $1 AND e.webhook_id = $2
            AND ev.occurred_at >= $3::timestamp AT TIME ZONE $5 AND ev.occurred_at < ($4::timestamp + interval '1 second') AT TIME ZONE $5),
       ${insertDeliveries('$6')}
       SELECT count(*)::int AS count FROM made`,
      [crmId, webhookId, from, to, tz, now],
    );
    return count;
  }

  /** Deletes up to `limit` events received before `before`, with their deliveries (none pending): answers how many. */
  async purge(before: Date, limit: number): Promise<number> {
    const [{ count }] = await this.db.query(
      `WITH old AS (
         SELECT ev.crm_id, ev.event_id FROM webhook.event ev
          WHERE ev.received_at < $1
            AND NOT EXISTS (SELECT 1 FROM webhook.delivery d WHERE d.crm_id = ev.crm_id AND d.event_id = ev.event_id AND d.status = 'pending')
          ORDER BY ev.received_at LIMIT $2),
       deliveries AS (DELETE FROM webhook.delivery d USING old WHERE d.crm_id = old.crm_id AND d.event_id = old.event_id),
       events AS (DELETE FROM webhook.event ev USING old WHERE ev.crm_id = old.crm_id AND ev.event_id = old.event_id RETURNING 1)
       SELECT count(*)::int AS count FROM events`,
      [before, limit],
    );
    return count;
  }

  /**
   * Pending deliveries, and how long the most overdue one a worker may take has waited (the
   * metrics): a ready one of an enabled subscription, the same test as claim(), so the age
   * grows only when workers fall behind.
   */
  async backlog(now: Date): Promise<{ pending: number; oldestDueSeconds: number }> {
    const [row] = await this.db.query(
      `SELECT (SELECT count(*)::int FROM webhook.delivery WHERE status = 'pending') AS pending,
              COALESCE((SELECT EXTRACT(EPOCH FROM $1 - min(d.next_at))
                          FROM webhook.delivery d
                         WHERE d.status = 'pending' AND d.ready AND d.next_at <= $1
                           AND EXISTS (SELECT 1 FROM webhook.endpoint e WHERE e.crm_id = d.crm_id AND e.webhook_id = d.webhook_id AND e.status = 'enabled')), 0)::float8 AS oldest`,
      [now],
    );
    return { pending: row.pending, oldestDueSeconds: Math.max(0, row.oldest) };
  }
}
