import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { BullModule } from '@nestjs/bull';
import { DashboardPattern, Queue, Service } from '@app/domain';
import { AppConfig, CONFIG, bullRootOptions, clockProvider, dataSourceOptions, instanceId, pingController } from '@app/platform';
import { DashboardSchema1732400000000 } from './migrations/1732400000000-dashboard-schema';
import { RollupSchema1732700000000 } from './migrations/1732700000000-rollup-schema';
import { MemberSpanLastDay1732800000000 } from './migrations/1732800000000-member-span-last-day';
import { CardWeek1732900000000 } from './migrations/1732900000000-card-week';
import { SpanLanes1733000000000 } from './migrations/1733000000000-span-lanes';
import { DashboardController } from './dashboard/dashboard.controller';
import { DashboardService } from './dashboard/dashboard.service';
import { CardEventsProcessor } from './rollup/card-events.processor';
import { RollupRepository } from './rollup/rollup.repository';
import { RollupService } from './rollup/rollup.service';

export const DASHBOARD_SCHEMA = 'dashboard';
export const DASHBOARD_MIGRATIONS = [
  DashboardSchema1732400000000,
  RollupSchema1732700000000,
  MemberSpanLastDay1732800000000,
  CardWeek1732900000000,
  SpanLanes1733000000000,
];

/** api role: the dashboard reads; worker role: the `card-events` queue applied to the rollups; both by default. */
@Module({})
export class DashboardServiceModule {
  static forRole(cfg: AppConfig): DynamicModule {
    return {
      module: DashboardServiceModule,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(cfg, DASHBOARD_SCHEMA, DASHBOARD_MIGRATIONS, 'dashboard-service')),
        BullModule.forRoot(bullRootOptions(cfg)),
        BullModule.registerQueue({ name: Queue.CARD_EVENTS }),
      ],
      controllers: cfg.role !== 'worker' ? [DashboardController, pingController(Service.DASHBOARD, DashboardPattern.PING)] : [],
      providers: [
        { provide: CONFIG, useValue: cfg },
        clockProvider(cfg, instanceId),
        RollupRepository,
        DashboardService,
        ...(cfg.role !== 'api' ? [RollupService, CardEventsProcessor] : []),
      ],
    };
  }
}
