import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig, checkContract, Clock, CONFIG, drainInBatches, PollingLoop } from '@app/platform';
import { InboxOutcome, InboxRepository, InboxRow } from './inbox.repository';
import { BATCHED_KINDS, InboxRoutes } from './inbox.routes';
import { InboxSignal } from './inbox.signal';

/** Done rows deleted per statement when purging. */
const PURGE_BATCH = 5_000;
/** How often (service clock) a worker purges done rows. */
const PURGE_EVERY_MS = 60_000;
/** Backoff of a row whose apply failed: 1 s doubling, at most this long. */
const MAX_BACKOFF_MS = 10 * 60_000;

/**
 * The worker side of points.inbox. Each pass is one transaction: claim up to
 * POINTS_BATCH_MAX waiting rows in arrival order (FOR UPDATE SKIP LOCKED, so workers take
 * disjoint rows), apply each through its route's use case (consecutive earns and spends
 * together, so they batch as over the transport), mark the answered ones done with their
 * answer (a refusal is logged and done too), leave the ones that failed (the database
 * down) for another attempt with backoff, commit. A worker that dies mid-pass loses
 * nothing: its rows are claimed again and applying again is safe (by event_no, or
 * transfer_no). After a full pass the next starts at once; otherwise it waits
 * POINTS_INBOX_POLL_MS, or less when an event is written in this process. Done rows are
 * deleted after POINTS_INBOX_KEEP_HOURS.
 */
@Injectable()
export class InboxWorker implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(InboxWorker.name);
  private readonly loop: PollingLoop;
  private lastPurge = 0;

  constructor(
    private readonly db: DataSource,
    private readonly repo: InboxRepository,
    private readonly routes: InboxRoutes,
    private readonly signal: InboxSignal,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {
    this.loop = new PollingLoop(
      async () => {
        const taken = await this.passOnce();
        await this.purgeIfDue();
        return taken >= this.cfg.pointsBatchMax;
      },
      { what: 'applying points events from the inbox', pollMs: () => this.cfg.pointsInboxPollMs, log: this.log },
    );
  }

  onApplicationBootstrap(): void {
    this.signal.listen(() => this.loop.wake());
    this.loop.start();
  }

  /** Lets the pass in hand finish (its database is still open: this runs before it closes). */
  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /** One pass: answers the number of rows claimed. */
  async passOnce(): Promise<number> {
    return this.db.transaction(async (em) => {
      const rows = await this.repo.claim(em, this.clock.now(), this.cfg.pointsBatchMax);
      if (!rows.length) return 0;
      const outcomes = await this.applyAll(rows);
      const now = this.clock.now();
      const done: Array<{ row: InboxRow; code: number; msg: string }> = [];
      const failed: Array<{ row: InboxRow; error: string; next_at: Date }> = [];
      for (const o of outcomes) {
        if ('error' in o) {
          failed.push({ row: o.row, error: o.error, next_at: new Date(now.getTime() + Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** Math.min(20, o.row.attempts))) });
        } else {
          if (o.code !== 0) this.log.warn(`points event ${o.row.crm_id}.${o.row.kind}.${o.row.event_no} refused: ${o.msg}`);
          done.push(o);
        }
      }
      if (failed.length) this.log.warn(`${failed.length} points event(s) from the inbox failed and will be tried again: ${failed[0].error}`);
      await this.repo.finish(em, done, now);
      await this.repo.retryLater(em, failed);
      return rows.length;
    });
  }

  /** Applies rows in arrival order: a run of consecutive earns and spends at once (they batch in that order), anything else alone. */
  private async applyAll(rows: InboxRow[]): Promise<InboxOutcome[]> {
    const out: InboxOutcome[] = [];
    for (let i = 0; i < rows.length;) {
      let j = i + 1;
      if (BATCHED_KINDS.has(rows[i].kind)) while (j < rows.length && BATCHED_KINDS.has(rows[j].kind)) j++;
      out.push(...(await Promise.all(rows.slice(i, j).map((r) => this.applyOne(r)))));
      i = j;
    }
    return out;
  }

  private async applyOne(row: InboxRow): Promise<InboxOutcome> {
    try {
      const route = this.routes.of(row.kind);
      if (!route) return { row, code: 40001, msg: `unknown kind ${row.kind}` };
      // Checked when it was written; checked again for the class instance the use case takes.
      const checked = await checkContract(route.contract, row.event);
      if (!checked.ok) return { row, code: 40001, msg: checked.violations.map((v) => `${v.field}: ${v.message}`).join('; ') };
      const answer = await route.handle(checked.value);
      // 5xx (a store unavailable): not an answer about the event, tried again later.
      if (answer.code >= 50000) return { row, error: answer.msg };
      return { row, code: answer.code, msg: answer.msg };
    } catch (err) {
      return { row, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private async purgeIfDue(): Promise<void> {
    const now = this.clock.now().getTime();
    if (now - this.lastPurge < PURGE_EVERY_MS && now >= this.lastPurge) return;
    this.lastPurge = now;
    await this.purgeDone();
  }

  /** Deletes the rows applied more than POINTS_INBOX_KEEP_HOURS ago (service clock); answers how many. */
  async purgeDone(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - this.cfg.pointsInboxKeepHours * 3_600_000);
    const n = await drainInBatches(PURGE_BATCH, (size) => this.repo.purge(before, size));
    if (n) this.log.log(`deleted ${n} points events applied before ${before.toISOString()} from the inbox`);
    return n;
  }
}
