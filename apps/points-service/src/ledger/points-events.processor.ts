import { Logger } from '@nestjs/common';
import { Process, Processor } from '@nestjs/bull';
import { Job } from 'bull';
import {
  ConsumeDirectMsg,
  Envelope,
  PointsEventJobData,
  PointsEventKind,
  ProduceByRuleMsg,
  ProduceDirectMsg,
  Queue,
  ReverseConsumeMsg,
  ReverseProduceMsg,
  TransferDirectMsg,
} from '@app/domain';
import { checkContract } from '@app/platform';
import { EarnSpendService } from './earn-spend.service';
import { ReversalService } from './reversal.service';
import { TransferService } from './transfer.service';

type Route = { contract: new () => object; handle: (m: any) => Promise<Envelope<unknown>> };

/**
 * Worker side of the durable `points-events` queue: each job is one event of a producer
 * that does not wait for an answer. It is validated with the same contract as the route,
 * then handled by the same use case (so event_no makes it idempotent). A refusal (not
 * enough points, a conflict) completes the job and is logged; invalid input is discarded
 * at once; anything else (the database down) is retried with backoff.
 */
@Processor(Queue.POINTS_EVENTS)
export class PointsEventsProcessor {
  private readonly log = new Logger(PointsEventsProcessor.name);
  private readonly routes: Record<PointsEventKind, Route>;

  constructor(earnSpend: EarnSpendService, reversals: ReversalService, transfers: TransferService) {
    this.routes = {
      [PointsEventKind.PRODUCE_DIRECT]: { contract: ProduceDirectMsg, handle: (m) => earnSpend.produceDirect(m) },
      [PointsEventKind.PRODUCE_BY_RULE]: { contract: ProduceByRuleMsg, handle: (m) => earnSpend.produceByRule(m) },
      [PointsEventKind.CONSUME_DIRECT]: { contract: ConsumeDirectMsg, handle: (m) => earnSpend.consumeDirect(m) },
      [PointsEventKind.REVERSE_PRODUCE]: { contract: ReverseProduceMsg, handle: (m) => reversals.reverseProduce(m) },
      [PointsEventKind.REVERSE_CONSUME]: { contract: ReverseConsumeMsg, handle: (m) => reversals.reverseConsume(m) },
      [PointsEventKind.TRANSFER_DIRECT]: { contract: TransferDirectMsg, handle: (m) => transfers.transferDirect(m) },
    };
  }

  @Process({ concurrency: 8 })
  async apply(job: Job<PointsEventJobData>): Promise<Envelope<unknown>> {
    const route = this.routes[job.data.kind];
    if (!route) return this.discard(job, `unknown kind ${String(job.data.kind)}`);
    const checked = await checkContract(route.contract, job.data.event);
    if (!checked.ok) return this.discard(job, checked.violations.map((v) => `${v.field}: ${v.message}`).join('; '));
    const answer = await route.handle(checked.value);
    if (answer.code !== 0) this.log.warn(`points event ${job.id} (${job.data.kind}) refused: ${answer.msg}`);
    return answer;
  }

  private async discard(job: Job<PointsEventJobData>, why: string): Promise<never> {
    this.log.error(`points event ${job.id} discarded: ${why}`);
    await job.discard();
    throw new Error(why);
  }
}
