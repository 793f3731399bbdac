import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DashboardPattern, Service } from '@app/domain';
import { AppConfig, CONFIG, dataSourceOptions, pingController } from '@app/platform';
import { DashboardSchema1732400000000 } from './migrations/1732400000000-dashboard-schema';

export const DASHBOARD_SCHEMA = 'dashboard';
export const DASHBOARD_MIGRATIONS = [DashboardSchema1732400000000];

@Module({})
export class DashboardServiceModule {
  static forRole(cfg: AppConfig): DynamicModule {
    return {
      module: DashboardServiceModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(cfg, DASHBOARD_SCHEMA, DASHBOARD_MIGRATIONS, 'dashboard-service'))],
      controllers: cfg.role !== 'worker' ? [pingController(Service.DASHBOARD, DashboardPattern.PING)] : [],
      providers: [{ provide: CONFIG, useValue: cfg }],
    };
  }
}
