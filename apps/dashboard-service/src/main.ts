import 'reflect-metadata';
import { Service } from '@app/domain';
import { runService } from '@app/platform';
import { DASHBOARD_MIGRATIONS, DASHBOARD_SCHEMA, DashboardServiceModule } from './app.module';
import { REBUILD_EXIT, runRebuild } from './rebuild/rebuild.cli';

if (process.argv[2] === 'rebuild') {
  // `npm run dashboard:rebuild -- --crm-id X [--apply]`: a one-off command, not the service.
  runRebuild(process.argv.slice(3), DASHBOARD_SCHEMA, DASHBOARD_MIGRATIONS).then(
    (code) => process.exit(code),
    (err) => {
      console.error(`dashboard rebuild failed: ${err instanceof Error ? err.message : err}`);
      process.exit(REBUILD_EXIT.ERROR);
    },
  );
} else {
  runService({
    service: Service.DASHBOARD,
    schema: DASHBOARD_SCHEMA,
    migrations: DASHBOARD_MIGRATIONS,
    module: (cfg) => DashboardServiceModule.forRole(cfg),
  }).catch((err) => {
    console.error(`dashboard-service failed to start: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  });
}
