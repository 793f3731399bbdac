import { Inject, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { InjectQueue, OnQueueFailed, Process, Processor } from '@nestjs/bull';
import { Job, Queue as BullQueue } from 'bull';
import { CardStockJob, CardStockPayload, Queue } from '@app/domain';
import { AppConfig, CONFIG, RepeatableJobs } from '@app/platform';
import { ImportOvertakenError, StockService } from './stock.service';

/**
 * Worker side of the `card-stock` queue: the generate jobs, and the repeatable recovery
 * sweep (every STOCK_RECOVER_MS; its definition kept in Redis by RepeatableJobs) that
 * queues again what PostgreSQL says is unfinished.
 */
@Processor(Queue.CARD_STOCK)
export class StockProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly log = new Logger(StockProcessor.name);
  private sweeps?: RepeatableJobs;

  constructor(
    private readonly stock: StockService,
    @InjectQueue(Queue.CARD_STOCK) private readonly queue: BullQueue,
    @Inject(CONFIG) private readonly cfg: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.sweeps = new RepeatableJobs(this.queue, [CardStockJob.RECOVER], this.cfg.stockRecoverMs, this.cfg.queueRepeatCheckMs);
    await this.sweeps.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.sweeps?.stop();
  }

  @Process({ name: CardStockJob.GENERATE, concurrency: 2 })
  async generate(job: Job<CardStockPayload>): Promise<void> {
    await this.stock.fill(job.data.crm_id, job.data.generate_id, (f) => job.progress(Math.round(f * 100)));
  }

  @Process(CardStockJob.RECOVER)
  async recover(): Promise<number> {
    return this.stock.requeueUnfinished();
  }

  /**
   * After the last attempt the record is marked failed. Nothing here may reject (an event
   * listener's rejection would crash the worker): if marking fails, the record stays
   * unfinished and the recovery sweep queues it again (failed jobs leave the queue).
   */
  @OnQueueFailed()
  async failed(job: Job<CardStockPayload>, err: Error): Promise<void> {
    if (job.name !== CardStockJob.GENERATE) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? 1);
    this.log.warn(`stock job ${job.id} attempt ${job.attemptsMade} failed: ${err.message}${final ? ' (giving up)' : ''}`);
    // Another worker is filling the record: it is not failed (the sweep takes over if that worker dies).
    if (!final || err instanceof ImportOvertakenError) return;
    try {
      await this.stock.markFailed(job.data.crm_id, job.data.generate_id, err.message);
    } catch (markErr) {
      this.log.error(`stock job ${job.id}: could not mark it failed (the recovery sweep will queue it again): ${(markErr as Error).message}`);
    }
  }
}
