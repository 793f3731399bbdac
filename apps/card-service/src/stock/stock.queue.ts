import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { Queue as BullQueue } from 'bull';
import { CardStockJob, cardStockJobId, CardStockPayload, Queue } from '@app/domain';

/** Puts stock jobs on the durable `card-stock` queue; one live job per generate record. */
@Injectable()
export class StockQueue {
  constructor(@InjectQueue(Queue.CARD_STOCK) private readonly queue: BullQueue<CardStockPayload>) {}

  /**
   * Queues the job unless it is already queued or running (same jobId: Bull adds nothing).
   * Finished jobs leave the queue at once, failed ones too: the generate record keeps the
   * outcome, and the recovery sweep can queue a record that is still unfinished again.
   */
  async enqueue(payload: CardStockPayload): Promise<void> {
    await this.queue.add(CardStockJob.GENERATE, payload, {
      jobId: cardStockJobId(payload),
      attempts: 8,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: true,
      removeOnFail: true,
    });
  }

  /**
   * For the recovery sweep: queues an unfinished record again; answers whether it had to
   * (false: its job is still waiting, delayed or running). A job of the same id kept as
   * failed or completed (queued before failed jobs were removed) would make `add` a no-op
   * for ever: it is removed first.
   */
  async requeue(payload: CardStockPayload): Promise<boolean> {
    const old = await this.queue.getJob(cardStockJobId(payload));
    if (old) {
      const state = await old.getState();
      if (state !== 'failed' && state !== 'completed') return false;
      // Already gone (or taken again) meanwhile: then `add` below does the right thing.
      await old.remove().catch(() => undefined);
    }
    await this.enqueue(payload);
    return true;
  }
}
