import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import {
  AcceptMsg,
  ConsumeDirectMsg,
  HistoryMsg,
  MemberQueryMsg,
  PointsPattern,
  ProduceByRuleMsg,
  ProduceDirectMsg,
  ReverseConsumeMsg,
  ReverseProduceMsg,
  TransferDirectMsg,
  TransferMsg,
} from '@app/domain';
import { StreamContext } from '@app/platform';
import { EarnSpendService } from './earn-spend.service';
import { JournalService } from './journal.service';
import { ReversalService } from './reversal.service';
import { TransferService } from './transfer.service';

@Controller()
export class LedgerController {
  constructor(
    private readonly earnSpend: EarnSpendService,
    private readonly reversals: ReversalService,
    private readonly transfers: TransferService,
    private readonly journal: JournalService,
  ) {}

  @MessagePattern(PointsPattern.PRODUCE_DIRECT)
  produceDirect(@Payload() m: ProduceDirectMsg, @Ctx() ctx: StreamContext) {
    return this.earnSpend.produceDirect(m, ctx.deadline);
  }

  @MessagePattern(PointsPattern.PRODUCE_BY_RULE)
  produceByRule(@Payload() m: ProduceByRuleMsg) {
    return this.earnSpend.produceByRule(m);
  }

  @MessagePattern(PointsPattern.CONSUME_DIRECT)
  consumeDirect(@Payload() m: ConsumeDirectMsg, @Ctx() ctx: StreamContext) {
    return this.earnSpend.consumeDirect(m, ctx.deadline);
  }

  @MessagePattern(PointsPattern.REVERSE_PRODUCE)
  reverseProduce(@Payload() m: ReverseProduceMsg) {
    return this.reversals.reverseProduce(m);
  }

  @MessagePattern(PointsPattern.REVERSE_CONSUME)
  reverseConsume(@Payload() m: ReverseConsumeMsg) {
    return this.reversals.reverseConsume(m);
  }

  @MessagePattern(PointsPattern.TRANSFER_DIRECT)
  transferDirect(@Payload() m: TransferDirectMsg) {
    return this.transfers.transferDirect(m);
  }

  @MessagePattern(PointsPattern.TRANSFER)
  transfer(@Payload() m: TransferMsg) {
    return this.transfers.transfer(m);
  }

  @MessagePattern(PointsPattern.ACCEPT)
  accept(@Payload() m: AcceptMsg) {
    return this.transfers.accept(m);
  }

  @MessagePattern(PointsPattern.SUMMARY)
  summary(@Payload() m: MemberQueryMsg) {
    return this.journal.summary(m);
  }

  @MessagePattern(PointsPattern.HISTORY)
  history(@Payload() m: HistoryMsg) {
    return this.journal.history(m);
  }
}
