import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { DataSource } from 'typeorm';

/**
 * `outbox_rows_waiting` and `outbox_oldest_age_seconds`: card events recorded and not yet
 * relayed to the `card-events` queue, read from PostgreSQL at scrape time. A growing age
 * means the relay (card-service worker) falls behind or cannot reach Redis.
 * `outbox_rows_relayed`: relayed rows kept until the recheck sees their job completed.
 */
@Injectable()
export class OutboxMetrics implements OnModuleInit {
  constructor(private readonly db: DataSource) {}

  onModuleInit(): void {
    if (register.getSingleMetric('outbox_rows_waiting')) return;
    let last: Promise<{ rows: number; age: number; relayed: number }> | undefined;
    // Both gauges read one query per scrape.
    const read = () =>
      (last ??= this.db
        .query<Array<{ rows: number; age: number | null; relayed: number }>>(
          `SELECT count(*) FILTER (WHERE relayed_at IS NULL)::int AS rows,
                  extract(epoch FROM now() - min(occurred_at) FILTER (WHERE relayed_at IS NULL))::float8 AS age,
                  count(*) FILTER (WHERE relayed_at IS NOT NULL)::int AS relayed
             FROM card.outbox`,
        )
        .then(([r]) => ({ rows: r.rows, age: Math.max(0, r.age ?? 0), relayed: r.relayed }))
        .finally(() => setImmediate(() => (last = undefined))));
    new Gauge({
      name: 'outbox_rows_waiting',
      help: 'Card events in the outbox not yet relayed to the card-events queue',
      async collect() {
        this.set((await read().catch(() => ({ rows: NaN }))).rows);
      },
    });
    new Gauge({
      name: 'outbox_oldest_age_seconds',
      help: 'Age of the oldest card event in the outbox not yet relayed; 0 when there is none',
      async collect() {
        this.set((await read().catch(() => ({ age: NaN }))).age);
      },
    });
    new Gauge({
      name: 'outbox_rows_relayed',
      help: 'Card events relayed to the card-events queue and kept in the outbox until their job is seen completed',
      async collect() {
        this.set((await read().catch(() => ({ relayed: NaN }))).relayed);
      },
    });
  }
}
