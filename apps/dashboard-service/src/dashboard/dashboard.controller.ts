import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { CardChannelMsg, CardTopMsg, CardTrendMsg, DashboardPattern } from '@app/domain';
import { DashboardService } from './dashboard.service';

@Controller()
export class DashboardController {
  constructor(private readonly dashboard: DashboardService) {}

  @MessagePattern(DashboardPattern.CARD_TREND)
  trend(@Payload() m: CardTrendMsg) {
    return this.dashboard.trend(m);
  }

  @MessagePattern(DashboardPattern.CARD_CHANNEL)
  channel(@Payload() m: CardChannelMsg) {
    return this.dashboard.channel(m);
  }

  @MessagePattern(DashboardPattern.CARD_TOP)
  top(@Payload() m: CardTopMsg) {
    return this.dashboard.top(m);
  }
}
