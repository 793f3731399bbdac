import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PointsPattern, Service } from '@app/domain';
import { AppConfig, CONFIG, dataSourceOptions, pingController } from '@app/platform';
import { PointsSchema1732400000000 } from './migrations/1732400000000-points-schema';

export const POINTS_SCHEMA = 'points';
export const POINTS_MIGRATIONS = [PointsSchema1732400000000];

@Module({})
export class PointsServiceModule {
  static forRole(cfg: AppConfig): DynamicModule {
    return {
      module: PointsServiceModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(cfg, POINTS_SCHEMA, POINTS_MIGRATIONS, 'points-service'))],
      controllers: cfg.role !== 'worker' ? [pingController(Service.POINTS, PointsPattern.PING)] : [],
      providers: [{ provide: CONFIG, useValue: cfg }],
    };
  }
}
