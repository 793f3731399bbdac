import { Injectable, OnModuleInit } from '@nestjs/common';
import { Counter, Gauge, Histogram, register } from 'prom-client';
import { Clock } from '@app/platform';
import { DeliveryRepository } from './delivery.repository';

/** Attempts by how they ended: delivered, retry (failed, tried again later), failed (for good). */
export const webhookAttempts = new Counter({
  name: 'webhook_attempts_total',
  help: 'Webhook delivery attempts by outcome: delivered, retry (failed, tried again later), failed (the last attempt failed)',
  labelNames: ['outcome'] as const,
});

export const webhookAttemptDuration = new Histogram({
  name: 'webhook_attempt_duration_seconds',
  help: "Webhook delivery attempts, from sending to the endpoint's answer (or the timeout)",
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

/**
 * `webhook_deliveries_pending` and `webhook_delivery_oldest_due_seconds`, read from
 * PostgreSQL at scrape time: a growing age means the webhook workers cannot keep up (or
 * endpoints are slow): scale webhook-service workers on it.
 */
@Injectable()
export class WebhookMetrics implements OnModuleInit {
  constructor(
    private readonly deliveries: DeliveryRepository,
    private readonly clock: Clock,
  ) {}

  onModuleInit(): void {
    if (register.getSingleMetric('webhook_deliveries_pending')) return;
    let last: Promise<{ pending: number; oldestDueSeconds: number }> | undefined;
    const read = () => (last ??= this.deliveries.backlog(this.clock.now()).finally(() => setImmediate(() => (last = undefined))));
    new Gauge({
      name: 'webhook_deliveries_pending',
      help: 'Webhook deliveries not yet delivered nor failed (due now, waiting for a retry, or being attempted)',
      async collect() {
        this.set((await read().catch(() => ({ pending: NaN }))).pending);
      },
    });
    new Gauge({
      name: 'webhook_delivery_oldest_due_seconds',
      help: 'How long the most overdue pending delivery has been due; 0 when none is overdue',
      async collect() {
        this.set((await read().catch(() => ({ oldestDueSeconds: NaN }))).oldestDueSeconds);
      },
    });
  }
}
