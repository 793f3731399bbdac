import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { Job, Queue as BullQueue } from 'bull';
import { DataSource } from 'typeorm';
import { CardEventBatch, cardEventBatches, cardEventBatchJobId, Queue } from '@app/domain';
import { AppConfig, Clock, CONFIG, PollingLoop } from '@app/platform';
import { OutboxRepository, RelayedRow } from './outbox.repository';

/** Outbox rows one relay transaction moves at most (in jobs of at most CARD_EVENTS_PER_JOB events of one tenant). */
export const RELAY_BATCH = 1_000;

/** A queue add that has not settled by then counts as failed: the rows are let go for the next try (Redis may be gone). */
const ADD_TIMEOUT_MS = 10_000;

/**
 * How the dashboard's jobs retry: about an hour of exponential backoff (1 s .. 34 min),
 * then the job is kept as failed (not removed) so its events are not lost. A completed job
 * is kept until the recheck has seen it (it then deletes the job's rows and the job), so
 * that a completed job and one Redis lost can be told apart; a day at most, should no
 * recheck ever come (its rows are then relayed again, and applied once all the same).
 */
const JOB_OPTIONS = { removeOnComplete: { age: 86_400 }, removeOnFail: false, attempts: 12, backoff: { type: 'exponential', delay: 1_000 } };

/** What one recheck found, in jobs and rows. */
export interface Recheck {
  /** Rows whose job completed: deleted. */
  done: number;
  /** Rows whose job is gone from Redis: to be relayed again. */
  lost: number;
  /** Rows whose job failed for good: left relayed, visible in the queue console, until the job is retried there. */
  failed: number;
}

/**
 * Worker side of the outbox: moves card.outbox rows to the `card-events` queue. Each pass
 * is one transaction: take up to RELAY_BATCH of the oldest rows not relayed (FOR UPDATE
 * SKIP LOCKED, so relays of several workers take disjoint rows), group them by tenant into
 * jobs of at most CARD_EVENTS_PER_JOB events in event_id order (cardEventBatches; jobId =
 * cardEventBatchJobId), add every job in one `addBulk`, mark the rows relayed with their
 * job's id, commit. A failed add rolls back and the rows are taken again next pass. A
 * crash after the add and before the commit sends them again, maybe grouped otherwise:
 * delivery is at least once, and the dashboard applies each event once by (crm_id,
 * event_id), whatever job carries it. After a full pass the next one starts at once;
 * otherwise it waits OUTBOX_POLL_MS.
 *
 * PostgreSQL keeps a row until the dashboard has it: every OUTBOX_RECHECK_MS (service
 * clock) the recheck looks up the jobs of relayed rows: completed, the rows and then the
 * job are deleted; gone (Redis lost it), the rows' mark is cleared and the relay sends
 * them again; failed for good, they stay, visible, until the job is retried; waiting or
 * running, they stay.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(OutboxRelay.name);
  private readonly loop: PollingLoop;
  /** Service-clock time of the last recheck. */
  private lastRecheck = 0;

  constructor(
    private readonly db: DataSource,
    private readonly outbox: OutboxRepository,
    @InjectQueue(Queue.CARD_EVENTS) private readonly queue: BullQueue<CardEventBatch>,
    private readonly clock: Clock,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {
    this.loop = new PollingLoop(() => this.pass(), { what: 'relaying card events', pollMs: () => this.cfg.outboxPollMs, log: this.log });
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  /** Lets the pass in hand finish (its queue and database are still open: this runs before they close). */
  async onModuleDestroy(): Promise<void> {
    await this.loop.stop();
  }

  /** A relay pass, then the recheck when it is due; answers whether a full batch moved (more may wait). */
  private async pass(): Promise<boolean> {
    const moved = await this.relayOnce();
    const now = this.clock.now().getTime();
    if (now - this.lastRecheck >= this.cfg.outboxRecheckMs || now < this.lastRecheck) {
      this.lastRecheck = now;
      const found = await this.recheck();
      if (found.lost) this.log.warn(`${found.lost} relayed card events were gone from Redis: relaying them again`);
      if (found.failed) this.log.warn(`${found.failed} relayed card events wait on failed card-events jobs (retry them in the queue console)`);
    }
    return moved >= RELAY_BATCH;
  }

  /** One pass: answers the number of events moved. */
  async relayOnce(): Promise<number> {
    return this.db.transaction(async (em) => {
      const events = await this.outbox.take(em, RELAY_BATCH);
      if (!events.length) return 0;
      const batches = cardEventBatches(events);
      const jobs = batches.map((b) => ({ data: b, opts: { ...JOB_OPTIONS, jobId: cardEventBatchJobId(b) } }));
      await withTimeout(this.queue.addBulk(jobs), ADD_TIMEOUT_MS, `adding ${events.length} card events (${batches.length} jobs) to the queue`);
      const rows: RelayedRow[] = jobs.flatMap((j) => j.data.events.map((e) => ({ crm_id: e.crm_id, event_id: e.event_id, job_id: j.opts.jobId })));
      await this.outbox.markRelayed(em, rows, this.clock.now());
      return events.length;
    });
  }

  /**
   * Looks up the job of every relayed row, page by page (one transaction each, rows
   * locked, rows another worker's recheck holds skipped). Completed jobs are removed from
   * Redis only after the last page (a job's rows may span two pages).
   */
  async recheck(): Promise<Recheck> {
    const found: Recheck = { done: 0, lost: 0, failed: 0 };
    const completed = new Map<string, Job<CardEventBatch>>();
    let after = '0';
    for (;;) {
      const page = await this.db.transaction(async (em) => {
        const rows = await this.outbox.takeRelayed(em, after, RELAY_BATCH);
        if (!rows.length) return 0;
        const ids = [...new Set(rows.map((r) => r.job_id))];
        const states = new Map(
          await withTimeout(
            Promise.all(ids.map(async (id) => [id, await this.jobState(id, completed)] as const)),
            ADD_TIMEOUT_MS,
            `looking up ${ids.length} card-events jobs`,
          ),
        );
        const done = rows.filter((r) => states.get(r.job_id) === 'completed');
        const lost = rows.filter((r) => states.get(r.job_id) === 'missing');
        await this.outbox.remove(em, done);
        await this.outbox.unmark(em, lost);
        found.done += done.length;
        found.lost += lost.length;
        found.failed += rows.filter((r) => states.get(r.job_id) === 'failed').length;
        after = rows[rows.length - 1].event_id;
        return rows.length;
      });
      if (page < RELAY_BATCH) break;
    }
    await Promise.all([...completed.values()].map((j) => j.remove().catch(() => undefined)));
    return found;
  }

  private async jobState(id: string, completed: Map<string, Job<CardEventBatch>>): Promise<string> {
    const job = await this.queue.getJob(id);
    if (!job) return 'missing';
    const state = await job.getState();
    if (state === 'completed') completed.set(id, job);
    return state;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
