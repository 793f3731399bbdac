import { Controller, Get, Header } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { METRICS_CONTENT_TYPE, metricsText } from '@app/platform';
import { RootOnly } from '../auth/auth.decorators';

@ApiTags('operations')
@ApiBearerAuth()
@Controller('metrics')
export class MetricsController {
  @Get()
  @RootOnly()
  @Header('content-type', METRICS_CONTENT_TYPE)
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      "The gateway's Prometheus metrics, root key only. Without a key, scrape METRICS_PORT instead (every process has one when it is set); see docs/operations.md.",
  })
  @ApiOkResponse({
    content: {
      'text/plain': {
        example: 'http_request_duration_seconds_bucket{le="0.01",method="POST",route="/api/crm/member/:crm_id/receive",status="200",app="gateway"} 1234',
      },
    },
  })
  metrics(): Promise<string> {
    return metricsText();
  }
}
