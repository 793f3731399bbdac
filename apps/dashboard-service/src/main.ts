import 'reflect-metadata';
import { Service } from '@app/domain';
import { runService } from '@app/platform';
import { DASHBOARD_MIGRATIONS, DASHBOARD_SCHEMA, DashboardServiceModule } from './app.module';

runService({
  service: Service.DASHBOARD,
  schema: DASHBOARD_SCHEMA,
  migrations: DASHBOARD_MIGRATIONS,
  module: (cfg) => DashboardServiceModule.forRole(cfg),
}).catch((err) => {
  console.error(`dashboard-service failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
