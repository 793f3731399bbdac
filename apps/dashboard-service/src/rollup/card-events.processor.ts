import { Logger } from '@nestjs/common';
import { Process, Processor } from '@nestjs/bull';
import { Job } from 'bull';
import { CardEventBatch, CardEventBatchDto, Queue } from '@app/domain';
import { checkContract } from '@app/platform';
import { RollupService } from './rollup.service';

/**
 * Jobs one worker process holds at once, each up to CARD_EVENTS_PER_JOB events. Their
 * events wait together for the next batches of their tenant (RollupService, at most
 * DASHBOARD_BATCH_MAX per transaction), so 16 jobs of 500 keep a lane's next batch full
 * while one commits; more would only hold more events in memory and in flight.
 */
const CONCURRENCY = 16;

/** What a completed job answers (Bull keeps it only while the job is kept). */
export interface BatchApplied {
  /** Events the job carried. */
  events: number;
  /** Of them, the ones that changed the rollups now (the others had been applied before). */
  applied: number;
}

/**
 * Worker side of the durable `card-events` queue (fed by card-service's outbox relay).
 * Each job is a CardEventBatch (events of one tenant), checked whole against its contract
 * (one malformed event: the job is discarded at once, logged, nothing of it applied),
 * then its events go into their tenant's next batches; the job completes only once every
 * one of them committed. Anything else (the database down) fails the job and Bull retries
 * it as the producer asked; applying again is safe (by event_id).
 */
@Processor(Queue.CARD_EVENTS)
export class CardEventsProcessor {
  private readonly log = new Logger(CardEventsProcessor.name);

  constructor(private readonly rollups: RollupService) {}

  @Process({ concurrency: CONCURRENCY })
  async apply(job: Job<CardEventBatch>): Promise<BatchApplied> {
    const checked = await checkContract(CardEventBatchDto, job.data);
    if (!checked.ok) {
      const why = checked.violations.map((v) => `${v.field}: ${v.message}`).join('; ');
      this.log.error(`card events job ${job.id} discarded: ${why}`);
      await job.discard();
      throw new Error(why);
    }
    const answers = await this.rollups.applyMany(checked.value.events);
    return { events: answers.length, applied: answers.filter(Boolean).length };
  }
}
