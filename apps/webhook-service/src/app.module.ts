import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Service, WebhookPattern } from '@app/domain';
import { AppConfig, CONFIG, clockProvider, dataSourceOptions, instanceId, pingController } from '@app/platform';
import { WebhookSchema1733400000000 } from './migrations/1733400000000-webhook-schema';
import { WebhookReadyQueue1733500000000 } from './migrations/1733500000000-webhook-ready-queue';
import { EndpointRepository } from './endpoint/endpoint.repository';
import { EndpointService } from './endpoint/endpoint.service';
import { WebhookController } from './endpoint/webhook.controller';
import { DeliveryRepository } from './delivery/delivery.repository';
import { DeliveryService } from './delivery/delivery.service';
import { DeliverySignal } from './delivery/delivery.signal';
import { DeliveryWorker } from './delivery/delivery.worker';
import { IngestController } from './delivery/ingest.controller';
import { WebhookMetrics } from './delivery/webhook.metrics';

export const WEBHOOK_SCHEMA = 'webhook';
export const WEBHOOK_MIGRATIONS = [WebhookSchema1733400000000, WebhookReadyQueue1733500000000];

/**
 * webhook-service: api answers the subscription routes and takes the services' events
 * (webhook.ingest); worker delivers them. No Bull queue: deliveries wait in PostgreSQL.
 */
@Module({})
export class WebhookServiceModule {
  static forRole(cfg: AppConfig): DynamicModule {
    return {
      module: WebhookServiceModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(cfg, WEBHOOK_SCHEMA, WEBHOOK_MIGRATIONS, 'webhook-service'))],
      controllers: cfg.role !== 'worker' ? [WebhookController, IngestController, pingController(Service.WEBHOOK, WebhookPattern.PING)] : [],
      providers: [
        { provide: CONFIG, useValue: cfg },
        clockProvider(cfg, instanceId),
        EndpointRepository,
        EndpointService,
        DeliveryRepository,
        DeliveryService,
        DeliverySignal,
        WebhookMetrics,
        ...(cfg.role !== 'api' ? [DeliveryWorker] : []),
      ],
    };
  }
}
