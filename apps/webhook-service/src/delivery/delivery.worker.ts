import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { isDelivered, retryDelayMs, shouldDisable, WebhookPayload } from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches } from '@app/platform';
import { EndpointRepository, EndpointTarget } from '../endpoint/endpoint.repository';
import { AttemptResult, ClaimedDelivery, DeliveryRepository } from './delivery.repository';
import { DeliverySignal } from './delivery.signal';
import { send } from './sender';
import { webhookAttemptDuration, webhookAttempts } from './webhook.metrics';

/** A taken delivery comes back to any worker this long after its attempt would have timed out (its worker died). */
const LEASE_SLACK_MS = 30_000;
const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 5_000;

/**
 * Delivers due webhooks, WEBHOOK_CONCURRENCY at a time per process. Each delivery is
 * claimed from PostgreSQL with a lease (SKIP LOCKED: workers take disjoint ones; a member's
 * later event waits for the earlier one), POSTed, signed, and its outcome written with the
 * endpoint's failure streak: delivered; failed and due again per the retry schedule; or
 * failed for good, which disables an endpoint that answered nothing but failures since
 * the delivery's first attempt. A worker that dies loses nothing: its leases run out and
 * another worker attempts them again (at least once; receivers drop duplicates by
 * webhook-id). On SIGTERM it takes nothing new and finishes the attempts in hand.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(DeliveryWorker.name);
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private woken = false;
  private readonly inFlight = new Set<Promise<void>>();
  private lastPurge = 0;

  constructor(
    private readonly db: DataSource,
    private readonly deliveries: DeliveryRepository,
    private readonly endpoints: EndpointRepository,
    private readonly signal: DeliverySignal,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.signal.listen(() => {
      this.woken = true;
      this.wake?.();
    });
    this.loop = this.run();
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    let failing = false;
    while (!this.stopping) {
      let taken = 0;
      let room = 0;
      try {
        this.woken = false;
        room = this.cfg.webhookConcurrency - this.inFlight.size;
        if (room > 0) taken = await this.takeAndSend(room);
        await this.purgeIfDue();
        if (failing) this.log.log('taking webhook deliveries again');
        failing = false;
      } catch (err) {
        if (!failing) this.log.warn(`taking webhook deliveries failed, they wait for the next pass: ${err instanceof Error ? err.message : String(err)}`);
        failing = true;
      }
      // Full: wait for a slot. Nothing due: wait for the poll, a wake-up, or an attempt in hand to end (a
      // member's next delivery is due once the one before it is delivered). Otherwise go on at once.
      if (room <= 0 && this.inFlight.size) await this.untilFree(Math.ceil(this.cfg.webhookConcurrency / 4));
      else if (taken === 0 && !this.woken) await Promise.race([...this.inFlight, this.pause(this.cfg.webhookPollMs)]);
    }
  }

  /**
   * Waits until `slots` attempts in hand have ended, or the poll interval passed: claims then come in
   * batches, not one claim statement per ended attempt.
   */
  private async untilFree(slots: number): Promise<void> {
    const until = Date.now() + this.cfg.webhookPollMs;
    while (!this.stopping && this.inFlight.size > this.cfg.webhookConcurrency - slots && Date.now() < until) {
      await Promise.race([...this.inFlight, this.pause(until - Date.now())]);
    }
  }

  /** Takes up to `room` due deliveries and starts them; answers how many. */
  async takeAndSend(room: number): Promise<number> {
    const now = this.clock.now();
    const claimed = await this.deliveries.claim(now, new Date(now.getTime() + this.cfg.webhookTimeoutMs + LEASE_SLACK_MS), room);
    if (!claimed.length) return 0;
    const targets = await this.endpoints.targets(claimed, now);
    for (const d of claimed) {
      const attempt = this.attempt(d, targets.get(`${d.crm_id}/${d.webhook_id}`), now).catch((err) =>
        this.log.warn(
          `webhook delivery ${d.crm_id}/${d.delivery_id}: ${err instanceof Error ? err.message : String(err)} (it is attempted again when its lease runs out)`,
        ),
      );
      this.inFlight.add(attempt);
      void attempt.finally(() => this.inFlight.delete(attempt));
    }
    return claimed.length;
  }

  /** Waits for every attempt started (tests: one pass, then its outcomes written). */
  async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
  }

  /** `takenAt`: when the delivery was claimed (its last_attempt_at; first_attempt_at too on its first attempt). */
  private async attempt(d: ClaimedDelivery, target: EndpointTarget | undefined, takenAt: Date): Promise<void> {
    if (!target) return; // deleted meanwhile: its deliveries went with it
    const payload: WebhookPayload = { id: d.event_id, type: d.type, timestamp: new Date(d.occurred_at).toISOString(), crm_id: d.crm_id, data: d.data };
    const started = process.hrtime.bigint();
    const res = await send(target.url, payload, target.secrets, this.clock.now(), {
      timeoutMs: this.cfg.webhookTimeoutMs,
      allowPrivateHosts: this.cfg.webhookAllowPrivateHosts,
    });
    webhookAttemptDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    const now = this.clock.now();
    const delay = isDelivered(res.status) ? null : retryDelayMs(d.attempts);
    const result: AttemptResult = {
      crm_id: d.crm_id,
      delivery_id: d.delivery_id,
      webhook_id: d.webhook_id,
      status: res.status,
      error: res.error,
      outcome: isDelivered(res.status) ? 'delivered' : delay === null ? 'failed' : 'retry',
      next_at: delay === null ? null : new Date(now.getTime() + delay),
      attempted_at: takenAt,
    };
    await this.db.transaction(async (em) => {
      await this.deliveries.finish(em, [result], now);
      if (result.outcome !== 'failed') return;
      const since = await this.deliveries.failingSince(em, d.crm_id, d.webhook_id);
      if (!shouldDisable(since, new Date(d.first_attempt_at))) return;
      const reason = `disabled: every attempt failed from ${since!.toISOString()} to ${now.toISOString()}; the last: ${res.error ?? 'no answer'}`;
      await this.deliveries.disable(em, d.crm_id, d.webhook_id, reason, now);
      this.log.warn(`webhook ${d.crm_id}/${d.webhook_id} ${reason}`);
    });
    webhookAttempts.inc({ outcome: result.outcome });
  }

  private async purgeIfDue(): Promise<void> {
    const now = this.clock.now().getTime();
    if (now - this.lastPurge < PURGE_EVERY_MS && now >= this.lastPurge) return;
    this.lastPurge = now;
    const before = new Date(now - this.cfg.webhookEventKeepDays * 86_400_000);
    const n = await drainInBatches(PURGE_BATCH, (size) => this.deliveries.purge(before, size));
    if (n) this.log.log(`deleted ${n} webhook events received before ${before.toISOString()} (and their deliveries)`);
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
