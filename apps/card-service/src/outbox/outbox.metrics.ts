import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { DataSource } from 'typeorm';

/**
 * `outbox_rows_waiting` and `outbox_oldest_age_seconds`: card events recorded and not yet
 * handed to the dashboard, read from PostgreSQL at scrape time. A growing age means the
 * relay (card-service worker) falls behind or cannot reach Redis.
 */
@Injectable()
export class OutboxMetrics implements OnModuleInit {
  constructor(private readonly db: DataSource) {}

  onModuleInit(): void {
    if (register.getSingleMetric('outbox_rows_waiting')) return;
    let last: Promise<{ rows: number; age: number }> | undefined;
    // Both gauges read one query per scrape.
    const read = () =>
      (last ??= this.db
        .query<Array<{ rows: number; age: number | null }>>(
          `SELECT count(*)::int AS rows, extract(epoch FROM now() - min(occurred_at))::float8 AS age FROM card.outbox`,
        )
        .then(([r]) => ({ rows: r.rows, age: Math.max(0, r.age ?? 0) }))
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
      help: 'Age of the oldest card event still in the outbox; 0 when it is empty',
      async collect() {
        this.set((await read().catch(() => ({ age: NaN }))).age);
      },
    });
  }
}
