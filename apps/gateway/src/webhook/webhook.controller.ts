import { Body, Controller, Delete, Get, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DeliveriesQueryDto, ReplayDto, UpdateWebhookDto, WebhookDto, WebhookPattern } from '@app/domain';
import { CardExamples } from '../card/card.examples';
import { CrmIdPipe } from '../http/crm-id.pipe';
import { ServiceClient, WEBHOOK_CLIENT } from '../rpc/service-client';
import { WebhookParamPipe, DeliveryParamPipe } from './webhook-params.pipe';
import { WEBHOOK_PAYLOAD_EXAMPLE, WebhookExamples } from './webhook.examples';

/**
 * Webhook subscriptions of a tenant (admin key). Each event is POSTed to the subscription's
 * url, signed per the Standard Webhooks spec (webhook-id, webhook-timestamp,
 * webhook-signature), at least once, in order per member; failed attempts are retried for
 * about a day (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), then the delivery is failed; an
 * endpoint that failed for the whole schedule is disabled and says why.
 */
@ApiTags('webhooks')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: 'Invalid input; the failing fields are named', ...CardExamples.validation })
@Controller('api/crm/webhooks/:crm_id')
export class WebhookController {
  constructor(@Inject(WEBHOOK_CLIENT) private readonly webhooks: ServiceClient) {}

  @Post()
  @ApiOperation({
    summary: 'Subscribe a url to event types; the answer carries the signing secret, shown this once',
    description: `Event types: card.created, card.stock_generated, coupon.claimed, coupon.claim_reversed, coupon.gifted, coupon.gift_accepted, coupon.gift_returned, coupon.redeemed, coupon.redeem_reversed, coupon.expired, coupon.voided, points.earned, points.spent, points.reversed, points.expired, points.transfer_sent, points.transfer_accepted, points.transfer_returned. Each event is POSTed as JSON like ${JSON.stringify(WEBHOOK_PAYLOAD_EXAMPLE)}; every type's data fields are in docs/api-notes.md (Webhook events). Loopback and private addresses are refused unless the operator allows them (WEBHOOK_ALLOW_PRIVATE_HOSTS).`,
  })
  @ApiOkResponse(WebhookExamples.created)
  create(@Param('crm_id', CrmIdPipe) crmId: string, @Body() body: WebhookDto) {
    return this.webhooks.call(WebhookPattern.CREATE, { ...body, crm_id: crmId });
  }

  @Get()
  @ApiOperation({ summary: "The tenant's subscriptions (never their secrets)" })
  @ApiOkResponse(WebhookExamples.list)
  list(@Param('crm_id', CrmIdPipe) crmId: string) {
    return this.webhooks.call(WebhookPattern.LIST, { crm_id: crmId });
  }

  @Get(':webhook_id')
  @ApiOperation({ summary: 'One subscription: its state, and why it is disabled when it is' })
  @ApiOkResponse(WebhookExamples.one)
  @ApiNotFoundResponse({ description: 'No such subscription (40412)' })
  detail(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string) {
    return this.webhooks.call(WebhookPattern.DETAIL, { crm_id: crmId, webhook_id: webhookId });
  }

  @Post(':webhook_id/update')
  @ApiOperation({ summary: 'Change the url, the event types or the description (the fields given)' })
  @ApiOkResponse(WebhookExamples.one)
  update(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string, @Body() body: UpdateWebhookDto) {
    return this.webhooks.call(WebhookPattern.UPDATE, { ...body, crm_id: crmId, webhook_id: webhookId });
  }

  @Post(':webhook_id/disable')
  @ApiOperation({ summary: 'Stop deliveries (those pending wait until it is enabled)' })
  @ApiOkResponse(WebhookExamples.one)
  disable(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string) {
    return this.webhooks.call(WebhookPattern.DISABLE, { crm_id: crmId, webhook_id: webhookId });
  }

  @Post(':webhook_id/enable')
  @ApiOperation({ summary: 'Deliver again (also after it was disabled for failing); pending deliveries go first' })
  @ApiOkResponse(WebhookExamples.one)
  enable(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string) {
    return this.webhooks.call(WebhookPattern.ENABLE, { crm_id: crmId, webhook_id: webhookId });
  }

  @Delete(':webhook_id')
  @ApiOperation({ summary: 'Delete the subscription and its deliveries' })
  @ApiOkResponse(WebhookExamples.deleted)
  delete(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string) {
    return this.webhooks.call(WebhookPattern.DELETE, { crm_id: crmId, webhook_id: webhookId });
  }

  @Post(':webhook_id/rotate_secret')
  @ApiOperation({ summary: 'A new signing secret, shown this once; for 24 hours deliveries are signed with both' })
  @ApiOkResponse(WebhookExamples.rotated)
  rotateSecret(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string) {
    return this.webhooks.call(WebhookPattern.ROTATE_SECRET, { crm_id: crmId, webhook_id: webhookId });
  }

  @Get(':webhook_id/deliveries')
  @ApiOperation({ summary: 'Deliveries, newest first: status, attempts, last answer code, next try' })
  @ApiOkResponse(WebhookExamples.deliveries)
  deliveries(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string, @Query() query: DeliveriesQueryDto) {
    return this.webhooks.call(WebhookPattern.DELIVERIES, { ...query, crm_id: crmId, webhook_id: webhookId });
  }

  @Post(':webhook_id/deliveries/:delivery_id/retry')
  @ApiOperation({ summary: 'Attempt a delivery again now, with the whole retry schedule ahead (whatever its state)' })
  @ApiOkResponse(WebhookExamples.retried)
  @ApiNotFoundResponse({ description: 'No such delivery (40413)' })
  retry(
    @Param('crm_id', CrmIdPipe) crmId: string,
    @Param('webhook_id', WebhookParamPipe) webhookId: string,
    @Param('delivery_id', DeliveryParamPipe) deliveryId: number,
  ) {
    return this.webhooks.call(WebhookPattern.RETRY, { crm_id: crmId, webhook_id: webhookId, delivery_id: deliveryId });
  }

  @Post(':webhook_id/replay')
  @ApiOperation({ summary: "Deliver again every event of a time range (tenant's zone) of the subscription's types; events are kept WEBHOOK_EVENT_KEEP_DAYS" })
  @ApiOkResponse(WebhookExamples.replayed)
  replay(@Param('crm_id', CrmIdPipe) crmId: string, @Param('webhook_id', WebhookParamPipe) webhookId: string, @Body() body: ReplayDto) {
    return this.webhooks.call(WebhookPattern.REPLAY, { ...body, crm_id: crmId, webhook_id: webhookId });
  }
}
