import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { AcceptMsg, ConsumeDirectMsg, HistoryMsg, MemberQueryMsg, PointsPattern, ProduceByRuleMsg, ProduceDirectMsg, ReverseConsumeMsg, ReverseProduceMsg, TransferDirectMsg, TransferMsg } from '@app/domain';
import { StreamContext } from '@app/platform';
import { LedgerService } from './ledger.service';

@Controller()
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @MessagePattern(PointsPattern.PRODUCE_DIRECT)
  produceDirect(@Payload() m: ProduceDirectMsg, @Ctx() ctx: StreamContext) {
    return this.ledger.produceDirect(m, ctx.deadline);
  }

  @MessagePattern(PointsPattern.PRODUCE_BY_RULE)
  produceByRule(@Payload() m: ProduceByRuleMsg) {
    return this.ledger.produceByRule(m);
  }

  @MessagePattern(PointsPattern.CONSUME_DIRECT)
  consumeDirect(@Payload() m: ConsumeDirectMsg, @Ctx() ctx: StreamContext) {
    return this.ledger.consumeDirect(m, ctx.deadline);
  }

  @MessagePattern(PointsPattern.REVERSE_PRODUCE)
  reverseProduce(@Payload() m: ReverseProduceMsg) {
    return this.ledger.reverseProduce(m);
  }

  @MessagePattern(PointsPattern.REVERSE_CONSUME)
  reverseConsume(@Payload() m: ReverseConsumeMsg) {
    return this.ledger.reverseConsume(m);
  }

  @MessagePattern(PointsPattern.TRANSFER_DIRECT)
  transferDirect(@Payload() m: TransferDirectMsg) {
    return this.ledger.transferDirect(m);
  }

  @MessagePattern(PointsPattern.TRANSFER)
  transfer(@Payload() m: TransferMsg) {
    return this.ledger.transfer(m);
  }

  @MessagePattern(PointsPattern.ACCEPT)
  accept(@Payload() m: AcceptMsg) {
    return this.ledger.accept(m);
  }

  @MessagePattern(PointsPattern.SUMMARY)
  summary(@Payload() m: MemberQueryMsg) {
    return this.ledger.summary(m);
  }

  @MessagePattern(PointsPattern.HISTORY)
  history(@Payload() m: HistoryMsg) {
    return this.ledger.history(m);
  }
}
