import { Injectable } from '@nestjs/common';
import {
  ConsumeDirectMsg,
  Envelope,
  PointsEventKind,
  ProduceByRuleMsg,
  ProduceDirectMsg,
  ReverseConsumeMsg,
  ReverseProduceMsg,
  TransferDirectMsg,
} from '@app/domain';
import { EarnSpendService } from '../ledger/earn-spend.service';
import { ReversalService } from '../ledger/reversal.service';
import { TransferService } from '../ledger/transfer.service';

/** The contract an inbox event of one kind is checked with, and the use case that applies it (the route's). */
export interface InboxRoute {
  contract: new () => object;
  handle: (m: any) => Promise<Envelope<unknown>>;
}

/** Earns and spends: consecutive ones are applied together, so they batch (EventBatchService) in arrival order. */
export const BATCHED_KINDS: ReadonlySet<PointsEventKind> = new Set([PointsEventKind.PRODUCE_DIRECT, PointsEventKind.CONSUME_DIRECT]);

@Injectable()
export class InboxRoutes {
  private readonly routes: Record<PointsEventKind, InboxRoute>;

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

  of(kind: PointsEventKind): InboxRoute | undefined {
    return this.routes[kind];
  }
}
