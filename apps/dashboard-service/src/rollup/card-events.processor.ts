import { Logger } from '@nestjs/common';
import { Process, Processor } from '@nestjs/bull';
import { Job } from 'bull';
import { CardEvent, CardEventDto, Queue } from '@app/domain';
import { checkContract } from '@app/platform';
import { Applied, RollupService } from './rollup.service';

/**
 * Jobs one worker process holds at once. They wait together for the next batch of their
 * tenant (RollupService), so this bounds the batch size a single process can gather.
 */
const CONCURRENCY = 512;

/**
 * Worker side of the durable `card-events` queue (fed by card-service's outbox relay).
 * Each job is one CardEvent, checked against its contract (a malformed one is discarded
 * at once, logged), then applied in its tenant's next batch; the job completes only once
 * that batch committed. Anything else (the database down) fails the job and Bull retries
 * it as the producer asked; applying again is safe (by event_id).
 */
@Processor(Queue.CARD_EVENTS)
export class CardEventsProcessor {
  private readonly log = new Logger(CardEventsProcessor.name);

  constructor(private readonly rollups: RollupService) {}

  @Process({ concurrency: CONCURRENCY })
  async apply(job: Job<CardEvent>): Promise<{ applied: Applied }> {
    const checked = await checkContract(CardEventDto, job.data);
    if (!checked.ok) {
      const why = checked.violations.map((v) => `${v.field}: ${v.message}`).join('; ');
      this.log.error(`card event ${job.id} discarded: ${why}`);
      await job.discard();
      throw new Error(why);
    }
    return { applied: await this.rollups.apply(checked.value) };
  }
}
