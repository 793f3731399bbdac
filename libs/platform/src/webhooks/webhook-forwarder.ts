import { Logger, OnApplicationBootstrap, OnModuleDestroy, Provider } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { lastValueFrom } from 'rxjs';
import { DataSource } from 'typeorm';
import {
  isEnvelope,
  Service,
  WEBHOOK_EVENTS_PER_INGEST,
  webhookEventId,
  WebhookEventIn,
  WebhookEventType,
  webhookIngestMsg,
  WebhookPattern,
  WebhookSource,
} from '@app/domain';
import { AppConfig, CONFIG } from '../config';
import { RedisStreamsClient } from '../transport/redis-streams.client';
import { webhookOutboxTable as table } from './webhook-outbox';

/** A failed hand-over is tried again after the poll interval, doubled per failure, at most this long. */
export const WEBHOOK_FORWARD_MAX_BACKOFF_MS = 5_000;

/** Why a hand-over did not happen: webhook-service answered an error, or nothing (down, timeout, Redis gone). */
export class WebhookForwardError extends Error {}

/**
 * Worker side of a service's webhook outbox. Each pass is one transaction: a
 * transaction-scoped advisory lock per source (a forwarder that does not get it lets this
 * pass go: one forwarder of a service works at a time, so events leave in id order, and a
 * member's in the order of their changes), up to WEBHOOK_EVENTS_PER_INGEST of the oldest
 * rows in id order, one `webhook.ingest` request to webhook-service, and the rows deleted
 * in the same transaction once it answered code 0 (it has committed them: delivery is at
 * least once, and webhook-service drops an event_id it has). Any other outcome rolls back:
 * the rows stay for the next pass. The rows are read without row locks (the advisory lock
 * keeps the service's other forwarders out and nothing else deletes them) and by a statement
 * that leaves no snapshot behind: while it waits on webhook-service the transaction holds
 * neither a transaction id nor an xmin, so a slow or absent webhook-service (each pass waits
 * up to the RPC timeout) does not hold back PostgreSQL's removal of dead rows for every
 * other transaction. After a full pass the next one starts at once; otherwise it waits
 * WEBHOOK_FORWARD_POLL_MS, and after a failure twice as long per failure in a row, up to
 * 5 s. One warning per outage, one line when it ends. The change that wrote a row never
 * waits on any of this.
 */
