import { Inject, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import { Queue as BullQueue } from 'bull';
import { CardExpiryJob, Queue } from '@app/domain';
import { AppConfig, CONFIG, RepeatableJobs } from '@app/platform';
import { CodeService } from './code.service';
import { GiftService } from './gift.service';

/**
 * Worker side of the `card-expiry` queue: two repeatable sweeps. Each pages through what
 * is due in batches and skips rows another worker holds, so two workers may run them at
 * once, and running one again changes nothing. Their repeat definitions are kept in Redis
 * by RepeatableJobs (defined again within QUEUE_REPEAT_CHECK_MS if Redis lost them).
 */
@Processor(Queue.CARD_EXPIRY)
export class ExpiryProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(ExpiryProcessor.name);
  private sweeps?: RepeatableJobs;

  constructor(
    private readonly codes: CodeService,
    private readonly gifts: GiftService,
    @InjectQueue(Queue.CARD_EXPIRY) private readonly queue: BullQueue,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.sweeps = new RepeatableJobs(this.queue, Object.values(CardExpiryJob), this.cfg.expirySweepMs, this.cfg.queueRepeatCheckMs);
    await this.sweeps.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.sweeps?.stop();
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
