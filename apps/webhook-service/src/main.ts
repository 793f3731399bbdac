import 'reflect-metadata';
import { Service } from '@app/domain';
import { runService } from '@app/platform';
import { WEBHOOK_MIGRATIONS, WEBHOOK_SCHEMA, WebhookServiceModule } from './app.module';

runService({
  service: Service.WEBHOOK,
  schema: WEBHOOK_SCHEMA,
  migrations: WEBHOOK_MIGRATIONS,
  module: (cfg) => WebhookServiceModule.forRole(cfg),
}).catch((err) => {
  console.error(`webhook-service failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
