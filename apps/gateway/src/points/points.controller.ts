import { Body, Controller, Get, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiConflictResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  AcceptDto,
  ConsumeDirectDto,
  HistoryDto,
  ListRulesQueryDto,
  MemberQueryDto,
  PointsPattern,
  ProduceByRuleDto,
  ProduceDirectDto,
  RuleDto,
  RuleIdDto,
  UpdateRuleDto,
  ReverseConsumeDto,
  ReverseProduceDto,
  TransferDirectDto,
  TransferDto,
} from '@app/domain';
import { ClientAllowed, ForKeyTenant, KeyCrmId } from '../auth/auth.decorators';
import { CardExamples } from '../card/card.examples';
import { CrmIdPipe } from '../http/crm-id.pipe';
import { POINTS_CLIENT, ServiceClient } from '../rpc/service-client';
import { PointsExamples } from './points.examples';

/** The points ledger: each route forwards to points-service. */
@ApiTags('points')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: 'Invalid input; the failing fields are named', ...CardExamples.validation })
@Controller('api/crm/points/:crm_id')
export class PointsController {
  constructor(@Inject(POINTS_CLIENT) private readonly points: ServiceClient) {}

  @Post('produce/direct')
  @ApiOperation({ summary: 'Earn points: a lot with its expiry (expire_days) and freezing (freeze_hours); idempotent by event_no' })
  @ApiOkResponse(PointsExamples.produce)
  produceDirect(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ProduceDirectDto) {
    return this.points.call(PointsPattern.PRODUCE_DIRECT, { ...body, crm_id: crmId });
  }

  @Post('produce/by_rule')
  @ApiOperation({ summary: "Earn points by the scene's active rule (or rule_id); points overrides the amount, the rule's expiry and freezing apply" })
  @ApiOkResponse(PointsExamples.produce)
  produceByRule(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ProduceByRuleDto) {
    return this.points.call(PointsPattern.PRODUCE_BY_RULE, { ...body, crm_id: crmId });
  }

  @Post('rules')
  @ApiOperation({ summary: 'Create an earning rule of an action_scene: fixed points, or points per unit paid' })
  @ApiOkResponse(PointsExamples.rule)
  createRule(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: RuleDto) {
    return this.points.call(PointsPattern.RULE_CREATE, { ...body, crm_id: crmId });
  }

  @Get('rules')
  @ApiOperation({ summary: 'Earning rules, newest first (enabled ones unless include_disabled)' })
  @ApiOkResponse(PointsExamples.rules)
  listRules(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: ListRulesQueryDto) {
    return this.points.call(PointsPattern.RULE_LIST, { ...query, crm_id: crmId });
  }

  @Post('rules/update')
  @ApiOperation({ summary: 'Replace every field of a rule' })
  @ApiOkResponse(PointsExamples.rule)
  updateRule(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: UpdateRuleDto) {
    return this.points.call(PointsPattern.RULE_UPDATE, { ...body, crm_id: crmId });
  }

  @Post('rules/disable')
  @ApiOperation({ summary: 'Disable a rule: by_rule no longer applies it' })
  @ApiOkResponse(PointsExamples.rule)
  disableRule(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: RuleIdDto) {
    return this.points.call(PointsPattern.RULE_DISABLE, { ...body, crm_id: crmId });
  }

  @Post('consume/direct')
  @ApiOperation({ summary: 'Spend points from spendable lots, soonest expiry first; idempotent by event_no' })
  @ApiOkResponse(PointsExamples.consume)
  @ApiConflictResponse({ description: 'Not enough spendable points (40908), event_no reused with another payload (40901)', ...PointsExamples.insufficient })
  consumeDirect(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ConsumeDirectDto) {
    return this.points.call(PointsPattern.CONSUME_DIRECT, { ...body, crm_id: crmId });
  }

