import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { Queue as BullQueue } from 'bull';
import { DataSource } from 'typeorm';
import { CardEventBatch, cardEventBatches, cardEventBatchJobId, Queue } from '@app/domain';
import { AppConfig, CONFIG } from '@app/platform';
import { OutboxRepository } from './outbox.repository';

/** Outbox rows one relay transaction moves at most (in jobs of at most CARD_EVENTS_PER_JOB events of one tenant). */
export const RELAY_BATCH = 1_000;

/** A queue add that has not settled by then counts as failed: the rows are let go for the next try (Redis may be gone). */
const ADD_TIMEOUT_MS = 10_000;

/**
 * How the dashboard's jobs retry: about an hour of exponential backoff (1 s .. 34 min),
 * then the job is kept as failed (not removed) so its events are not lost.
 */
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: false, attempts: 12, backoff: { type: 'exponential', delay: 1_000 } };

/**
 * Worker side of the outbox: moves card.outbox rows to the `card-events` queue. Each pass
 * is one transaction: take up to RELAY_BATCH of the oldest rows (FOR UPDATE SKIP LOCKED,
 * so relays of several workers take disjoint rows), group them by tenant into jobs of at
 * most CARD_EVENTS_PER_JOB events in event_id order (cardEventBatches; jobId =
 * cardEventBatchJobId), add every job in one `addBulk`, delete the rows, commit. A failed
 * add rolls back and the rows are taken again next pass. A crash after the add and before
 * the commit sends them again, maybe grouped otherwise: delivery is at least once, and
 * the dashboard applies each event once by (crm_id, event_id), whatever job carries it.
 * After a full pass the next one starts at once; otherwise it waits OUTBOX_POLL_MS.
 */
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(OutboxRelay.name);
  private stopping = false;
  private loop?: Promise<void>;
  /** Ends the wait between passes early (on shutdown). */
  private wake?: () => void;

  constructor(
    private readonly db: DataSource,
    private readonly outbox: OutboxRepository,
    @InjectQueue(Queue.CARD_EVENTS) private readonly queue: BullQueue<CardEventBatch>,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  /** Lets the pass in hand finish (its queue and database are still open: this runs before they close). */
  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    let failing = false;
    while (!this.stopping) {
      let moved = 0;
      try {
        moved = await this.relayOnce();
        if (failing) this.log.log('relaying card events again');
        failing = false;
      } catch (err) {
        if (!failing) this.log.warn(`relaying card events failed, the rows stay for the next pass: ${err instanceof Error ? err.message : String(err)}`);
        failing = true;
      }
      if (moved < RELAY_BATCH) await this.pause(this.cfg.outboxPollMs);
    }
  }

  /** One pass: answers the number of events moved. */
  async relayOnce(): Promise<number> {
    return this.db.transaction(async (em) => {
      const events = await this.outbox.take(em, RELAY_BATCH);
      if (!events.length) return 0;
      const batches = cardEventBatches(events);
      await withTimeout(
        this.queue.addBulk(batches.map((b) => ({ data: b, opts: { ...JOB_OPTIONS, jobId: cardEventBatchJobId(b) } }))),
        ADD_TIMEOUT_MS,
        `adding ${events.length} card events (${batches.length} jobs) to the queue`,
      );
      await this.outbox.remove(em, events);
      return events.length;
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

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
