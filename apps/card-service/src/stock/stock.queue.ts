import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bull';
import { Queue as BullQueue } from 'bull';
import { CardStockJob, cardStockJobId, CardStockPayload, Queue } from '@app/domain';

/** Puts stock jobs on the durable `card-stock` queue; one live job per generate record. */
@Injectable()
export class StockQueue {
  constructor(@InjectQueue(Queue.CARD_STOCK) private readonly queue: BullQueue<CardStockPayload>) {}

  async enqueue(payload: CardStockPayload): Promise<void> {
    await this.queue.add(CardStockJob.GENERATE, payload, {
      jobId: cardStockJobId(payload),
      attempts: 8,
      backoff: { type: 'exponential', delay: 1_000 },
      removeOnComplete: true,
      removeOnFail: 1_000,
    });
  }
}