  @Post('reverse/produce')
  @ApiOperation({ summary: 'Reverse an earn, whole or in part: from its lot, then other spendable lots, then (allow_negative) a debt' })
  @ApiOkResponse(PointsExamples.reverseProduce)
  @ApiConflictResponse({
    description: 'Too few points to give back without allow_negative (40908), more than is left of the earn (40909), event_no reused (40901)',
  })
  reverseProduce(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ReverseProduceDto) {
    return this.points.call(PointsPattern.REVERSE_PRODUCE, { ...body, crm_id: crmId });
  }

  @Post('reverse/consume')
  @ApiOperation({ summary: 'Reverse a spend, whole or in part (reverse_points): the points go back to the lots they came from, with their expiry' })
  @ApiOkResponse(PointsExamples.reverseConsume)
  @ApiConflictResponse({ description: 'More than is left of the spend (40909), event_no reused with another payload (40901)' })
  reverseConsume(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: ReverseConsumeDto) {
    return this.points.call(PointsPattern.REVERSE_CONSUME, { ...body, crm_id: crmId });
  }

  @Post('transfer')
  @ApiOperation({ summary: 'Offer points to another member: held from the sender until accept, back after TRANSFER_TIMEOUT_HOURS; idempotent by transfer_no' })
  @ApiOkResponse(PointsExamples.transfer)
  transfer(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: TransferDto) {
    return this.points.call(PointsPattern.TRANSFER, { ...body, crm_id: crmId });
  }

  @Post('accept')
  @ApiOperation({ summary: 'The receiver takes a transfer: lots keeping the expiry of the lots the points came from' })
  @ApiOkResponse(PointsExamples.transfer)
  accept(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: AcceptDto) {
    return this.points.call(PointsPattern.ACCEPT, { ...body, crm_id: crmId });
  }

  @Post('transfer/direct')
  @ApiOperation({ summary: "Move points to another member at once; the receiver's lots keep the expiry of the lots they came from; idempotent by transfer_no" })
  @ApiOkResponse(PointsExamples.transfer)
  @ApiConflictResponse({ description: 'Not enough spendable points (40908), transfer_no reused with another payload (40901)' })
  transferDirect(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: TransferDirectDto) {
    return this.points.call(PointsPattern.TRANSFER_DIRECT, { ...body, crm_id: crmId });
  }

  @Get('summary')
  @ClientAllowed()
  @ApiOperation({ summary: "A member's points now: total = active + freeze + expired + used" })
  @ApiOkResponse(PointsExamples.summary)
  summary(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: MemberQueryDto) {
    return this.points.call(PointsPattern.SUMMARY, { ...query, crm_id: crmId });
  }

  @Post('history')
  @ClientAllowed()
  @ApiOperation({ summary: 'The journal, newest first, filtered as in the spec' })
  @ApiOkResponse(PointsExamples.history)
  history(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: HistoryDto) {
    return this.points.call(PointsPattern.HISTORY, { ...body, crm_id: crmId });
  }
}

/**
 * The points document's second spelling of the summary, `GET /api/crm/mgr/app/points/summary`:
 * no crm_id in the path, so it answers for the tenant of the key (client or admin). The root
 * key names no tenant: 400 naming crm_id.
 */
@ApiTags('points')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: 'Invalid input, or the root key (it belongs to no tenant; field crm_id)', ...CardExamples.validation })
@Controller('api/crm/mgr/app/points')
export class PointsAppController {
  constructor(@Inject(POINTS_CLIENT) private readonly points: ServiceClient) {}

  @Get('summary')
  @ForKeyTenant()
  @ApiOperation({ summary: "A member's points now, for the tenant of the key (the spec's second spelling of summary)" })
  @ApiOkResponse(PointsExamples.summary)
  summary(@KeyCrmId() crmId: string, @Query() query: MemberQueryDto) {
    return this.points.call(PointsPattern.SUMMARY, { ...query, crm_id: crmId });
  }
}
