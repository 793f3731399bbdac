import 'reflect-metadata';
import { Service } from '@app/domain';
import { runService } from '@app/platform';
import { CARD_MIGRATIONS } from './migrations';
import { CARD_SCHEMA, CardServiceModule } from './app.module';

runService({
  service: Service.CARD,
  schema: CARD_SCHEMA,
  migrations: CARD_MIGRATIONS,
  module: (cfg) => CardServiceModule.forRole(cfg),
}).catch((err) => {
  console.error(`card-service failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
