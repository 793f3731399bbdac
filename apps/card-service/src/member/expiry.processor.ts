import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import { Queue as BullQueue } from 'bull';
import { CardExpiryJob, Queue } from '@app/domain';
import { AppConfig, CONFIG } from '@app/platform';
import { CodeService } from './code.service';
import { GiftService } from './gift.service';

/**
 * Worker side of the `card-expiry` queue: two repeatable sweeps. Each pages through what
 * is due in batches and skips rows another worker holds, so two workers may run them at
 * once, and running one again changes nothing.
 */
@Processor(Queue.CARD_EXPIRY)
export class ExpiryProcessor implements OnApplicationBootstrap {
  private readonly log = new Logger(ExpiryProcessor.name);

  constructor(
    private readonly codes: CodeService,
    private readonly gifts: GiftService,
    @InjectQueue(Queue.CARD_EXPIRY) private readonly queue: BullQueue,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // A repeatable job is keyed by name and schedule: sweeps left from another setting are removed first.
    for (const job of await this.queue.getRepeatableJobs()) {
      if (job.every !== this.cfg.expirySweepMs) await this.queue.removeRepeatableByKey(job.key);
    }
    for (const name of Object.values(CardExpiryJob)) {
      await this.queue.add(name, {}, { repeat: { every: this.cfg.expirySweepMs }, jobId: name, removeOnComplete: true, removeOnFail: true });
    }
  }

  @Process(CardExpiryJob.EXPIRE_CODES)
  async expireCodes(): Promise<number> {
    const n = await this.codes.expireDue();
    if (n) this.log.log(`expired ${n} codes`);
    return n;
  }

  @Process(CardExpiryJob.RETURN_GIFTS)
  async returnGifts(): Promise<number> {
    const n = await this.gifts.returnTimedOut();
    if (n) this.log.log(`returned ${n} gifts not accepted in time`);
    return n;
  }
}
