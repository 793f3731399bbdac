import { Injectable, OnModuleInit } from '@nestjs/common';
import { Gauge, register } from 'prom-client';
import { DataSource } from 'typeorm';

/**
 * `points_inbox_rows_waiting` and `points_inbox_oldest_age_seconds`: queued points events
 * not yet applied, read from PostgreSQL at scrape time. A growing age means the workers
 * fall behind, or none runs.
 */
@Injectable()
export class InboxMetrics implements OnModuleInit {
  constructor(private readonly db: DataSource) {}

  onModuleInit(): void {
    if (register.getSingleMetric('points_inbox_rows_waiting')) return;
    let last: Promise<{ rows: number; age: number }> | undefined;
    // Both gauges read one query per scrape.
    const read = () =>
      (last ??= this.db
        .query<Array<{ rows: number; age: number | null }>>(
          `SELECT count(*)::int AS rows, extract(epoch FROM now() - min(received_at))::float8 AS age FROM points.inbox WHERE done_at IS NULL`,
        )
        .then(([r]) => ({ rows: r.rows, age: Math.max(0, r.age ?? 0) }))
        .finally(() => setImmediate(() => (last = undefined))));
    new Gauge({
      name: 'points_inbox_rows_waiting',
      help: 'Queued points events in points.inbox not yet applied',
      async collect() {
        this.set((await read().catch(() => ({ rows: NaN }))).rows);
      },
    });
    new Gauge({
      name: 'points_inbox_oldest_age_seconds',
      help: 'Age of the oldest queued points event not yet applied; 0 when there is none',
      async collect() {
        this.set((await read().catch(() => ({ age: NaN }))).age);
      },
    });
  }
}
