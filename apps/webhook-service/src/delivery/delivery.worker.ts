import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { isDelivered, retryDelayMs, shouldDisable, WebhookPayload } from '@app/domain';
import { AppConfig, Clock, CONFIG, drainInBatches, PollingLoop } from '@app/platform';
import { AttemptResult, ClaimedDelivery, DeliveryRepository, endpointKey } from './delivery.repository';
import { DeliverySignal } from './delivery.signal';
import { send } from './sender';
import { webhookAttemptDuration, webhookAttempts } from './webhook.metrics';

/** A taken delivery comes back to any worker this long after its attempt would have timed out (its worker died). */
const LEASE_SLACK_MS = 30_000;
const PURGE_EVERY_MS = 10 * 60_000;
const PURGE_BATCH = 5_000;
/** Outcomes written per transaction. */
const FINISH_BATCH = 500;

/** An attempt that ended, waiting to be written. */
interface Outcome {
  result: AttemptResult;
  firstAttemptAt: Date;
}

/** The outcomes failed for good, grouped by endpoint (in the order they ended). */
function failedByEndpoint(batch: Outcome[]): Outcome[][] {
  const groups = new Map<string, Outcome[]>();
  for (const o of batch) {
    if (o.result.outcome !== 'failed') continue;
    const key = endpointKey(o.result);
    const group = groups.get(key);
    if (group) group.push(o);
    else groups.set(key, [o]);
  }
  return [...groups.values()];
}

/**
 * Delivers due webhooks, WEBHOOK_CONCURRENCY at a time per process. Deliveries are claimed
 * from PostgreSQL in batches with a lease (SKIP LOCKED: workers take disjoint ones; a
 * member's later event is not ready while the earlier one is pending), POSTed, signed, and
 * their outcomes written in batches (one transaction for the attempts that ended since the
 * last pass), with each endpoint's failure streak: delivered; failed and due again per the
 * retry schedule; or failed for good, which disables an endpoint that answered nothing but
 * failures since the delivery's first attempt. A worker that dies loses nothing: its leases
 * run out and another worker attempts them again (at least once; receivers drop duplicates
 * by webhook-id). On SIGTERM it takes nothing new, finishes the attempts in hand and writes
 * their outcomes.
 */
