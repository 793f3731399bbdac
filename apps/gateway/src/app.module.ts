import { Module, DynamicModule, OnApplicationShutdown, Inject } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Service, ServiceName } from '@app/domain';
import { AppConfig, CONFIG, clockProvider, dataSourceOptions, instanceId, RedisStreamsClient } from '@app/platform';
import { ApiKeyRepository } from './auth/api-key.repository';
import { AuthGuard } from './auth/auth.guard';
import { AuthService } from './auth/auth.service';
import { KeysController } from './auth/keys.controller';
import { CardController } from './card/card.controller';
import { ConsoleController } from './console/console.controller';
import { DashboardController } from './dashboard/dashboard.controller';
import { HealthController } from './health/health.controller';
import { MetricsController } from './ops/metrics.controller';
import { MemberController } from './member/member.controller';
import { PointsAppController, PointsController } from './points/points.controller';
import { EnvelopeFilter } from './http/envelope.filter';
import { EnvelopeStatusInterceptor } from './http/envelope.interceptor';
import { GatewaySchema1732400000000 } from './migrations/1732400000000-gateway-schema';
import { CARD_CLIENT, DASHBOARD_CLIENT, POINTS_CLIENT, ServiceClient, WEBHOOK_CLIENT } from './rpc/service-client';
import { WebhookController } from './webhook/webhook.controller';

export const GATEWAY_SCHEMA = 'gateway';
export const GATEWAY_MIGRATIONS = [GatewaySchema1732400000000];

const clientProvider = (token: symbol, service: ServiceName) => ({
  provide: token,
  inject: [CONFIG],
  useFactory: (cfg: AppConfig) =>
    new ServiceClient(service, new RedisStreamsClient({ service, redisUrl: cfg.redisUrl, timeoutMs: cfg.rpcTimeoutMs, maxPending: cfg.rpcMaxPending })),
});

@Module({})
export class GatewayModule implements OnApplicationShutdown {
  constructor(
    @Inject(CARD_CLIENT) private readonly card: ServiceClient,
    @Inject(POINTS_CLIENT) private readonly points: ServiceClient,
    @Inject(DASHBOARD_CLIENT) private readonly dashboard: ServiceClient,
    @Inject(WEBHOOK_CLIENT) private readonly webhook: ServiceClient,
  ) {}

  static forConfig(cfg: AppConfig): DynamicModule {
    return {
      module: GatewayModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(cfg, GATEWAY_SCHEMA, GATEWAY_MIGRATIONS, 'gateway'))],
      controllers: [
        CardController,
        MemberController,
        PointsController,
        PointsAppController,
        DashboardController,
        WebhookController,
        KeysController,
        ConsoleController,
        HealthController,
        MetricsController,
      ],
      providers: [
        { provide: CONFIG, useValue: cfg },
        clockProvider(cfg, instanceId),
        clientProvider(CARD_CLIENT, Service.CARD),
        clientProvider(POINTS_CLIENT, Service.POINTS),
        clientProvider(DASHBOARD_CLIENT, Service.DASHBOARD),
        clientProvider(WEBHOOK_CLIENT, Service.WEBHOOK),
        ApiKeyRepository,
        AuthService,
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: EnvelopeFilter },
        { provide: APP_INTERCEPTOR, useClass: EnvelopeStatusInterceptor },
      ],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([this.card.close(), this.points.close(), this.dashboard.close(), this.webhook.close()]);
  }
}
