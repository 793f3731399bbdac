import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CardChannelDto, CardTopDto, CardTrendDto, DashboardPattern } from '@app/domain';
import { CrmIdPipe } from '../http/crm-id.pipe';
import { DASHBOARD_CLIENT, ServiceClient } from '../rpc/service-client';
import { DashboardExamples } from './dashboard.examples';

/**
 * The coupon dashboard (admin keys): each route forwards to dashboard-service. The spec's
 * spelling `dashbord` and `dashboard` both answer. Days are the tenant's zone (APP_TZ);
 * the range defaults to the last 7 days, today included.
 */
@ApiTags('dashboard')
@ApiBearerAuth()
@ApiBadRequestResponse({ description: 'Invalid input; the failing field is named', ...DashboardExamples.validation })
@Controller(['api/crm/dashbord/:crm_id', 'api/crm/dashboard/:crm_id'])
export class DashboardController {
  constructor(@Inject(DASHBOARD_CLIENT) private readonly dashboard: ServiceClient) {}

  @Get('card_trend')
  @ApiOperation({
    summary: 'Claims, redemptions and gifts given per day and in total, with distinct members; reversals taken off the day of what they reverse',
  })
  @ApiOkResponse(DashboardExamples.trend)
  trend(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: CardTrendDto) {
    return this.dashboard.call(DashboardPattern.CARD_TREND, { ...query, crm_id: crmId });
  }

  @Get('card_channel')
  @ApiOperation({ summary: 'Claims per channel (out_str) and redemptions per redeem_channel over the range, largest first' })
  @ApiOkResponse(DashboardExamples.channel)
  channel(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: CardChannelDto) {
    return this.dashboard.call(DashboardPattern.CARD_CHANNEL, { ...query, crm_id: crmId });
  }

  @Get('card_top')
  @ApiOperation({ summary: 'The cards claimed most and redeemed most over the range (limit each, default 10), with their latest titles' })
  @ApiOkResponse(DashboardExamples.top)
  top(@Param('crm_id', CrmIdPipe) crmId: string, @Query() query: CardTopDto) {
    return this.dashboard.call(DashboardPattern.CARD_TOP, { ...query, crm_id: crmId });
  }
}