@Injectable()
export class DeliveryWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(DeliveryWorker.name);
  private readonly loop: PollingLoop;
  private readonly inFlight = new Set<Promise<void>>();
  /** Ended attempts whose outcome is not written yet (the next pass writes them, before it claims). */
  private outcomes: Outcome[] = [];
  private lastPurge = 0;

  constructor(
    private readonly db: DataSource,
    private readonly deliveries: DeliveryRepository,
    private readonly signal: DeliverySignal,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {
    this.loop = new PollingLoop(() => this.pass(), { what: 'taking webhook deliveries', pollMs: () => this.cfg.webhookPollMs, log: this.log });
  }

  onApplicationBootstrap(): void {
    this.signal.listen(() => this.loop.wake());
    this.loop.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
    await this.settle();
  }

  /**
   * Fills the free slots; answers whether to go on at once. All slots busy: waits until a quarter
   * of them are free (or the poll passed), so claims come in batches, not one claim per ended attempt.
   */
  private async pass(): Promise<boolean> {
    await this.writeOutcomes();
    const room = this.cfg.webhookConcurrency - this.inFlight.size;
    if (room <= 0) {
      await this.untilFree(Math.ceil(this.cfg.webhookConcurrency / 4));
      return true;
    }
    const taken = await this.takeAndSend(room);
    await this.purgeIfDue();
    return taken === room;
  }

  /** Waits until `slots` attempts in hand have ended, or the poll interval passed. */
  private async untilFree(slots: number): Promise<void> {
    const until = Date.now() + this.cfg.webhookPollMs;
    while (!this.loop.stopped && this.inFlight.size > this.cfg.webhookConcurrency - slots && Date.now() < until) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([...this.inFlight, new Promise<void>((r) => (timer = setTimeout(r, until - Date.now())))]);
      clearTimeout(timer);
    }
  }

  /** Takes up to `room` due deliveries and starts them; answers how many. */
  async takeAndSend(room: number): Promise<number> {
    const now = this.clock.now();
    const claimed = await this.deliveries.claim(now, new Date(now.getTime() + this.cfg.webhookTimeoutMs + LEASE_SLACK_MS), room);
    for (const d of claimed) {
      const attempt = this.attempt(d, now).catch((err) =>
        this.log.warn(
          `webhook delivery ${d.crm_id}/${d.delivery_id}: ${err instanceof Error ? err.message : String(err)} (it is attempted again when its lease runs out)`,
        ),
      );
      this.inFlight.add(attempt);
      // An attempt that ends wakes a waiting loop: its outcome is written, and the member's next delivery is ready once this one is delivered.
      void attempt.finally(() => {
        this.inFlight.delete(attempt);
        this.loop.wake();
      });
    }
    return claimed.length;
  }

  /** Waits for every attempt started and writes their outcomes (tests: one pass, then its outcomes written). */
  async settle(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
    await this.writeOutcomes();
  }

  /** `takenAt`: when the delivery was claimed (its last_attempt_at; first_attempt_at too on its first attempt). */
  private async attempt(d: ClaimedDelivery, takenAt: Date): Promise<void> {
    const payload: WebhookPayload = { id: d.event_id, type: d.type, timestamp: new Date(d.occurred_at).toISOString(), crm_id: d.crm_id, data: d.data };
    const started = process.hrtime.bigint();
    const res = await send(d.target.url, payload, d.target.secrets, this.clock.now(), {
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
      member_no: d.member_no,
      status: res.status,
      error: res.error,
      outcome: isDelivered(res.status) ? 'delivered' : delay === null ? 'failed' : 'retry',
      next_at: delay === null ? null : new Date(now.getTime() + delay),
      attempted_at: takenAt,
    };
    this.outcomes.push({ result, firstAttemptAt: new Date(d.first_attempt_at) });
  }

  /**
   * Writes the ended attempts' outcomes, FINISH_BATCH per transaction; a delivery failed for
   * good disables its endpoint when every attempt since its first one failed. Outcomes that
   * cannot be written are dropped with a warning: their leases run out and they are attempted
   * again (at least once).
   */
  private async writeOutcomes(): Promise<void> {
    while (this.outcomes.length) {
      const batch = this.outcomes.splice(0, FINISH_BATCH);
      const now = this.clock.now();
      try {
        await this.db.transaction(async (em) => {
          await this.deliveries.finish(
            em,
            batch.map((o) => o.result),
            now,
          );
          for (const failed of failedByEndpoint(batch)) await this.disableIfFailing(em, failed, now);
        });
      } catch (err) {
        this.log.warn(
          `${batch.length} webhook attempt outcome(s) not written: ${err instanceof Error ? err.message : String(err)} (they are attempted again when their leases run out)`,
        );
        continue;
      }
      for (const o of batch) webhookAttempts.inc({ outcome: o.result.outcome });
    }
  }

  /** `failed`: one endpoint's deliveries failed for good in this batch; its streak is read once. */
  private async disableIfFailing(em: EntityManager, failed: Outcome[], now: Date): Promise<void> {
    const { crm_id, webhook_id } = failed[0].result;
    const since = await this.deliveries.failingSince(em, crm_id, webhook_id);
    const o = failed.find((x) => shouldDisable(since, x.firstAttemptAt));
    if (!o) return;
    const reason = `disabled: every attempt failed from ${since!.toISOString()} to ${now.toISOString()}; the last: ${o.result.error ?? 'no answer'}`;
    if (await this.deliveries.disable(em, crm_id, webhook_id, reason, now)) this.log.warn(`webhook ${crm_id}/${webhook_id} ${reason}`);
  }

  private async purgeIfDue(): Promise<void> {
    const now = this.clock.now().getTime();
    if (now - this.lastPurge < PURGE_EVERY_MS && now >= this.lastPurge) return;
    this.lastPurge = now;
    const before = new Date(now - this.cfg.webhookEventKeepDays * 86_400_000);
    const n = await drainInBatches(PURGE_BATCH, (size) => this.deliveries.purge(before, size));
    if (n) this.log.log(`deleted ${n} webhook events received before ${before.toISOString()} (and their deliveries)`);
  }
}
