import { Inject, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue, Process, Processor } from '@nestjs/bull';
import { Queue as BullQueue } from 'bull';
import { PointsExpiryJob, Queue } from '@app/domain';
import { AppConfig, CONFIG, RepeatableJobs } from '@app/platform';
import { JournalService } from './journal.service';
import { TransferService } from './transfer.service';

/**
 * Worker side of the `points-expiry` queue: two repeatable sweeps, batched, idempotent,
 * safe on two workers at once (rows another worker holds are skipped or rechecked under lock).
 * Their repeat definitions are kept in Redis by RepeatableJobs.
 */
@Processor(Queue.POINTS_EXPIRY)
export class PointsExpiryProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(PointsExpiryProcessor.name);
  private sweeps?: RepeatableJobs;

  constructor(
    private readonly journal: JournalService,
    private readonly transfers: TransferService,
    @InjectQueue(Queue.POINTS_EXPIRY) private readonly queue: BullQueue,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.sweeps = new RepeatableJobs(this.queue, Object.values(PointsExpiryJob), this.cfg.expirySweepMs, this.cfg.queueRepeatCheckMs);
    await this.sweeps.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.sweeps?.stop();
  }

  @Process(PointsExpiryJob.EXPIRE_LOTS)
  async expireLots(): Promise<number> {
    const n = await this.journal.expireLots();
    if (n) this.log.log(`wrote ${n} expired rows`);
    return n;
  }

  @Process(PointsExpiryJob.RETURN_TRANSFERS)
  async returnTransfers(): Promise<number> {
    const n = await this.transfers.returnTimedOutTransfers();
    if (n) this.log.log(`returned ${n} transfers not accepted in time`);
    return n;
  }
}
