import { Body, Controller, Get, Inject, Param, Post, Query } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import {
  CardDetailQueryDto,
  CardListQueryDto,
  MemberPattern,
  newPresentId,
  ObsoleteDto,
  PresentDto,
  PresentIdDto,
  PresentListQueryDto,
  PresentReceiveDto,
  ReceivedIdDto,
  ReceiveDto,
  RedeemDto,
  RedeemIdDto,
} from '@app/domain';
import { ClientAllowed } from '../auth/auth.decorators';
import { CrmIdPipe } from '../http/crm-id.pipe';
import { CardExamples } from '../card/card.examples';
import { CARD_CLIENT, ServiceClient } from '../rpc/service-client';
import { MemberExamples } from './member.examples';

/** What members do with codes: each route forwards to card-service. */
@ApiTags('member coupons')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: 'Invalid input; the failing fields are named', ...CardExamples.validation })
@Controller('api/crm/card/:crm_id/member')
export class MemberController {
  constructor(@Inject(CARD_CLIENT) private readonly card: ServiceClient) {}

  @Post('receive')
  @ClientAllowed()
  @ApiOperation({ summary: 'Claim codes of one or more cards, all or nothing; idempotent by received_id' })
  @ApiOkResponse(MemberExamples.receive)
  @ApiConflictResponse({
    description: 'Out of stock (40903), get_limit reached (40904), card removed (40902), received_id reused with another payload (40901)',
    ...MemberExamples.outOfStock,
  })
  @ApiUnprocessableEntityResponse({ description: 'A date_type 1 card outside its validity (42202)' })
  receive(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ReceiveDto) {
    return this.card.call(MemberPattern.RECEIVE, { ...body, crm_id: crmId });
  }

  @Get('receive_detail')
  @ClientAllowed()
  @ApiOperation({ summary: 'The codes a claim gave, with their pool rows' })
  @ApiOkResponse(MemberExamples.receiveDetail)
  receiveDetail(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: ReceivedIdDto) {
    return this.card.call(MemberPattern.RECEIVE_DETAIL, { ...query, crm_id: crmId });
  }

  @Post('receive_reverse')
  @ApiOperation({
    summary: "Reverse a claim (admin keys only): its codes go back to the pool and the member's limit is given back (none may be redeemed, gifted or void)",
  })
  @ApiOkResponse(MemberExamples.reversed)
  @ApiConflictResponse({ description: 'A code of the claim was redeemed, gifted or voided (40907)', ...MemberExamples.reverseRefused })
  receiveReverse(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ReceivedIdDto) {
    return this.card.call(MemberPattern.RECEIVE_REVERSE, { ...body, crm_id: crmId });
  }

  @Post('present')
  @ClientAllowed()
  @ApiOperation({ summary: 'Give a usable code to a friend; the answer carries the present_id the friend accepts with' })
  @ApiOkResponse(MemberExamples.present)
  present(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: PresentDto) {
    return this.card.call(MemberPattern.PRESENT, { ...body, present_id: body.present_id ?? newPresentId(), crm_id: crmId });
  }

  @Post('present_receive')
  @ClientAllowed()
  @ApiOperation({ summary: "Accept a gift: the friend gets the code (one friend wins), within the friend's get_limit" })
  @ApiOkResponse(MemberExamples.presentReceive)
  presentReceive(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: PresentReceiveDto) {
    return this.card.call(MemberPattern.PRESENT_RECEIVE, { ...body, crm_id: crmId });
  }

  @Get('present_list')
  @ClientAllowed()
  @ApiOperation({ summary: 'Gifts, newest first; filter by giver (member_no) and accepted or not (received)' })
  @ApiOkResponse(MemberExamples.presentList)
  presentList(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: PresentListQueryDto) {
    return this.card.call(MemberPattern.PRESENT_LIST, { ...query, crm_id: crmId });
  }

  @Get('present_detail')
  @ClientAllowed()
  @ApiOperation({ summary: 'One gift' })
  @ApiOkResponse(MemberExamples.presentDetail)
  presentDetail(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: PresentIdDto) {
    return this.card.call(MemberPattern.PRESENT_DETAIL, { ...query, crm_id: crmId });
  }

  @Get('card_list')
  @ClientAllowed()
  @ApiOperation({ summary: "A member's codes, newest first, by code_status (a code past its end counts as expired)" })
  @ApiOkResponse(MemberExamples.cardList)
  cardList(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: CardListQueryDto) {
    return this.card.call(MemberPattern.CARD_LIST, { ...query, crm_id: crmId });
  }

  @Get('card_detail')
  @ClientAllowed()
  @ApiOperation({ summary: "One of a member's codes" })
  @ApiOkResponse(MemberExamples.cardDetail)
  cardDetail(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: CardDetailQueryDto) {
    return this.card.call(MemberPattern.CARD_DETAIL, { ...query, crm_id: crmId });
  }

  @Post('redeem')
  @ApiOperation({
    summary:
      'Redeem a code usable now (validity, weekdays, monthdays, time of day) within use_limit (admin keys only: the store redeems, not the member); idempotent by redeem_id',
  })
  @ApiOkResponse(MemberExamples.redeem)
  @ApiUnprocessableEntityResponse({ description: 'The code is not usable now (42203)', ...MemberExamples.notUsable })
  redeem(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: RedeemDto) {
    return this.card.call(MemberPattern.REDEEM, { ...body, crm_id: crmId });
  }

  @Post('redeem_reverse')
  @ApiOperation({ summary: 'Roll a redemption back (admin keys only): the code is usable again (or expired, if its end has passed)' })
  @ApiOkResponse(MemberExamples.redeemReverse)
  redeemReverse(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: RedeemIdDto) {
    return this.card.call(MemberPattern.REDEEM_REVERSE, { ...body, crm_id: crmId });
  }

  @Post('obsolete')
  @ApiOperation({ summary: "Void a member's code (admin keys only), recorded with the operator" })
  @ApiOkResponse(MemberExamples.obsolete)
  obsolete(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ObsoleteDto) {
    return this.card.call(MemberPattern.OBSOLETE, { ...body, crm_id: crmId });
  }
}