export class WebhookForwarder implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log: Logger;
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(
    private readonly db: DataSource,
    readonly source: WebhookSource,
    private readonly client: RedisStreamsClient,
    private readonly pollMs: number,
  ) {
    this.log = new Logger(`WebhookForwarder ${source}`);
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  /** Lets the pass in hand finish, then closes the transport client. */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await this.client.close();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let sent = 0;
      try {
        sent = await this.forwardOnce();
        if (failures) this.log.log(`handing webhook events to webhook-service again (after ${failures} failed tries)`);
        failures = 0;
      } catch (err) {
        if (!failures) this.log.warn(`handing webhook events to webhook-service failed, they stay in ${table(this.source)}: ${describe(err)}`);
        failures++;
      }
      if (failures) await this.pause(Math.min(WEBHOOK_FORWARD_MAX_BACKOFF_MS, this.pollMs * 2 ** Math.min(failures, 16)));
      else if (sent < WEBHOOK_EVENTS_PER_INGEST) await this.pause(this.pollMs);
    }
  }

  /**
   * One pass: answers the number of events handed over (0 also when another forwarder of
   * this service holds the lock). Throws when webhook-service did not take them.
   */
  async forwardOnce(limit = WEBHOOK_EVENTS_PER_INGEST): Promise<number> {
    return this.db.transaction(async (em) => {
      const [{ locked }] = await em.query<Array<{ locked: boolean }>>(`SELECT pg_try_advisory_xact_lock(hashtext($1)) AS locked`, [
        `webhook-forward:${this.source}`,
      ]);
      if (!locked) return 0;
      // No parameters, so node-postgres sends it by the simple protocol: a statement sent by the
      // extended one leaves its portal open, whose snapshot holds back the xmin horizon until the
      // next statement, here for as long as webhook-service takes to answer.
      if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive whole number, not ${limit}`);
      const rows = await em.query<
        Array<{ crm_id: string; id: string; type: WebhookEventType; member_no: string | null; occurred_at: Date; data_json: string }>
      >(`SELECT crm_id, id, type, member_no, occurred_at, data::text AS data_json FROM ${table(this.source)} ORDER BY id LIMIT ${limit}`);
      if (!rows.length) return 0;
      const msg = webhookIngestMsg(
        this.source,
        rows.map((r): WebhookEventIn => ({
          crm_id: r.crm_id,
          event_id: webhookEventId(this.source, r.id),
          type: r.type,
          member_no: r.member_no,
          occurred_at: r.occurred_at.toISOString(),
          data_json: r.data_json,
        })),
      );
      let answer: unknown;
      try {
        answer = await lastValueFrom(this.client.send(WebhookPattern.INGEST, msg), { defaultValue: undefined });
      } catch (err) {
        throw new WebhookForwardError(describe(err));
      }
      if (!isEnvelope(answer) || answer.code !== 0) throw new WebhookForwardError(`webhook-service answered ${JSON.stringify(answer)}`);
      await em.query(`DELETE FROM ${table(this.source)} o USING unnest($1::text[], $2::bigint[]) AS t(crm_id, id) WHERE o.crm_id = t.crm_id AND o.id = t.id`, [
        rows.map((r) => r.crm_id),
        rows.map((r) => r.id),
      ]);
      return rows.length;
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (isEnvelope(err)) return `${err.code} ${err.msg}`;
  return JSON.stringify(err);
}

/** Readers of each source's outbox in this process, for the gauges (read at scrape time). */
const readers = new Map<WebhookSource, () => Promise<{ rows: number; age: number }>>();
let gauges: { rows: Gauge; age: Gauge } | undefined;

/** Registers the gauges of a source's outbox in this process (once per source; both gauges read one query per scrape). */
export function trackWebhookOutbox(db: DataSource, source: WebhookSource): WebhookSource {
  let last: Promise<{ rows: number; age: number }> | undefined;
  // Both gauges read one query per scrape.
  readers.set(
    source,
    () =>
      (last ??= db
        .query<Array<{ rows: number; age: number | null }>>(
          `SELECT count(*)::int AS rows, extract(epoch FROM now() - min(occurred_at))::float8 AS age FROM ${table(source)}`,
        )
        .then(([r]) => ({ rows: r.rows, age: Math.max(0, r.age ?? 0) }))
        .catch(() => ({ rows: NaN, age: NaN }))
        .finally(() => setImmediate(() => (last = undefined)))),
  );
  gauges ??= {
    rows: new Gauge({
      name: 'webhook_outbox_rows_waiting',
      help: 'Webhook events in a service outbox not yet handed to webhook-service',
      labelNames: ['source'],
      async collect() {
        for (const [s, read] of readers) this.set({ source: s }, (await read()).rows);
      },
    }),
    age: new Gauge({
      name: 'webhook_outbox_oldest_age_seconds',
      help: 'Age of the oldest webhook event in a service outbox not yet handed to webhook-service; 0 when there is none',
      labelNames: ['source'],
      async collect() {
        for (const [s, read] of readers) this.set({ source: s }, (await read()).age);
      },
    }),
  };
  return source;
}

/** The worker's forwarder of a service's webhook outbox (with its own transport client to webhook-service) and its gauges. */
export function webhookForwarderProviders(source: WebhookSource): Provider[] {
  return [
    {
      provide: WebhookForwarder,
      inject: [DataSource, CONFIG],
      useFactory: (db: DataSource, cfg: AppConfig) =>
        new WebhookForwarder(
          db,
          source,
          new RedisStreamsClient({ service: Service.WEBHOOK, redisUrl: cfg.redisUrl, timeoutMs: cfg.rpcTimeoutMs }),
          cfg.webhookForwardPollMs,
        ),
    },
    // The gauges of this source's outbox, registered when the worker starts.
    { provide: `webhook-outbox-metrics:${source}`, inject: [DataSource], useFactory: (db: DataSource) => trackWebhookOutbox(db, source) },
  ];
}
