import 'reflect-metadata';
import { Service } from '@app/domain';
import { runService } from '@app/platform';
import { POINTS_MIGRATIONS, POINTS_SCHEMA, PointsServiceModule } from './app.module';

runService({
  service: Service.POINTS,
  schema: POINTS_SCHEMA,
  migrations: POINTS_MIGRATIONS,
  module: (cfg) => PointsServiceModule.forRole(cfg),
}).catch((err) => {
  console.error(`points-service failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
