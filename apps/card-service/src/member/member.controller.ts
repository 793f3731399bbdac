import { Controller } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import {
  CardDetailMsg,
  CardListMsg,
  MemberPattern,
  ObsoleteMsg,
  PresentIdMsg,
  PresentListMsg,
  PresentMsg,
  PresentReceiveMsg,
  ReceivedIdMsg,
  ReceiveMsg,
  RedeemIdMsg,
  RedeemMsg,
} from '@app/domain';
import { StreamContext } from '@app/platform';
import { ClaimService } from './claim.service';
import { CodeService } from './code.service';
import { GiftService } from './gift.service';
import { RedeemService } from './redeem.service';

@Controller()
export class MemberController {
  constructor(
    private readonly claims: ClaimService,
    private readonly gifts: GiftService,
    private readonly redeems: RedeemService,
    private readonly codes: CodeService,
  ) {}

  @MessagePattern(MemberPattern.RECEIVE)
  receive(@Payload() m: ReceiveMsg, @Ctx() ctx: StreamContext) {
    return this.claims.receive(m, ctx.deadline);
  }

  @MessagePattern(MemberPattern.RECEIVE_DETAIL)
  receiveDetail(@Payload() m: ReceivedIdMsg) {
    return this.claims.detail(m);
  }

  @MessagePattern(MemberPattern.RECEIVE_REVERSE)
  receiveReverse(@Payload() m: ReceivedIdMsg) {
    return this.claims.reverse(m);
  }

  @MessagePattern(MemberPattern.PRESENT)
  present(@Payload() m: PresentMsg) {
    return this.gifts.present(m);
  }

  @MessagePattern(MemberPattern.PRESENT_RECEIVE)
  presentReceive(@Payload() m: PresentReceiveMsg) {
    return this.gifts.accept(m);
  }

  @MessagePattern(MemberPattern.PRESENT_LIST)
  presentList(@Payload() m: PresentListMsg) {
    return this.gifts.list(m);
  }

  @MessagePattern(MemberPattern.PRESENT_DETAIL)
  presentDetail(@Payload() m: PresentIdMsg) {
    return this.gifts.detail(m);
  }

  @MessagePattern(MemberPattern.CARD_LIST)
  cardList(@Payload() m: CardListMsg) {
    return this.codes.list(m);
  }

  @MessagePattern(MemberPattern.CARD_DETAIL)
  cardDetail(@Payload() m: CardDetailMsg) {
    return this.codes.detail(m);
  }

  @MessagePattern(MemberPattern.REDEEM)
  redeem(@Payload() m: RedeemMsg) {
    return this.redeems.redeem(m);
  }

  @MessagePattern(MemberPattern.REDEEM_REVERSE)
  redeemReverse(@Payload() m: RedeemIdMsg) {
    return this.redeems.reverse(m);
  }

  @MessagePattern(MemberPattern.OBSOLETE)
  obsolete(@Payload() m: ObsoleteMsg) {
    return this.codes.obsolete(m);
  }
}
